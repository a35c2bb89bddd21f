"""Does fine-tuning on a few photos of one person help on that person's other photos, and what does it cost others?

  python benchmarks/personal.py --table /work/data/facial_expressions.npz --base models/default
         [--k 2 3 5] [--people 6] [--min-test 5] [--timing] [--leave-out [--features SET]]

A person of the table (``groups``) plays the user: k photos per expression are their
"recorded sessions", their other photos of those expressions are the test. For each
person and k it reports the base and fine-tuned accuracy on those photos (plain and
balanced, i.e. mean recall over their expressions), and the accuracy on the other
people before and after (forgetting). ``--timing`` also times one fine-tuning on 50
samples per base label, the size of a typical recording.

If the base bundle was trained on this same table, its person-disjoint split is
rebuilt from the bundle's training arguments: only people of its test split are
simulated, and "other people" are the rest of that test split, so no score is
measured on faces the base model was trained on. That split may hold few people
with many photos; ``--leave-out`` instead trains a new base with the bundle's
recipe on the table without the ``--people`` people who have the most photos
(about a minute), and simulates those.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from landmark_emotion.data.table import LandmarkTable, load_table
from landmark_emotion.face.features import FEATURE_SETS
from landmark_emotion.labels import ordered
from landmark_emotion.model.emotion_model import EmotionModel
from landmark_emotion.training.base import (
    MIN_CLASS_COUNT,
    REPLAY_PER_CLASS,
    Recipe,
    select_classes,
    split_table,
    train_base_model,
)
from landmark_emotion.training.personal import FineTuneSettings, train_personal_model


def accuracies(probabilities: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Plain accuracy and balanced accuracy (mean per-class recall)."""
    hit = probabilities.argmax(axis=1) == y
    return float(hit.mean()), float(np.mean([hit[y == c].mean() for c in np.unique(y)]))


def unseen_part(base: EmotionModel, table: LandmarkTable, table_path: Path) -> tuple[LandmarkTable, str]:
    """The rows the base model never trained on: its test split if it was trained on this table, else all."""
    args = base.info.get("train_args", {})
    if table_path.name not in {Path(p).name for p in args.get("data", [])}:
        return table, f"{table_path.name} is not the base model's training table: all people are unseen"
    kept, _ = select_classes(table, int(args["min_class_count"]))
    split = split_table(kept, float(args["val_fraction"]), float(args["test_fraction"]), int(args["seed"]))
    if split.sizes() != base.metrics.get("split"):
        sys.exit(
            f"error: rebuilt split {split.sizes()} differs from the bundle's {base.metrics.get('split')}; "
            "cannot tell which people the base model saw"
        )
    return kept.subset(split.test), f"the base model's test split ({len(split.test)} photos, person-disjoint)"


def train_without(
    base: EmotionModel, table: LandmarkTable, people: list[str], folder: Path, feature_set: str | None = None
) -> tuple[EmotionModel, LandmarkTable]:
    """A base model trained like ``base`` (recipe, split settings, replay size; ``feature_set`` if given) on
    ``table`` without ``people``, saved and loaded again, and its test part."""
    args = base.info.get("train_args", {})
    recipe = Recipe(
        **{
            **args.get("recipe", {}),
            "hidden": tuple(args.get("recipe", {}).get("hidden", Recipe.hidden)),
            "components": tuple(args.get("recipe", {}).get("components", Recipe.components)),
        }
    )
    rest = table.subset(np.flatnonzero(~np.isin(table.groups, people)))
    model, trained = train_base_model(
        rest,
        recipe,
        min_class_count=int(args.get("min_class_count", MIN_CLASS_COUNT)),
        val_fraction=float(args.get("val_fraction", 0.15)),
        test_fraction=float(args.get("test_fraction", 0.15)),
        seed=int(args.get("seed", 0)),
        feature_set=feature_set or args.get("features") or base.feature_set,
        replay_per_class=int(args.get("replay_per_class", REPLAY_PER_CLASS)),
        train_args={"leave_out": people},
    )
    return EmotionModel.load(model.save(folder / "base")), trained.table.subset(trained.split.test)


