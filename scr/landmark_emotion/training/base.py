"""Training a base model: which classes, which split, which network, the fit itself, and the model it makes.

- Classes that truly cannot train (a handful of samples) are dropped, and the caller is
  told which; a small class is kept, since a model without it cannot even try.
- A dataset's own train/valid/test split is kept as it is: train on train, stop and
  choose on valid, report on test, nothing chosen on test. Otherwise validation and test
  sets are stratified and, when the table knows identities (``table.groups``),
  group-disjoint: the same person on both sides of a split makes a model that
  recognises people look like one that recognises expressions.
- Mirror images of the training faces are added (an expression has no handedness);
  class weights counter the imbalance of public datasets (mostly neutral and happy).
- A table's augmented copies (degraded photos, ``extract_landmarks.py --augment``) train with their photo and
  are never held out, counted or kept; identity augmentation (``Recipe.identity_augment``) moves training faces
  by the difference of two people at rest, so that who a stranger is weighs less than their expression.
- Early stopping keeps the weights of the best validation epoch; Ctrl-C stops early
  the same way, so an interrupted run still yields its best model.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy.linalg import block_diag
from tqdm import tqdm

from landmark_emotion.data.table import LandmarkTable
from landmark_emotion.errors import LandmarkEmotionError
from landmark_emotion.face.features import FEATURE_BLOCKS, FEATURE_SETS, HYBRID, LANDMARKS
from landmark_emotion.labels import ordered
from landmark_emotion.model.calibration import NEUTRAL, References, neutral_mean
from landmark_emotion.model.emotion_model import EmotionModel
from landmark_emotion.model.inference import predictor_from_keras
from landmark_emotion.model.preprocess import Preprocess, fit_preprocess

DEFAULT_COMPONENTS: dict[str, tuple[int, ...]] = {LANDMARKS: (150,), HYBRID: (150, 200, 100)}
"""Whitened PCA components per feature block, chosen on AffectNet's valid split (benchmarks/affectnet.py):
whitening 150 landmark components beat the standardised 1,404 coordinates (0.550 vs 0.537 valid accuracy)."""


class TrainingError(LandmarkEmotionError, ValueError):
    """A table or settings that cannot train a model (too few classes, bad fractions...)."""


@dataclass(frozen=True)
class Recipe:
    """Network and optimisation settings.

    The defaults won a person-disjoint validation search on the facial_expressions table
    (benchmarks/recipe_search.py): class weights and learning rate mattered, layer sizes,
    dropout and input noise hardly did, so the small, fast network stayed.
    """

    hidden: tuple[int, ...] = (256, 128)
    dropout: float = 0.5
    learning_rate: float = 3e-4
    l2: float = 1e-4
    noise: float = 0.0
    """Standard deviation of Gaussian noise added to the scaled inputs while training (0: none)."""
    batch_size: int = 128
    epochs: int = 150
    patience: int = 20
    class_weight_power: float = 0.25
    """Class weight = (balanced weight) ** power: 0 ignores imbalance, 1 fully balances the classes."""
    mirror: bool = True
    components: tuple[int, ...] = ()
    """Whitened PCA components kept of each feature block (0: the block whole, all 0: standardise only);
    () = the feature set's default, :data:`DEFAULT_COMPONENTS`."""
    identity_augment: float = 0.0
    """Alpha of identity augmentation (0: none): one more copy of every training face, moved by alpha times the
    difference of two random training neutral faces (:func:`identity_augmented`)."""
    class_priors: tuple[tuple[str, float], ...] = ()
    """(label, factor) pairs: the trained model's probability of each label is multiplied by its factor (and all
    renormalised), for where the model is used: people rest more often, and show contempt less often, than the
    training data says (:func:`apply_class_priors`)."""
    members: int = 1
    """Networks trained (seeds ``seed``, ``seed + 1``...) on the same preprocessing and merged into one network
    that averages their logits (:func:`merge_networks`): an ensemble that runs as one forward pass."""

    def __post_init__(self) -> None:
        check_settings(
            TrainingError,
            [
                (not self.hidden or min(self.hidden) < 1, "hidden layer sizes must be positive"),
                (not 0 <= self.dropout < 1, "dropout must be in [0, 1)"),
                (not 0 < self.learning_rate <= 1, "the learning rate must be in (0, 1]"),
                (
                    not (0 <= self.l2 < math.inf and 0 <= self.noise < math.inf),
                    "l2 and noise must be finite, not negative",
                ),
                (self.batch_size < 1 or self.epochs < 1, "batch size and epochs must be at least 1"),
                (self.patience < 1, "patience must be at least 1"),
                (not 0 <= self.class_weight_power <= 1, "the class-weight power must be in [0, 1]"),
                (any(k < 0 for k in self.components), "PCA component counts cannot be negative"),
                (not 0 <= self.identity_augment <= 10, "the identity augmentation must be in [0, 10]"),
                (not all(f > 0 for _, f in self.class_priors), "class prior factors must be positive"),
                (not 1 <= self.members <= 16, "the number of member networks must be in [1, 16]"),
            ],
        )


