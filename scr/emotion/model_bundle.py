"""A trained model as one folder (a "bundle"), and the fast predictor used at run time.

A bundle holds everything needed to classify a face and to know what the numbers mean:

- ``model.keras``   the Keras network (loaded with ``safe_mode=True``: no code from the file runs);
- ``forward.npz``   the same weights as plain arrays, for the NumPy :class:`Predictor`;
- ``scaler.npz``    the StandardScaler as two arrays (``mean``, ``scale``), not a pickle, and for
  block-wise whitened PCA a ``components`` matrix (:mod:`emotion.preprocess`);
- ``bundle.json``   kind (base/personal), ordered labels, feature set and its version, training
  arguments, creation time and a checksum of each model file;
- ``metrics.json``  what the model scored; optional ``replay.npz`` (a small class-balanced
  sample of the training table, for fine-tuning without forgetting) and figures (``*.png``).

The predictor never imports TensorFlow: ``model.predict`` costs ~60 ms per call, a NumPy
forward pass of a small MLP well under 1 ms. :func:`save_bundle` checks that the two agree
before it writes anything, so every bundle on disk keeps that promise.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .features import FEATURE_SETS, LANDMARKS
from .labels import UnknownLabelError, canonical_labels
from .preprocess import Preprocess
from .table import LandmarkTable, TableError, load_table, save_table

MODEL_FILE = "model.keras"
FORWARD_FILE = "forward.npz"
SCALER_FILE = "scaler.npz"
INFO_FILE = "bundle.json"
METRICS_FILE = "metrics.json"
REPLAY_FILE = "replay.npz"
REQUIRED_FILES = (MODEL_FILE, FORWARD_FILE, SCALER_FILE, INFO_FILE, METRICS_FILE)
CHECKED_FILES = (MODEL_FILE, FORWARD_FILE, SCALER_FILE)
"""Files whose checksum is recorded in bundle.json: the predictor and the Keras model must be the same network."""

TOLERANCE = 1e-4
"""Largest difference in probability allowed between the NumPy predictor and Keras."""

TRAIN_HINT = "python scr/train_model.py --data TABLE.npz --out DIR"


class BundleError(ValueError):
    """A bundle that is missing, incomplete, corrupt, of another feature version, or in the way of a new one."""


# ---------------------------------------------------------------- the NumPy forward pass

def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def _elu(z: np.ndarray) -> np.ndarray:
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


ACTIVATIONS = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0, out=z),
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "elu": _elu,
    "silu": lambda z: z * _sigmoid(z),
    "swish": lambda z: z * _sigmoid(z),
    "softmax": _softmax,
}
"""Activations the predictor reproduces, by their Keras names."""


@dataclass
class _Step:
    """One step of the forward pass: ``activation(x @ weight + bias)``, or ``x * weight + bias`` when ``elementwise``."""

    weight: np.ndarray
    bias: np.ndarray
    activation: str
    elementwise: bool = False


class Predictor:
    """Class probabilities of feature vectors, by a NumPy forward pass of the bundle's network.

    Applies the bundle's scaler (and projection) itself, so callers pass
    :func:`emotion.features.face_vectors` output of the bundle's ``feature_set``.
    """

    def __init__(self, labels: Sequence[str], scaler_mean: np.ndarray, scaler_scale: np.ndarray,
                 steps: Sequence[_Step], components: np.ndarray | None = None,
                 feature_set: str = LANDMARKS) -> None:
        self.labels = list(labels)
        self.feature_set = feature_set
        self.preprocess = Preprocess(scaler_mean, scaler_scale, components)
        self._steps = list(steps)

    @property
    def n_features(self) -> int:
        return self.preprocess.n_features

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """(d,) or (n, d) features -> (n, len(labels)) float32 probabilities."""
        x = np.asarray(features, np.float32)
        if x.ndim == 1:
            x = x[None]
        d = self.n_features
        if x.ndim != 2 or x.shape[1] != d:
            raise ValueError(f"expected features of shape ({d},) or (n, {d}), got {np.shape(features)}")
        x = self.preprocess.transform(x)
        for step in self._steps:
            x = x * step.weight + step.bias if step.elementwise else x @ step.weight + step.bias
            x = ACTIVATIONS[step.activation](x)
        return x

    def predict(self, features: np.ndarray) -> list[str]:
        """The most probable label of each face."""
        return [self.labels[i] for i in self.predict_proba(features).argmax(axis=1)]


def _steps_from_keras(model) -> list[_Step]:
    """Turn a Dense/Dropout/BatchNormalization/Activation chain into forward-pass steps, or say why not."""
    steps: list[_Step] = []
    for layer in model.layers:
        kind = type(layer).__name__
        config = layer.get_config()
        if kind in ("InputLayer", "Dropout", "GaussianNoise", "GaussianDropout", "AlphaDropout"):
            continue  # identity at inference
        if kind == "Dense":
            weights = layer.get_weights()
            bias = weights[1] if len(weights) > 1 else np.zeros(weights[0].shape[1], np.float32)
            steps.append(_Step(weights[0], bias, _activation_name(config.get("activation"), layer.name)))
        elif kind == "BatchNormalization":
            if config.get("axis") not in (-1, 1, [-1], [1]):
                raise BundleError(f"layer {layer.name}: only feature-axis batch normalisation is supported")
            gamma = layer.gamma.numpy() if layer.gamma is not None else 1.0
            beta = layer.beta.numpy() if layer.beta is not None else 0.0
            mean, var = layer.moving_mean.numpy(), layer.moving_variance.numpy()
            weight = (gamma / np.sqrt(var + config["epsilon"])) * np.ones_like(mean)
            steps.append(_Step(weight, (beta - mean * weight) * np.ones_like(mean), "linear", elementwise=True))
        elif kind == "Activation":
            name = _activation_name(config.get("activation"), layer.name)
            steps.append(_Step(np.float32(1), np.float32(0), name, elementwise=True))
        else:
            raise BundleError(f"layer {layer.name} ({kind}) is not supported by the NumPy predictor; "
                              "use Dense, Dropout, BatchNormalization and Activation layers")
    if not steps or steps[-1].activation != "softmax":
        raise BundleError("the network must end in a softmax layer over the labels")
    return [_Step(np.asarray(s.weight, np.float32), np.asarray(s.bias, np.float32), s.activation, s.elementwise)
            for s in steps]


def predictor_from_keras(model, labels: Sequence[str], scaler_mean: np.ndarray, scaler_scale: np.ndarray,
                         components: np.ndarray | None = None, feature_set: str = LANDMARKS) -> Predictor:
    """The fast predictor of a network still in memory (e.g. to evaluate it before it is saved)."""
    return Predictor(labels, scaler_mean, scaler_scale, _steps_from_keras(model), components, feature_set)


def _activation_name(activation, layer_name: str) -> str:
    name = activation if isinstance(activation, str) else None
    if name not in ACTIVATIONS:
        raise BundleError(f"layer {layer_name}: activation {activation!r} is not supported by the NumPy predictor "
                          f"(supported: {', '.join(ACTIVATIONS)})")
    return name


def _write_forward(path: Path, steps: Sequence[_Step]) -> None:
    arrays = {}
    for i, step in enumerate(steps):
        arrays[f"weight_{i}"], arrays[f"bias_{i}"] = step.weight, step.bias
    spec = [{"activation": s.activation, "elementwise": s.elementwise} for s in steps]
    np.savez_compressed(path, spec=np.array(json.dumps(spec)), **arrays)


def _read_forward(path: Path) -> list[_Step]:
    with np.load(path, allow_pickle=False) as data:
        spec = json.loads(str(data["spec"]))
        steps = [_Step(data[f"weight_{i}"], data[f"bias_{i}"], s["activation"], bool(s["elementwise"]))
                 for i, s in enumerate(spec)]
    unknown = {s.activation for s in steps} - set(ACTIVATIONS)
    if unknown:
        raise ValueError(f"unknown activation(s) {', '.join(sorted(unknown))}")
    return steps


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
    _steps: list[_Step] = field(default_factory=list, repr=False)
    components: np.ndarray | None = None
    feature_set: str = LANDMARKS

    @property
    def preprocess(self) -> Preprocess:
        """Feature vectors -> what the network's first layer reads."""
        return Preprocess(self.scaler_mean, self.scaler_scale, self.components)

    def predictor(self) -> Predictor:
        return Predictor(self.labels, self.scaler_mean, self.scaler_scale, self._steps, self.components,
                         self.feature_set)

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


