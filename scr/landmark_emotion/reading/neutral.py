"""Each face track's neutral reference in a stream: captured on request, a personal model's, or estimated.

The per-track side of calibration (:mod:`landmark_emotion.model.calibration` has the arithmetic
and the references a model carries): which reference a face is read against, frame by frame,
and where it came from, for the demo's ``n`` key, the web page's button and ``--calibrate auto``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from landmark_emotion.model.calibration import NEUTRAL, CalibrationError, References, calibrate, neutral_mean

CAPTURE_FRAMES = 30
"""Frames averaged when the user says "this is my neutral face": about a second of video."""
AUTO_PRIOR_FRAMES = 60.0
"""In ``auto`` mode the population neutral counts as this many frames of the face, so a new track starts there."""
AUTO_WINDOW = 900.0
"""In ``auto`` mode the running mean forgets frames older than about this many (~30 s at 30 fps)."""
ESTIMATING_FRAMES = int(AUTO_PRIOR_FRAMES)
"""An ``auto`` estimate says "estimating" until the face's own frames weigh as much as the population's prior."""
REST_SHARE = 0.2
"""The share of a face's recent frames, the most neutral ones, that say how it looks at rest."""
REST_FLOOR = 0.25
"""...and only frames the model reads at least this neutral: a face that smiles throughout has no rest frames."""
REST_MIN_FRAMES = 30
"""Frames seen before the resting expression counts (a second of video)."""


def capture_started(track: int) -> str:
    """What the demo and the web page tell the user when a neutral capture starts."""
    return f"face {track}: hold a neutral face for a second, it becomes the face's reference"


def capture_unfinished(track: int) -> str:
    """What they tell the user when that face is lost before the capture is done (nothing was taken)."""
    return f"face {track} left the view before its neutral reference was taken; face the camera and try again"


EXPRESSIVE_CAPTURE = 0.9
"""A neutral reference the model reads as one expression at least this probable was most likely taken mid-smile
(or mid-frown), and the user is told. Of faces labelled neutral, read uncalibrated, this flags 0.2% of AffectNet's
valid split, 3% of CK+'s and 20% of JAFFE's; of smiles, 62%, 99% and 55%."""


def capture_expressive(track: int, label: str, probability: float) -> str:
    """What they tell the user when a reference just taken reads as an expression (it is kept: some faces at rest
    do read so)."""
    return (
        f"face {track}: the neutral reference taken reads {label} ({probability:.0%}); "
        "if the face was not at rest, take it again"
    )


