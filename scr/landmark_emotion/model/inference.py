"""The inference engine: a small Keras MLP as NumPy steps, its conversion from Keras, and its ``forward.npz``.

``model.predict`` costs ~60 ms per call, a NumPy forward pass of a small MLP well under
1 ms; this module never imports TensorFlow (the converter is handed a Keras model by its
caller). The network's problems (an unsupported layer, weights that do not fit) are
``ValueError``s here; the bundle modules say which bundle they belong to.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from landmark_emotion.errors import InputError, LandmarkEmotionError
from landmark_emotion.face.features import LANDMARKS
from landmark_emotion.inputs import parse_json
from landmark_emotion.model.preprocess import Preprocess
from landmark_emotion.outputs import save_npz


class EngineError(LandmarkEmotionError, ValueError):
    """A network the NumPy engine cannot run: a layer or activation it does not reproduce, non-finite weights."""


FORWARD_LOCK = threading.Lock()
"""Held while a forward pass multiplies: NumPy's OpenBLAS can hang, or answer wrongly, when two threads multiply
large matrices at once (numpy issues 17752 and 29391), and a stream, a photo read and the web page's tabs may each
run on a thread of their own. A pass takes a fraction of a millisecond, so passes take turns."""

TOLERANCE = 1e-4
"""Largest difference in probability allowed between the NumPy predictor and Keras."""


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def _elu(z: np.ndarray) -> np.ndarray:
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
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
class Step:
    """One step of the forward pass: ``activation(x @ weight + bias)``, or ``x * weight + bias`` if ``elementwise``."""

    weight: np.ndarray
    bias: np.ndarray
    activation: str
    elementwise: bool = False

    def __call__(self, x: np.ndarray) -> np.ndarray:
        z = x * self.weight + self.bias if self.elementwise else x @ self.weight + self.bias
        return ACTIVATIONS[self.activation](z)


class Predictor:
    """Class probabilities of feature vectors, by a NumPy forward pass of the network.

    Applies the preprocessing (scaler and projection) itself, folded into the first
    layer, so callers pass :func:`landmark_emotion.face.features.face_vectors` output of ``feature_set``.
    """

    def __init__(
        self,
        labels: Sequence[str],
        scaler_mean: np.ndarray,
        scaler_scale: np.ndarray,
        steps: Sequence[Step],
        components: np.ndarray | None = None,
        feature_set: str = LANDMARKS,
    ) -> None:
        self.labels = list(labels)
        self.feature_set = feature_set
        self.preprocess = Preprocess(scaler_mean, scaler_scale, components)
        self._steps = _fuse_preprocess(self.preprocess, list(steps))

    @property
    def n_features(self) -> int:
        return self.preprocess.n_features

    @property
    def steps(self) -> tuple[Step, ...]:
        """The forward pass, preprocessing folded in (what an explanation takes apart)."""
        return tuple(self._steps)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """(d,) or (n, d) finite features -> (n, len(labels)) float32 probabilities.

        A NaN or infinite feature is refused: it would come out as NaN probabilities, which
        ``argmax`` reads as a confident first label.
        """
        try:
            x = np.asarray(features, np.float32)
        except (TypeError, ValueError):
            raise InputError(f"expected features that are numbers, got {type(features).__name__}") from None
        if x.ndim == 1:
            x = x[None]
        d = self.n_features
        if x.ndim != 2 or x.shape[1] != d:
            raise InputError(f"expected features of shape ({d},) or (n, {d}), got {np.shape(features)}")
        if not np.isfinite(x).all():
            rows = np.flatnonzero(~np.isfinite(x).all(axis=1))
            raise InputError(f"features must be finite numbers; row(s) {rows[:5].tolist()} hold NaN or infinity")
        with FORWARD_LOCK:
            for step in self._steps:
                x = step(x)
        return x

    def predict(self, features: np.ndarray) -> list[str]:
        """The most probable label of each face."""
        return [self.labels[i] for i in self.predict_proba(features).argmax(axis=1)]


def _fuse_preprocess(pre: Preprocess, steps: list[Step]) -> list[Step]:
    """The steps with the (affine) preprocessing folded into the first Dense layer where that costs less.

    ``((x - mean) / scale) @ C @ W + b == x @ W' + b'``: for a hybrid bundle of one network this is one
    (4320 x 256) product instead of a (4320 x 450) projection and a (450 x 256) layer. A wider first layer
    (five networks merged: 1280 units) costs less after the projection, which then stays a step of its own,
    as it does for other networks.
    """
    first = steps[0] if steps else None
    if first is not None and not first.elementwise and _folding_is_cheaper(pre, first.weight.shape[1]):
        weight = first.weight.astype(np.float64)
        if pre.components is not None:
            weight = pre.components.astype(np.float64) @ weight
        weight = weight / pre.scale[:, None]
        bias = first.bias - pre.mean @ weight
        with np.errstate(over="ignore"):  # weights too large for float32 become inf, which loading then refuses
            return [Step(weight.astype(np.float32), bias.astype(np.float32), first.activation), *steps[1:]]
    if pre.components is None:
        return [
            Step(
                (1.0 / pre.scale).astype(np.float32),
                (-pre.mean / pre.scale).astype(np.float32),
                "linear",
                elementwise=True,
            ),
            *steps,
        ]
    matrix = pre.components / pre.scale[:, None]
    return [Step(matrix.astype(np.float32), (-pre.mean @ matrix).astype(np.float32), "linear"), *steps]


def _folding_is_cheaper(pre: Preprocess, units: int) -> bool:
    """Whether one (features x units) product costs fewer multiplications than the projection and the layer."""
    if pre.components is None:
        return True
    n, k = pre.components.shape
    return n * units <= n * k + k * units


def steps_from_keras(model) -> list[Step]:
    """Turn a Dense/Dropout/BatchNormalization/Activation chain into forward-pass steps, or say why not."""
    steps: list[Step] = []
    for layer in model.layers:
        kind = type(layer).__name__
        config = layer.get_config()
        if kind in ("InputLayer", "Dropout", "GaussianNoise", "GaussianDropout", "AlphaDropout"):
            continue  # identity at inference
        if kind == "Dense":
            weights = layer.get_weights()
            bias = weights[1] if len(weights) > 1 else np.zeros(weights[0].shape[1], np.float32)
            steps.append(Step(weights[0], bias, _activation_name(config.get("activation"), layer.name)))
        elif kind == "BatchNormalization":
            if config.get("axis") not in (-1, 1, [-1], [1]):
                raise EngineError(f"layer {layer.name}: only feature-axis batch normalisation is supported")
            gamma = layer.gamma.numpy() if layer.gamma is not None else 1.0
            beta = layer.beta.numpy() if layer.beta is not None else 0.0
            mean, var = layer.moving_mean.numpy(), layer.moving_variance.numpy()
            weight = (gamma / np.sqrt(var + config["epsilon"])) * np.ones_like(mean)
            steps.append(Step(weight, (beta - mean * weight) * np.ones_like(mean), "linear", elementwise=True))
        elif kind == "Activation":
            name = _activation_name(config.get("activation"), layer.name)
            steps.append(Step(np.ones(1, np.float32), np.zeros(1, np.float32), name, elementwise=True))
        else:
            raise EngineError(
                f"layer {layer.name} ({kind}) is not supported by the NumPy predictor; "
                "use Dense, Dropout, BatchNormalization and Activation layers"
            )
    if not steps or steps[-1].activation != "softmax":
        raise EngineError("the network must end in a softmax layer over the labels")
    return [
        Step(np.asarray(s.weight, np.float32), np.asarray(s.bias, np.float32), s.activation, s.elementwise)
        for s in steps
    ]


def predictor_from_keras(
    model,
    labels: Sequence[str],
    scaler_mean: np.ndarray,
    scaler_scale: np.ndarray,
    components: np.ndarray | None = None,
    feature_set: str = LANDMARKS,
) -> Predictor:
    """The fast predictor of a network still in memory (e.g. to evaluate it before it is saved)."""
    return Predictor(labels, scaler_mean, scaler_scale, steps_from_keras(model), components, feature_set)


def _activation_name(activation, layer_name: str) -> str:
    name = activation if isinstance(activation, str) else None
    if name not in ACTIVATIONS:
        raise EngineError(
            f"layer {layer_name}: activation {activation!r} is not supported by the NumPy predictor "
            f"(supported: {', '.join(ACTIVATIONS)})"
        )
    return name


def write_forward(path: Path, steps: Sequence[Step]) -> None:
    """``forward.npz``: each step's weight and bias, and a JSON spec of their activations."""
    arrays = {}
    for i, step in enumerate(steps):
        arrays[f"weight_{i}"], arrays[f"bias_{i}"] = step.weight, step.bias
    spec = [{"activation": s.activation, "elementwise": s.elementwise} for s in steps]
    save_npz(path, {"spec": np.array(json.dumps(spec)), **arrays})


