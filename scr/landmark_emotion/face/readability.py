"""Faces the model cannot read: upside down, or turned far beyond what it was trained on.

The face mesh fits an upright face onto whatever it finds, an upside-down one included (it
reports a few degrees of roll for a face turned 180°), so the landmarks cannot tell. The
aligned 64x64 face can: its appearance descriptor (:mod:`landmark_emotion.face.appearance`)
of an upside-down face looks like no upright one. One logistic unit on that descriptor
(``score = descriptor · weight + bias``), fitted on upright faces against the same photos
turned 150° to 210°, says which faces to answer "uncertain" for; its threshold is the highest
score of the upright faces of the people kept out of fitting (it fires on 0.29% of AffectNet's
test faces, on 97-98% of faces turned 135-180°). It is package data (``readability.npz``: plain arrays, no
pickle), fitted by ``benchmarks/unreadable.py`` on muxspace/facial_expressions (Apache-2.0),
and checked whole when it loads: its SHA-256, then each array's shape and values.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from landmark_emotion.errors import LandmarkEmotionError
from landmark_emotion.face.appearance import N_DESCRIPTOR

UNIT_FILE = Path(__file__).resolve().parent / "readability.npz"
UNIT_SHA256 = "0c2b16f70fd761a223f3a0b1af742b7218fd4ed6fb0bfa1577aaa49f98b6ffee"
"""The SHA-256 of the shipped unit: any other content is refused."""
REASON = "cannot read this face: upside down or turned too far"
"""What a face the unit flags says, beside its "uncertain" label (the log's ``unreadable``, the page, the video)."""


class ReadabilityError(LandmarkEmotionError, ValueError):
    """The readability unit is missing, changed or malformed."""


@dataclass(frozen=True)
class Readability:
    """The unit: faces whose appearance descriptor scores above ``threshold`` cannot be read."""

    weight: np.ndarray
    bias: float
    threshold: float

    def scores(self, descriptors: np.ndarray) -> np.ndarray:
        """(n, N_DESCRIPTOR) appearance descriptors -> (n,) scores; higher: less like an upright face."""
        return np.asarray(descriptors, np.float64) @ self.weight + self.bias

    def unreadable(self, descriptors: np.ndarray) -> np.ndarray:
        """(n,) True for each face that should read "uncertain" with :data:`REASON`."""
        return self.scores(descriptors) > self.threshold

    def to_bytes(self) -> bytes:
        """The ``.npz`` content (written once by the fitting benchmark)."""
        buffer = io.BytesIO()
        np.savez(
            buffer,
            weight=self.weight.astype(np.float32),
            bias=np.float32(self.bias),
            threshold=np.float32(self.threshold),
        )
        return buffer.getvalue()


def load_readability(path: Path = UNIT_FILE, sha256: str | None = UNIT_SHA256) -> Readability:
    """The unit in ``path``, refused with one line unless its content has the expected ``sha256`` (None: any) and
    its arrays the expected shapes and finite values."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ReadabilityError(f"the readability unit {path} cannot be read ({exc.strerror}); reinstall") from None
    if sha256 is not None and hashlib.sha256(content).hexdigest() != sha256:
        raise ReadabilityError(f"the readability unit {path} was changed; reinstall the package")
    try:
        with np.load(io.BytesIO(content), allow_pickle=False) as data:
            weight = np.asarray(data["weight"], np.float64)
            bias, threshold = float(data["bias"]), float(data["threshold"])
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as exc:
        raise ReadabilityError(f"the readability unit {path} is malformed ({exc})") from None
    if weight.shape != (N_DESCRIPTOR,) or not np.all(np.isfinite([*weight, bias, threshold])):
        raise ReadabilityError(f"the readability unit {path} is malformed (weight of shape {weight.shape})")
    return Readability(weight, bias, threshold)


@lru_cache(maxsize=1)
def shipped_readability() -> Readability:
    """The package's unit, read and checked once per process."""
    return load_readability()
