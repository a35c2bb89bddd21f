"""Per-face temporal smoothing of class probabilities, so a steady face gives a steady label.

A classifier looking at one frame at a time flickers between close classes. Each
face keeps an exponential moving average (EMA) of its probabilities over the last
few frames, and its label only moves to another class once that class has led the
current one by a margin for a few frames in a row (hysteresis): noise around a tie,
or one odd frame while the average passes from one expression to the next, does not
flip the label, while a real change of expression overtakes it within a few frames.
Defaults are chosen in benchmarks/realtime.py on noisy synthetic sequences.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from landmark_emotion.errors import InputError

WINDOW = 8  # frames averaged (about a quarter of a second at 30 fps)
MARGIN = 0.05  # lead another class needs over the current label...
CONFIRM = 3  # ...for this many frames in a row to take over


def ema_alpha(frames: float) -> float:
    """EMA weight of the newest frame for an average over about ``frames`` frames (1 or less: no smoothing)."""
    return 1.0 if frames <= 1 else 2.0 / (frames + 1.0)


class ProbabilitySmoother:
    """The smoothed probabilities and label of one face."""

    def __init__(self, alpha: float, margin: float = MARGIN, confirm: int = CONFIRM):
        if not 0.0 < alpha <= 1.0:
            raise InputError(f"alpha must be in (0, 1], got {alpha}")
        self.alpha = alpha
        self.margin = margin
        self.confirm = confirm
        self.probs: np.ndarray | None = None
        self.label = -1
        self._challenger, self._streak = -1, 0

    def update(self, probs: np.ndarray) -> tuple[np.ndarray, int]:
        """Add one frame's probabilities (k,); return the smoothed probabilities and the label index."""
        probs = np.asarray(probs, dtype=np.float32)
        if self.probs is None:
            self.probs = probs.copy()
        else:
            self.probs += self.alpha * (probs - self.probs)
        best = int(self.probs.argmax())
        if self.label < 0:
            self.label = best
        elif best != self.label and self.probs[best] > self.probs[self.label] + self.margin:
            self._streak = self._streak + 1 if best == self._challenger else 1
            self._challenger = best
            if self._streak >= self.confirm:
                self.label, self._challenger, self._streak = best, -1, 0
        else:
            self._challenger, self._streak = -1, 0
        return self.probs, self.label


class TrackSmoothers:
    """One :class:`ProbabilitySmoother` per face track, so smoothing never mixes two people."""

    def __init__(self, frames: float = WINDOW, margin: float = MARGIN, confirm: int = CONFIRM):
        self.alpha = ema_alpha(frames)
        off = frames <= 1  # no smoothing: every frame's own best class, no hysteresis either
        self.margin, self.confirm = (0.0, 1) if off else (margin, confirm)
        self._by_track: dict[int, ProbabilitySmoother] = {}

    def update(self, tracks: Sequence[int], probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Smooth each face's row of ``probs`` (n, k) with its track's history; return (n, k) probs and (n,) labels."""
        smoothed = np.empty_like(probs, dtype=np.float32)
        labels = np.empty(len(tracks), dtype=np.intp)
        for row, track in enumerate(tracks):
            smoother = self._by_track.get(track)
            if smoother is None:
                smoother = self._by_track[track] = ProbabilitySmoother(self.alpha, self.margin, self.confirm)
            smoothed[row], labels[row] = smoother.update(probs[row])
        return smoothed, labels

    def keep_only(self, tracks: Iterable[int]) -> None:
        """Forget the history of tracks that are gone (a returning face starts afresh)."""
        alive = set(tracks)
        for track in [t for t in self._by_track if t not in alive]:
            del self._by_track[track]

    def __len__(self) -> int:
        return len(self._by_track)