def read_forward(path: Path) -> list[Step]:
    """The steps of ``forward.npz``, each checked for a known activation and finite floating-point arrays."""
    with np.load(path, allow_pickle=False) as data:
        spec = parse_json(str(data["spec"]))
        if not isinstance(spec, list) or not spec or not all(isinstance(s, dict) for s in spec):
            raise EngineError("its spec must be a non-empty list of layers")
        expected = {"spec", *(f"{kind}_{i}" for i in range(len(spec)) for kind in ("weight", "bias"))}
        if set(data.files) != expected:
            raise EngineError(f"it holds arrays {sorted(data.files)}, expected {sorted(expected)}")
        steps = []
        for i, s in enumerate(spec):
            activation, elementwise = s.get("activation"), s.get("elementwise")
            if not isinstance(activation, str) or activation not in ACTIVATIONS or not isinstance(elementwise, bool):
                raise EngineError(f"layer {i} has an unknown activation or no elementwise flag ({s})")
            weight, bias = data[f"weight_{i}"], data[f"bias_{i}"]
            if weight.dtype.kind != "f" or bias.dtype.kind != "f":
                raise EngineError(f"layer {i}: weights must be floating point, got {weight.dtype} and {bias.dtype}")
            weight, bias = weight.astype(np.float32), bias.astype(np.float32)
            if not (np.all(np.isfinite(weight)) and np.all(np.isfinite(bias))):
                raise EngineError(f"layer {i} has non-finite weights (NaN or infinity)")
            steps.append(Step(weight, bias, activation, elementwise))
    return steps


