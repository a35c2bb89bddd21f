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
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import LandmarkEmotionError

NEUTRAL = "neutral"
REFERENCE_FILE = "neutral.npz"
CAPTURE_FRAMES = 30
"""Frames averaged when the user says "this is my neutral face": about a second of video."""
AUTO_PRIOR_FRAMES = 60.0
"""In ``auto`` mode the population neutral counts as this many frames of the face, so a new track starts there."""
AUTO_WINDOW = 900.0
"""In ``auto`` mode the running mean forgets frames older than about this many (~30 s at 30 fps)."""


def capture_started(track: int) -> str:
    """What the demo and the web page tell the user when a neutral capture starts."""
    return f"face {track}: hold a neutral face for a second, it becomes the face's reference"


def capture_unfinished(track: int) -> str:
    """What they tell the user when that face is lost before the capture is done (nothing was taken)."""
    return f"face {track} left the view before its neutral reference was taken; face the camera and try again"


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
        meta = {"feature_version": self.feature_version, "n_features": int(len(self.population)),
                "population_n": int(self.population_n), "person_n": int(self.person_n)}
        buffer = io.BytesIO()
        np.savez(buffer, meta=np.array(json.dumps(meta)), **arrays)
        return buffer.getvalue()

    def with_person(self, person: np.ndarray, n: int) -> "References":
        return References(self.population, self.feature_version, self.population_n,
                          np.asarray(person, np.float32), int(n))


