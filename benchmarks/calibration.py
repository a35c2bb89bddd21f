"""Does calibrating to a person's neutral face help, on posed photos of people the model never saw?

  python scr/extract_landmarks.py --data-dir /work/data/Datasets/CK+ --group-pattern '^(S\\d+)_' \\
         --out /tmp/ck.npz                                   # CK+: research use only, never committed
  python benchmarks/calibration.py --table /tmp/ck.npz --model models/default [--only photos sessions]

Two measurements, each printed as a Markdown table:

1. **Photos.** The model's accuracy on every expression photo (not neutral, not contempt:
   the issue's 7-class protocol) uncalibrated and calibrated by the mean of the same
   person's neutral photos (none of which is the photo itself); and the same as
   ``evaluate.py --calibrate neutral`` computes it on the whole table.
2. **Simulated webcam sessions** (``--calibrate auto``). Per person, their photos in a
   session as a webcam shows them: a neutral rest, then each expression held
   ``--hold`` frames with ``--rest`` frames of neutral after it, every frame with
   landmark jitter. Per-frame accuracy on the expression frames and on all frames:
   uncalibrated, ``auto`` (the running estimate the demo uses), ``n`` pressed in the first
   second, and the person's true neutral mean (the best a reference can do).

Personal fine-tuning, which calibrates the same way, is measured by ``benchmarks/personal.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from landmark_emotion.cli.run import run_command
from landmark_emotion.data.table import LandmarkTable, load_table
from landmark_emotion.model.calibration import NEUTRAL, calibrate, neutral_mean
from landmark_emotion.model.emotion_model import EmotionModel
from landmark_emotion.model.evaluation import evaluate_calibrated, evaluate_labels
from landmark_emotion.reading.neutral import Expressions, TrackReferences


def person_neutrals(features: np.ndarray, table: LandmarkTable) -> dict[str, np.ndarray]:
    neutral = table.labels == NEUTRAL
    return {g: neutral_mean(features[neutral & (table.groups == g)]) for g in np.unique(table.groups[neutral])}


def photos(bundle, table: LandmarkTable, features: np.ndarray, skip: set[str]) -> None:
    predictor, population = bundle.predictor(), bundle.references.population
    neutrals = person_neutrals(features, table)
    rows = np.flatnonzero(
        (table.labels != NEUTRAL) & ~np.isin(table.labels, list(skip)) & np.isin(table.groups, list(neutrals))
    )
    refs = np.stack([neutrals[g] for g in table.groups[rows]])
    truth = table.labels[rows]
    plain = evaluate_labels(truth, predictor.predict(features[rows]), predictor.labels)
    calibrated = evaluate_labels(
        truth, predictor.predict(calibrate(features[rows], refs, population)), predictor.labels
    )
    whole = evaluate_calibrated(predictor, table, population)
    print(
        f"\n### Photos ({len(rows)} expression photos of {len(set(table.groups[rows]))} people, "
        f"{', '.join(sorted(set(truth)))})\n"
    )
    print("| faces | uncalibrated accuracy | neutral-calibrated accuracy | macro-F1 (uncal. → cal.) |")
    print("|---|---|---|---|")
    print(
        f"| expression photos | {plain['accuracy']:.3f} | {calibrated['accuracy']:.3f} | "
        f"{plain['macro_f1']:.3f} → {calibrated['macro_f1']:.3f} |"
    )
    print(
        f"| whole table as `evaluate.py --calibrate neutral` ({whole['scored']} scored, {whole['skipped']} "
        f"skipped) | {whole['uncalibrated_accuracy']:.3f} | {whole['accuracy']:.3f} | "
        f"{whole['uncalibrated_macro_f1']:.3f} → {whole['macro_f1']:.3f} |"
    )


def session(
    table: LandmarkTable,
    feature_set: str,
    group: str,
    skip: set[str],
    hold: int,
    rest: int,
    jitter: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """A simulated webcam session of one person: features per frame and the true label per frame."""
    mine = np.flatnonzero(table.groups == group)
    neutral = mine[table.labels[mine] == NEUTRAL]
    expressive = rng.permutation(mine[(table.labels[mine] != NEUTRAL) & ~np.isin(table.labels[mine], list(skip))])
    order = list(rng.choice(neutral, rest))
    for row in expressive:
        order += [row] * hold + list(rng.choice(neutral, rest))
    sub = table.subset(np.asarray(order))
    sub.landmarks = sub.landmarks + rng.normal(0, jitter, sub.landmarks.shape).astype(np.float32)
    return sub.features(feature_set), sub.labels


def sessions(
    bundle, table: LandmarkTable, features: np.ndarray, skip: set[str], hold: int, rest: int, jitter: float, seed: int
) -> None:
    predictor, references = bundle.predictor(), bundle.references
    # what the demo's `auto` reads resting frames with
    expressions = Expressions.of(predictor.predict_proba, bundle.classes_, bundle.expression_directions())
    rng = np.random.default_rng(seed)
    people = [
        g
        for g in np.unique(table.groups)
        if np.any((table.groups == g) & (table.labels == NEUTRAL))
        and np.any((table.groups == g) & (table.labels != NEUTRAL) & ~np.isin(table.labels, list(skip)))
    ]
    hits: dict[str, list[np.ndarray]] = {name: [] for name in ("off", "auto", "n", "true")}
    truths = []
    for group in people:
        x, truth = session(table, bundle.feature_set, group, skip, hold, rest, jitter, rng)
        truths.append(truth)
        hits["off"].append(np.asarray(predictor.predict(x)) == truth)
        auto = TrackReferences(references, "auto", expressions)
        calibrated = np.concatenate([auto.apply([0], x[i : i + 1])[0] for i in range(len(x))])
        hits["auto"].append(np.asarray(predictor.predict(calibrated)) == truth)
        captured = calibrate(x, neutral_mean(x[:30]), references.population)  # `n` in the first second
        hits["n"].append(np.asarray(predictor.predict(captured)) == truth)
        own = neutral_mean(features[(table.groups == group) & (table.labels == NEUTRAL)])
        hits["true"].append(np.asarray(predictor.predict(calibrate(x, own, references.population))) == truth)
    truth = np.concatenate(truths)
    expressive = truth != NEUTRAL
    print(
        f"\n### Simulated webcam sessions ({len(people)} people, {len(truth)} frames, "
        f"{expressive.mean():.0%} expressive; each expression held {hold} frames, {rest} neutral frames "
        f"between, landmark jitter {jitter})\n"
    )
    print("| calibration | accuracy, expression frames | accuracy, all frames |")
    print("|---|---|---|")
    names = {
        "off": "off (uncalibrated)",
        "auto": "`--calibrate auto` (running estimate)",
        "n": "`n` pressed in the first second",
        "true": "the person's true neutral (mean of their photos)",
    }
    for key, name in names.items():
        hit = np.concatenate(hits[key])
        print(f"| {name} | {hit[expressive].mean():.3f} | {hit.mean():.3f} |")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", type=Path, required=True, help="landmark table with people (groups)")
    p.add_argument("--model", type=Path, default=Path(__file__).resolve().parent.parent / "models" / "default")
    p.add_argument(
        "--skip-labels",
        default="contempt",
        help="expressions left out of the scores (default: %(default)s, as in the issue's 7 classes)",
    )
    p.add_argument("--hold", type=int, default=30, help="frames each expression is held in a session")
    p.add_argument("--rest", type=int, default=90, help="neutral frames between expressions")
    p.add_argument("--jitter", type=float, default=0.001, help="landmark noise per frame (image fractions)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", choices=["photos", "sessions"], nargs="*")
    args = p.parse_args(argv)
    bundle, table = EmotionModel.load(args.model), load_table(args.table)
    if bundle.references is None:
        sys.exit(f"error: {args.model} has no population neutral (neutral.npz); retrain it with train_model.py")
    skip = set(args.skip_labels.split(",")) if args.skip_labels else set()
    features = table.features(bundle.feature_set)
    print(
        f"model {args.model} ({', '.join(bundle.classes_)}) on {args.table}: {len(table)} faces of "
        f"{len(set(table.groups))} people"
    )
    only = set(args.only or ["photos", "sessions"])
    if "photos" in only:
        photos(bundle, table, features, skip)
    if "sessions" in only:
        sessions(bundle, table, features, skip, args.hold, args.rest, args.jitter, args.seed)


if __name__ == "__main__":
    sys.exit(run_command(main))
