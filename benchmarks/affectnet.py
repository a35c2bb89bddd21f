"""AffectNet (YOLO-format copy): extraction, landmarks-only vs landmarks+appearance, with and without FFHQ.

Reproduces the README's AffectNet figures on a local copy of the YOLO-format upload
(``data.yaml`` + ``train/ valid/ test/``, each with ``images/`` and ``labels/``):

  python benchmarks/affectnet.py --data-dir YOLO_format --work datasets/affectnet_bench

1. Extraction at each ``--min-side`` (tiny crops enlarged before Face Mesh): images/s and
   faces found per class. Tables are kept in ``--work`` and reused by later runs.
2. For the first ``--min-side`` (the others get the last feature set, to compare on valid), read as
   ``train_model.py`` reads a table (repeated faces once): each feature set trained on
   ``train`` (mirrored faces added), stopped and chosen on ``valid``, scored on ``test``,
   with and without the ``ffhq_*`` images the uploader added (scored on the test images that
   are not ``ffhq_*`` too). Valid and test accuracy, macro-F1, per-class recall, train time.
3. Time per face of the features (image -> vector, appearance included) and of the NumPy
   classifier.

Nothing is chosen on ``test``: it is printed for reporting only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from landmark_emotion.cli.run import run_command
from landmark_emotion.data.extraction import extract_table
from landmark_emotion.data.sources import from_data_dir
from landmark_emotion.data.table import LandmarkTable, describe_skipped, load_table, merge_tables, save_table
from landmark_emotion.face.features import FEATURE_SETS, HYBRID, LANDMARKS, image_vectors
from landmark_emotion.model.evaluation import evaluate_predictor
from landmark_emotion.training.base import Recipe, train


def is_ffhq(table: LandmarkTable) -> np.ndarray:
    return np.char.startswith(np.char.rpartition(table.paths, "/")[:, 2], "ffhq_")


def extraction(data_dir: Path, work: Path, min_side: int, workers: int) -> tuple[LandmarkTable, dict]:
    """The table for ``min_side`` (extracted now, or read from ``work``) and the extraction figures."""
    path = work / f"affectnet_minside{min_side}.npz"
    if path.exists():
        table = load_table(path)
        return table, table.meta["benchmark"]
    items, skipped = from_data_dir(data_dir)
    table, report = extract_table(items, workers=workers, min_side=min_side, meta={"source": str(data_dir)})
    totals: dict[str, int] = {}
    for item in items:
        totals[item.label] = totals.get(item.label, 0) + 1
    found = table.counts()
    figures = {
        "min_side": min_side,
        "images": report.images,
        "faces": report.faces,
        "seconds": round(report.seconds, 1),
        "images_per_second": round(report.images / report.seconds, 1),
        "bad_label_files": len(skipped),
        "found_per_class": {label: round(found.get(label, 0) / n, 4) for label, n in sorted(totals.items())},
    }
    table.meta["benchmark"] = figures
    save_table(table, path)
    return table, figures


def scores(predictor, table: LandmarkTable) -> dict:
    m = evaluate_predictor(predictor, table)
    return {
        "accuracy": round(m["accuracy"], 4),
        "macro_f1": round(m["macro_f1"], 4),
        "balanced_accuracy": round(m["balanced_accuracy"], 4),
        "n": m["n"],
        "recall": {label: round(c["recall"], 3) for label, c in m["per_class"].items()},
    }


def experiment(table: LandmarkTable, feature_set: str, with_ffhq: bool, recipe: Recipe, seed: int) -> dict:
    ffhq = is_ffhq(table)
    keep = np.ones(len(table), bool) if with_ffhq else ~ffhq | (table.splits != "train")  # same valid and test
    result = train(table.subset(np.flatnonzero(keep)), recipe, seed=seed, progress=False, feature_set=feature_set)
    predictor = result.predictor()
    part = result.table
    test = part.subset(result.split.test)
    return {
        "features": feature_set,
        "ffhq_in_training": with_ffhq,
        "train_seconds": round(result.fit.seconds, 1),
        "best_epoch": result.fit.best_epoch,
        "valid": scores(predictor, part.subset(result.split.val)),
        "test": scores(predictor, test),
        "test_without_ffhq": scores(predictor, test.subset(np.flatnonzero(~is_ffhq(test)))),
        "predictor": predictor,
    }


def per_face_ms(table: LandmarkTable, predictor, n: int = 200) -> tuple[float, float]:
    """Milliseconds per face: image -> feature vector (landmarks given), and the classifier on one vector."""
    images = [cv2.imread(p, cv2.IMREAD_COLOR) for p in table.paths[:n]]
    sized = [
        cv2.resize(im, (int(w), int(h)), interpolation=cv2.INTER_CUBIC)
        for im, w, h in zip(images, table.width[:n], table.height[:n])
    ]
    start = time.perf_counter()
    vectors = [image_vectors(predictor.feature_set, im, table.landmarks[i : i + 1]) for i, im in enumerate(sized)]
    features = (time.perf_counter() - start) / len(sized) * 1000
    start = time.perf_counter()
    for v in vectors:
        predictor.predict_proba(v)
    return features, (time.perf_counter() - start) / len(vectors) * 1000


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, required=True, help="the YOLO_format folder")
    p.add_argument("--work", type=Path, default=Path("datasets/affectnet_bench"), help="where tables are kept")
    p.add_argument("--min-side", type=int, nargs="+", default=[128], help="extraction settings to compare")
    p.add_argument("--features", nargs="+", default=[LANDMARKS, HYBRID], choices=list(FEATURE_SETS))
    p.add_argument("--ffhq", nargs="+", default=["with", "without"], choices=["with", "without"])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)

    report: dict = {"extraction": [], "models": []}
    tables = {}
    for min_side in args.min_side:
        tables[min_side], figures = extraction(args.data_dir, args.work, min_side, args.workers)
        report["extraction"].append(figures)
        print(
            f"min side {min_side}: {figures['faces']}/{figures['images']} faces, "
            f"{figures['images_per_second']} images/s; found per class {figures['found_per_class']}",
            flush=True,
        )
    for min_side in args.min_side[1:]:  # the same chosen model on the other extractions: valid decides
        row = experiment(merge_tables([tables[min_side]]), args.features[-1], True, Recipe(), args.seed)
        row.pop("predictor")
        report["models"].append({"min_side": min_side, **row})
        print(
            f"min side {min_side}, {args.features[-1]}, ffhq with: valid acc {row['valid']['accuracy']:.3f} "
            f"F1 {row['valid']['macro_f1']:.3f}",
            flush=True,
        )
    table = merge_tables([tables[args.min_side[0]]])  # as train_model.py reads it: repeated faces once
    print(describe_skipped(table.skipped) or "no repeated or unusable rows")
    for feature_set in args.features:
        recipe = Recipe()
        for ffhq in args.ffhq:
            row = experiment(table, feature_set, ffhq == "with", recipe, args.seed)
            predictor = row.pop("predictor")
            row["features_ms"], row["classifier_ms"] = per_face_ms(table, predictor)
            report["models"].append({"min_side": args.min_side[0], **row})
            print(
                f"{feature_set:22s} ffhq {ffhq:7s}: valid acc {row['valid']['accuracy']:.3f} "
                f"F1 {row['valid']['macro_f1']:.3f} | test acc {row['test']['accuracy']:.3f} "
                f"F1 {row['test']['macro_f1']:.3f} | test w/o ffhq acc {row['test_without_ffhq']['accuracy']:.3f} "
                f"F1 {row['test_without_ffhq']['macro_f1']:.3f} | {row['train_seconds']} s, "
                f"features {row['features_ms']:.2f} ms + classifier {row['classifier_ms']:.3f} ms per face\n"
                f"    test recall {row['test']['recall']}",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(run_command(main))