def pick_people(table: LandmarkTable, labels: list[str], k: int, min_test: int, n: int) -> list[tuple[str, list[str]]]:
    """People with at least ``k + min_test`` photos of two or more expressions, most photos first."""
    people = []
    for group in sorted(set(table.groups.tolist()) - {""}):
        mine = table.labels[table.groups == group]
        expressions = [label for label in labels if np.sum(mine == label) >= k + min_test]
        if len(expressions) >= 2:
            people.append((int(np.isin(mine, expressions).sum()), group, expressions))
    people.sort(key=lambda p: (-p[0], p[1]))
    return [(group, expressions) for _, group, expressions in people[:n]]


def through_bundle(model: EmotionModel) -> EmotionModel:
    """The model saved and loaded again, as the demo would use it."""
    with tempfile.TemporaryDirectory() as tmp:
        return EmotionModel.load(model.save(Path(tmp) / "model"))


def simulate(
    base: EmotionModel,
    table: LandmarkTable,
    person: str,
    expressions: list[str],
    k: int,
    others: LandmarkTable,
    settings: FineTuneSettings,
    seed: int,
) -> dict:
    """Fine-tune on k photos per expression of ``person``; score on their other photos and on ``others``."""
    rng = np.random.default_rng(seed)
    index = {label: i for i, label in enumerate(base.classes_)}
    mine = {
        label: rng.permutation(np.flatnonzero((table.groups == person) & (table.labels == label)))
        for label in expressions
    }
    personal = table.subset(np.concatenate([rows[:k] for rows in mine.values()]))
    test = table.subset(np.concatenate([rows[k:] for rows in mine.values()]))
    x_test, y_test = test.features(base.feature_set), np.array([index[label] for label in test.labels])
    x_others, y_others = others.features(base.feature_set), np.array([index[label] for label in others.labels])
    tuned = train_personal_model(base, personal, settings, min_samples=1, progress=False)
    seconds = tuned.metrics["seconds"]
    tuned = through_bundle(tuned)
    return {
        "person": person,
        "k": k,
        "n_test": len(test),
        "base": accuracies(base.predict_proba(x_test), y_test),
        "tuned": accuracies(tuned.predict_proba(x_test), y_test),
        "others_base": accuracies(base.predict_proba(x_others), y_others),
        "others_tuned": accuracies(tuned.predict_proba(x_others), y_others),
        "seconds": seconds,
    }


def time_fine_tuning(base: EmotionModel, table: LandmarkTable, settings: FineTuneSettings, per_class: int = 50) -> None:
    """Fine-tune once on ``per_class`` samples of every base label (as many as the table has) and print the time."""
    rng = np.random.default_rng(0)
    rows = [rng.permutation(np.flatnonzero(table.labels == label))[:per_class] for label in base.classes_]
    personal = table.subset(np.concatenate(rows))
    metrics = train_personal_model(base, personal, settings, min_samples=1, progress=False).metrics
    counts = ", ".join(f"{label} {n}" for label, n in personal.counts().items())
    print(
        f"timing: fine_tune on {len(personal)} samples ({counts}) + {metrics['replay_n']} replay: "
        f"{metrics['seconds']:.1f} s, {metrics['epochs_run']} epochs"
    )


def points(before: float, after: float) -> str:
    return f"{before:.1%} -> {after:.1%} ({100 * (after - before):+.1f} pts)"


def simulated_people(args: argparse.Namespace, base: EmotionModel, table: LandmarkTable, workdir: Path):
    """The base to fine-tune, the unseen rows, the people to simulate with their expressions, and a description."""
    if not args.leave_out:
        unseen, where = unseen_part(base, table, args.table)
        return base, unseen, pick_people(unseen, ordered(base.classes_), max(args.k), args.min_test, args.people), where
    people = pick_people(table, ordered(base.classes_), max(args.k), args.min_test, args.people)
    names = [name for name, _ in people]
    print(
        f"training a base model like {args.base} ({args.features or base.feature_set}) without {', '.join(names)} ..."
    )
    base, test = train_without(base, table, names, workdir, args.features)
    people = [(name, [e for e in expressions if e in base.classes_]) for name, expressions in people]
    unseen = LandmarkTable.concatenate([table.subset(np.flatnonzero(np.isin(table.groups, names))), test])
    unseen = unseen.subset(np.flatnonzero(np.isin(unseen.labels, base.classes_)))
    where = f"people left out of training plus the new base's test split ({len(test)} photos)"
    return base, unseen, [(name, e) for name, e in people if len(e) >= 2], where


