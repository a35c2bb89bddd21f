"""Train the base emotion model on landmark tables and write it as a model bundle.

  python scr/train_model.py --data datasets/affectnet_landmarks.npz --out models/mine
  python scr/train_model.py --data a.npz b.npz --out models/mine --hidden 512,256 --export tflite

A table with its dataset's own train/valid/test split (e.g. a YOLO-format AffectNet) is
trained on train, stopped and chosen on valid and reported on test. Otherwise validation
(early stopping) and test sets are stratified and person-disjoint when the table knows
identities. Classes with fewer than --min-class-count samples are dropped (and named
first). The test scores go to the bundle's metrics.json and confusion.png.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from emotion.cli import fail
from emotion.evaluation import EvaluationError, confusion_figure, curves_figure, evaluate_predictor, format_report
from emotion.export import TFLITE_FILE, ExportError, to_tflite
from emotion.features import FEATURE_SETS
from emotion.model_bundle import BundleError, save_bundle
from emotion.table import LandmarkTable, TableError, load_table
from emotion.training import (
    DEFAULT_COMPONENTS, MIN_CLASS_COUNT, Recipe, TrainingError, TrainResult, default_feature_set, replay_sample,
    select_classes, train,
)

DEFAULTS = Recipe()


def sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers like 256,128, got {text!r}") from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, nargs="+", required=True, help="landmark table(s) (.npz), concatenated")
    p.add_argument("--out", type=Path, required=True, help="bundle folder to write, e.g. models/default")
    p.add_argument("--force", action="store_true", help="replace --out if it exists (only once training succeeded)")
    p.add_argument("--min-class-count", type=int, default=MIN_CLASS_COUNT,
                   help="drop classes with fewer samples (default: %(default)s)")
    p.add_argument("--features", choices=list(FEATURE_SETS),
                   help="what the model reads (default: landmarks+appearance when the table has appearance "
                        "descriptors, else landmarks)")
    p.add_argument("--components", type=sizes, default=DEFAULTS.components,
                   help="whitened PCA components kept per feature block (landmarks[,hog,patches]; 0 = the block "
                        "whole; a single 0 = standardise only); default: "
                        + "; ".join(f"{k} {','.join(map(str, v))}" for k, v in DEFAULT_COMPONENTS.items()))
    p.add_argument("--data-name", help="the training data's name, recorded in bundle.json (default: the table's source)")
    p.add_argument("--data-source", help="where the training data comes from (an address), recorded in bundle.json "
                                         "(default: the sources the tables record)")
    p.add_argument("--data-licence", default="unknown",
                   help="the training data's licence, recorded in bundle.json: the weights inherit its terms")
    p.add_argument("--hidden", type=sizes, default=DEFAULTS.hidden,
                   help=f"hidden layer sizes (default: {','.join(map(str, DEFAULTS.hidden))})")
    p.add_argument("--dropout", type=float, default=DEFAULTS.dropout, help="(default: %(default)s)")
    p.add_argument("--lr", type=float, default=DEFAULTS.learning_rate, help="Adam learning rate (default: %(default)s)")
    p.add_argument("--l2", type=float, default=DEFAULTS.l2, help="L2 weight penalty (default: %(default)s)")
    p.add_argument("--noise", type=float, default=DEFAULTS.noise,
                   help="Gaussian input noise while training, in scaled units (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size, help="(default: %(default)s)")
    p.add_argument("--epochs", type=int, default=DEFAULTS.epochs, help="at most (default: %(default)s)")
    p.add_argument("--patience", type=int, default=DEFAULTS.patience,
                   help="stop after this many epochs without a better validation loss (default: %(default)s)")
    p.add_argument("--class-weight-power", type=float, default=DEFAULTS.class_weight_power,
                   help="0 = no class weights, 1 = fully balanced (default: %(default)s)")
    p.add_argument("--no-mirror", action="store_true", help="do not add mirrored training faces")
    p.add_argument("--val-fraction", type=float, default=0.15, help="(default: %(default)s)")
    p.add_argument("--test-fraction", type=float, default=0.15,
                   help="held out for the reported scores; 0 = report validation scores (default: %(default)s)")
    p.add_argument("--replay-per-class", type=int, default=100,
                   help="training samples per class kept in the bundle for fine-tuning (default: %(default)s)")
    p.add_argument("--export", choices=["tflite"], help="also write model.tflite (checked against Keras)")
    p.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def load_tables(paths: list[Path]) -> LandmarkTable:
    tables = [load_table(path) for path in paths]
    return LandmarkTable.concatenate(tables, {"sources": [str(path) for path in paths],
                                              "data_sources": [str(t.meta.get("source", "")) for t in tables]})


def save_result(result: TrainResult, args: argparse.Namespace, recipe: Recipe) -> Path:
    """Score the model on the held-out people, print the scores, and write the bundle with figures."""
    predictor = result.predictor()
    split = result.split
    held_out = "test" if len(split.test) else "validation"
    test = result.table.subset(split.test if len(split.test) else split.val)
    metrics = evaluate_predictor(predictor, test)
    validation = evaluate_predictor(predictor, result.table.subset(split.val))
    people = ("the dataset's own split" if split.dataset else
              "person-disjoint" if split.group_disjoint else "random (the table has no groups)")
    print(f"{held_out} split ({people}):\n{format_report(metrics)}")
    metrics.update({
        "evaluated_on": f"{held_out} split, {people}",
        "validation": {key: validation[key] for key in ("accuracy", "balanced_accuracy", "macro_f1", "n")},
        "split": split.sizes(),
        "dropped_classes": result.dropped,
        "epochs_run": len(result.fit.history.get("loss", [])),
        "best_epoch": result.fit.best_epoch,
        "train_seconds": round(result.fit.seconds, 1),
        "interrupted": result.fit.interrupted,
    })
    files = {}
    if args.export == "tflite":
        check = result.preprocess.transform(test.features(result.feature_set)[:256])
        files[TFLITE_FILE], metrics["tflite_max_difference"] = to_tflite(result.model, check)
        print(f"TFLite export matches Keras within {metrics['tflite_max_difference']:.1g}")
    info = {
        "kind": "base",
        "train_args": {**{k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                       "data": [str(path) for path in args.data], "recipe": asdict(recipe)},
        "train_counts": result.table.subset(split.train).counts(),
        "training_data": {"name": args.data_name or "unknown",
                          "source": args.data_source or result.table.meta.get("data_sources", []),
                          "licence": args.data_licence},
    }
    figures = {"confusion.png": confusion_figure(metrics, f"{held_out} split ({people})"),
               "curves.png": curves_figure(result.fit.history, result.fit.best_epoch)}
    replay = replay_sample(result.table.subset(split.train), args.replay_per_class, args.seed)
    pre = result.preprocess
    return save_bundle(args.out, result.model, pre.mean, pre.scale, result.labels, info, metrics,
                       replay=replay if len(replay) else None, force=args.force, figures=figures, files=files,
                       components=pre.components, feature_set=result.feature_set)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.out.exists() and not args.force:
            raise BundleError(f"{args.out} exists; pass --force to replace it, or choose another --out")
        if args.replay_per_class < 0:
            raise TrainingError("--replay-per-class cannot be negative")
        recipe = Recipe(args.hidden, args.dropout, args.lr, args.l2, args.noise, args.batch_size, args.epochs,
                        args.patience, args.class_weight_power, not args.no_mirror, args.components)
        table = load_tables(args.data)
        print(f"{len(table)} samples: " + ", ".join(f"{label} {n}" for label, n in table.counts().items()))
        _, dropped = select_classes(table, args.min_class_count)
        if dropped:
            print(f"warning: dropping classes with fewer than {args.min_class_count} samples, the model will not "
                  "know them: " + ", ".join(f"{label} ({n})" for label, n in dropped.items()))
        feature_set = args.features or default_feature_set(table)
        print(f"features: {feature_set}")
        result = train(table, recipe, min_class_count=args.min_class_count, val_fraction=args.val_fraction,
                       test_fraction=args.test_fraction, seed=args.seed, progress=not args.no_progress,
                       feature_set=feature_set)
        fit = result.fit
        print(f"trained {len(fit.history.get('loss', []))} epochs in {fit.seconds:.0f} s, kept epoch {fit.best_epoch}"
              + (" (interrupted: the best epoch so far is kept)" if fit.interrupted else ""))
        bundle = save_result(result, args, recipe)
    except (BundleError, TableError, TrainingError, EvaluationError, ExportError, OSError, KeyboardInterrupt) as exc:
        return fail(exc)
    print(f"wrote {bundle}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
