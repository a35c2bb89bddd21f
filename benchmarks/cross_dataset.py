"""Does a model read strangers? Bundles on AffectNet's own valid/test split, CK+ and JAFFE, per landmarker.

  python benchmarks/cross_dataset.py --model models/default [models/candidate ...] --tables datasets/ \\
         [--mirror] [--json scores.json]

The tables are read from ``--tables``, under the names docs/benchmarks.md extracts them to (a missing table's
sets are left out):

  affectnet_landmarks.npz        AffectNet, YOLO-format upload, legacy Face Mesh (its train/valid/test split kept)
  affectnet_landmarks_tasks.npz  the same photos through the Tasks landmarker
                                 (or the candidate's augmented tables, see docs/commands.md: affectnet_landmarks_aug.npz
                                 and affectnet_landmarks_tasks_aug.npz, the same photos and copies never scored)
  ck.npz, ck_tasks.npz           CK+ (--group-pattern '^(S\\d+)_'): 327 labelled peak frames, 593 neutral first frames
  jaffe.npz, jaffe_tasks.npz     JAFFE (--group-pattern '^([A-Z]{2})\\.'): 213 photos of 10 women, 7 classes

The sets scored:

  affectnet/valid, affectnet/test   choose on valid; test is reported, never chosen on (also affectnet_tasks/...)
  ck          the CK+ set the issue's 0.794 is measured on: the 327 peak frames and ONE neutral per person, the
              first frame of their lowest-numbered sequence (123 people, 450 faces); all 593 first frames would
              make CK+ a test of neutral faces (64% of its rows)
  ck/all      all 920 rows
  ck_tasks    the ck set through the Tasks landmarker
  jaffe, jaffe_tasks
  ...+cal     the same faces calibrated by the mean of the same person's OTHER neutral faces (as
              ``evaluate.py --calibrate neutral``); a face without one is not scored

Per set: accuracy, macro-F1, each class's recall, and contempt false positives (faces that are not contempt read
as contempt; on the 7-class JAFFE every contempt answer is one, and ``accuracy_without_contempt`` says what
never answering contempt would score). ``--mirror`` averages each face's probabilities with its mirror image's.
CK+ and JAFFE are research-only: read from local copies, never committed, never trained on.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from landmark_emotion.cli.run import run_command
from landmark_emotion.data.table import LandmarkTable, load_table
from landmark_emotion.model.calibration import NEUTRAL, calibrate, person_references
from landmark_emotion.model.emotion_model import EmotionModel
from landmark_emotion.model.evaluation import evaluate_labels

CONTEMPT = "contempt"
AFFECTNET = {
    "affectnet": ("affectnet_landmarks.npz", "affectnet_landmarks_aug.npz"),
    "affectnet_tasks": ("affectnet_landmarks_tasks.npz", "affectnet_landmarks_tasks_aug.npz"),
}
"""Each AffectNet set's table: the first of these names found (extracted without or with ``--augment``)."""
CK = {"ck": "ck.npz", "ck_tasks": "ck_tasks.npz"}
JAFFE = {"jaffe": "jaffe.npz", "jaffe_tasks": "jaffe_tasks.npz"}
HEADLINE = [
    ("affectnet/valid", "accuracy"),
    ("affectnet/valid", "macro_f1"),
    ("affectnet/test", "accuracy"),
    ("affectnet/test", "macro_f1"),
    ("affectnet_tasks/valid", "accuracy"),
    ("affectnet_tasks/test", "accuracy"),
    ("ck", "accuracy"),
    ("ck/all", "accuracy"),
    ("ck+cal", "accuracy"),
    ("ck_tasks", "accuracy"),
    ("jaffe", "accuracy"),
    ("jaffe_tasks", "accuracy"),
    ("jaffe+cal", "accuracy"),
]
"""The summary table's columns: (set, score)."""


@dataclass
class EvalSet:
    """Faces to score: ``rows`` of ``table``, whose other rows may supply each person's neutral (``calibrated``)."""

    name: str
    table: LandmarkTable
    rows: np.ndarray
    calibrated: bool = False


def ck_rows(table: LandmarkTable) -> np.ndarray:
    """Every peak frame, and each person's first neutral frame (lowest-numbered sequence, by file name)."""
    names = np.array([os.path.basename(p) for p in table.paths])
    neutral = table.labels == NEUTRAL
    first: dict[str, int] = {}
    for i in np.argsort(names, kind="stable"):
        if neutral[i]:
            first.setdefault(str(table.groups[i]), int(i))
    keep = ~neutral
    keep[list(first.values())] = True
    return np.flatnonzero(keep)


def benchmark_sets(folder: Path) -> list[EvalSet]:
    """The sets of the module docstring, from the tables in ``folder``."""
    sets: list[EvalSet] = []
    names = {**AFFECTNET, **{name: (file,) for name, file in {**CK, **JAFFE}.items()}}
    existing = {name: [folder / file for file in files if (folder / file).is_file()] for name, files in names.items()}
    found = {name: load_table(paths[0]) for name, paths in existing.items() if paths}
    for name in AFFECTNET:
        if name in found:
            t = found[name]
            photos = ~t.augmented  # copies are of training photos, and never scored anyway
            sets += [
                EvalSet(f"{name}/{split}", t, np.flatnonzero((t.splits == split) & photos))
                for split in ("valid", "test")
            ]
    if "ck" in found:
        ck = found["ck"]
        rows = ck_rows(ck)
        sets += [EvalSet("ck", ck, rows), EvalSet("ck/all", ck, np.arange(len(ck))), EvalSet("ck+cal", ck, rows, True)]
    if "ck_tasks" in found:
        sets.append(EvalSet("ck_tasks", found["ck_tasks"], ck_rows(found["ck_tasks"])))
    for name in JAFFE:
        if name in found:
            t = found[name]
            sets += [EvalSet(name, t, np.arange(len(t))), EvalSet(f"{name}+cal", t, np.arange(len(t)), True)]
    return sets


