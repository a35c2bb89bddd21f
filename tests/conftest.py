"""Shared fixtures: a real face photo (NASA's public-domain ``astronaut``, the repository's sample) and its landmarks.

Its landmarks are found once per test session (opening a face mesh imports MediaPipe: seconds).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

DATA = Path(__file__).resolve().parent.parent / "datasets" / "samples"


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """A 512x512 BGR photo with one frontal face."""
    image = cv2.imread(str(DATA / "astronaut.jpg"), cv2.IMREAD_COLOR)
    assert image is not None
    return image


@pytest.fixture(scope="session")
def astronaut_faces(astronaut):
    from one_photo import detect

    faces = detect(astronaut)
    assert len(faces) == 1
    return faces