class RunningNeutral:
    """A track's neutral estimated from its own frames (``--calibrate auto``).

    The estimate is a running mean that starts at the population neutral (worth
    ``prior`` frames, so a few frames cannot move it far) and forgets frames older than
    about ``window``; each frame's step is clipped per feature to three running spreads,
    so a blink moves it less than a resting face. It is fed each frame with the
    expression the model reads in it taken out (:class:`TrackReferences`): a mean of the
    frames themselves became, within seconds, whatever expression the face held.
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


class RestingExpression:
    """How a face looks at rest, as the model reads it: the mean probabilities of its most neutral recent frames.

    Some faces look sad or angry at rest to a model trained on other people; taking out of
    every frame the expression the model reads in it (:class:`TrackReferences`) keeps that
    look. Among the last ``window`` frames, those the model reads most neutral (the top
    :data:`REST_SHARE`, and at least :data:`REST_FLOOR` neutral) say how the face looks at
    rest; that look (neutral's own share left out) is taken as part of its neutral. A
    face holding one expression throughout has no such frames, so it keeps its expression.
    """

    def __init__(self, neutral: int, window: int = int(AUTO_WINDOW)):
        self.neutral = neutral
        self.seen: deque[np.ndarray] = deque(maxlen=window)

    def update(self, probabilities: np.ndarray) -> np.ndarray | None:
        """Add a frame's (uncalibrated) probabilities; the resting look's probabilities, or None while there is none."""
        self.seen.append(np.asarray(probabilities, np.float64))
        if len(self.seen) < REST_MIN_FRAMES:
            return None
        seen = np.stack(self.seen)
        neutral = seen[:, self.neutral]
        rest = seen[neutral >= max(np.quantile(neutral, 1 - REST_SHARE), REST_FLOOR)]
        if not len(rest):
            return None
        look = rest.mean(axis=0)
        look[self.neutral] = 0.0
        return look


@dataclass(frozen=True)
class Expressions:
    """What the ``auto`` estimate needs of a model: ``read``, its probabilities of faces read uncalibrated ((n, d)
    feature vectors -> (n, k)); ``directions``, per label the shift its expression adds to a neutral face ((k, d):
    :func:`landmark_emotion.model.calibration.expression_directions`); ``neutral``, the neutral label's index."""

    read: Callable[[np.ndarray], np.ndarray]
    directions: np.ndarray
    neutral: int

    @classmethod
    def of(
        cls, read: Callable[[np.ndarray], np.ndarray], labels: Sequence[str], directions: np.ndarray | None
    ) -> Expressions | None:
        """A model's: ``read`` its probabilities of ``labels``; None without directions or a neutral label (no
        estimate is made then)."""
        if directions is None or NEUTRAL not in labels:
            return None
        return cls(read, directions, list(labels).index(NEUTRAL))


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
    rest: RestingExpression | None = None
    applied: tuple[str, np.ndarray] | None = None
    """Where the reference of the track's last frame came from, and that reference (None: read uncalibrated)."""


class TrackReferences:
    """Each face track's neutral reference and where it came from, applied to that track's feature vectors.

    A reference taken on request (:meth:`start_capture`) wins over a personal bundle's
    neutral, which wins over the ``auto`` estimate. A track that is lost loses its
    reference with it (a returning face is a new track: it may be someone else).

    The ``auto`` estimate needs ``expressions``: each frame feeds the track's
    :class:`RunningNeutral` with the expression the model reads in the frame (read
    uncalibrated) taken out, so that a held smile is not learnt as the face at rest; the
    face's :class:`RestingExpression` is added back. Without it (a model that keeps no
    sample of its training data) no estimate is made.
    """

    def __init__(self, references: References | None, mode: str = "neutral", expressions: Expressions | None = None):
        if mode not in MODES:
            raise CalibrationError(f"calibration mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.population = None if references is None else references.population
        self.personal = None if references is None else references.person
        self.mode = mode if self.population is not None else "off"
        self.available = references is not None
        self.expressions = expressions
        self._tracks: dict[int, _Track] = {}
        self.taken: list[tuple[int, np.ndarray]] = []
        """The references taken on request that the last :meth:`apply` finished: (track, reference)."""

    def require(self) -> None:
        """Raise :class:`CalibrationError` saying why, if faces cannot be calibrated."""
        if self.mode == "off":
            raise CalibrationError(
                "calibration is off (--calibrate off)"
                if self.available
                else "this model has no population neutral (it was trained without neutral faces, "
                "or before calibration existed): it cannot be calibrated"
            )

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

    def neutral(self, track: int) -> tuple[str, np.ndarray] | None:
        """The neutral reference the track's last frame was read against, and where it came from (``personal``,
        ``captured``, ``estimating`` or ``auto``); None when it was read uncalibrated. What an explanation measures
        changes from."""
        state = self._tracks.get(track)
        return None if state is None else state.applied

    def apply(self, tracks, features: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Calibrated feature vectors of the faces of one frame, and how each was calibrated.

        How: ``off`` (no calibration, or a model without a population neutral), ``none``
        (no reference for this face yet), ``capturing`` (a reference is being taken; the
        face is read as before meanwhile), ``captured`` (taken on request), ``personal``
        (the personal bundle's neutral), ``estimating`` (an ``auto`` estimate still mostly
        the population's, for the first :data:`ESTIMATING_FRAMES` frames) or ``auto``
        (estimated from the face's frames). :meth:`neutral` tells the reference each track was read against.
        """
        self.taken = []
        population = self.population
        if self.mode == "off" or population is None:  # no population neutral: the mode is off
            return features, ["off"] * len(tracks)
        out, how = np.array(features, np.float32, copy=True), []
        read = self._read(tracks, features)
        for row, track in enumerate(tracks):
            state = self._tracks.setdefault(track, _Track())
            reference, source = state.reference, state.source
            if reference is None and self.personal is not None:
                reference, source = self.personal, "personal"
            if reference is None and self.expressions is not None and row in read:
                reference, source = self._estimate(state, features[row], read[row], self.expressions)
            state.applied = None if reference is None else (source, reference)
            if state.captured is not None:
                state.captured.append(np.asarray(features[row], np.float32))
                source = "capturing"
                if len(state.captured) >= state.capture_frames:
                    state.reference, state.source = neutral_mean(np.stack(state.captured)), "captured"
                    state.captured = None
                    self.taken.append((track, state.reference))
            if reference is not None:
                out[row] = calibrate(features[row], reference, population)
            how.append(source)
        return out, how

    def _estimate(
        self, state: _Track, features: np.ndarray, probabilities: np.ndarray, expressions: Expressions
    ) -> tuple[np.ndarray, str]:
        """A track's ``auto`` reference after one more frame: its neutral face, expressions left out, plus its
        resting look; and ``estimating`` or ``auto``."""
        assert self.population is not None
        state.running = state.running or RunningNeutral(self.population)
        state.rest = state.rest or RestingExpression(expressions.neutral)
        reference = state.running.update(features - probabilities @ expressions.directions)
        look = state.rest.update(probabilities)
        if look is not None:
            reference = reference + (look @ expressions.directions).astype(np.float32)
        return reference, "auto" if state.running.frames > ESTIMATING_FRAMES else "estimating"

    def _read(self, tracks, features: np.ndarray) -> dict[int, np.ndarray]:
        """The uncalibrated probabilities of the faces the ``auto`` estimate follows this frame, by row (one call)."""
        if self.mode != "auto" or self.expressions is None:
            return {}
        rows = [
            row
            for row, track in enumerate(tracks)
            if self.personal is None and (track not in self._tracks or self._tracks[track].reference is None)
        ]
        if not rows:
            return {}
        return dict(zip(rows, self.expressions.read(np.asarray(features, np.float32)[rows]).astype(np.float64)))