def check_settings(error: type[Exception], checks: Iterable[tuple[bool, str]]) -> None:
    """Raise ``error`` naming every problem at once (``(bad, what is wrong)`` pairs): one run of the command
    shows all that must change, not one after another. Each check is written so that NaN fails it
    (``not 0 < x <= 1``, never ``x <= 0``): NaN compares false with everything."""
    problems = [text for bad, text in checks if bad]
    if problems:
        raise error("; ".join(problems))


@dataclass
class Split:
    """Row indices of the training, validation and test sets (test may be empty)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    group_disjoint: bool
    dataset: bool = False
    """True when these are the dataset's own train/valid/test splits."""

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}

    def scored(self) -> tuple[str, np.ndarray, str]:
        """Where the reported scores come from: ``test`` (else ``validation``), its rows, and how people were
        split (e.g. ``person-disjoint``)."""
        people = (
            "the dataset's own split"
            if self.dataset
            else "person-disjoint"
            if self.group_disjoint
            else "random (the table has no groups)"
        )
        return ("test", self.test, people) if len(self.test) else ("validation", self.val, people)


def select_classes(table: LandmarkTable, min_count: int) -> tuple[LandmarkTable, dict[str, int]]:
    """The table without classes of fewer than ``min_count`` samples (photographed: augmented copies do not
    count), and the dropped classes' counts."""
    counts = table.subset(table.photographed()).counts()
    dropped = {label: n for label, n in counts.items() if n < min_count}
    kept = [label for label in counts if label not in dropped]
    if len(kept) < 2:
        listed = ", ".join(f"{label} {n}" for label, n in counts.items()) or "no samples"
        raise TrainingError(
            f"need at least two classes with at least {min_count} samples each to train, the table has: {listed}"
        )
    return table.subset(np.flatnonzero(np.isin(table.labels, kept))), dropped


DATASET_SPLITS = ("train", "valid", "test")


def has_dataset_splits(table: LandmarkTable) -> bool:
    """Whether the table carries its dataset's own split, with at least a train and a valid part."""
    present = set(table.splits.tolist()) if table.splits is not None else set()
    return {"train", "valid"} <= present and present <= {*DATASET_SPLITS}


def dataset_split(table: LandmarkTable) -> Split:
    """The dataset's own split: train, valid (for stopping and choosing), test (for reporting only)."""
    train, val, test = (np.flatnonzero(table.splits == name) for name in DATASET_SPLITS)
    missing = sorted((set(table.labels[val]) | set(table.labels[test])) - set(table.labels[train]))
    if missing:
        raise TrainingError(f"class(es) {', '.join(missing)} have no sample in the dataset's train split")
    return Split(train, val, test, False, dataset=True)


