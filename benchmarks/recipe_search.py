"""Choose the training recipe by person-disjoint validation, without touching the test people.

  python benchmarks/recipe_search.py --data datasets/facial_expressions.npz [--seeds 3]

The test split that train_model.py reports on (seed 0) is set aside first. On the rest,
each candidate recipe is trained --seeds times with different person-disjoint
train/validation/score splits and scored (accuracy and macro-F1) on the score split.
The defaults of ``landmark_emotion.training.base.Recipe`` are the winner of this search.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from landmark_emotion.cli.run import run_command
from landmark_emotion.data.table import load_table
from landmark_emotion.model.evaluation import evaluate_predictor
from landmark_emotion.training.base import Recipe, select_classes, split_table, train

BASE = Recipe()
CANDIDATES = {
    "default": BASE,  # 256-128, dropout 0.3, lr 3e-4, class weights ** 0.25, mirror
    "lr 1e-3, weights^0.5": replace(BASE, learning_rate=1e-3, class_weight_power=0.5, patience=12),
    "lr 1e-3, no weights": replace(BASE, learning_rate=1e-3, class_weight_power=0.0, patience=12),
    "balanced weights": replace(BASE, class_weight_power=1.0),
    "lr 1e-4, no weights": replace(BASE, learning_rate=1e-4, class_weight_power=0.0),
    "lr 1e-4": replace(BASE, learning_rate=1e-4),
    "512-256, dropout 0.5": replace(BASE, learning_rate=1e-4, hidden=(512, 256), dropout=0.5),
    "128-64": replace(BASE, hidden=(128, 64)),
    "input noise 0.5": replace(BASE, learning_rate=1e-4, noise=0.5),
    "no mirror": replace(BASE, mirror=False),
}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--seeds", type=int, default=3, help="inner splits per recipe")
    p.add_argument("--min-class-count", type=int, default=50)
    p.add_argument("--only", nargs="+", choices=list(CANDIDATES), help="run only these candidates")
    args = p.parse_args(argv)
    table, _ = select_classes(load_table(args.data), args.min_class_count)
    outer = split_table(table, 0.15, 0.15, seed=0)
    dev = table.subset(np.sort(np.concatenate([outer.train, outer.val])))
    print(f"{len(dev)} development samples ({len(outer.test)} test samples set aside)")
    rows = []
    for name in args.only or CANDIDATES:
        scores = []
        for seed in range(1, args.seeds + 1):
            started = time.perf_counter()
            result = train(dev, CANDIDATES[name], min_class_count=args.min_class_count, seed=seed, progress=False)
            predictor = result.predictor()
            m = evaluate_predictor(predictor, result.table.subset(result.split.test))
            scores.append((m["accuracy"], m["macro_f1"]))
            print(
                f"{name:<18} seed {seed}: accuracy {m['accuracy']:.3f}  macro-F1 {m['macro_f1']:.3f}  "
                f"({result.fit.best_epoch} epochs kept, {time.perf_counter() - started:.0f} s)",
                flush=True,
            )
        rows.append((name, *np.mean(scores, axis=0), *np.std(scores, axis=0)))
    print(f"\n{'recipe':<18} {'accuracy':>14} {'macro-F1':>14}   (mean ± sd over {args.seeds} person-disjoint splits)")
    for name, acc, f1, acc_sd, f1_sd in sorted(rows, key=lambda row: -row[2]):
        print(f"{name:<18} {acc:8.3f} ± {acc_sd:.3f} {f1:8.3f} ± {f1_sd:.3f}")


if __name__ == "__main__":
    sys.exit(run_command(main))