def load_references(path: str | Path, feature_version: str, n_features: int) -> References:
    """Read ``neutral.npz``, refusing one of another feature version or length with one clear message."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            population = np.asarray(data["population"], np.float32)
            person = np.asarray(data["person"], np.float32) if "person" in data.files else None
        version = meta["feature_version"]
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as exc:
        raise CalibrationError(f"unreadable neutral reference {path} ({exc})") from None
    if version != feature_version:
        raise CalibrationError(f"neutral reference {path} was computed on features {version!r}, but the model "
                               f"takes {feature_version!r}; record or compute it again")
    for name, vector in (("population", population), ("person", person)):
        if vector is not None and (vector.shape != (n_features,) or not np.all(np.isfinite(vector))):
            raise CalibrationError(f"neutral reference {path}: the {name} neutral has shape {vector.shape}, but the "
                                   f"model takes {n_features} finite features; record or compute it again")
    return References(population, version, int(meta.get("population_n", 0)), person, int(meta.get("person_n", 0)))


class RunningNeutral:
    """A track's neutral estimated from its own frames (``--calibrate auto``): people are mostly at rest.

    The estimate is a running mean that starts at the population neutral (worth
    ``prior`` frames, so a few frames cannot move it far) and forgets frames older than
    about ``window``; each frame's step is clipped per feature to three running spreads,
    so a blink or a laugh moves it less than a resting face.
    """

    def __init__(self, population: np.ndarray, prior: float = AUTO_PRIOR_FRAMES, window: float = AUTO_WINDOW):
        self.mean = np.asarray(population, np.float64).copy()
        self.spread = np.zeros_like(self.mean)
        self.weight = float(prior)
        self.window = float(window)
        self.frames = 0

    def update(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, np.float64)
        self.frames += 1
        self.weight = min(self.weight + 1.0, self.window)
        step = x - self.mean
        if self.frames > 10:
            limit = 3.0 * self.spread + 1e-6
            step = np.clip(step, -limit, limit)
        self.mean += step / self.weight
        self.spread += (np.abs(step) - self.spread) / min(self.frames, self.window)
        return self.mean.astype(np.float32)


MODES = ("neutral", "auto", "off")
"""``neutral``: a personal bundle's neutral, or one taken on request; ``auto``: also estimated from the frames;
``off``: never calibrate."""


@dataclass
class _Track:
    reference: np.ndarray | None = None
    source: str = "none"
    captured: list[np.ndarray] | None = None
    capture_frames: int = 0
    running: RunningNeutral | None = None


class TrackReferences:
    """Each face track's neutral reference and where it came from, applied to that track's feature vectors.

    A reference taken on request (:meth:`start_capture`) wins over a personal bundle's
    neutral, which wins over the ``auto`` estimate. A track that is lost loses its
    reference with it (a returning face is a new track: it may be someone else).
    """

    def __init__(self, references: References | None, mode: str = "neutral"):
        if mode not in MODES:
            raise CalibrationError(f"calibration mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.population = None if references is None else references.population
        self.personal = None if references is None else references.person
        self.mode = mode if self.population is not None else "off"
        self.available = references is not None
        self._tracks: dict[int, _Track] = {}

    def require(self) -> None:
        """Raise :class:`CalibrationError` saying why, if faces cannot be calibrated."""
        if self.mode == "off":
            raise CalibrationError("calibration is off (--calibrate off)" if self.available else
                                   "this model has no population neutral (it was trained without neutral faces, "
                                   "or before calibration existed): it cannot be calibrated")

    def start_capture(self, track: int, frames: int = CAPTURE_FRAMES) -> None:
        """Average the track's next ``frames`` feature vectors into its reference."""
        self.require()
        if frames < 1:
            raise CalibrationError(f"a neutral reference needs at least one frame, got {frames}")
        state = self._tracks.setdefault(track, _Track())
        state.captured, state.capture_frames = [], int(frames)

    def clear(self, track: int | None = None) -> None:
        """Forget the references taken on request (of one track, or of all): back to personal/auto/none."""
        for key in [track] if track is not None else list(self._tracks):
            self._tracks.pop(key, None)

    def keep_only(self, tracks) -> list[int]:
        """Forget the tracks not in ``tracks``; returns those of them whose capture was unfinished."""
        alive = set(tracks)
        unfinished = []
        for track in [t for t in self._tracks if t not in alive]:
            if self._tracks.pop(track).captured is not None:
                unfinished.append(track)
        return unfinished

    def capturing(self, track: int) -> bool:
        state = self._tracks.get(track)
        return bool(state and state.captured is not None)

    def apply(self, tracks, features: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Calibrated feature vectors of the faces of one frame, and how each was calibrated.

        How: ``off`` (no calibration, or a model without a population neutral), ``none``
        (no reference for this face yet), ``capturing`` (a reference is being taken; the
        face is read as before meanwhile), ``captured`` (taken on request), ``personal``
        (the personal bundle's neutral) or ``auto`` (estimated from the face's frames).
        """
        if self.mode == "off":
            return features, ["off"] * len(tracks)
        out, how = np.array(features, np.float32, copy=True), []
        for row, track in enumerate(tracks):
            state = self._tracks.setdefault(track, _Track())
            reference, source = state.reference, state.source
            if reference is None and self.personal is not None:
                reference, source = self.personal, "personal"
            if reference is None and self.mode == "auto":
                state.running = state.running or RunningNeutral(self.population)
                reference, source = state.running.update(features[row]), "auto"
            if state.captured is not None:
                state.captured.append(np.asarray(features[row], np.float32))
                source = "capturing"
                if len(state.captured) >= state.capture_frames:
                    state.reference, state.source = neutral_mean(np.stack(state.captured)), "captured"
                    state.captured = None
            if reference is not None:
                out[row] = calibrate(features[row], reference, self.population)
            how.append(source)
        return out, how


def person_references(features: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each face's reference for evaluation: the mean of the *other* neutral faces of the same person.

    A face is never its own reference (that would flatter every neutral face). Returns
    (n, n_features) references and a mask of the faces that have one; faces of a person
    with no other neutral face have none. Refuses a table that does not say who is who.
    """
    groups = np.asarray(groups, dtype=str)
    if not len(groups) or np.any(groups == ""):
        raise CalibrationError("the table does not say who is in each photo, so faces cannot be calibrated by "
                               "their own neutral; extract it with --group-pattern (e.g. '^(S\\d+)_' for CK+)")
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
