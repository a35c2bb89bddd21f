"""The faces of one photo, for tests: a face mesh opened and closed around one call; a photo of a small group; the
landmarkers this machine has."""

from __future__ import annotations

from importlib import metadata

import cv2
import numpy as np
import pytest

from landmark_emotion.face.landmarker import Detection
from landmark_emotion.face.mesh import FaceMesh, Mode

LEGACY_INSTALLED = metadata.version("mediapipe").startswith("0.")
LANDMARKERS = [pytest.param("legacy", marks=pytest.mark.skipif(not LEGACY_INSTALLED, reason="mediapipe >= 1")), "tasks"]
"""Each landmarker, as a test's parameter: the legacy Face Mesh is skipped where mediapipe has none (Python 3.13)."""


def detect(image_bgr: np.ndarray, max_faces: int = 1, landmarker: str | None = None) -> Detection:
    """Landmarks of up to ``max_faces`` faces in one photo."""
    with FaceMesh(Mode.IMAGE, max_faces, landmarker=landmarker) as mesh:
        return mesh(image_bgr)


def four_in_a_row(astronaut: np.ndarray) -> np.ndarray:
    """Four small faces in a 640x240 strip (the face and its mirror, twice): each 10% of the strip, near the floor of
    the whole-image pass, which finds one of them."""
    face = cv2.resize(astronaut[40:300, 140:360], (150, 177), interpolation=cv2.INTER_AREA)
    strip = np.full((240, 640, 3), 30, np.uint8)
    for k, x in enumerate((20, 170, 320, 470)):
        strip[40:217, x : x + 150] = face if k % 2 == 0 else face[:, ::-1]
    return strip
