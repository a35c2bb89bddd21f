"""Fine-tune a base model on one person's recorded sessions: a new personal model.

A few photos or seconds of video of one face are enough to correct a model trained on
thousands of other faces, if the correction is small and the base stays in charge:

- frames that differ: each label keeps at most ``per_label`` of its frames, chosen far apart
  in the network's whitened input (:func:`varied_frames`); consecutive video frames are near
  copies that add no information, and with a summed loss they would only weaken the pull
  towards the base (and slow the fit);
- calibrated first: with a recorded neutral face and a base that knows the population neutral,
  the user's features are calibrated (:mod:`landmark_emotion.model.calibration`) as the demo
  calibrates them when it reads the user, and mirror images are added;
- a personal head: the base network's logits on the answered labels plus a linear correction
  ``z V + c`` of its whitened input ``z``, fitted by L2-regularised cross-entropy
  (:func:`fit_head`). The base scaler and whitening are kept; the penalty ``l2`` was chosen
  on ``benchmarks/personal.py`` (people the model never saw), never on the user's own samples, so
  nothing is held out and the same recipe runs from one photo per expression to a long video;
- folded into the network (:func:`fold_head`): the personal bundle is an ordinary sealed
  bundle, read by the same :class:`~landmark_emotion.model.emotion_model.EmotionModel` and
  NumPy engine as any other;
- the personal model answers neutral and the expressions the user recorded (a correction only
  for those with samples); ``keep_unrecorded`` keeps the base's other expressions, uncorrected.
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from landmark_emotion.data.table import LandmarkTable, TableError, load_table, merge_tables
from landmark_emotion.errors import LandmarkEmotionError
from landmark_emotion.face.features import LANDMARKS
from landmark_emotion.labels import ordered
from landmark_emotion.model.calibration import NEUTRAL, References, calibrate, neutral_mean
from landmark_emotion.model.emotion_model import EmotionModel
from landmark_emotion.model.inference import ACTIVATIONS, Predictor, Step
from landmark_emotion.training.base import check_settings

RECORD_HINT = "record some with: python scr/record_dataset.py --label LABEL"
MIN_SAMPLES = 5
"""Fewer samples of a label are refused by default; 1 is a valid, if weak, recording (``--min-samples 1``)."""
PER_LABEL = 10
"""Frames of each label learnt from, at most: about what a few seconds of video of one expression hold that differ
(``benchmarks/personal.py``, the 30-second recording)."""
MAX_ITERATIONS = 500
ONSET_FRAMES = 15
"""The first frames of a video or camera session left out: half a second at 30 frames a second
(``benchmarks/personal.py``, the 30-second recording)."""


class PersonalDataError(LandmarkEmotionError, ValueError):
    """Personal sessions that cannot be used: none, unreadable, too few, or labels the base model lacks."""


class FineTuneError(LandmarkEmotionError, ValueError):
    """Fine-tuning settings or a base network that cannot make a personal model (e.g. a non-positive penalty)."""


@dataclass
class PersonalData:
    """All readable sessions of a folder as one table, and the files that could not be read."""

    table: LandmarkTable
    files: list[Path]
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    landmarks_only: list[Path] = field(default_factory=list)
    """Sessions recorded without appearance descriptors (``--features landmarks``)."""
    onset_skipped: dict[str, int] = field(default_factory=dict)
    """Frames left out of each label's sessions because the face was still changing (:func:`onset_rows`)."""