def check_network(steps: Sequence[Step], n_inputs: int, labels: Sequence[str]) -> None:
    """Every step's arrays fit the width of its input, and the last is a softmax over the labels."""
    width = n_inputs
    for i, step in enumerate(steps):
        weight, bias = step.weight, step.bias
        if step.elementwise:
            fits = all(a.ndim <= 1 and a.size in (1, width) for a in (weight, bias))
        else:
            fits = (
                weight.ndim == 2
                and weight.shape[0] == width
                and weight.shape[1] >= 1
                and bias.shape == weight.shape[1:]
            )
            width = weight.shape[1] if fits else width
        if not fits:
            raise EngineError(
                f"layer {i}: weight {weight.shape} and bias {bias.shape} do not fit an input of width {width}"
            )
    if width != len(labels) or steps[-1].activation != "softmax":
        raise EngineError(f"the network does not map {n_inputs} features to a softmax over {len(labels)} labels")


def check_outputs_finite(predictor: Predictor) -> None:
    """Finite weights can still overflow (1e30 is finite): the network must give probabilities for typical inputs."""
    with np.errstate(all="ignore"):
        probabilities = predictor.predict_proba(predictor.preprocess.typical_features())
    if not (np.all(np.isfinite(probabilities)) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-3)):
        raise EngineError("the network does not give finite probabilities (its weights overflow)")


def check_agreement(keras_model, predictor: Predictor) -> None:
    """Refuse a network whose NumPy forward pass differs from Keras (e.g. an unsupported layer option)."""
    pre = predictor.preprocess
    features = pre.typical_features()
    expected = np.asarray(keras_model(pre.transform(features), training=False))
    diff = float(np.max(np.abs(predictor.predict_proba(features) - expected)))
    if not diff <= TOLERANCE:
        raise EngineError(
            f"the NumPy predictor differs from the Keras network by {diff:.2g} (> {TOLERANCE}); "
            "the network uses something the predictor does not reproduce"
        )
