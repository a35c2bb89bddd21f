"""A trained model as one folder (a "bundle"), and the fast predictor used at run time.

A bundle holds everything needed to classify a face and to know what the numbers mean:

- ``model.keras``   the Keras network (loaded with ``safe_mode=True``: no code from the file runs);
- ``forward.npz``   the same weights as plain arrays, for the NumPy :class:`Predictor`;
- ``scaler.npz``    the StandardScaler as two arrays (``mean``, ``scale``), not a pickle, and for
  block-wise whitened PCA a ``components`` matrix (:mod:`landmark_emotion.preprocess`);
- ``bundle.json``   kind (base/personal), ordered labels, feature set and its version, training
  arguments, creation time, the checksum of every other file and one of its own content;
- ``metrics.json``  what the model scored; optional ``replay.npz`` (a small class-balanced
  sample of the training table, for fine-tuning without forgetting), ``neutral.npz`` (the
  neutral references of :mod:`landmark_emotion.calibration`) and figures (``*.png``).

A bundle is verified whole: ``bundle.json`` lists a SHA-256 of every other file in the folder
(whatever files later versions add), and ``bundle_sha256`` is the hash of its own content
without that field. A changed, missing or added file, or an edited label list, is refused;
so is a field of the wrong type or shape, or a non-finite weight: a bundle that loads can predict.

The predictor never imports TensorFlow: ``model.predict`` costs ~60 ms per call, a NumPy
forward pass of a small MLP well under 1 ms. :func:`save_bundle` checks that the two agree
before it writes anything, so every bundle on disk keeps that promise.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .calibration import REFERENCE_FILE, CalibrationError, References, load_references
from .features import FEATURE_SETS, LANDMARKS
from .labels import UnknownLabelError, canonical_labels
from .outputs import recover, replace_folder, temporary_folder, write_file
from .preprocess import Preprocess
from .table import LandmarkTable, TableError, load_table, save_table

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
    :func:`landmark_emotion.features.face_vectors` output of the bundle's ``feature_set``.
    """

    def __init__(self, labels: Sequence[str], scaler_mean: np.ndarray, scaler_scale: np.ndarray,
                 steps: Sequence[_Step], components: np.ndarray | None = None,
                 feature_set: str = LANDMARKS) -> None:
        self.labels = list(labels)
        self.feature_set = feature_set
        self.preprocess = Preprocess(scaler_mean, scaler_scale, components)
        self._steps = _fuse_preprocess(self.preprocess, list(steps))

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
        for step in self._steps:
            x = x * step.weight + step.bias if step.elementwise else x @ step.weight + step.bias
            x = ACTIVATIONS[step.activation](x)
        return x

    def predict(self, features: np.ndarray) -> list[str]:
        """The most probable label of each face."""
        return [self.labels[i] for i in self.predict_proba(features).argmax(axis=1)]


def _fuse_preprocess(pre: Preprocess, steps: list[_Step]) -> list[_Step]:
    """The steps with the (affine) preprocessing folded into the first Dense layer: one matrix product per face.

    ``((x - mean) / scale) @ C @ W + b == x @ W' + b'``: for a hybrid bundle this is one
    (4320 x 256) product instead of a (4320 x 450) projection and a (450 x 256) layer.
    Other networks get the preprocessing as a step of its own.
    """
    first = steps[0] if steps else None
    if first is None or first.elementwise:
        if pre.components is None:
            return [_Step((1.0 / pre.scale).astype(np.float32), (-pre.mean / pre.scale).astype(np.float32),
                          "linear", elementwise=True), *steps]
        matrix = pre.components / pre.scale[:, None]
        return [_Step(matrix.astype(np.float32), (-pre.mean @ matrix).astype(np.float32), "linear"), *steps]
    weight = first.weight.astype(np.float64)
    if pre.components is not None:
        weight = pre.components.astype(np.float64) @ weight
    weight = weight / pre.scale[:, None]
    bias = first.bias - pre.mean @ weight
    with np.errstate(over="ignore"):  # weights too large for float32 become inf, which loading then refuses
        return [_Step(weight.astype(np.float32), bias.astype(np.float32), first.activation), *steps[1:]]


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
    """The steps of ``forward.npz``, each checked for a known activation and finite floating-point arrays."""
    with np.load(path, allow_pickle=False) as data:
        spec = json.loads(str(data["spec"]))
        if not isinstance(spec, list) or not spec or not all(isinstance(s, dict) for s in spec):
            raise ValueError("its spec must be a non-empty list of layers")
        expected = {"spec", *(f"{kind}_{i}" for i in range(len(spec)) for kind in ("weight", "bias"))}
        if set(data.files) != expected:
            raise ValueError(f"it holds arrays {sorted(data.files)}, expected {sorted(expected)}")
        steps = []
        for i, s in enumerate(spec):
            activation, elementwise = s.get("activation"), s.get("elementwise")
            if not isinstance(activation, str) or activation not in ACTIVATIONS or not isinstance(elementwise, bool):
                raise ValueError(f"layer {i} has an unknown activation or no elementwise flag ({s})")
            weight, bias = data[f"weight_{i}"], data[f"bias_{i}"]
            if weight.dtype.kind != "f" or bias.dtype.kind != "f":
                raise ValueError(f"layer {i}: weights must be floating point, got {weight.dtype} and {bias.dtype}")
            weight, bias = weight.astype(np.float32), bias.astype(np.float32)
            if not (np.all(np.isfinite(weight)) and np.all(np.isfinite(bias))):
                raise ValueError(f"layer {i} has non-finite weights (NaN or infinity)")
            steps.append(_Step(weight, bias, activation, elementwise))
    return steps


