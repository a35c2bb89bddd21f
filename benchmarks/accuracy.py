"""Our recipe vs the earlier system's, on the same person-disjoint split.

  python benchmarks/accuracy.py --data datasets/facial_expressions.npz [--seeds 0 1 2] [--json OUT.json]

(a) earlier: raw image-space landmarks (x, y, z as MediaPipe returns them, flattened, no
    normalisation), StandardScaler, MLP 1024-512-256-128 with dropout 0.3, Adam lr 1e-5,
    no class weights, no mirroring; early stopping on the same validation people;
(b) ours: emotion.training defaults (normalized features, mirror augmentation, class
    weights, a smaller MLP).
Both see the same classes and the same train/validation/test people. Each seed is
another person-disjoint split; seed 0 is the split train_model.py reports on.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scr"))

from emotion.evaluation import evaluate_labels  # noqa: E402
from emotion.labels import ordered  # noqa: E402
from emotion.model_bundle import predictor_from_keras  # noqa: E402
from emotion.table import LandmarkTable, load_table  # noqa: E402
from emotion.training import (  # noqa: E402
    Recipe, fit_network, scaled, scaler_of, select_classes, split_table, train_on_split,
)

EARLIER = replace(Recipe(), hidden=(1024, 512, 256, 128), dropout=0.3, learning_rate=1e-5, l2=0.0,
                  class_weight_power=0.0, mirror=False, batch_size=32)


def raw(table: LandmarkTable) -> np.ndarray:
    """The earlier system's input: image-space landmarks flattened."""
    return table.landmarks.reshape(len(table), -1)


def earlier(table: LandmarkTable, split, labels: list[str], recipe: Recipe, seed: int) -> tuple[dict, float, int]:
    index = {label: i for i, label in enumerate(labels)}
    train, val, test = (table.subset(idx) for idx in (split.train, split.val, split.test))
    mean, scale = scaler_of(raw(train))
    fit = fit_network(scaled(raw(train), mean, scale), np.array([index[v] for v in train.labels]),
                      scaled(raw(val), mean, scale), np.array([index[v] for v in val.labels]),
                      len(labels), recipe, seed=seed, progress=False)
    probs = np.asarray(fit.model.predict(scaled(raw(test), mean, scale), verbose=0, batch_size=1024))
    return evaluate_labels(test.labels, [labels[i] for i in probs.argmax(axis=1)], labels), fit.seconds, fit.best_epoch


def ours(table: LandmarkTable, split, seed: int) -> tuple[dict, float, int]:
    result = train_on_split(table, split, Recipe(), seed=seed, progress=False)
    predictor = predictor_from_keras(result.model, result.labels, result.scaler_mean, result.scaler_scale)
    test = table.subset(split.test)
    return evaluate_labels(test.labels, predictor.predict(test.features()), result.labels), result.fit.seconds, \
        result.fit.best_epoch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="person-disjoint splits to run")
    p.add_argument("--min-class-count", type=int, default=50)
    p.add_argument("--earlier-epochs", type=int, default=100, help="epoch budget of the earlier recipe")
    p.add_argument("--json", type=Path, help="write all scores here")
    args = p.parse_args()
    table, dropped = select_classes(load_table(args.data), args.min_class_count)
    labels = ordered(table.counts())
    print(f"{len(table)} samples, classes {', '.join(labels)}"
          + (f" (dropped, < {args.min_class_count} samples: {', '.join(dropped)})" if dropped else ""))
    recipe = replace(EARLIER, epochs=args.earlier_epochs)
    results = []
    for seed in args.seeds:
        split = split_table(table, 0.15, 0.15, seed)
        people = [set(table.groups[idx]) for idx in (split.train, split.val, split.test)]
        shared = len(people[0] & people[2]) + len(people[1] & people[2])
        print(f"\nseed {seed}: train {len(split.train)} / val {len(split.val)} / test {len(split.test)} samples; "
              f"{len(people[2])} test people, {shared} of them also in train/val"
              + ("" if split.group_disjoint else " (the table has no groups: random split)"))
        row = {"seed": seed, "split": split.sizes(), "test_people": len(people[2])}
        for name, run in (("earlier", lambda: earlier(table, split, labels, recipe, seed)),
                          ("ours", lambda: ours(table, split, seed))):
            started = time.perf_counter()
            metrics, seconds, best_epoch = run()
            row[name] = {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
                         "train_seconds": round(seconds, 1), "best_epoch": best_epoch}
            print(f"  {name:<8} accuracy {metrics['accuracy']:.3f}  macro-F1 {metrics['macro_f1']:.3f}  "
                  f"(training {seconds:.0f} s, best epoch {best_epoch}; total {time.perf_counter() - started:.0f} s)",
                  flush=True)
        results.append(row)
    acc = {name: np.array([r[name]["accuracy"] for r in results]) for name in ("earlier", "ours")}
    f1 = {name: np.array([r[name]["macro_f1"] for r in results]) for name in ("earlier", "ours")}
    print(f"\nmean over {len(results)} person-disjoint split(s):")
    for name in ("earlier", "ours"):
        print(f"  {name:<8} accuracy {acc[name].mean():.3f}  macro-F1 {f1[name].mean():.3f}")
    print(f"  ours - earlier: {100 * (acc['ours'] - acc['earlier']).mean():+.1f} points accuracy, "
          f"{(f1['ours'] - f1['earlier']).mean():+.3f} macro-F1")
    print("note: test people never appear in training or validation, so these are scores on new faces; "
          "a random split would put photos of the same person on both sides and inflate them.")
    if args.json:
        args.json.write_text(json.dumps({"dropped": dropped, "earlier_recipe": str(recipe), "runs": results},
                                        indent=2) + "\n")


if __name__ == "__main__":
    main()
