"""Our recipe vs the earlier system's, on the same person-disjoint split.

  python benchmarks/accuracy.py --data datasets/facial_expressions.npz [--seeds 0 1 2] [--json OUT.json]

(a) earlier: raw image-space landmarks (x, y, z as MediaPipe returns them, flattened, no
    normalisation), StandardScaler, MLP 1024-512-256-128 with dropout 0.3, Adam lr 1e-5,
    batch 32, no class weights, no mirroring; early stopping on the same validation people
    within --earlier-epochs;
(b) ours: landmark_emotion.training.base defaults (normalized features, mirror augmentation, class
    weights, a smaller MLP).
Both see the same classes and the same train/validation/test people. Each seed is
another person-disjoint split; seed 0 is the split train_model.py reports on.

Both are scored twice: on the test photos as they are, and "re-framed": the same faces
moved to a random place, size (0.5-1.5x) and roll (+-20 degrees) in a 640x480 frame, as a
webcam shows a face. Public datasets are mostly cropped, centred faces, so only the second
score shows what depending on where the face sits in the picture costs.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from landmark_emotion.cli.run import run_command
from landmark_emotion.data.table import LandmarkTable, load_table
from landmark_emotion.face.features import N_FEATURES
from landmark_emotion.labels import ordered
from landmark_emotion.model.bundle import Predictor
from landmark_emotion.model.evaluation import evaluate_labels
from landmark_emotion.model.inference import predictor_from_keras
from landmark_emotion.model.preprocess import fit_preprocess
from landmark_emotion.training.base import Recipe, fit_network, select_classes, split_table, train_on_split

EARLIER = replace(
    Recipe(),
    hidden=(1024, 512, 256, 128),
    dropout=0.3,
    learning_rate=1e-5,
    l2=0.0,
    class_weight_power=0.0,
    mirror=False,
    batch_size=32,
)
FRAME = (640, 480)


def raw(table: LandmarkTable) -> np.ndarray:
    """The earlier system's input: image-space landmarks flattened."""
    return table.landmarks.reshape(len(table), -1)


def reframed(table: LandmarkTable, seed: int) -> LandmarkTable:
    """The same faces at a random position, size and roll in a 640x480 frame (MediaPipe's coordinates)."""
    rng = np.random.default_rng(seed)
    width, height = FRAME
    pixels = table.landmarks * np.stack([table.width, table.height, table.width], axis=-1)[:, None, :]
    out = np.empty_like(table.landmarks)
    for i, points in enumerate(pixels):
        center = points[:, :2].mean(axis=0)
        angle, size = np.radians(rng.uniform(-20, 20)), rng.uniform(0.5, 1.5)
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        xy = (points[:, :2] - center) @ rot.T * size
        half = np.maximum(np.abs(xy).max(axis=0), 1)
        xy += rng.uniform(half, np.maximum([width, height] - half, half + 1))
        out[i] = np.column_stack([xy[:, 0] / width, xy[:, 1] / height, points[:, 2] * size / width])
    n = len(table)
    return LandmarkTable(out, [width] * n, [height] * n, table.labels, table.paths, table.groups, table.meta)


def scores(predictor: Predictor, x: np.ndarray, truth: np.ndarray) -> dict:
    metrics = evaluate_labels(truth, predictor.predict(x), predictor.labels)
    return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]}


def earlier(table: LandmarkTable, split, labels: list[str], recipe: Recipe, seed: int) -> tuple[dict, dict]:
    index = {label: i for i, label in enumerate(labels)}
    train, val, test = (table.subset(idx) for idx in (split.train, split.val, split.test))
    pre = fit_preprocess(raw(train), [N_FEATURES])  # the StandardScaler alone
    fit = fit_network(
        pre.transform(raw(train)),
        np.array([index[v] for v in train.labels]),
        pre.transform(raw(val)),
        np.array([index[v] for v in val.labels]),
        len(labels),
        recipe,
        seed=seed,
        progress=False,
    )
    predictor = predictor_from_keras(fit.model, labels, pre.mean, pre.scale)  # raw input has 468 x 3 values too
    return (
        {
            "test": scores(predictor, raw(test), test.labels),
            "reframed": scores(predictor, raw(reframed(test, seed)), test.labels),
        },
        {"train_seconds": round(fit.seconds, 1), "best_epoch": fit.best_epoch},
    )


