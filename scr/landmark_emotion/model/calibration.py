"""Neutral-face calibration: read a face relative to that person's own face at rest.

Faces differ more between people than one face differs between expressions: a model
that has never seen your face at rest takes a downturned mouth for sadness. Shifting a
person's feature vectors so that their neutral face lands on the population's neutral,

    x' = x - neutral(person) + neutral(population),

removes most of that without retraining. This module is the one place that does it; it
works on whatever vector the feature pipeline gives the model (before the model's scaler),
whatever its length.

A bundle keeps its references in ``neutral.npz`` (plain arrays, no pickles): ``population``
(the mean training features of its neutral faces) and, in a personal bundle, ``person``
(the user's recorded neutral), with the feature version and length they were computed with.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from landmark_emotion.errors import LandmarkEmotionError
from landmark_emotion.inputs import NPZ_ERRORS, parse_json

NEUTRAL = "neutral"
REFERENCE_FILE = "neutral.npz"


class CalibrationError(LandmarkEmotionError, ValueError):
    """A reference that cannot be used: another feature version or length, none to calibrate with, no face."""


def calibrate(features: np.ndarray, person: np.ndarray, population: np.ndarray) -> np.ndarray:
    """``features - person + population``: one person's faces moved so that their neutral is everyone's.

    ``features`` is (n_features,) or (n, n_features); ``person`` broadcasts against it (one
    reference for all rows, or one row per face).
    """
    features = np.asarray(features, np.float32)
    return (features + (np.asarray(population, np.float32) - np.asarray(person, np.float32))).astype(np.float32)


def neutral_mean(features: np.ndarray) -> np.ndarray:
    """The reference of a set of neutral faces: their mean feature vector."""
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or not len(features):
        raise CalibrationError("a neutral reference needs at least one neutral face")
    return features.mean(axis=0).astype(np.float32)


@dataclass(frozen=True)
class References:
    """A bundle's neutral references: the population's and, in a personal bundle, the user's."""

    population: np.ndarray
    feature_version: str
    population_n: int = 0
    """How many faces the population neutral is the mean of."""
    person: np.ndarray | None = None
    person_n: int = 0

    def to_bytes(self) -> bytes:
        """The ``neutral.npz`` file's content (a bundle writes it like any other file)."""
        arrays = {"population": np.asarray(self.population, np.float32)}
        if self.person is not None:
            arrays["person"] = np.asarray(self.person, np.float32)
        meta = {
            "feature_version": self.feature_version,
            "n_features": int(len(self.population)),
            "population_n": int(self.population_n),
            "person_n": int(self.person_n),
        }
        buffer = io.BytesIO()
        np.savez(buffer, meta=np.array(json.dumps(meta)), **arrays)
        return buffer.getvalue()

    def with_person(self, person: np.ndarray, n: int) -> References:
        return References(
            self.population, self.feature_version, self.population_n, np.asarray(person, np.float32), int(n)
        )


def load_references(path: str | Path, feature_version: str, n_features: int) -> References:
    """Read ``neutral.npz``, refusing one of another feature version or length with one clear message."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = parse_json(str(data["meta"]))
            population = np.asarray(data["population"], np.float32)
            person = np.asarray(data["person"], np.float32) if "person" in data.files else None
        version = meta["feature_version"]
    except (*NPZ_ERRORS, KeyError, TypeError) as exc:
        raise CalibrationError(f"unreadable neutral reference {path} ({exc})") from None
    if version != feature_version:
        raise CalibrationError(
            f"neutral reference {path} was computed on features {version!r}, but the model "
            f"takes {feature_version!r}; record or compute it again"
        )
    for name, vector in (("population", population), ("person", person)):
        if vector is not None and (vector.shape != (n_features,) or not np.all(np.isfinite(vector))):
            raise CalibrationError(
                f"neutral reference {path}: the {name} neutral has shape {vector.shape}, but the "
                f"model takes {n_features} finite features; record or compute it again"
            )
    return References(population, version, int(meta.get("population_n", 0)), person, int(meta.get("person_n", 0)))


def expression_directions(features: np.ndarray, labels: np.ndarray, classes: list[str]) -> np.ndarray | None:
    """(len(classes), d): each class's mean face minus the mean neutral face, from labelled feature vectors.

    ``probabilities @ directions`` is then the expression a model reads in a face, as a
    shift of its features; taking it out of each frame lets a running neutral follow the
    face at rest without learning a held expression. A class without samples moves nothing
    (a zero row). None when there is no neutral face to measure from.
    """
    features, labels = np.asarray(features, np.float64), np.asarray(labels)
    if not np.any(labels == NEUTRAL) or features.ndim != 2:
        return None
    neutral = features[labels == NEUTRAL].mean(axis=0)
    rows = [
        features[labels == name].mean(axis=0) - neutral if np.any(labels == name) else 0 * neutral for name in classes
    ]
    return np.stack(rows).astype(np.float32)


def person_references(features: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each face's reference for evaluation: the mean of the *other* neutral faces of the same person.

    A face is never its own reference (that would flatter every neutral face). Returns
    (n, n_features) references and a mask of the faces that have one; faces of a person
    with no other neutral face have none. Refuses a table that does not say who is who.
    """
    groups = np.asarray(groups, dtype=str)
    if not len(groups) or np.any(groups == ""):
        raise CalibrationError(
            "the table does not say who is in each photo, so faces cannot be calibrated by "
            "their own neutral; extract it with --group-pattern (e.g. '^(S\\d+)_' for CK+)"
        )
    features = np.asarray(features, np.float64)
    neutral = np.asarray(labels) == NEUTRAL
    names, person = np.unique(groups, return_inverse=True)
    sums = np.zeros((len(names), features.shape[1]))
    np.add.at(sums, person[neutral], features[neutral])
    counts = np.bincount(person[neutral], minlength=len(names)).astype(np.float64)
    own = neutral.astype(np.float64)
    others = counts[person] - own
    has = others > 0
    references = np.zeros_like(features)
    references[has] = (sums[person[has]] - features[has] * own[has, None]) / others[has, None]
    return references.astype(np.float32), has