def report(rows: list[dict], ks: list[int]) -> None:
    for k in ks:
        mine = [r for r in rows if r["k"] == k]
        mean = {
            key: np.mean([r[key] for r in mine], axis=0) for key in ("base", "tuned", "others_base", "others_tuned")
        }
        print(
            f"k={k}: person's other photos {points(mean['base'][0], mean['tuned'][0])}, balanced "
            f"{points(mean['base'][1], mean['tuned'][1])}; other people "
            f"{points(mean['others_base'][0], mean['others_tuned'][0])}, balanced "
            f"{points(mean['others_base'][1], mean['others_tuned'][1])}; "
            f"{np.mean([r['seconds'] for r in mine]):.1f} s per fine-tuning"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", type=Path, required=True, help="landmark table with groups (person names)")
    p.add_argument("--base", type=Path, default=Path("models/default"))
    p.add_argument("--k", type=int, nargs="+", default=[2, 3, 5], help="photos per expression used as personal data")
    p.add_argument("--people", type=int, default=6, help="how many people to simulate")
    p.add_argument("--min-test", type=int, default=5, help="test photos each expression needs beyond the largest k")
    p.add_argument("--freeze", type=int)
    p.add_argument("--lr", type=float, default=FineTuneSettings.learning_rate)
    p.add_argument("--replay-weight", type=float, default=FineTuneSettings.replay_weight)
    p.add_argument("--seeds", type=int, default=1, help="draws of each person's personal photos")
    p.add_argument("--timing", action="store_true")
    p.add_argument(
        "--leave-out",
        action="store_true",
        help="train a new base without the simulated people (see above) instead of using --base's test split",
    )
    p.add_argument(
        "--features",
        choices=sorted(FEATURE_SETS),
        help="with --leave-out: the feature set of the new base (default: --base's), to compare "
        "fine-tuning on landmarks alone with landmarks plus appearance on the same people",
    )
    args = p.parse_args()
    if args.features and not args.leave_out:
        p.error("--features needs --leave-out (a base of another feature set is trained without the people)")
    base = EmotionModel.load(args.base)
    table = load_table(args.table)
    table = table.subset(np.flatnonzero(np.isin(table.labels, base.classes_)))
    settings = FineTuneSettings(freeze=args.freeze, learning_rate=args.lr, replay_weight=args.replay_weight)
    if args.timing:
        time_fine_tuning(base, table, settings)
    with tempfile.TemporaryDirectory() as workdir:
        base, unseen, people, where = simulated_people(args, base, table, Path(workdir))
        if not people:
            sys.exit(f"error: nobody in {where} has {max(args.k) + args.min_test}+ photos of two expressions")
        print(
            f"base ({', '.join(base.classes_)}); people from {where}:\n  "
            + "; ".join(f"{g} ({', '.join(e)})" for g, e in people)
        )
        rows = []
        for person, expressions in people:
            others = unseen.subset(np.flatnonzero(unseen.groups != person))
            for k in args.k:
                for seed in range(args.seeds):
                    row = simulate(base, unseen, person, expressions, k, others, settings, seed)
                    rows.append(row)
                    print(
                        f"{person:22s} k={k} n={row['n_test']:3d}  acc {points(row['base'][0], row['tuned'][0])}"
                        f"  balanced {points(row['base'][1], row['tuned'][1])}  others "
                        f"{points(row['others_base'][0], row['others_tuned'][0])}  {row['seconds']:.1f} s",
                        flush=True,
                    )
    print(f"\nmean over {len(people)} people x {args.seeds} draw(s) (other people: the rest of {where}):")
    report(rows, args.k)


if __name__ == "__main__":
    main()