def _check_labels(labels: Sequence[str]) -> list[str]:
    labels = [str(label) for label in labels]
    try:
        canonical = canonical_labels(labels)
    except UnknownLabelError as exc:
        raise BundleError(str(exc)) from None
    if canonical != labels or len(set(labels)) != len(labels) or len(labels) < 2:
        raise BundleError(f"labels must be at least two distinct canonical names, got {labels}")
    return labels


def _check_scaler(mean: np.ndarray, scale: np.ndarray, components: np.ndarray | None,
                  feature_set: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    if feature_set not in FEATURE_SETS:
        raise BundleError(f"unknown feature set {feature_set!r}; this code knows {', '.join(FEATURE_SETS)}")
    n = FEATURE_SETS[feature_set][1]
    mean, scale = np.asarray(mean, np.float64), np.asarray(scale, np.float64)
    if mean.shape != (n,) or scale.shape != (n,):
        raise BundleError(f"scaler mean and scale must have shape ({n},) for features {feature_set!r}, "
                          f"got {mean.shape} and {scale.shape}")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
        raise BundleError("scaler mean must be finite and scale finite and positive")
    if components is not None:
        components = np.asarray(components, np.float32)
        if components.ndim != 2 or components.shape[0] != n or not np.all(np.isfinite(components)):
            raise BundleError(f"scaler components must be a finite ({n}, k) matrix, got shape {components.shape}")
    return mean, scale, components


def load_bundle(path: str | os.PathLike) -> ModelBundle:
    """Read a bundle, refusing (with :class:`BundleError`) one that is incomplete, corrupt or of another version."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"no model bundle at {path} (missing folder); train one with: {TRAIN_HINT}")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise BundleError(f"model bundle {path} is incomplete: missing {', '.join(missing)}; "
                          f"retrain it with: {TRAIN_HINT}")
    try:
        info = json.loads((path / INFO_FILE).read_text())
        metrics = json.loads((path / METRICS_FILE).read_text())
        version, labels, checksums = info["feature_version"], info["labels"], info["sha256"]
        feature_set = info.get("feature_set", LANDMARKS)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BundleError(f"model bundle {path}: unreadable {INFO_FILE} or {METRICS_FILE} ({exc!r})") from None
    if feature_set not in FEATURE_SETS:
        raise BundleError(f"model bundle {path} needs features {feature_set!r}, which this code does not compute "
                          f"(it knows {', '.join(FEATURE_SETS)})")
    if version != FEATURE_SETS[feature_set][0]:
        raise BundleError(f"model bundle {path} was trained on features {version!r}, but this code computes "
                          f"{FEATURE_SETS[feature_set][0]!r}; retrain it on the landmark table with: {TRAIN_HINT}")
    labels = _check_labels(labels)
    for name in CHECKED_FILES:
        if _sha256(path / name) != checksums.get(name):
            raise BundleError(f"model bundle {path}: {name} is corrupt or was changed after training "
                              f"(checksum mismatch); retrain with: {TRAIN_HINT}")
    try:
        with np.load(path / SCALER_FILE, allow_pickle=False) as scaler:
            mean, scale = scaler["mean"], scaler["scale"]
            components = scaler["components"] if "components" in scaler.files else None
        steps = _read_forward(path / FORWARD_FILE)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise BundleError(f"model bundle {path}: unreadable {SCALER_FILE} or {FORWARD_FILE} ({exc})") from None
    mean, scale, components = _check_scaler(mean, scale, components, feature_set)
    inputs = len(mean) if components is None else components.shape[1]
    if steps[0].weight.shape[0] != inputs or steps[-1].bias.shape != (len(labels),):
        raise BundleError(f"model bundle {path}: the network does not map {inputs} inputs to "
                          f"{len(labels)} labels")
    return ModelBundle(path, labels, version, mean, scale, info, metrics, steps, components, feature_set)


def save_bundle(path: str | os.PathLike, keras_model, scaler_mean: np.ndarray, scaler_scale: np.ndarray,
                labels: Sequence[str], info: Mapping, metrics: Mapping, replay: LandmarkTable | None = None,
                force: bool = False, figures: Mapping[str, object] | None = None,
                files: Mapping[str, bytes] | None = None, components: np.ndarray | None = None,
                feature_set: str = LANDMARKS) -> Path:
    """Write a bundle to ``path``: into a temporary folder next to it, then renamed into place.

    An existing ``path`` is refused unless ``force`` (then it is replaced only once the new
    bundle is complete), so a trained model is never overwritten silently or half-way.
    ``figures`` maps file names (``confusion.png``) to matplotlib figures, ``files`` other
    file names to their bytes (e.g. ``model.tflite``). ``components`` is the projection of
    :mod:`emotion.preprocess`, if any. ``info`` is completed with labels, feature set and
    version, kind, creation time and file checksums.
    """
    path = Path(path)
    if path.exists() and not force:
        raise BundleError(f"{path} exists; pass --force to replace it, or choose another --out")
    labels = _check_labels(labels)
    mean, scale, components = _check_scaler(scaler_mean, scaler_scale, components, feature_set)
    if list(info.get("labels", labels)) != labels:
        raise BundleError(f"info lists labels {list(info['labels'])} but the model's labels are {labels}")
    extra = [*(figures or {}), *(files or {})]
    reserved = [name for name in extra if Path(name).name != name or name in (*REQUIRED_FILES, REPLAY_FILE)]
    if reserved:
        raise BundleError(f"extra bundle file name(s) {', '.join(reserved)} are reserved or not plain file names")
    steps = _steps_from_keras(keras_model)
    predictor = Predictor(labels, mean, scale, steps, components, feature_set)
    inputs = predictor.preprocess.n_outputs
    if steps[0].weight.shape[0] != inputs or steps[-1].bias.shape != (len(labels),):
        raise BundleError(f"the network must map {inputs} inputs to {len(labels)} labels "
                          f"({', '.join(labels)})")
    _check_agreement(keras_model, predictor)

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        _inference_copy(keras_model).save(tmp / MODEL_FILE)
        _write_forward(tmp / FORWARD_FILE, steps)
        np.savez_compressed(tmp / SCALER_FILE, **predictor.preprocess.arrays())
        if replay is not None:
            save_table(replay, tmp / REPLAY_FILE)
        for name, figure in (figures or {}).items():
            figure.savefig(tmp / name, dpi=100)
        for name, data in (files or {}).items():
            (tmp / name).write_bytes(data)
        full_info = {
            "kind": "base",
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "base": None,
            **info,
            "labels": labels,
            "feature_set": feature_set,
            "feature_version": FEATURE_SETS[feature_set][0],
            "sha256": {name: _sha256(tmp / name) for name in CHECKED_FILES},
        }
        (tmp / INFO_FILE).write_text(json.dumps(full_info, indent=2, default=_json_default) + "\n")
        (tmp / METRICS_FILE).write_text(json.dumps(dict(metrics), indent=2, default=_json_default) + "\n")
        _make_ordinary(tmp)
        _replace(tmp, path, force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _check_agreement(keras_model, predictor: Predictor) -> None:
    """Refuse a network whose NumPy forward pass differs from Keras (e.g. an unsupported layer option)."""
    rng = np.random.default_rng(0)
    pre = predictor.preprocess
    features = (pre.mean + pre.scale * rng.normal(size=(16, pre.n_features))).astype(np.float32)
    expected = np.asarray(keras_model(pre.transform(features), training=False))
    diff = float(np.max(np.abs(predictor.predict_proba(features) - expected)))
    if not diff <= TOLERANCE:
        raise BundleError(f"the NumPy predictor differs from the Keras network by {diff:.2g} (> {TOLERANCE}); "
                          "the network uses something the predictor does not reproduce")


def _inference_copy(model):
    """The network without optimizer state, which would triple the file and is of no use to a loader."""
    copy = type(model).from_config(model.get_config())  # clone_model would copy the optimizer too
    copy.set_weights(model.get_weights())
    return copy


def _replace(tmp: Path, path: Path, force: bool) -> None:
    """Move the finished bundle into place; an old one (with ``force``) is removed only after that succeeded."""
    if not path.exists():
        os.rename(tmp, path)  # fails rather than merge if someone created a non-empty `path` meanwhile
        return
    if not force:
        raise BundleError(f"{path} exists; pass --force to replace it, or choose another --out")
    old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", suffix=".tmp", dir=path.parent))
    os.rename(path, old / path.name)
    try:
        os.rename(tmp, path)
    except BaseException:
        os.rename(old / path.name, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _make_ordinary(folder: Path) -> None:
    """Give the folder and its files the permissions of ordinary ones (mkdtemp and mkstemp make them private)."""
    mask = os.umask(0)
    os.umask(mask)
    folder.chmod(0o777 & ~mask)
    for file in folder.iterdir():
        file.chmod(0o666 & ~mask)


def _json_default(value):
    """Numpy scalars/arrays and paths in metrics or training arguments, as JSON."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def find_default_model(models_dir: str | os.PathLike = "models") -> Path:
    """The newest personal bundle under ``models_dir`` (by creation time), else ``models_dir/default``.

    A folder whose bundle.json cannot be read is not a candidate; whether the chosen
    bundle is usable is :func:`load_bundle`'s to say.
    """
    models_dir = Path(models_dir)
    personal = []
    for info_path in models_dir.glob(f"*/{INFO_FILE}"):
        if info_path.parent.name.startswith("."):
            continue  # a bundle still being written, or an old one being replaced
        try:
            info = json.loads(info_path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(info, dict) and info.get("kind") == "personal":
            personal.append((str(info.get("created", "")), info_path.stat().st_mtime, info_path.parent))
    return max(personal)[2] if personal else models_dir / "default"
