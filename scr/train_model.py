"""Train the base emotion model on landmark tables and write it as a model bundle.

  python scr/train_model.py --data datasets/affectnet_landmarks.npz --out models/mine
  python scr/train_model.py --data a.npz b.npz --out models/mine --hidden 512,256 --export tflite

A table with its dataset's own train/valid/test split (e.g. a YOLO-format AffectNet) is
trained on train, stopped and chosen on valid and reported on test. Otherwise validation
(early stopping) and test sets are stratified and person-disjoint when the table knows
identities. Classes with fewer than --min-class-count samples are dropped (and named
first). The test scores go to the bundle's metrics.json and confusion.png. The bundle also
keeps the population neutral (the mean features of the training neutral faces) that
calibration moves each person's neutral face onto.

  python scr/train_model.py --data TABLE.npz --out models/old --add-neutral

gives a bundle trained before calibration existed its population neutral, from the neutral
faces of TABLE (its train split when it has one; e.g. its own training table, or its
replay.npz), without retraining.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from landmark_emotion.cli.startup import quiet_startup

if __name__ == "__main__":
    quiet_startup()  # first: a stop signal while the imports below load ends with one line

from landmark_emotion.cli.arguments import (
    add_progress_option,
    add_seed_option,
    add_verbose_option,
    command_parser,
    float_range,
    int_range,
    label_factors,
    layer_sizes,
    learning_rate,
    number_list,
    quiet_native_logs,
)
from landmark_emotion.cli.run import fail, run_command, say_recovered
from landmark_emotion.data.table import LandmarkTable, TableError, describe_skipped, load_table, merge_tables
from landmark_emotion.face.features import FEATURE_SETS
from landmark_emotion.model.bundle import BundleError, load_bundle
from landmark_emotion.model.bundle_write import add_references
from landmark_emotion.model.evaluation import EvaluationError, format_report
from landmark_emotion.outputs import OutputError, check_outputs, check_writable_folder, refuse_existing
from landmark_emotion.signals import held_signals, interrupted_code
from landmark_emotion.training.base import (
    DEFAULT_COMPONENTS,
    MIN_CLASS_COUNT,
    REPLAY_PER_CLASS,
    Recipe,
    TrainingError,
    default_feature_set,
    has_dataset_splits,
    population_neutral,
    select_classes,
    train_base_model,
)
from landmark_emotion.training.export import ExportError

DEFAULTS = Recipe()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = command_parser(__doc__)
    p.add_argument("--data", type=Path, nargs="+", required=True, help="landmark table(s) (.npz), concatenated")
    p.add_argument("--out", type=Path, required=True, help="bundle folder to write, e.g. models/default")
    p.add_argument("--force", action="store_true", help="replace --out if it exists (only once training succeeded)")
    p.add_argument(
        "--min-class-count",
        type=int_range(2, 10**6),
        default=MIN_CLASS_COUNT,
        help="drop classes with fewer samples (default: %(default)s)",
    )
    p.add_argument(
        "--features",
        choices=list(FEATURE_SETS),
        help="what the model reads (default: landmarks+appearance when the table has appearance "
        "descriptors, else landmarks)",
    )
    p.add_argument(
        "--components",
        type=number_list("component counts", "150,200,100", 3, 0, 4096),
        default=DEFAULTS.components,
        help="whitened PCA components kept per feature block (landmarks[,hog,patches]; 0 = the block "
        "whole; a single 0 = standardise only); default: "
        + "; ".join(f"{k} {','.join(map(str, v))}" for k, v in DEFAULT_COMPONENTS.items()),
    )
    p.add_argument("--data-name", help="the training data's name, recorded in bundle.json (default: unknown)")
    p.add_argument(
        "--data-source",
        help="where the training data comes from (an address), recorded in bundle.json "
        "(default: the sources the tables record)",
    )
    p.add_argument(
        "--data-licence",
        default="unknown",
        help="the training data's licence, recorded in bundle.json: the weights inherit its terms",
    )
    p.add_argument(
        "--hidden",
        type=layer_sizes(),
        default=DEFAULTS.hidden,
        help=f"hidden layer sizes (default: {','.join(map(str, DEFAULTS.hidden))})",
    )
    p.add_argument(
        "--dropout", type=float_range(0, 1, high_open=True), default=DEFAULTS.dropout, help="(default: %(default)s)"
    )
    p.add_argument(
        "--lr", type=learning_rate, default=DEFAULTS.learning_rate, help="Adam learning rate (default: %(default)s)"
    )
    p.add_argument("--l2", type=float_range(0, 1), default=DEFAULTS.l2, help="L2 weight penalty (default: %(default)s)")
    p.add_argument(
        "--noise",
        type=float_range(0, 10),
        default=DEFAULTS.noise,
        help="Gaussian input noise while training, in scaled units (default: %(default)s)",
    )
    p.add_argument(
        "--batch-size", type=int_range(1, 1 << 16), default=DEFAULTS.batch_size, help="(default: %(default)s)"
    )
    p.add_argument(
        "--epochs", type=int_range(1, 100_000), default=DEFAULTS.epochs, help="at most (default: %(default)s)"
    )
    p.add_argument(
        "--patience",
        type=int_range(1, 100_000),
        default=DEFAULTS.patience,
        help="stop after this many epochs without a better validation loss (default: %(default)s)",
    )
    p.add_argument(
        "--class-weight-power",
        type=float_range(0, 1),
        default=DEFAULTS.class_weight_power,
        help="0 = no class weights, 1 = fully balanced (default: %(default)s)",
    )
    p.add_argument("--no-mirror", action="store_true", help="do not add mirrored training faces")
    p.add_argument(
        "--identity-augment",
        type=float_range(0, 10),
        default=DEFAULTS.identity_augment,
        metavar="ALPHA",
        help="add a copy of every training face moved by ALPHA times the difference of two random training "
        "neutral faces (who someone is, not their expression); 0 = none (default: %(default)s)",
    )
    p.add_argument(
        "--class-prior",
        type=label_factors,
        default=DEFAULTS.class_priors,
        metavar="LABEL=FACTOR,...",
        help="multiply the trained model's probability of these labels by these factors, for where it is used "
        "(e.g. neutral=1.3,contempt=0.5: people rest more often, and show contempt less often, than in "
        "AffectNet); default: none",
    )
    p.add_argument(
        "--members",
        type=int_range(1, 16),
        default=DEFAULTS.members,
        help="networks trained with seeds SEED, SEED+1... and merged into one that averages their logits "
        "(an ensemble, run as one network); default: %(default)s",
    )
    p.add_argument(
        "--val-fraction",
        type=float_range(0, 0.9, low_open=True, high_open=True),
        default=0.15,
        help="(default: %(default)s)",
    )
    p.add_argument(
        "--test-fraction",
        type=float_range(0, 0.9, high_open=True),
        default=0.15,
        help="held out for the reported scores; 0 = report validation scores (default: %(default)s)",
    )
    p.add_argument(
        "--replay-per-class",
        type=int_range(0, 10**6),
        default=REPLAY_PER_CLASS,
        help="training samples per class kept in the bundle for fine-tuning (default: %(default)s)",
    )
    p.add_argument("--export", choices=["tflite"], help="also write model.tflite (checked against Keras)")
    p.add_argument(
        "--add-neutral",
        action="store_true",
        help="do not train: add the population neutral of --data's neutral faces to the existing "
        "bundle --out (for bundles trained before calibration existed)",
    )
    add_seed_option(p, 0)
    add_progress_option(p)
    add_verbose_option(p)
    return p.parse_args(argv)


def load_tables(paths: list[Path]) -> LandmarkTable:
    """The tables as one, without unusable rows or rows repeated within or across them (said in one line)."""
    tables = [load_table(path) for path in paths]
    landmarkers = {t.meta.get("landmarker", "legacy") for t in tables}  # tables before it were all legacy
    table = merge_tables(
        tables,
        {
            "sources": [str(path) for path in paths],
            "data_sources": [str(t.meta.get("source", "")) for t in tables],
            "landmarker": landmarkers.pop() if len(landmarkers) == 1 else None,
        },
    )
    skipped = describe_skipped(table.skipped)
    if skipped:
        print(skipped)
    return table


def train_args(args: argparse.Namespace) -> dict:
    """The command's arguments as bundle.json records them."""
    return {
        **{k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "data": [str(path) for path in args.data],
    }


def add_neutral(args: argparse.Namespace) -> int:
    try:
        say_recovered(args.out)
        bundle = load_bundle(args.out)
        table = load_tables(args.data)
        table = table.subset(table.photographed())  # the population neutral is of faces as photographed
        if has_dataset_splits(table):  # the faces the model was trained on, as train_model.py would have used
            table = table.subset(np.flatnonzero(table.splits == "train"))
        references = population_neutral(table, bundle.feature_set)
        if references is None:
            raise TrainingError(f"no neutral faces in {', '.join(map(str, args.data))}: nothing to add")
        add_references(args.out, references)
    except (BundleError, TableError, TrainingError, OSError) as exc:
        return fail(exc)
    print(f"added the population neutral of {references.population_n} neutral faces to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_native_logs(args.verbose)
    if args.add_neutral:
        return add_neutral(args)
    try:
        say_recovered(args.out)
        refuse_existing(args.out, args.force, BundleError)
        check_outputs({"--data": args.data}, {"--out": args.out})
        check_writable_folder(args.out)
        recipe = Recipe(
            args.hidden,
            args.dropout,
            args.lr,
            args.l2,
            args.noise,
            args.batch_size,
            args.epochs,
            args.patience,
            args.class_weight_power,
            not args.no_mirror,
            args.components,
            args.identity_augment,
            args.class_prior,
            args.members,
        )
        table = load_tables(args.data)
        photos, copies = table.subset(table.photographed()), len(table.copies())
        print(
            f"{len(photos)} samples: "
            + ", ".join(f"{label} {n}" for label, n in photos.counts().items())
            + (f"; and {copies} augmented copies (training only)" if copies else "")
        )
        _, dropped = select_classes(table, args.min_class_count)
        if dropped:
            print(
                f"warning: dropping classes with fewer than {args.min_class_count} samples, the model will not "
                "know them: " + ", ".join(f"{label} ({n})" for label, n in dropped.items())
            )
        feature_set = args.features or default_feature_set(table)
        print(f"features: {feature_set}")
        model, record = train_base_model(
            table,
            recipe,
            min_class_count=args.min_class_count,
            val_fraction=args.val_fraction,
            test_fraction=args.test_fraction,
            seed=args.seed,
            progress=not args.no_progress,
            feature_set=feature_set,
            replay_per_class=args.replay_per_class,
            tflite=args.export == "tflite",
            train_args=train_args(args),
            training_data={"name": args.data_name, "source": args.data_source, "licence": args.data_licence},
        )
        fit = record.fit
        epochs = f"{len(fit.history.get('loss', []))} epochs"
        print(
            (
                f"trained {epochs} in {fit.seconds:.0f} s, kept epoch {fit.best_epoch}"
                if fit.members == 1
                else f"trained {fit.members} networks in {fit.seconds:.0f} s (the first: {epochs}, kept epoch "
                f"{fit.best_epoch}), merged into one"
            )
            + (" (interrupted: the best epoch so far is kept)" if fit.interrupted else "")
        )
        held_out, _, people = record.split.scored()
        print(f"{held_out} split ({people}):\n{format_report(model.metrics)}")
        if "tflite_max_difference" in model.metrics:
            print(f"TFLite export matches Keras within {model.metrics['tflite_max_difference']:.1g}")
        for warning in model.warnings:
            print(f"warning: {warning}")
        with held_signals() as stopped:  # a stop while saving waits for the save: the model is kept
            bundle = model.save(args.out, force=args.force)
    except (
        BundleError,
        TableError,
        TrainingError,
        EvaluationError,
        ExportError,
        OutputError,
        OSError,
        KeyboardInterrupt,
    ) as exc:
        return fail(exc)
    print(f"wrote {bundle}")
    return interrupted_code() if record.fit.interrupted or stopped else 0


if __name__ == "__main__":
    sys.exit(run_command(main))