def ours(table: LandmarkTable, split, seed: int) -> tuple[dict, dict]:
    # the recipe of models/facial_expressions (standardised landmarks, no PCA), whose figures the README gives
    result = train_on_split(table, split, Recipe(components=(0,)), seed=seed, progress=False)
    predictor = result.predictor()
    test = table.subset(split.test)
    return (
        {
            "test": scores(predictor, test.features(), test.labels),
            "reframed": scores(predictor, reframed(test, seed).features(), test.labels),
        },
        {"train_seconds": round(result.fit.seconds, 1), "best_epoch": result.fit.best_epoch},
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="person-disjoint splits to run")
    p.add_argument("--min-class-count", type=int, default=50)
    p.add_argument("--earlier-epochs", type=int, default=150, help="epoch budget of the earlier recipe")
    p.add_argument("--json", type=Path, help="write all scores here")
    args = p.parse_args(argv)
    table, dropped = select_classes(load_table(args.data), args.min_class_count)
    labels = ordered(table.counts())
    print(
        f"{len(table)} samples, classes {', '.join(labels)}"
        + (f" (dropped, < {args.min_class_count} samples: {', '.join(dropped)})" if dropped else "")
    )
    recipe = replace(EARLIER, epochs=args.earlier_epochs)
    runs = []
    for seed in args.seeds:
        split = split_table(table, 0.15, 0.15, seed)
        people = [set(table.groups[idx]) for idx in (split.train, split.val, split.test)]
        shared = len(people[2] & (people[0] | people[1]))
        print(
            f"\nseed {seed}: train {len(split.train)} / val {len(split.val)} / test {len(split.test)} samples; "
            f"{len(people[2])} test people, {shared} of them also in train/val"
            + ("" if split.group_disjoint else " (the table has no groups: random split)")
        )
        run = {"seed": seed, "split": split.sizes(), "test_people": len(people[2])}
        for name in ("earlier", "ours"):
            result, fit = earlier(table, split, labels, recipe, seed) if name == "earlier" else ours(table, split, seed)
            run[name] = {**result, **fit}
            print(
                f"  {name:<8} test: accuracy {result['test']['accuracy']:.3f}  macro-F1 "
                f"{result['test']['macro_f1']:.3f} | re-framed: accuracy {result['reframed']['accuracy']:.3f}  "
                f"macro-F1 {result['reframed']['macro_f1']:.3f}  (training {fit['train_seconds']:.0f} s, "
                f"best epoch {fit['best_epoch']})",
                flush=True,
            )
        runs.append(run)
    print(f"\nmean over {len(runs)} person-disjoint split(s):")
    for which in ("test", "reframed"):
        mean = {
            name: {key: np.mean([r[name][which][key] for r in runs]) for key in ("accuracy", "macro_f1")}
            for name in ("earlier", "ours")
        }
        for name in ("earlier", "ours"):
            print(
                f"  {which:<9} {name:<8} accuracy {mean[name]['accuracy']:.3f}  macro-F1 {mean[name]['macro_f1']:.3f}"
            )
        print(
            f"  {which:<9} ours - earlier: {100 * (mean['ours']['accuracy'] - mean['earlier']['accuracy']):+.1f} "
            f"points accuracy, {mean['ours']['macro_f1'] - mean['earlier']['macro_f1']:+.3f} macro-F1"
        )
    print(
        "note: test people never appear in training or validation, so these are scores on new faces; "
        "a random split would put photos of the same person on both sides and inflate them."
    )
    if args.json:
        args.json.write_text(
            json.dumps({"dropped": dropped, "earlier_recipe": str(recipe), "runs": runs}, indent=2) + "\n"
        )


if __name__ == "__main__":
    sys.exit(run_command(main))
