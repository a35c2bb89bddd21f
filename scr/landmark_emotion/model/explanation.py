"""Why a face was read as it was: how much each region of the face moved the probability of its label.

A face is read relative to its neutral reference, and its changes from that reference are what
the model answers to. Putting one region back to the reference (its landmark coordinates, and
the HOG cells and patches of the appearance that it covers) and reading the face again says how
much that region's change raised the label's probability: an occlusion to the neutral, which is
what the deletion test of ``benchmarks/explain.py`` measures an explanation by. It is cheap here
because the first layer is affine: the face with region r at its neutral has first-layer input
``z - delta_r @ W``, so one pass over that layer's weights (reordered once so that each region's
rows are contiguous) gives every region's share, and only the small layers after it run once per
region. The words come from the landmarks alone (:mod:`landmark_emotion.face.movements`).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from landmark_emotion.errors import LandmarkEmotionError
from landmark_emotion.face.features import N_FEATURES
from landmark_emotion.face.movements import describe_movements
from landmark_emotion.face.regions import NONE, REGIONS, feature_regions
from landmark_emotion.model.inference import ACTIVATIONS, FORWARD_LOCK, Predictor

POPULATION = "population"
"""The reference of a face read uncalibrated: the population neutral (the model's mean neutral training face)."""


class ExplanationError(LandmarkEmotionError, ValueError):
    """A reading that cannot be explained: no neutral reference to measure changes from, or a network that
    does not begin with a dense layer."""


def require_neutral(population: np.ndarray | None) -> np.ndarray:
    """The population neutral that a face read uncalibrated is explained against; :class:`ExplanationError` for a
    model without one (changes from what?)."""
    if population is None:
        raise ExplanationError(
            "this model has no population neutral (it was trained without neutral faces, or before calibration "
            "existed), so there is no neutral face to measure changes from: its readings cannot be explained"
        )
    return population


@dataclass(frozen=True)
class Explanation:
    """Why one face was read as ``label``: each region's share, and what moved, against its neutral reference."""

    label: str
    probability: float
    """The label's probability for this face in this frame (before smoothing over frames)."""
    neutral_probability: float
    """Its probability with every region at the neutral reference."""
    reference: str
    """The neutral the changes are measured from: ``personal``, ``captured``, ``estimating``, ``auto`` (the face's
    own) or ``population``."""
    regions: dict[str, float]
    """Every region -> how much lower the label's probability is with that region (its landmarks, HOG cells and
    patches) at the neutral reference: positive where its change from neutral raised the label. Largest first."""
    words: tuple[str, ...]
    """The largest movements of the landmarks in plain words ("brows raised"), largest first; () at rest."""

    @property
    def top(self) -> str:
        """The region whose change from neutral raised the label most."""
        return next(iter(self.regions))

    def to_json(self) -> dict:
        return {
            "label": self.label,
            "probability": round(self.probability, 4),
            "neutral_probability": round(self.neutral_probability, 4),
            "reference": self.reference,
            "regions": {region: round(effect, 4) for region, effect in self.regions.items()},
            "words": list(self.words),
        }


class Explainer:
    """Occlusion to the neutral, region by region, of one network (see the module's docstring)."""

    def __init__(self, predictor: Predictor) -> None:
        first, *rest = predictor.steps
        if first.elementwise:
            raise ExplanationError("this network does not begin with a dense layer: its readings cannot be explained")
        regions, _ = feature_regions(predictor.feature_set)
        order = np.argsort(regions, kind="stable")
        self._order = order[regions[order] != NONE]  # region by region; the values of no region are never put back
        self._bounds = np.searchsorted(regions[self._order], np.arange(len(REGIONS) + 1)).tolist()
        self._weight = np.ascontiguousarray(first.weight[self._order])
        self._first, self._rest = first, rest
        self.labels = list(predictor.labels)

    def effects(self, features: np.ndarray, delta: np.ndarray, label: int) -> tuple[float, float, np.ndarray]:
        """The label's probability, that with every region at its neutral, and how much lower it is with each region
        at its neutral (one value per region of :data:`REGIONS`).

        ``features`` is what the model read; ``delta`` how far the face is from its neutral, in the same units.
        """
        change = np.asarray(delta, np.float32)[self._order]
        bounds = self._bounds
        with FORWARD_LOCK:  # large products, like a forward pass (see FORWARD_LOCK)
            parts = np.stack([change[a:b] @ self._weight[a:b] for a, b in zip(bounds[:-1], bounds[1:])])
            z = np.asarray(features, np.float32) @ self._first.weight + self._first.bias
            x = np.concatenate([z[None], z - parts.sum(axis=0, keepdims=True), z - parts])  # read, all neutral, each
            x = ACTIVATIONS[self._first.activation](x)
            for step in self._rest:
                x = step(x)
        p = x[:, label]
        return float(p[0]), float(p[1]), p[0] - p[2:]

    def explain(self, features: np.ndarray, delta: np.ndarray, label: int, reference: str) -> Explanation:
        """The explanation of reading ``labels[label]`` for a face (see :meth:`effects`)."""
        probability, at_neutral, drops = self.effects(features, delta, label)
        return Explanation(
            self.labels[label],
            probability,
            at_neutral,
            reference,
            {REGIONS[r]: float(drops[r]) for r in np.argsort(-drops, kind="stable")},
            tuple(describe_movements(np.asarray(delta)[:N_FEATURES])),
        )


_EXPLAINERS: weakref.WeakKeyDictionary[Predictor, Explainer] = weakref.WeakKeyDictionary()


def explainer_of(predictor: object) -> Explainer:
    """The explainer of a NumPy engine, made once: its reordered copy of the first layer is as large as the layer,
    and the readers of one model (the web page's tabs) share it."""
    if not isinstance(predictor, Predictor):
        raise ExplanationError(f"only the NumPy engine's readings can be explained, not {type(predictor).__name__}'s")
    if predictor not in _EXPLAINERS:
        _EXPLAINERS[predictor] = Explainer(predictor)
    return _EXPLAINERS[predictor]
