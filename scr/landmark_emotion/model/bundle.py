"""A trained model as one folder (a "bundle"): its files, their checks, reading and sealing one.

A bundle holds everything needed to classify a face and to know what the numbers mean:

- ``model.keras``   the Keras network (loaded with ``safe_mode=True``: no code from the file runs);
- ``forward.npz``   the same weights as plain arrays, for the NumPy predictor (:mod:`landmark_emotion.model.inference`);
- ``scaler.npz``    the StandardScaler as two arrays (``mean``, ``scale``), not a pickle, and for
  block-wise whitened PCA a ``components`` matrix (:mod:`landmark_emotion.model.preprocess`);
- ``bundle.json``   kind (base/personal), ordered labels, feature set and its version, training
  arguments, creation time, the checksum of every other file and one of its own content;
- ``metrics.json``  what the model scored; optional ``replay.npz`` (a small class-balanced
  sample of the training table, for fine-tuning without forgetting), ``neutral.npz`` (the
  neutral references of :mod:`landmark_emotion.model.calibration`) and figures (``*.png``).

A bundle is verified whole: ``bundle.json`` lists a SHA-256 of every other file in the folder
(whatever files later versions add), and ``bundle_sha256`` is the hash of its own content
without that field. A changed, missing or added file, or a label list edited by hand, is refused;
so is a field of the wrong type or shape, or a non-finite weight: a bundle that loads can predict.
The checksums catch accidents (partial copies, damaged files, edits by mistake), not a person:
whoever edits a bundle can re-seal it (:func:`write_info`), and it then loads like any other.
Loading never imports TensorFlow. Writing one is :mod:`landmark_emotion.model.bundle_write`'s.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from landmark_emotion.data.table import LandmarkTable, TableError, load_table
from landmark_emotion.errors import LandmarkEmotionError
from landmark_emotion.face.features import FEATURE_SETS, LANDMARKS
from landmark_emotion.inputs import NPZ_ERRORS, read_json
from landmark_emotion.labels import UnknownLabelError, canonical_labels
from landmark_emotion.model.calibration import REFERENCE_FILE, CalibrationError, References, load_references
from landmark_emotion.model.inference import Predictor, Step, check_network, check_outputs_finite, read_forward
from landmark_emotion.model.preprocess import Preprocess
from landmark_emotion.outputs import backup_of, write_file
from landmark_emotion.resources import command

MODEL_FILE = "model.keras"
FORWARD_FILE = "forward.npz"
SCALER_FILE = "scaler.npz"
INFO_FILE = "bundle.json"
METRICS_FILE = "metrics.json"
REPLAY_FILE = "replay.npz"
REQUIRED_FILES = (MODEL_FILE, FORWARD_FILE, SCALER_FILE, INFO_FILE, METRICS_FILE)
LEGACY_CHECKED_FILES = (MODEL_FILE, FORWARD_FILE, SCALER_FILE)
"""The only files whose checksums bundles written before ``bundle_sha256`` recorded (see :func:`seal_bundle`)."""
SELF_HASH = "bundle_sha256"
KINDS = ("base", "personal")


def train_hint(out: str | os.PathLike = "DIR") -> str:
    """The command line that trains a base bundle into ``out``, as the user runs commands here."""
    return f"{command('train_model')} --data TABLE.npz --out {out}"


def _missing(path: Path) -> str:
    """Why there is no bundle at ``path``, the bundles beside it (a typo?), and what makes one: a personal bundle (the
    name says so) is fine-tuned on recordings, not trained."""
    beside = sorted(info.parent.name for info in path.parent.glob(f"*/{INFO_FILE}")) if path.parent.is_dir() else []
    there = f"; {path.parent} has {', '.join(beside)}" if beside else ""
    if "personal" in path.name.lower():
        make = (
            f"fine-tune one on your recordings with: {command('train_personal')} --out {path} "
            f"(record them with: {command('record_dataset')} --labels happy,sad,surprise)"
        )
    else:
        make = f"train one with: {train_hint(path)}"
    return f"no model bundle at {path} (missing folder){there}; {make}"


class BundleError(LandmarkEmotionError, ValueError):
    """A bundle that is missing, incomplete, corrupt, of another feature version, or in the way of a new one."""


# ---------------------------------------------------------------- the bundle


@dataclass
class ModelBundle:
    """A loaded bundle; the Keras network itself is only loaded on request (it imports TensorFlow)."""

    path: Path
    labels: list[str]
    feature_version: str
    scaler_mean: np.ndarray
    scaler_scale: np.ndarray
    info: dict
    metrics: dict
    steps: list[Step] = field(default_factory=list, repr=False)
    """The network as engine steps (``forward.npz``), before the preprocessing is folded into them."""
    components: np.ndarray | None = None
    feature_set: str = LANDMARKS

    @property
    def preprocess(self) -> Preprocess:
        """Feature vectors -> what the network's first layer reads."""
        return Preprocess(self.scaler_mean, self.scaler_scale, self.components)

    references: References | None = None
    """Neutral references for calibration (population, and the user's in a personal bundle); None: uncalibrated."""

    @property
    def n_features(self) -> int:
        """The length of the feature vectors the bundle reads (before its scaler and projection)."""
        return len(self.scaler_mean)

    def predictor(self) -> Predictor:
        return Predictor(
            self.labels, self.scaler_mean, self.scaler_scale, self.steps, self.components, self.feature_set
        )

    def keras_model(self):
        """A fresh, uncompiled ``keras.Model`` (safe mode: the file cannot run code)."""
        import keras

        try:
            return keras.saving.load_model(self.path / MODEL_FILE, compile=False, safe_mode=True)
        except Exception as exc:  # Keras raises many types for a bad file; all mean the same here
            raise BundleError(f"{self.path / MODEL_FILE} cannot be loaded ({type(exc).__name__}: {exc})") from None

    def replay_table(self) -> LandmarkTable | None:
        """The base training sample stored for fine-tuning, or None if the bundle has none."""
        path = self.path / REPLAY_FILE
        if not path.exists():
            return None
        try:
            return load_table(path)
        except TableError as exc:
            raise BundleError(f"bundle {self.path}: {exc}") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_label_list(given: object) -> list[str]:
    if not isinstance(given, (list, tuple)) or not all(isinstance(label, str) for label in given):
        raise BundleError(f"labels must be a list of names, got {given!r}")
    labels = list(given)
    try:
        canonical = canonical_labels(labels)
    except UnknownLabelError as exc:
        raise BundleError(str(exc)) from None
    if canonical != labels or len(set(labels)) != len(labels) or len(labels) < 2:
        raise BundleError(f"labels must be at least two distinct canonical names, got {labels}")
    return labels