def _check_network(steps: Sequence[_Step], n_inputs: int, labels: Sequence[str]) -> None:
    """Every step's arrays fit the width of its input, and the last is a softmax over the labels."""
    width = n_inputs
    for i, step in enumerate(steps):
        weight, bias = step.weight, step.bias
        if step.elementwise:
            fits = all(a.ndim <= 1 and a.size in (1, width) for a in (weight, bias))
        else:
            fits = (weight.ndim == 2 and weight.shape[0] == width and weight.shape[1] >= 1
                    and bias.shape == weight.shape[1:])
            width = weight.shape[1] if fits else width
        if not fits:
            raise BundleError(f"layer {i}: weight {weight.shape} and bias {bias.shape} do not fit an input "
                              f"of width {width}")
    if width != len(labels) or steps[-1].activation != "softmax":
        raise BundleError(f"the network does not map {n_inputs} features to a softmax over {len(labels)} labels")


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
    references: References | None = None
    """Neutral references for calibration (population, and the user's in a personal bundle); None: uncalibrated."""

    @property
    def n_features(self) -> int:
        """The length of the feature vectors the bundle reads (before its scaler and projection)."""
        return len(self.scaler_mean)

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
    if not isinstance(labels, (list, tuple)) or not all(isinstance(label, str) for label in labels):
        raise BundleError(f"labels must be a list of names, got {labels!r}")
    labels = list(labels)
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
    if any(a is not None and np.asarray(a).dtype.kind not in "fiu" for a in (mean, scale, components)):
        raise BundleError("scaler mean, scale and components must be numbers")
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


def _info_digest(info: Mapping) -> str:
    """The hash of bundle.json's content without its own hash field (key order and spacing do not matter)."""
    content = {key: value for key, value in info.items() if key != SELF_HASH}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":"),
                                     default=_json_default).encode()).hexdigest()


def _manifest(folder: Path) -> dict[str, str]:
    """The checksum of every file in ``folder`` but bundle.json."""
    return {entry.name: _sha256(entry) for entry in sorted(folder.iterdir()) if entry.name != INFO_FILE}


def _verify_files(path: Path, info: dict) -> None:
    """Refuse a bundle whose bundle.json was edited or whose files were changed, removed or added."""
    checksums = info.get("sha256")
    if SELF_HASH not in info:
        raise BundleError(f"model bundle {path}: {INFO_FILE} has no checksum of its own (written before bundles "
                          f"were checksummed whole); if you trust it, re-seal it with: python -c \"import sys; "
                          f"sys.path.insert(0, 'scr'); from landmark_emotion.model_bundle import seal_bundle; "
                          f"seal_bundle('{path}')\"")
    if info[SELF_HASH] != _info_digest(info) or not isinstance(checksums, dict):
        raise BundleError(f"model bundle {path}: {INFO_FILE} was changed after training (checksum mismatch); "
                          f"retrain with: {TRAIN_HINT}")
    present = {entry.name for entry in path.iterdir() if entry.name != INFO_FILE}
    extra = sorted(present - set(checksums))
    if extra:
        raise BundleError(f"model bundle {path}: {', '.join(extra)} not covered by its checksums "
                          "(added after training); remove it or retrain")
    for name in sorted(checksums):
        file = path / name
        if Path(name).name != name or not file.is_file():
            raise BundleError(f"model bundle {path} is incomplete: missing {name}; retrain it with: {TRAIN_HINT}")
        if _sha256(file) != checksums[name]:
            raise BundleError(f"model bundle {path}: {name} is corrupt or was changed after training "
                              f"(checksum mismatch); retrain with: {TRAIN_HINT}")


