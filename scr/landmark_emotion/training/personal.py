"""Fine-tune a base model on one person's recorded sessions: a new personal model.

A few dozen samples per expression are enough to move a model trained on
thousands of other faces towards one face, if the transfer is kept gentle:

- the base scaler is kept (a scaler refit on a few personal samples would move
  every input the frozen layers were trained on);
- the early Dense layers are frozen and the rest trains with a small learning rate;
- the base bundle's replay table (a class-balanced sample of its training data)
  is mixed in with the base model's own predictions as targets (distillation), so
  the model keeps answering like the base where the user gave no data: classes
  the user did not record are not forgotten, and neither is how common each
  expression is (a class-balanced replay with its true labels would push the
  rare expressions onto everyone);
- training stops on the loss of a held-out slice of the personal data; when the
  recording is too small to hold out a useful slice, a fixed number of epochs is
  trained instead (chosen by ``benchmarks/calibration.py``);
- with a recorded neutral face and a base model that knows the population neutral,
  the user's features are calibrated (:mod:`landmark_emotion.model.calibration`) before training, as
  the demo calibrates them when it reads the user;
- the personal model then answers only neutral and the expressions the user recorded
  (its output layer keeps their columns): with a few photos each, it often took what the user
  showed for an expression they never showed (``benchmarks/calibration.py``: +3 to +9 points).
  ``keep_unrecorded`` keeps the base's other expressions, which fine-tuning leaves as they were.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from landmark_emotion.data.table import LandmarkTable, TableError, load_table, merge_tables
from landmark_emotion.errors import LandmarkEmotionError
from landmark_emotion.face.features import LANDMARKS
from landmark_emotion.labels import ordered
from landmark_emotion.model.calibration import NEUTRAL, References, calibrate, neutral_mean
from landmark_emotion.model.emotion_model import EmotionModel
from landmark_emotion.model.inference import predictor_from_keras
from landmark_emotion.training.base import check_settings, fit_loop, training_features

RECORD_HINT = "record some with: python scr/record_dataset.py --label LABEL"
MIN_SAMPLES = 5
"""Fewer samples of a label are refused by default; 1 is a valid, if weak, recording (``--min-samples 1``)."""


class PersonalDataError(LandmarkEmotionError, ValueError):
    """Personal sessions that cannot be used: none, unreadable, too few, or labels the base model lacks."""


class FineTuneError(LandmarkEmotionError, ValueError):
    """Fine-tuning settings that do not fit the base model (e.g. freezing every layer)."""


@dataclass
class PersonalData:
    """All readable sessions of a folder as one table, and the files that could not be read."""

    table: LandmarkTable
    files: list[Path]
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    landmarks_only: list[Path] = field(default_factory=list)
    """Sessions recorded without appearance descriptors (``--features landmarks``)."""


def load_sessions(data_dir: str | os.PathLike) -> PersonalData:
    """Read every session file in ``data_dir``; unreadable or empty files are skipped and named, not fatal."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise PersonalDataError(f"no folder {data_dir}; {RECORD_HINT}")
    paths = sorted(p for p in data_dir.glob("*.npz") if not p.name.startswith("."))
    if not paths:
        raise PersonalDataError(f"no session files (*.npz) in {data_dir}; {RECORD_HINT}")
    tables, files, skipped = [], [], []
    for path in paths:
        try:
            table = load_table(path)
        except TableError as exc:
            skipped.append((path, str(exc)))
            continue
        if not len(table):
            skipped.append((path, "no usable samples" if table.skipped else "no samples"))
            continue
        # samples of one file stay together (e.g. for group-aware splits), even from tables without groups
        table.groups = np.where(table.groups == "", path.stem, table.groups)
        tables.append(table)
        files.append(path)
    if not tables:
        reasons = "; ".join(f"{p.name}: {r}" for p, r in skipped)
        raise PersonalDataError(f"none of the {len(paths)} session files in {data_dir} is usable ({reasons})")
    landmarks_only = [path for path, table in zip(files, tables) if table.descriptors is None]
    return PersonalData(merge_tables(tables, {"sessions": [p.name for p in files]}), files, skipped, landmarks_only)


