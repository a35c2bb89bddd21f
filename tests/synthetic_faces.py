"""Synthetic landmark tables for model tests: the canonical face with class-specific expressions.

Each class moves the canonical face's vertices by its own fixed pattern; each person adds
their own face shape; each sample adds noise and a random head pose, position and size,
and is put into MediaPipe's normalized image coordinates. A classifier can only learn
the classes from the expression patterns, through the same normalization as real faces.
"""

from __future__ import annotations

import numpy as np

from landmark_emotion.data.table import LandmarkTable
from landmark_emotion.face.canonical import CANONICAL_VERTICES

SIZE = 480
_rng = np.random.default_rng(1234)
PATTERNS = {
    label: _rng.normal(0, 0.3, (468, 3))
    for label in ("neutral", "happy", "sad", "surprise", "fear", "disgust", "angry", "contempt")
}


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ rx @ ry


def faces(label: str, n: int, rng: np.random.Generator, person: np.ndarray | None = None) -> np.ndarray:
    """(n, 468, 3) MediaPipe-like landmarks of one expression."""
    shape = np.asarray(CANONICAL_VERTICES) + PATTERNS[label] + (0 if person is None else person)
    out = np.empty((n, 468, 3), np.float32)
    for i in range(n):
        rot = _rotation(*rng.uniform(-0.25, 0.25, 3))
        points = (shape + rng.normal(0, 0.1, shape.shape)) @ rot.T * rng.uniform(8, 14)  # cm -> pixels
        points[:, :2] += rng.uniform(150, 330, 2)
        out[i] = points / SIZE
    return out


def make_table(counts: dict[str, int], people: int = 6, seed: int = 0) -> LandmarkTable:
    """A table with ``counts[label]`` samples per label, spread over ``people`` named groups."""
    rng = np.random.default_rng(seed)
    shapes = [rng.normal(0, 0.15, (468, 3)) for _ in range(people)]
    landmarks, labels, groups = [], [], []
    for label, n in counts.items():
        owners = np.arange(n) % people
        for p in range(people):
            k = int(np.sum(owners == p))
            if k:
                landmarks.append(faces(label, k, rng, shapes[p]))
                labels += [label] * k
                groups += [f"person{p}"] * k
    n = len(labels)
    return LandmarkTable(
        np.concatenate(landmarks),
        [SIZE] * n,
        [SIZE] * n,
        labels,
        [f"img{i}.jpg" for i in range(n)],
        groups,
        {"source": "synthetic"},
    )