def _read_json(path: Path) -> dict:
    value = json.loads(path.read_text())
    if not isinstance(value, dict):
        raise ValueError(f"{path.name} is not a JSON object")
    return value


def load_bundle(path: str | os.PathLike) -> ModelBundle:
    """Read a bundle, refusing (with :class:`BundleError`) one that is incomplete, corrupt or of another version."""
    path = Path(path)
    recover(path)  # a replace of this bundle that was killed half-way
    if not path.is_dir():
        raise BundleError(f"no model bundle at {path} (missing folder); train one with: {TRAIN_HINT}")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise BundleError(f"model bundle {path} is incomplete: missing {', '.join(missing)}; "
                          f"retrain it with: {TRAIN_HINT}")
    try:
        info = _read_json(path / INFO_FILE)
        metrics = _read_json(path / METRICS_FILE)
    except (OSError, ValueError) as exc:
        raise BundleError(f"model bundle {path}: unreadable {INFO_FILE} or {METRICS_FILE} ({exc})") from None
    _verify_files(path, info)
    version, labels = info.get("feature_version"), info.get("labels")
    feature_set = info.get("feature_set", LANDMARKS)
    if not isinstance(feature_set, str) or feature_set not in FEATURE_SETS:
        raise BundleError(f"model bundle {path} needs features {feature_set!r}, which this code does not compute "
                          f"(it knows {', '.join(FEATURE_SETS)})")
    if version != FEATURE_SETS[feature_set][0]:
        raise BundleError(f"model bundle {path} was trained on features {version!r}, but this code computes "
                          f"{FEATURE_SETS[feature_set][0]!r}; retrain it on the landmark table with: {TRAIN_HINT}")
    if info.get("kind", "base") not in KINDS or not isinstance(info.get("created", ""), str):
        raise BundleError(f"model bundle {path}: {INFO_FILE} has a kind other than {' or '.join(KINDS)} "
                          "or a creation time that is not text")
    try:
        labels = _check_labels(labels)
        with np.load(path / SCALER_FILE, allow_pickle=False) as scaler:
            mean, scale = scaler["mean"], scaler["scale"]
            components = scaler["components"] if "components" in scaler.files else None
        steps = _read_forward(path / FORWARD_FILE)
        mean, scale, components = _check_scaler(mean, scale, components, feature_set)
        _check_network(steps, len(mean) if components is None else components.shape[1], labels)
        _check_outputs_finite(Predictor(labels, mean, scale, steps, components, feature_set), mean, scale)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        detail = str(exc).removeprefix(f"model bundle {path}: ")
        raise BundleError(f"model bundle {path}: unusable {SCALER_FILE}, {FORWARD_FILE} or labels ({detail})") from None
    references = None
    if (path / REFERENCE_FILE).is_file():
        try:
            references = load_references(path / REFERENCE_FILE, version, len(mean))
        except CalibrationError as exc:
            raise BundleError(f"model bundle {path}: {exc}") from None
    return ModelBundle(path, labels, version, mean, scale, info, metrics, steps, components, feature_set,
                       references)


def _check_outputs_finite(predictor: Predictor, mean: np.ndarray, scale: np.ndarray) -> None:
    """Finite weights can still overflow (1e30 is finite): the network must give probabilities for typical inputs."""
    features = mean + scale * np.random.default_rng(0).normal(size=(16, len(mean)))
    with np.errstate(all="ignore"):
        probabilities = predictor.predict_proba(features)
    if not (np.all(np.isfinite(probabilities)) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-3)):
        raise BundleError("the network does not give finite probabilities (its weights overflow)")


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
    _write_info(path, info)
    load_bundle(path)
    return path