def split_table(table: LandmarkTable, val_fraction: float, test_fraction: float, seed: int) -> Split:
    """Stratified split, group-disjoint when the table has groups; samples without a group are their own group."""
    if not 0 < val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 0.9:
        raise TrainingError("validation and test fractions must be in (0, 1) and [0, 1), together below 0.9")
    groups = np.where(table.groups == "", np.char.add("#", np.arange(len(table)).astype(str)), table.groups)
    rest = np.arange(len(table))
    test = rest[:0]
    if test_fraction > 0:
        rest, test = _hold_out(rest, table.labels, groups, test_fraction, seed)
    train, val = _hold_out(rest, table.labels, groups, val_fraction / (1 - test_fraction), seed + 1)
    missing = sorted(set(table.labels[rest]) - set(table.labels[train]))
    if missing:
        raise TrainingError(
            f"class(es) {', '.join(missing)} would have no training sample after the split; "
            "they need samples from more people (groups)"
        )
    return Split(np.sort(train), np.sort(val), np.sort(test), bool(np.any(table.groups != "")))


def _hold_out(
    index: np.ndarray, labels: np.ndarray, groups: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``index`` into (kept, held out ~fraction), stratified by label with whole groups on one side."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    n_splits = max(2, round(1 / fraction))
    n_groups = len(np.unique(groups[index]))
    if n_groups < n_splits:
        raise TrainingError(f"too few samples or people ({n_groups}) to hold out {fraction:.0%} of them")
    if n_groups == len(index):  # no sample shares a group: the plain stratified split is exact
        folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    else:
        folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # "the least populated class has only k members": known, handled above
        warnings.simplefilter("ignore", UserWarning)
        try:
            candidates = list(folds.split(index, labels[index], groups[index]))
        except ValueError as exc:  # e.g. every class has fewer samples than there are folds
            raise TrainingError(f"too few samples to hold out {fraction:.0%} of each class ({exc})") from None
    # the fold closest to the class proportions, each class weighing the same: with a few large groups
    # (one person with half of a class's photos) a fold can otherwise hold almost none of a small class
    classes, totals = np.unique(labels[index], return_counts=True)

    def mismatch(held: np.ndarray) -> float:
        counts = np.array([np.sum(labels[index[held]] == c) for c in classes])
        return float(np.sum(np.abs(counts - totals / n_splits) / totals))

    kept, held = min(candidates, key=lambda fold: mismatch(fold[1]))
    return index[kept], index[held]


def class_weights(y: np.ndarray, n_classes: int, power: float) -> np.ndarray:
    """Per-class weights ``(n / (k n_c)) ** power``, scaled so that the average sample weighs 1."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    weights = np.where(counts > 0, (len(y) / (n_classes * np.maximum(counts, 1))) ** power, 0.0)
    return weights / (weights[y].mean())


def build_mlp(n_inputs: int, n_classes: int, recipe: Recipe):
    """Dense ReLU layers with dropout and L2, ending in a softmax: what the NumPy predictor reproduces."""
    import keras

    regularizer = keras.regularizers.L2(recipe.l2) if recipe.l2 else None
    layers = [keras.Input((n_inputs,))]
    if recipe.noise:
        layers.append(keras.layers.GaussianNoise(recipe.noise))
    for units in recipe.hidden:
        layers.append(keras.layers.Dense(units, activation="relu", kernel_regularizer=regularizer))
        if recipe.dropout:
            layers.append(keras.layers.Dropout(recipe.dropout))
    layers.append(keras.layers.Dense(n_classes, activation="softmax"))
    return keras.Sequential(layers)


@dataclass
class Fit:
    """A trained network and how its training went."""

    model: object
    history: dict[str, list[float]]
    best_epoch: int
    interrupted: bool
    seconds: float
    members: int = 1
    """Networks merged into ``model`` (fewer than the recipe's when training was interrupted)."""


def fit_network(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    n_classes: int,
    recipe: Recipe,
    seed: int = 0,
    progress: bool = True,
) -> Fit:
    """Train :func:`build_mlp` on scaled inputs; returns the weights of the best validation epoch.

    Training and validation losses are both weighted by :func:`class_weights` (from the
    training labels), so early stopping watches the loss that is optimised.
    """
    import keras

    keras.utils.set_random_seed(seed)
    started = time.perf_counter()
    weights = class_weights(y_train, n_classes, recipe.class_weight_power)
    model = build_mlp(x_train.shape[1], n_classes, recipe)
    best, interrupted = fit_loop(
        model,
        x_train,
        y_train,
        weights[y_train].astype(np.float32),
        (x_val, y_val, weights[y_val].astype(np.float32)),
        loss="sparse_categorical_crossentropy",
        learning_rate=recipe.learning_rate,
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        patience=recipe.patience,
        desc="training",
        progress=progress,
    )
    if best.weights is None:
        if interrupted is not None:
            raise interrupted  # stopped before the first epoch ended: nothing to keep
        raise TrainingError("no epoch reached a finite validation loss; nothing to keep")
    model.set_weights(best.weights)
    return Fit(model, best.history, best.best_epoch, interrupted is not None, time.perf_counter() - started)


def merge_networks(models: Sequence, recipe: Recipe):
    """One :func:`build_mlp` network computing the mean of the members' logits: their hidden layers side by side
    (the first concatenated, the later ones block-diagonal), their last layers stacked and divided by their number.
    The softmax of mean logits is a geometric-mean ensemble; the NumPy engine and fine-tuning take it as any network.
    """
    import keras

    k = len(models)
    dense = [[layer for layer in m.layers if isinstance(layer, keras.layers.Dense)] for m in models]
    merged = build_mlp(
        dense[0][0].get_weights()[0].shape[0],
        dense[0][-1].get_weights()[1].shape[0],
        replace(recipe, hidden=tuple(units * k for units in recipe.hidden)),
    )
    target = [layer for layer in merged.layers if isinstance(layer, keras.layers.Dense)]
    for depth, layer in enumerate(target):
        weights = [member[depth].get_weights() for member in dense]
        bias = np.concatenate([b for _, b in weights])
        if depth == 0:
            kernel = np.concatenate([w for w, _ in weights], axis=1)
        elif depth < len(target) - 1:
            kernel = block_diag(*[w for w, _ in weights])
        else:
            kernel, bias = np.concatenate([w for w, _ in weights]) / k, np.mean([b for _, b in weights], axis=0)
        layer.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return merged


def merged_fit(fits: Sequence[Fit], recipe: Recipe) -> Fit:
    """The record of an ensemble's training: the merged network, the first member's history and kept epoch
    (what the curves show), the members' time added up."""
    return Fit(
        merge_networks([f.model for f in fits], recipe),
        fits[0].history,
        fits[0].best_epoch,
        any(f.interrupted for f in fits),
        sum(f.seconds for f in fits),
        len(fits),
    )


def fit_loop(
    model,
    x: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray,
    validation: tuple | None,
    *,
    loss: str,
    learning_rate: float,
    epochs: int,
    batch_size: int,
    patience: int,
    desc: str,
    progress: bool,
):
    """The Keras fit of base training: Adam on ``loss``, early stopping on the validation loss
    that keeps the best weights as it goes, a progress bar, and Ctrl-C that stops it early.

    Returns the :class:`~landmark_emotion.training.callbacks.BestEpoch` record (best weights, epoch and history) and the
    ``KeyboardInterrupt`` that stopped it, if one did (SIGTERM/SIGHUP become one through
    :mod:`landmark_emotion.cli.arguments`): the caller decides whether what was reached is worth keeping.
    """
    import keras

    from landmark_emotion.signals import deferred_signals
    from landmark_emotion.training.callbacks import BestEpoch, EpochBar, StopOnSignal

    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, weighted_metrics=["accuracy"])
    best = BestEpoch(patience)
    interrupted: KeyboardInterrupt | None = None
    with tqdm(total=epochs, unit="epoch", desc=desc, disable=not progress) as bar:
        try:
            with deferred_signals():  # a stop signal ends the fit after its batch (StopOnSignal), then is raised
                model.fit(
                    x,
                    y,
                    sample_weight=sample_weight,
                    validation_data=validation,
                    epochs=epochs,
                    batch_size=batch_size,
                    shuffle=True,
                    verbose=0,
                    callbacks=[best, EpochBar(bar), StopOnSignal()],
                )
        except KeyboardInterrupt as exc:
            interrupted = exc
    return best, interrupted


def identity_augmented(
    z: np.ndarray, y: np.ndarray, neutral: int, alpha: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Network inputs ``z`` (labels ``y``) and one copy of each, moved by ``alpha (n_i - n_j)``: two random rows
    of class ``neutral``.

    Two faces at rest differ by who they are, the light and the camera, not by expression; a face moved by
    such a difference keeps its label, so the network learns to ignore those directions: what calibration
    does with a person's own neutral, for faces read without one. Made after the preprocessing, which is
    affine, so a difference there is the difference of the features.
    """
    pool = z[y == neutral]
    i, j = np.random.default_rng([seed, 1]).integers(0, len(pool), (2, len(z)))
    return np.concatenate([z, z + alpha * (pool[i] - pool[j])]), np.concatenate([y, y])


def apply_class_priors(model, labels: list[str], priors: Iterable[tuple[str, float]]) -> None:
    """Multiply the network's probability of each named label by its factor (then renormalised): exactly a move
    of its last layer's bias by log(factor), so the bundle and its NumPy engine carry it with no extra step."""
    last = model.layers[-1]
    kernel, bias = last.get_weights()
    for label, factor in priors:
        bias[labels.index(label)] += np.log(factor)
    last.set_weights([kernel, bias])


def training_features(
    table: LandmarkTable, with_mirror: bool, feature_set: str = LANDMARKS
) -> tuple[np.ndarray, np.ndarray]:
    """Feature vectors of a table and its labels, plus the mirrored faces' when ``with_mirror``."""
    x, labels = table.features(feature_set), table.labels
    if with_mirror:
        x = np.concatenate([x, table.mirrored().features(feature_set)])
        labels = np.concatenate([labels, labels])
    return x, labels


def default_feature_set(table: LandmarkTable) -> str:
    """Landmarks and appearance when the table has descriptors, else landmarks alone."""
    return LANDMARKS if table.descriptors is None else HYBRID


@dataclass
class TrainResult:
    """A trained base model with everything a bundle records about it."""

    model: object
    labels: list[str]
    preprocess: Preprocess
    table: LandmarkTable
    """The table trained on (small classes dropped); ``split`` indexes it."""
    split: Split
    fit: Fit
    dropped: dict[str, int] = field(default_factory=dict)
    feature_set: str = LANDMARKS

    def predictor(self):
        """The NumPy predictor of the trained network (as a bundle of it would give)."""
        pre = self.preprocess
        return predictor_from_keras(self.model, self.labels, pre.mean, pre.scale, pre.components, self.feature_set)


MIN_CLASS_COUNT = 10
"""Fewer samples than this cannot train a class and be checked on a held-out part; more can, if weakly."""


def split_with_copies(table: LandmarkTable, split_photos: Callable[[LandmarkTable], Split]) -> Split:
    """``split_photos`` of the photographed faces, each augmented copy then joining the training part when its
    photo (the same path) is trained on and in no held-out part; a copy whose photo is not in the table is left
    out. So a held-out photo never trains through its copy, whatever the split."""
    photos = table.photographed()
    split = split_photos(table.subset(photos))
    split.train, split.val, split.test = photos[split.train], photos[split.val], photos[split.test]
    copies = table.copies()
    if len(copies):
        held_out = table.paths[np.concatenate([split.val, split.test])]
        follow = np.isin(table.paths[copies], table.paths[split.train]) & ~np.isin(table.paths[copies], held_out)
        split.train = np.sort(np.concatenate([split.train, copies[follow]]))
    return split


def train(
    table: LandmarkTable,
    recipe: Recipe,
    *,
    min_class_count: int = MIN_CLASS_COUNT,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
    progress: bool = True,
    feature_set: str | None = None,
) -> TrainResult:
    """Select classes, split (the dataset's own split when it has one), scale, fit: table to trained network."""
    table, dropped = select_classes(table, min_class_count)
    split = split_with_copies(
        table,
        lambda photos: (
            dataset_split(photos)
            if has_dataset_splits(photos)
            else split_table(photos, val_fraction, test_fraction, seed)
        ),
    )
    return train_on_split(
        table,
        split,
        recipe,
        seed=seed,
        progress=progress,
        dropped=dropped,
        feature_set=feature_set or default_feature_set(table),
    )


def train_on_split(
    table: LandmarkTable,
    split: Split,
    recipe: Recipe,
    *,
    seed: int = 0,
    progress: bool = True,
    dropped: dict[str, int] | None = None,
    feature_set: str = LANDMARKS,
) -> TrainResult:
    """Mirror-augment, fit the preprocessing and the network on ``split.train`` (identity-augmented after the
    preprocessing when the recipe says so), stopping early on ``split.val``; then the recipe's class priors."""
    if recipe.identity_augment and np.sum(table.labels[split.train] == NEUTRAL) < 2:
        raise TrainingError("identity augmentation needs at least two neutral faces in the training part")
    labels = ordered(table.counts())
    unknown = [label for label, _ in recipe.class_priors if label not in labels]
    if unknown:
        raise TrainingError(f"class prior of {', '.join(unknown)}, which the model does not learn")
    index = {label: i for i, label in enumerate(labels)}
    x_train, l_train = training_features(table.subset(split.train), recipe.mirror, feature_set)
    components = recipe.components or DEFAULT_COMPONENTS[feature_set]
    blocks = FEATURE_BLOCKS[feature_set]
    if any(components) and len(components) != len(blocks):
        raise TrainingError(
            f"features {feature_set!r} have {len(blocks)} blocks; give one PCA component count per "
            f"block (e.g. {','.join(map(str, DEFAULT_COMPONENTS[feature_set]))}), or 0 for none"
        )
    pre = fit_preprocess(x_train, blocks, components if any(components) else None, seed)
    z_train, y_train = pre.transform(x_train), np.array([index[label] for label in l_train])
    del x_train  # the largest array of a training: gone before the network's
    if recipe.identity_augment:
        z_train, y_train = identity_augmented(z_train, y_train, index[NEUTRAL], recipe.identity_augment, seed)
    val = table.subset(split.val)
    z_val, y_val = pre.transform(val.features(feature_set)), np.array([index[label] for label in val.labels])
    fits: list[Fit] = []
    for member in range(recipe.members):
        try:
            fits.append(fit_network(z_train, y_train, z_val, y_val, len(labels), recipe, seed + member, progress))
        except KeyboardInterrupt:
            if not fits:
                raise
            fits[-1].interrupted = True  # stopped before this member's first epoch: the members done are kept
        if fits[-1].interrupted:
            break
    fit = fits[0] if len(fits) == 1 else merged_fit(fits, recipe)
    apply_class_priors(fit.model, labels, recipe.class_priors)
    return TrainResult(fit.model, labels, pre, table, split, fit, dict(dropped or {}), feature_set)


def population_neutral(table: LandmarkTable, feature_set: str = LANDMARKS) -> References | None:
    """The mean ``feature_set`` vectors of a training table's neutral faces (mirror images too, like training):
    the population neutral that calibration moves each person's neutral onto. None without neutral faces."""
    neutral = table.subset(np.flatnonzero(table.labels == NEUTRAL))
    if not len(neutral):
        return None
    features, _ = training_features(neutral, True, feature_set)
    return References(neutral_mean(features), FEATURE_SETS[feature_set][0], len(neutral))


REPLAY_PER_CLASS = 100
"""Training samples per class a base bundle keeps (``replay.npz``) for fine-tuning without forgetting."""


def replay_sample(table: LandmarkTable, per_class: int = REPLAY_PER_CLASS, seed: int = 0) -> LandmarkTable:
    """Up to ``per_class`` random samples of each class: the forgetting guard stored for fine-tuning."""
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(table.labels == label))[:per_class] for label in ordered(table.counts())]
    replay = table.subset(np.sort(np.concatenate(picks)) if picks else np.arange(0))
    replay.meta = {"kind": "replay", "per_class": per_class}
    return replay