class Features:
    """Each table's feature vectors (and its mirror image's), computed once for every model and set."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, str, bool], np.ndarray] = {}

    def __call__(self, table: LandmarkTable, feature_set: str, mirrored: bool = False) -> np.ndarray:
        key = (id(table), feature_set, mirrored)
        if key not in self._cache:
            self._cache[key] = (table.mirrored() if mirrored else table).features(feature_set)
        return self._cache[key]


def score_set(model: EmotionModel, s: EvalSet, features: Features, mirror: bool = False) -> dict:
    """``model``'s scores on one set (see the module docstring)."""
    views = [False, True] if mirror else [False]
    x = [features(s.table, model.feature_set, m) for m in views]
    rows = s.rows
    if s.calibrated:
        if model.references is None:
            return {"skipped": "the model has no population neutral"}
        references = [person_references(v, s.table.labels, s.table.groups) for v in x]
        rows = rows[references[0][1][rows]]
        x = [calibrate(v[rows], ref[rows], model.references.population) for v, (ref, _) in zip(x, references)]
    else:
        x = [v[rows] for v in x]
    proba = np.mean([model.predict_proba(v) for v in x], axis=0)
    labels = list(model.classes_)
    predicted = np.asarray(labels)[proba.argmax(axis=1)]
    true = s.table.labels[rows]
    m = evaluate_labels(true, predicted, labels)
    out = {
        "n": len(rows),
        "accuracy": m["accuracy"],
        "macro_f1": m["macro_f1"],
        "recall": {c: v["recall"] for c, v in m["per_class"].items() if v["support"]},
        "contempt_fp": int(np.sum((predicted == CONTEMPT) & (true != CONTEMPT))),
        "labels": m["labels"],
        "confusion": m["confusion"],
    }
    if CONTEMPT in labels and not np.any(true == CONTEMPT):
        without = proba.copy()
        without[:, labels.index(CONTEMPT)] = -1
        out["accuracy_without_contempt"] = float(np.mean(np.asarray(labels)[without.argmax(axis=1)] == true))
    return out


def run(models: list[Path], folder: Path, mirror: bool = False) -> dict[str, dict[str, dict]]:
    """Every model's scores on every set found in ``folder``."""
    sets = benchmark_sets(folder)
    if not sets:
        sys.exit(f"error: none of the tables named in --help is in {folder}")
    features = Features()
    results = {}
    for path in models:
        model = EmotionModel.load(path)
        results[str(path)] = {s.name: score_set(model, s, features, mirror) for s in sets}
    return results


def summary_table(results: dict[str, dict[str, dict]]) -> list[str]:
    """The headline scores as a Markdown table, one row per model, with fear recall and contempt false positives."""

    def cell(scores: dict, key: str) -> str:
        value = scores.get(key)
        return "–" if value is None else f"{value:.3f}"

    head = [f"{s} {'F1' if k == 'macro_f1' else 'acc'}" for s, k in HEADLINE]
    head += ["fear recall ck / jaffe", "contempt FP ck / jaffe"]
    lines = ["| model | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
    for name, sets in results.items():
        row = [cell(sets.get(s, {}), k) for s, k in HEADLINE]
        fear = [sets.get(s, {}).get("recall", {}).get("fear") for s in ("ck", "jaffe")]
        row.append(" / ".join("–" if f is None else f"{f:.2f}" for f in fear))
        row.append(" / ".join(str(sets.get(s, {}).get("contempt_fp", "–")) for s in ("ck", "jaffe")))
        lines.append(f"| {Path(name).name} | " + " | ".join(row) + " |")
    return lines


def detail_lines(results: dict[str, dict[str, dict]]) -> list[str]:
    """Per model and set: n, accuracy, macro-F1, contempt false positives and every class's recall."""
    lines = []
    for name, sets in results.items():
        lines.append(f"\n{name}")
        for set_name, m in sets.items():
            if "skipped" in m:
                lines.append(f"  {set_name:<22} skipped: {m['skipped']}")
                continue
            recall = " ".join(f"{c} {v:.2f}" for c, v in m["recall"].items())
            extra = (
                f", {m['accuracy_without_contempt']:.3f} never answering contempt"
                if "accuracy_without_contempt" in m
                else ""
            )
            lines.append(
                f"  {set_name:<22} n {m['n']:5d}  acc {m['accuracy']:.3f}  F1 {m['macro_f1']:.3f}  "
                f"contempt FP {m['contempt_fp']:3d}{extra}\n  {'':<22} recall: {recall}"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, nargs="+", default=[Path("models/default")], help="bundle folder(s)")
    p.add_argument("--tables", type=Path, default=Path("datasets"), help="folder of the tables (default: %(default)s)")
    p.add_argument("--mirror", action="store_true", help="average each face's probabilities with its mirror image's")
    p.add_argument("--json", type=Path, help="write every score here (confusion matrices included)")
    args = p.parse_args(argv)
    results = run(args.model, args.tables, args.mirror)
    print("\n".join(detail_lines(results)) + "\n")
    print("\n".join(summary_table(results)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