def check_scaler(
    mean: np.ndarray, scale: np.ndarray, components: np.ndarray | None, feature_set: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    if feature_set not in FEATURE_SETS:
        raise BundleError(f"unknown feature set {feature_set!r}; this code knows {', '.join(FEATURE_SETS)}")
    if any(a is not None and np.asarray(a).dtype.kind not in "fiu" for a in (mean, scale, components)):
        raise BundleError("scaler mean, scale and components must be numbers")
    n = FEATURE_SETS[feature_set][1]
    mean, scale = np.asarray(mean, np.float64), np.asarray(scale, np.float64)
    if mean.shape != (n,) or scale.shape != (n,):
        raise BundleError(
            f"scaler mean and scale must have shape ({n},) for features {feature_set!r}, "
            f"got {mean.shape} and {scale.shape}"
        )
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
        raise BundleError("scaler mean must be finite and scale finite and positive")
    if components is not None:
        components = np.asarray(components, np.float32)
        if components.ndim != 2 or components.shape[0] != n or not np.all(np.isfinite(components)):
            raise BundleError(f"scaler components must be a finite ({n}, k) matrix, got shape {components.shape}")
    return mean, scale, components


def _info_digest(info: Mapping) -> str:
    """The hash of bundle.json's content without its own hash field (key order and spacing do not matter)."""
    content = {key: value for key, value in info.items() if key != SELF_HASH}
    return hashlib.sha256(
        json.dumps(content, sort_keys=True, separators=(",", ":"), default=json_default).encode()
    ).hexdigest()


def _manifest(folder: Path) -> dict[str, str]:
    """The checksum of every file in ``folder`` but bundle.json."""
    return {entry.name: _sha256(entry) for entry in sorted(folder.iterdir()) if entry.name != INFO_FILE}


def _verify_files(path: Path, info: dict) -> None:
    """Refuse a bundle whose bundle.json was edited or whose files were changed, removed or added."""
    checksums = info.get("sha256")
    if SELF_HASH not in info:
        raise BundleError(
            f"model bundle {path}: {INFO_FILE} has no checksum of its own (written before bundles "
            f'were checksummed whole); if you trust it, re-seal it with: python -c "from '
            f"landmark_emotion.model.bundle import seal_bundle; seal_bundle('{path}')\""
        )
    if info[SELF_HASH] != _info_digest(info) or not isinstance(checksums, dict):
        raise BundleError(
            f"model bundle {path}: {INFO_FILE} was changed after training (checksum mismatch); "
            f"retrain with: {train_hint()}"
        )
    present = {entry.name for entry in path.iterdir() if entry.name != INFO_FILE}
    extra = sorted(present - set(checksums))
    if extra:
        raise BundleError(
            f"model bundle {path}: {', '.join(extra)} not covered by its checksums "
            "(added after training); remove it or retrain"
        )
    for name in sorted(checksums):
        file = path / name
        if Path(name).name != name or not file.is_file():
            raise BundleError(f"model bundle {path} is incomplete: missing {name}; retrain it with: {train_hint()}")
        if _sha256(file) != checksums[name]:
            raise BundleError(
                f"model bundle {path}: {name} is corrupt or was changed after training "
                f"(checksum mismatch); retrain with: {train_hint()}"
            )


def _read_json(path: Path) -> dict:
    value = read_json(path)
    if not isinstance(value, dict):
        raise BundleError(f"{path.name} is not a JSON object")
    return value


def load_bundle(path: str | os.PathLike) -> ModelBundle:
    """Read a bundle, refusing (with :class:`BundleError`) one that is incomplete, corrupt or of another version."""
    path = Path(path)
    if not path.is_dir() and backup_of(path).is_dir():  # read, not recovered: that is the next writer's
        raise BundleError(
            f"no model bundle at {path}: a replace of it was interrupted, and the previous one is in "
            f"{backup_of(path)}; the next command that writes {path} puts it back (or rename it yourself)"
        )
    if path.exists() and not path.is_dir():
        raise BundleError(f"{path} is a file, not a model bundle: a bundle is a folder (with {INFO_FILE} in it)")
    if not path.is_dir():
        raise BundleError(_missing(path))
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise BundleError(
            f"model bundle {path} is incomplete: missing {', '.join(missing)}; retrain it with: {train_hint()}"
        )
    try:
        info = _read_json(path / INFO_FILE)
        metrics = _read_json(path / METRICS_FILE)
    except (OSError, ValueError) as exc:
        raise BundleError(f"model bundle {path}: unreadable {INFO_FILE} or {METRICS_FILE} ({exc})") from None
    _verify_files(path, info)
    version, labels = info.get("feature_version"), info.get("labels")
    feature_set = info.get("feature_set", LANDMARKS)
    if not isinstance(feature_set, str) or feature_set not in FEATURE_SETS:
        raise BundleError(
            f"model bundle {path} needs features {feature_set!r}, which this code does not compute "
            f"(it knows {', '.join(FEATURE_SETS)})"
        )
    if version != FEATURE_SETS[feature_set][0]:
        raise BundleError(
            f"model bundle {path} was trained on features {version!r}, but this code computes "
            f"{FEATURE_SETS[feature_set][0]!r}; retrain it on the landmark table with: {train_hint()}"
        )
    if info.get("kind", "base") not in KINDS or not isinstance(info.get("created", ""), str):
        raise BundleError(
            f"model bundle {path}: {INFO_FILE} has a kind other than {' or '.join(KINDS)} "
            "or a creation time that is not text"
        )
    try:
        labels = check_label_list(labels)
        with np.load(path / SCALER_FILE, allow_pickle=False) as scaler:
            mean, scale = scaler["mean"], scaler["scale"]
            components = scaler["components"] if "components" in scaler.files else None
        steps = read_forward(path / FORWARD_FILE)
        mean, scale, components = check_scaler(mean, scale, components, feature_set)
        check_network(steps, len(mean) if components is None else components.shape[1], labels)
        check_outputs_finite(Predictor(labels, mean, scale, steps, components, feature_set))
    except (*NPZ_ERRORS, KeyError) as exc:
        detail = str(exc).removeprefix(f"model bundle {path}: ")
        raise BundleError(f"model bundle {path}: unusable {SCALER_FILE}, {FORWARD_FILE} or labels ({detail})") from None
    references = None
    if (path / REFERENCE_FILE).is_file():
        try:
            references = load_references(path / REFERENCE_FILE, version, len(mean))
        except CalibrationError as exc:
            raise BundleError(f"model bundle {path}: {exc}") from None
    return ModelBundle(path, labels, version, mean, scale, info, metrics, steps, components, feature_set, references)


def seal_bundle(path: str | os.PathLike) -> Path:
    """Rewrite an older bundle's bundle.json so that its checksums cover every file (after checking the old ones).

    For bundles written before every file was checksummed; the model files must still
    match the checksums they were written with.
    """
    path = Path(path)
    info = _read_json(path / INFO_FILE)
    for name in LEGACY_CHECKED_FILES:
        if _sha256(path / name) != info.get("sha256", {}).get(name):
            raise BundleError(f"model bundle {path}: {name} does not match its recorded checksum; not sealed")
    write_info(path, info)
    load_bundle(path)
    return path


def write_info(folder: Path, info: Mapping) -> None:
    """Write bundle.json with the checksums of every other file in ``folder`` and of itself."""
    content = {key: value for key, value in info.items() if key != SELF_HASH}
    full_info = json.loads(json.dumps(content, default=json_default))  # hashed exactly as it will be read
    full_info["sha256"] = _manifest(folder)
    full_info[SELF_HASH] = _info_digest(full_info)
    text = json.dumps(full_info, indent=2, default=json_default) + "\n"
    write_file(folder / INFO_FILE, lambda tmp: tmp.write_text(text))


def json_default(value):
    """Numpy scalars/arrays and paths in metrics or training arguments, as JSON."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