def check_labels(counts: dict[str, int], base_labels: Sequence[str], min_samples: int) -> None:
    """Refuse labels the base model cannot output, and labels with too few samples to train and check on."""
    unknown = ordered(set(counts) - set(base_labels))
    if unknown:
        raise PersonalDataError(
            f"personal label(s) {', '.join(unknown)} not among the base model's labels "
            f"({', '.join(base_labels)}); record only those, or train a base model that has them"
        )
    few = {label: n for label, n in counts.items() if n < min_samples}
    if few:
        listed = ", ".join(f"{label} has {n}" for label, n in few.items())
        raise PersonalDataError(
            f"too few samples: {listed} (need at least {min_samples} per label); "
            f"record more with: python scr/record_dataset.py --label {next(iter(few))}"
        )


def check_features(data: PersonalData, feature_set: str) -> None:
    """Refuse sessions that lack what the base model reads (appearance descriptors), naming them."""
    if feature_set == LANDMARKS:
        return
    if data.landmarks_only:
        raise PersonalDataError(
            f"the base model reads {feature_set}, but session(s) {', '.join(p.name for p in data.landmarks_only)} "
            "hold landmarks only; record them again without --features landmarks, or fine-tune a landmarks-only "
            "base model"
        )
    if data.table.descriptors is None:
        raise PersonalDataError(
            f"the base model reads {feature_set}, but the personal table holds landmarks only "
            "(no appearance descriptors); fine-tune a landmarks-only base model"
        )