def load_sessions(data_dir: str | os.PathLike) -> PersonalData:
    """Read every session file in ``data_dir``; unreadable or empty files are skipped and named, not fatal."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise PersonalDataError(f"no folder {data_dir}; {RECORD_HINT}")
    paths = sorted(p for p in data_dir.glob("*.npz") if not p.name.startswith("."))
    if not paths:
        raise PersonalDataError(f"no session files (*.npz) in {data_dir}; {RECORD_HINT}")
    tables, files, skipped = [], [], []
    onset: Counter[str] = Counter()
    for path in paths:
        try:
            table = load_table(path)
        except TableError as exc:
            skipped.append((path, str(exc)))
            continue
        early = onset_rows(table)
        onset.update(table.labels[early].tolist())
        unusable = table.skipped  # rows left out when it was read: counted, and kept in the count
        table = table.subset(np.flatnonzero(~early))
        table.skipped = unusable
        if not len(table):
            reason = "no usable samples" if table.skipped else "no samples"
            skipped.append((path, "only the first half second of its video" if early.any() else reason))
            continue
        # samples of one file stay together (e.g. for group-aware splits), even from tables without groups
        table.groups = np.where(table.groups == "", path.stem, table.groups)
        tables.append(table)
        files.append(path)
    if not tables:
        reasons = "; ".join(f"{p.name}: {r}" for p, r in skipped)
        raise PersonalDataError(f"none of the {len(paths)} session files in {data_dir} is usable ({reasons})")
    landmarks_only = [path for path, table in zip(files, tables) if table.descriptors is None]
    merged = merge_tables(tables, {"sessions": [p.name for p in files]})
    return PersonalData(merged, files, skipped, landmarks_only, dict(sorted(onset.items())))


def onset_rows(session: LandmarkTable) -> np.ndarray:
    """Which rows of a recorded session are frames of the first :data:`ONSET_FRAMES` of its video or camera.

    The recorder names a video frame ``<source>#<frame index>``; the first half second shows
    the face still moving into the expression it is labelled with. Photos are never left out,
    nor camera frames after the first label of a walk through labels (the recorder's "get
    ready" pause comes before those).
    """
    if session.meta.get("static_detection", True):
        return np.zeros(len(session), bool)
    index = [name.rpartition("#")[2] for name in session.paths.tolist()]
    return np.array([i.isdigit() and int(i) < ONSET_FRAMES for i in index], bool)


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


def varied_frames(z: np.ndarray, n: int) -> np.ndarray:
    """The sorted indices of at most ``n`` rows of ``z`` that differ most from each other.

    Greedy farthest-point (k-center) selection: the row nearest the mean first (a typical
    frame), then again and again the row farthest from all chosen so far; rows equal to a
    chosen one are never taken. A second of video is thirty near copies of one face: this
    keeps the few poses and moments that add something.
    """
    z = np.asarray(z, np.float64)
    if not len(z):
        return np.arange(0)
    chosen = [int(np.argmin(np.linalg.norm(z - z.mean(axis=0), axis=1)))]
    distance = np.linalg.norm(z - z[chosen[0]], axis=1)
    while len(chosen) < n and distance.max() > 0:
        far = int(np.argmax(distance))
        chosen.append(far)
        distance = np.minimum(distance, np.linalg.norm(z - z[far], axis=1))
    return np.sort(chosen)


def select_frames(z: np.ndarray, labels: np.ndarray, per_label: int) -> np.ndarray:
    """Rows to learn from: :func:`varied_frames` of each label's rows (whatever session they come from)."""
    picks = [np.flatnonzero(labels == label) for label in ordered(set(labels.tolist()))]
    return np.sort(np.concatenate([rows[varied_frames(z[rows], per_label)] for rows in picks]))


def personal_references(
    base: EmotionModel, table: LandmarkTable, features: np.ndarray
) -> tuple[References, np.ndarray] | None:
    """The user's neutral reference (the mean features of all their neutral samples) added to the base's references,
    and the mean of their mirror images; None when the user recorded no neutral or the base cannot calibrate."""
    rows = np.flatnonzero(table.labels == NEUTRAL)
    if base.references is None or not len(rows):
        return None
    mirrored = neutral_mean(table.subset(rows).mirrored().features(base.feature_set))
    return base.references.with_person(neutral_mean(features[rows]), len(rows)), mirrored


def answered_labels(base_labels: Sequence[str], recorded: Sequence[str], keep_unrecorded: bool) -> list[str]:
    """The labels a personal model answers: neutral (a face at rest must have an answer) and those recorded,
    in the base's order; all of the base's when asked, or when that would leave fewer than two."""
    labels = [label for label in base_labels if label == NEUTRAL or label in recorded]
    return list(base_labels) if keep_unrecorded or len(labels) < 2 else labels


def base_logits(steps: Sequence[Step], z: np.ndarray) -> np.ndarray:
    """The network's pre-softmax outputs of whitened inputs ``z`` (its steps as :func:`steps_from_keras` gives them)."""
    a = np.asarray(z, np.float64)
    for step in steps[:-1]:
        a = ACTIVATIONS[step.activation](a @ step.weight + step.bias)
    return a @ steps[-1].weight + steps[-1].bias


def fit_head(
    z: np.ndarray, offsets: np.ndarray, y: np.ndarray, columns: Sequence[int], l2: float, progress: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``V`` (d, k) and ``c`` (k,) minimising ``sum -log softmax(offsets + (z V + c) E)[y] + l2/2 (|V|^2 + |c|^2)``.

    ``offsets`` (n, m) are the base's logits of the labels that compete, ``y`` the column of
    each sample's label, and ``E`` puts the head's k outputs on ``columns`` (the labels with
    samples; the others compete as the base has them). The head learns only the correction
    the user's samples ask for, and the penalty pulls it towards none, i.e. towards the base.
    Convex; L-BFGS from zero.
    """
    from scipy.optimize import minimize

    z, offsets = np.asarray(z, np.float64), np.asarray(offsets, np.float64)
    d, k = z.shape[1], len(columns)
    targets = np.eye(offsets.shape[1])[y]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        logits = offsets.copy()
        logits[:, columns] += z @ theta[: d * k].reshape(d, k) + theta[d * k :]
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        error = (np.exp(log_p) - targets)[:, columns]
        gradient = np.concatenate([(z.T @ error).ravel(), error.sum(axis=0)]) + l2 * theta
        return float(-np.sum(targets * log_p) + 0.5 * l2 * theta @ theta), gradient

    with tqdm(total=MAX_ITERATIONS, unit="step", desc="fitting", disable=not progress) as bar:
        result = minimize(
            loss,
            np.zeros(d * k + k),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": MAX_ITERATIONS},
            callback=lambda _: bar.update(1),
        )
    return result.x[: d * k].reshape(d, k), result.x[d * k :]


def check_foldable(steps: Sequence[Step]) -> None:
    """Refuse a network the head cannot be folded into: it must be Dense layers, ReLU hidden ones, a softmax last."""
    bad = [
        i
        for i, step in enumerate(steps)
        if step.elementwise or step.activation != ("softmax" if i == len(steps) - 1 else "relu")
    ]
    if bad:
        raise FineTuneError(
            f"the base network must be Dense layers with ReLU hidden layers and a softmax output to carry a "
            f"personal head; its step {bad[0]} is {'elementwise' if steps[bad[0]].elementwise else ''} "
            f"{steps[bad[0]].activation}"
        )


def fold_head(steps: Sequence[Step], keep: Sequence[int], columns: Sequence[int], V: np.ndarray, c: np.ndarray):
    """The network answering the classes ``keep`` with the head added to the logits of its outputs ``columns``.

    Exactly ``softmax(logits[:, keep] + (z V + c) E)``, E putting the head's k outputs on
    ``columns``, as plain Dense steps: the first layer also computes ``relu(z V)`` and
    ``relu(-z V)`` in 2k more units, the hidden layers pass them on unchanged (the ReLU of a
    non-negative value is itself) and the last adds their difference, ``z V``, to the logits.
    """
    select = np.zeros((len(columns), len(keep)))
    select[np.arange(len(columns)), columns] = 1
    V_out, c_out = V @ select, c @ select
    last = steps[-1]
    if len(steps) == 1:  # no hidden layer: the correction joins the only one
        return [Step(last.weight[:, keep] + V_out, last.bias[keep] + c_out, last.activation)]
    first, k = steps[0], len(columns)
    folded = [Step(np.hstack([first.weight, V, -V]), np.concatenate([first.bias, np.zeros(2 * k)]), "relu")]
    for step in steps[1:-1]:
        weight = np.zeros((step.weight.shape[0] + 2 * k, step.weight.shape[1] + 2 * k))
        weight[: step.weight.shape[0], : step.weight.shape[1]] = step.weight
        weight[step.weight.shape[0] :, step.weight.shape[1] :] = np.eye(2 * k)
        folded.append(Step(weight, np.concatenate([step.bias, np.zeros(2 * k)]), "relu"))
    weight = np.vstack([last.weight[:, keep], select, -select])
    folded.append(Step(weight, last.bias[keep] + c_out, last.activation))
    return [Step(s.weight.astype(np.float32), s.bias.astype(np.float32), s.activation) for s in folded]


def keras_network(steps: Sequence[Step]):
    """A Keras network of Dense layers with these weights (what a bundle stores beside ``forward.npz``)."""
    import keras

    model = keras.Sequential(
        [keras.Input((steps[0].weight.shape[0],))]
        + [keras.layers.Dense(step.weight.shape[1], activation=step.activation) for step in steps]
    )
    for layer, step in zip(model.layers, steps):
        layer.set_weights([step.weight, step.bias])
    return model


@dataclass
class FineTuneSettings:
    """How to fine-tune; the defaults are those of ``scr/train_personal.py``, chosen on ``benchmarks/personal.py``."""

    l2: float = 1.0
    """The penalty on the head: how strongly the personal model is held to the base. Smaller read the recorded
    expressions up to 2 points better and forget the others more (``benchmarks/personal.py --l2``)."""
    per_label: int = PER_LABEL
    """At most this many frames of each label are learnt from (:func:`varied_frames`)."""
    mirror: bool = True
    calibrate: bool = True
    keep_unrecorded: bool = False
    """Keep reading the base's expressions the user did not record (by default: neutral and the recorded ones)."""

    def __post_init__(self) -> None:
        check_settings(
            FineTuneError,
            [
                (not 0 < self.l2 < math.inf, "the penalty l2 must be positive and finite"),
                (self.per_label < 1, "at least one frame per label must be kept"),
            ],
        )

    @property
    def schedule(self) -> str:
        """What was trained, in the words the command prints and ``metrics.json`` keeps."""
        return f"benchmark-chosen head (l2={self.l2:g}); nothing held out"


@dataclass
class FineTuneResult:
    """The personal network (Keras, and the same as engine steps), its metrics (for metrics.json), warnings for
    the user and the references to store (with the user's neutral when calibrated, else the base's, if any)."""

    model: object
    steps: list[Step]
    metrics: dict
    warnings: list[str]
    references: References | None = None
    labels: list[str] = field(default_factory=list)
    """What the network answers, in its output order: the base's labels, or neutral and the recorded ones."""


def tune_network(
    base: EmotionModel, personal: LandmarkTable, settings: FineTuneSettings, progress: bool = True
) -> FineTuneResult:
    """Fit a personal head for ``personal`` on ``base``'s network and fold it in; ``base`` is not touched.

    Labels must already be checked with :func:`check_labels`. The user's neutral reference
    is the mean of all their neutral samples; the head learns from :func:`select_frames` of
    them and their mirror images, calibrated by it.
    """
    started = time.perf_counter()
    warnings = []
    steps = base.network_steps()
    check_foldable(steps)
    features = personal.features(base.feature_set)
    references = personal_references(base, personal, features) if settings.calibrate else None
    if settings.calibrate and references is None:
        warnings.append(
            "no neutral recorded (record_dataset.py --label neutral): fitted uncalibrated"
            if base.references is not None
            else "the base model has no population neutral: fitted uncalibrated"
        )
    chosen = select_frames(base.preprocess.transform(features), personal.labels, settings.per_label)
    train = personal.subset(chosen)
    x, labels = features[chosen], train.labels
    if references is not None:
        refs, mirrored_neutral = references
        assert refs.person is not None, "personal_references gives the person's neutral"
        x = calibrate(x, refs.person, refs.population)
    if settings.mirror:
        mirrored = train.mirrored().features(base.feature_set)
        if references is not None:
            mirrored = calibrate(mirrored, mirrored_neutral, refs.population)
        x, labels = np.concatenate([x, mirrored]), np.concatenate([labels, labels])
    recorded = list(personal.counts())
    answered = answered_labels(base.classes_, recorded, settings.keep_unrecorded)
    # the labels her samples are told apart from: neutral and the recorded ones (unrecorded ones kept on request
    # stay as the base reads them), of which those with samples get a correction
    competing = answered_labels(base.classes_, recorded, False)
    corrected = [label for label in competing if label in recorded]
    z = base.preprocess.transform(x)
    offsets = base_logits(steps, z)[:, [base.classes_.index(label) for label in competing]]
    y = np.array([competing.index(label) for label in labels])
    V, c = fit_head(z, offsets, y, [competing.index(label) for label in corrected], settings.l2, progress)
    keep = [base.classes_.index(label) for label in answered]
    folded = fold_head(steps, keep, [answered.index(label) for label in corrected], V, c)
    metrics = {
        "schedule": settings.schedule,
        "personal_head": {
            "l2": settings.l2,
            "mirror": settings.mirror,
            "per_label": settings.per_label,
            "frames_recorded": personal.counts(),
            "frames_selected": train.counts(),
        },
        "train_counts": train.counts(),
        "calibrated": references is not None,
        "unrecorded_dropped": [label for label in base.classes_ if label not in answered],
        "seconds": round(time.perf_counter() - started, 2),
    }
    model = keras_network(folded)  # what the bundle stores beside the engine's steps (loads TensorFlow: not timed)
    return FineTuneResult(model, folded, metrics, warnings, references[0] if references else base.references, answered)


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
    result.metrics["personal_head"]["onset_skipped"] = data.onset_skipped
    info = {
        "kind": "personal",
        "base": str(base.path) if base.path else None,
        "train_args": dict(train_args or {}),
        "sessions": [p.name for p in data.files],
        "skipped_sessions": [{"file": p.name, "reason": r} for p, r in data.skipped],
    }
    pre = base.preprocess
    predictor = Predictor(result.labels, pre.mean, pre.scale, result.steps, pre.components, base.feature_set)
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