def train_base_model(
    table: LandmarkTable,
    recipe: Recipe | None = None,
    *,
    min_class_count: int | None = None,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
    progress: bool = True,
    feature_set: str | None = None,
    replay_per_class: int | None = None,
    tflite: bool = False,
    train_args: Mapping | None = None,
    training_data: Mapping | None = None,
) -> tuple[EmotionModel, TrainResult]:
    """A base model trained on ``table`` (:func:`train`), scored on its held-out part, and its training record.

    Its ``metrics`` are the test scores (validation's when there is no test part) with
    the training's record, ``info`` says what it was trained on (``train_args`` and
    ``training_data`` (name, source, licence) as the caller knows them), and saving it
    writes the confusion matrix and learning curves, ``replay_per_class`` training samples
    per class for fine-tuning, the population neutral (a warning says when there is
    none) and with ``tflite`` a ``model.tflite`` checked against Keras. The record says how training
    went (split, history, kept epoch, whether it was interrupted).
    """
    from landmark_emotion.model.evaluation import confusion_figure, curves_figure, evaluate_predictor

    recipe = recipe or Recipe()
    result = train(
        table,
        recipe,
        min_class_count=MIN_CLASS_COUNT if min_class_count is None else min_class_count,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        seed=seed,
        progress=progress,
        feature_set=feature_set,
    )
    predictor, split = result.predictor(), result.split
    held_out, rows, people = split.scored()
    scored, trained = result.table.subset(rows), result.table.subset(split.train)
    copies = len(trained.copies())
    trained = trained.subset(trained.photographed())  # what the bundle counts and keeps: faces as photographed
    metrics = evaluate_predictor(predictor, scored)
    validation = evaluate_predictor(predictor, result.table.subset(split.val))
    metrics.update(
        {
            "evaluated_on": f"{held_out} split, {people}",
            "validation": {key: validation[key] for key in ("accuracy", "balanced_accuracy", "macro_f1", "n")},
            "split": split.sizes(),
            "dropped_classes": result.dropped,
            "epochs_run": len(result.fit.history.get("loss", [])),
            "best_epoch": result.fit.best_epoch,
            "train_seconds": round(result.fit.seconds, 1),
            "interrupted": result.fit.interrupted,
            "skipped_rows": table.skipped,
        }
    )
    files = {}
    if tflite:
        from landmark_emotion.training.export import TFLITE_FILE, to_tflite

        check = result.preprocess.transform(scored.features(result.feature_set)[:256])
        files[TFLITE_FILE], metrics["tflite_max_difference"] = to_tflite(result.model, check)
    info = {
        "kind": "base",
        "train_args": {**(train_args or {}), "recipe": asdict(recipe)},
        "train_counts": trained.counts(),
        "augmented_copies": copies,
        "landmarker": result.table.meta.get("landmarker"),  # None: trained on both, reads either
        "training_data": {
            "name": "unknown",
            "source": result.table.meta.get("data_sources", []),
            "licence": "unknown",
            **{k: v for k, v in (training_data or {}).items() if v},
        },
    }
    figures = {
        "confusion.png": confusion_figure(metrics, f"{held_out} split ({people})"),
        "curves.png": curves_figure(result.fit.history, result.fit.best_epoch),
    }
    replay = replay_sample(trained, REPLAY_PER_CLASS if replay_per_class is None else replay_per_class, seed)
    references = population_neutral(trained, result.feature_set)
    warnings = (
        [] if references is not None else ["no neutral faces in the training split: the model cannot be calibrated"]
    )
    model = EmotionModel(
        predictor,
        info,
        metrics,
        references,
        network=result.model,
        replay=replay if len(replay) else None,
        figures=figures,
        files=files,
        warnings=warnings,
    )
    return model, result