def split_heldout(labels: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Train and held-out indices: the last ``fraction`` (at least one) of each label's samples.

    Held-out samples are taken from the end of each label's recording, not at
    random: consecutive video frames are near copies, and a random split would
    hold out twins of training samples and overrate the model.
    """
    train, heldout = [], []
    for label in ordered(set(labels.tolist())):
        index = np.flatnonzero(labels == label)
        n_out = min(max(1, round(fraction * len(index))), len(index) - 1)
        train.append(index[: len(index) - n_out])
        heldout.append(index[len(index) - n_out :])
    return np.concatenate(train), np.concatenate(heldout)


def personal_references(base: EmotionModel, table: LandmarkTable) -> tuple[References, np.ndarray] | None:
    """The user's neutral reference (the mean of their neutral samples) added to the base's references, and
    the same for their mirror images; None when the user recorded no neutral or the base cannot calibrate."""
    neutral = table.subset(np.flatnonzero(table.labels == NEUTRAL))
    if base.references is None or not len(neutral):
        return None
    features, _ = training_features(neutral, True, base.feature_set)
    own, mirrored = neutral_mean(features[: len(neutral)]), neutral_mean(features[len(neutral) :])
    return base.references.with_person(own, len(neutral)), mirrored


def _inputs(
    bundle: EmotionModel,
    table: LandmarkTable,
    with_mirror: bool = False,
    references: tuple[References, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs (calibrated if ``references`` are given, then through the bundle's preprocessing) and
    one-hot targets of a table, mirror images added if asked (calibrated by the mirrored neutral)."""
    index = {label: i for i, label in enumerate(bundle.classes_)}
    features, labels = training_features(table, with_mirror, bundle.feature_set)
    if references is not None:
        refs, mirrored = references
        assert refs.person is not None, "personal_references gives the person's neutral"
        n = len(table)
        features = np.concatenate(
            [calibrate(features[:n], refs.person, refs.population), calibrate(features[n:], mirrored, refs.population)]
        )
    targets = np.eye(len(bundle.classes_), dtype=np.float32)[[index[label] for label in labels]]
    return bundle.preprocess.transform(features), targets


def default_freeze(n_dense: int) -> int:
    """Freeze all Dense layers but the last two (at least the output layer trains)."""
    return max(0, n_dense - 2)


def freeze_layers(model, freeze: int | None) -> list[str]:
    """Freeze the first ``freeze`` Dense layers and everything before them; return the frozen layers' names.

    Batch-normalisation layers are always frozen: with a few personal samples per
    batch their statistics would drift away from what the base model learned.
    """
    import keras

    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    k = default_freeze(len(dense)) if freeze is None else freeze
    if not 0 <= k < len(dense):
        raise FineTuneError(
            f"--freeze must be between 0 and {len(dense) - 1}: the base model has "
            f"{len(dense)} Dense layers and the output layer always trains"
        )
    last_frozen = model.layers.index(dense[k - 1]) if k else -1
    for i, layer in enumerate(model.layers):
        layer.trainable = i > last_frozen and not isinstance(layer, keras.layers.BatchNormalization)
    return [layer.name for layer in model.layers if not layer.trainable and layer.weights]


def accuracy(model, x: np.ndarray, targets: np.ndarray) -> float:
    return float(np.mean(np.argmax(np.asarray(model(x, training=False)), axis=1) == targets.argmax(axis=1)))


MAX_REPLAY_WEIGHT = 1000.0
"""The largest weight of the base's replay data against the user's samples (``--replay-weight``)."""


@dataclass
class FineTuneSettings:
    """How to fine-tune; the defaults are those of ``scr/train_personal.py``."""

    freeze: int | None = None
    learning_rate: float = 3e-4
    epochs: int = 100
    patience: int = 10
    batch_size: int = 32
    heldout_fraction: float = 0.2
    replay_weight: float = 1.0
    mirror: bool = True
    seed: int = 0
    min_heldout: int = 2
    """Held-out samples per label needed to judge epochs; with fewer, ``fixed_epochs`` are trained on all."""
    fixed_epochs: int = 30
    """Epochs of the fixed schedule (chosen by ``benchmarks/calibration.py`` on few-shot recordings)."""
    calibrate: bool = True
    keep_unrecorded: bool = False
    """Keep reading the base's expressions the user did not record (by default: neutral and the recorded ones)."""

    def __post_init__(self) -> None:
        check_settings(
            FineTuneError,
            [
                (not 0 < self.learning_rate <= 1, "the learning rate must be in (0, 1]"),
                (
                    min(self.epochs, self.batch_size, self.fixed_epochs) < 1,
                    "epochs, fixed epochs and batch size must be at least 1",
                ),
                (self.patience < 0, "patience cannot be negative"),
                (not 0 < self.heldout_fraction < 1, "the held-out fraction must be between 0 and 1"),
                (
                    not 0 <= self.replay_weight <= MAX_REPLAY_WEIGHT,
                    f"the replay weight must be in [0, {MAX_REPLAY_WEIGHT:g}]",
                ),
                (not 0 <= self.seed < 2**32, "the seed must be from 0 to 2**32 - 1"),
            ],
        )


@dataclass
class FineTuneResult:
    """The fine-tuned network, its metrics (for metrics.json), the frozen layers, warnings for the user and
    the references to store (with the user's neutral when calibrated, else the base's, if any)."""

    model: object
    metrics: dict
    frozen: list[str]
    warnings: list[str]
    references: References | None = None
    labels: list[str] = field(default_factory=list)
    """What the network answers, in its output order: the base's labels, or neutral and the recorded ones."""


def answered_labels(base_labels: Sequence[str], recorded: Sequence[str], keep_unrecorded: bool) -> list[str]:
    """The labels a personal model answers: neutral (a face at rest must have an answer) and those recorded,
    in the base's order; all of the base's when asked, or when that would leave fewer than two."""
    labels = [label for label in base_labels if label == NEUTRAL or label in recorded]
    return list(base_labels) if keep_unrecorded or len(labels) < 2 else labels


def restrict_outputs(model, keep: Sequence[int]):
    """The network answering only the classes ``keep``: its output layer cut to their columns, so the softmax
    shares all probability among them (the layers before it are shared with ``model``, not copied)."""
    import keras

    last = model.layers[-1]
    if not isinstance(last, keras.layers.Dense):
        raise FineTuneError(
            f"the base network must end in a Dense layer to answer only the recorded labels, "
            f"not {type(last).__name__}; use keep_unrecorded (--keep-unrecorded)"
        )
    kernel, bias = last.get_weights()
    head = keras.layers.Dense(len(keep), activation=last.activation, name=last.name)
    restricted = keras.Sequential([keras.Input(model.input_shape[1:]), *model.layers[:-1], head])
    head.set_weights([kernel[:, keep], bias[keep]])
    return restricted


def tune_network(
    base: EmotionModel, personal: LandmarkTable, settings: FineTuneSettings, progress: bool = True
) -> FineTuneResult:
    """Fine-tune a copy of ``base``'s network on ``personal``; the base bundle on disk is not touched.

    Labels must already be checked with :func:`check_labels`. Each label's last
    samples are held out for early stopping and for the before/after accuracy; when a
    label has too few to hold out ``min_heldout``, every sample trains for the fixed
    schedule instead (keeping the base because one held-out sample went wrong would
    waste the recording). The replay table's targets are the base model's
    probabilities, and its total weight is ``replay_weight`` times the personal
    samples' total, whatever their sizes.
    """
    import keras

    keras.utils.set_random_seed(settings.seed)
    started = time.perf_counter()
    warnings = []
    references = personal_references(base, personal) if settings.calibrate else None
    if settings.calibrate and references is None:
        warnings.append(
            "no neutral recorded (record_dataset.py --label neutral), fine-tuned uncalibrated"
            if base.references is not None
            else "the base model has no population neutral: fine-tuned uncalibrated"
        )
    train_idx, heldout_idx = split_heldout(personal.labels, settings.heldout_fraction)
    held = personal.subset(heldout_idx).counts()
    judged = all(held.get(label, 0) >= settings.min_heldout for label in personal.counts())
    if not judged:
        train_idx, heldout_idx = np.arange(len(personal)), np.arange(0)
        warnings.append(
            f"too few samples to hold {settings.min_heldout} per label out: trained the fixed "
            f"schedule of {settings.fixed_epochs} epochs on all of them"
        )
    x_train, y_train = _inputs(base, personal.subset(train_idx), settings.mirror, references)
    x_val, y_val = (
        _inputs(base, personal.subset(heldout_idx), False, references) if judged else (x_train[:0], y_train[:0])
    )
    weights = np.ones(len(y_train), np.float32)
    replay = base.replay_table()
    if replay is not None and len(replay) and settings.replay_weight > 0:
        features = replay.features(base.feature_set)
        x_replay = base.preprocess.transform(features)
        y_replay = base.predictor().predict_proba(features)
        weights = np.concatenate(
            [weights, np.full(len(y_replay), settings.replay_weight * len(y_train) / len(y_replay), np.float32)]
        )
        x_train, y_train = np.concatenate([x_train, x_replay]), np.concatenate([y_train, y_replay])
    else:
        replay = None
        warnings.append("no replay table mixed in: expressions you did not record may be recognised less well")

    model = base.keras_model()
    trainable_before = [layer.trainable for layer in model.layers]
    frozen = freeze_layers(model, settings.freeze)
    base_accuracy = accuracy(model, x_val, y_val) if judged else None
    best, interrupted = fit_loop(
        model,
        x_train,
        y_train,
        weights,
        (x_val, y_val) if judged else None,
        loss="categorical_crossentropy",
        learning_rate=settings.learning_rate,
        epochs=settings.epochs if judged else settings.fixed_epochs,
        batch_size=settings.batch_size,
        patience=settings.patience if judged else settings.fixed_epochs,
        desc="fine-tuning",
        progress=progress,
        start_is_epoch_0=judged,
    )  # fine-tuning is kept only if it beats the base on the held-out loss
    epochs_run = len(best.history.get("loss", []))
    if judged:
        if interrupted is not None and best.best_epoch == 0:
            raise interrupted  # no epoch improved on the base model yet: nothing to write
        model.set_weights(best.weights)
        if best.best_epoch == 0:
            warnings.append(
                "no epoch beat the base model on your held-out samples: the personal model is the base "
                "model; record more (or more distinct) expressions"
            )
    elif interrupted is not None and not epochs_run:
        raise interrupted  # not one epoch trained yet: nothing to write
    for layer, trainable in zip(model.layers, trainable_before):
        layer.trainable = trainable  # the saved network is an ordinary one, like a base bundle's
    labels = answered_labels(base.classes_, list(personal.counts()), settings.keep_unrecorded)
    if labels != list(base.classes_):
        keep = [base.classes_.index(label) for label in labels]
        model = restrict_outputs(model, keep)
        y_val = y_val[:, keep]
    metrics = {
        "heldout_accuracy_base": base_accuracy,
        "heldout_accuracy": accuracy(model, x_val, y_val) if judged else None,
        "heldout_n": int(len(heldout_idx)),
        "heldout_counts": personal.subset(heldout_idx).counts(),
        "train_counts": personal.subset(train_idx).counts(),
        "replay_n": int(len(replay)) if replay is not None else 0,
        "schedule": "early stopping on the held-out slice" if judged else f"fixed {settings.fixed_epochs} epochs",
        "calibrated": references is not None,
        "unrecorded_dropped": [label for label in base.classes_ if label not in labels],
        "epochs_run": epochs_run,
        "best_epoch": best.best_epoch if judged else epochs_run,
        "interrupted": interrupted is not None,
        "seconds": round(time.perf_counter() - started, 2),
    }
    return FineTuneResult(model, metrics, frozen, warnings, references[0] if references else base.references, labels)


def train_personal_model(
    base: EmotionModel,
    data: PersonalData | LandmarkTable | str | os.PathLike,
    settings: FineTuneSettings | None = None,
    *,
    min_samples: int | None = None,
    progress: bool = True,
    train_args: Mapping | None = None,
) -> EmotionModel:
    """A NEW personal model: ``base`` fine-tuned on one person's recordings.

    ``data`` is a folder of recorded sessions, their :class:`PersonalData`,
    or a table. Labels ``base`` lacks, fewer than ``min_samples`` samples of a label, or
    sessions without what the model reads raise :class:`PersonalDataError`. ``base`` (and its
    bundle) is not changed; the new model keeps its scaler and replay sample, and its user's
    neutral face when one was recorded; it answers neutral and the recorded labels only, unless
    ``settings.keep_unrecorded`` (then all of ``base``'s). Its ``warnings`` say what the user
    may want to know.
    """
    if isinstance(data, (str, os.PathLike)):
        data = load_sessions(data)
    elif isinstance(data, LandmarkTable):
        data = PersonalData(data, [])
    check_labels(data.table.counts(), base.classes_, MIN_SAMPLES if min_samples is None else min_samples)
    check_features(data, base.feature_set)
    result = tune_network(base, data.table, settings or FineTuneSettings(), progress=progress)
    info = {
        "kind": "personal",
        "base": str(base.path) if base.path else None,
        "train_args": dict(train_args or {}),
        "sessions": [p.name for p in data.files],
        "skipped_sessions": [{"file": p.name, "reason": r} for p, r in data.skipped],
        "frozen_layers": result.frozen,
    }
    pre = base.preprocess
    predictor = predictor_from_keras(result.model, result.labels, pre.mean, pre.scale, pre.components, base.feature_set)
    replay = base.replay_table()
    if replay is not None:  # only faces of what the new model answers
        replay = replay.subset(np.flatnonzero(np.isin(replay.labels, result.labels)))
    return EmotionModel(
        predictor,
        info,
        result.metrics,
        result.references,
        network=result.model,
        replay=replay if replay is not None and len(replay) else None,
        warnings=result.warnings,
    )