def add_to_bundle(path: str | os.PathLike, files: Mapping[str, bytes]) -> Path:
    """Add or replace extra files of a bundle (e.g. a calibration), keeping it verified whole.

    The bundle is checked, copied with the new files and its checksums, and swapped in
    atomically: a kill at any instant leaves the old or the new bundle.
    """
    path = Path(path)
    bundle = load_bundle(path)
    _check_extra_names(files)
    tmp = temporary_folder(path)
    try:
        for entry in path.iterdir():
            shutil.copy2(entry, tmp / entry.name)
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        _write_info(tmp, bundle.info)
        _make_ordinary(tmp)
        replace_folder(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _check_extra_names(names: Iterable[str]) -> None:
    """Extra files are plain names, other than those of the files every bundle has."""
    bad = [name for name in names if Path(name).name != name or name in (*REQUIRED_FILES, REPLAY_FILE)]
    if bad:
        raise BundleError(f"extra bundle file name(s) {', '.join(bad)} are reserved or not plain file names")


def _write_info(folder: Path, info: Mapping) -> None:
    """Write bundle.json with the checksums of every other file in ``folder`` and of itself."""
    content = {key: value for key, value in info.items() if key != SELF_HASH}
    full_info = json.loads(json.dumps(content, default=_json_default))  # hashed exactly as it will be read
    full_info["sha256"] = _manifest(folder)
    full_info[SELF_HASH] = _info_digest(full_info)
    text = json.dumps(full_info, indent=2, default=_json_default) + "\n"
    write_file(folder / INFO_FILE, lambda tmp: tmp.write_text(text))


def save_bundle(path: str | os.PathLike, keras_model, scaler_mean: np.ndarray, scaler_scale: np.ndarray,
                labels: Sequence[str], info: Mapping, metrics: Mapping, replay: LandmarkTable | None = None,
                force: bool = False, figures: Mapping[str, object] | None = None,
                files: Mapping[str, bytes] | None = None, components: np.ndarray | None = None,
                feature_set: str = LANDMARKS, references: References | None = None) -> Path:
    """Write a bundle to ``path``: into a temporary folder next to it, then renamed into place.

    An existing ``path`` is refused unless ``force`` (then it is replaced only once the new
    bundle is complete), so a trained model is never overwritten silently or half-way.
    ``figures`` maps file names (``confusion.png``) to matplotlib figures, ``files`` other
    file names to their bytes (e.g. ``model.tflite``). ``components`` is the projection of
    :mod:`landmark_emotion.preprocess`, if any; ``references`` the neutral references for calibration.
    ``info`` is completed with labels, feature set and version, kind, creation time and file
    checksums.
    """
    path = Path(path)
    if path.exists() and not force:
        raise BundleError(f"{path} exists; pass --force to replace it, or choose another --out")
    labels = _check_labels(labels)
    mean, scale, components = _check_scaler(scaler_mean, scaler_scale, components, feature_set)
    if list(info.get("labels", labels)) != labels:
        raise BundleError(f"info lists labels {list(info['labels'])} but the model's labels are {labels}")
    extra = [*(figures or {}), *(files or {})]
    _check_extra_names(extra)
    steps = _steps_from_keras(keras_model)
    predictor = Predictor(labels, mean, scale, steps, components, feature_set)
    inputs = predictor.preprocess.n_outputs
    if steps[0].weight.shape[0] != inputs or steps[-1].bias.shape != (len(labels),):
        raise BundleError(f"the network must map {inputs} inputs to {len(labels)} labels "
                          f"({', '.join(labels)})")
    if not all(np.all(np.isfinite(s.weight)) and np.all(np.isfinite(s.bias)) for s in steps):
        raise BundleError("the network has non-finite weights (NaN or infinity); nothing written")
    _check_agreement(keras_model, predictor)
    if references is not None and (references.feature_version != FEATURE_SETS[feature_set][0]
                                   or np.shape(references.population) != mean.shape):
        raise BundleError(f"the neutral reference was computed on {len(references.population)} features "
                          f"{references.feature_version!r}, the model takes {len(mean)} "
                          f"{FEATURE_SETS[feature_set][0]!r}")
    files = {**(files or {}), **({REFERENCE_FILE: references.to_bytes()} if references is not None else {})}

    tmp = temporary_folder(path)
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
        (tmp / METRICS_FILE).write_text(json.dumps(dict(metrics), indent=2, default=_json_default) + "\n")
        _write_info(tmp, {
            "kind": "base",
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "base": None,
            **info,
            "labels": labels,
            "feature_set": feature_set,
            "feature_version": FEATURE_SETS[feature_set][0],
        })
        _make_ordinary(tmp)
        if path.exists() and not force:
            raise BundleError(f"{path} exists; pass --force to replace it, or choose another --out")
        replace_folder(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def add_references(path: str | os.PathLike, references: References) -> ModelBundle:
    """Give an existing bundle (e.g. one trained before calibration existed) its neutral references.

    Nothing else changes; the bundle stays verified whole (:func:`add_to_bundle`) and is
    loaded again, so one that does not load afterwards is never reported as done.
    """
    path = Path(path)
    bundle = load_bundle(path)
    if references.feature_version != bundle.feature_version or np.shape(references.population) != (bundle.n_features,):
        raise BundleError(f"the neutral reference was computed on {len(references.population)} features "
                          f"{references.feature_version!r}, the model {path} takes {bundle.n_features} "
                          f"{bundle.feature_version!r}")
    add_to_bundle(path, {REFERENCE_FILE: references.to_bytes()})
    return load_bundle(path)


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

