"""The faces of one photo, for tests: a face mesh opened and closed around one call."""

from __future__ import annotations

import numpy as np

from landmark_emotion.face.landmarker import Detection
from landmark_emotion.face.mesh import FaceMesh, Mode


def detect(image_bgr: np.ndarray, max_faces: int = 1, landmarker: str | None = None) -> Detection:
    """Landmarks of up to ``max_faces`` faces in one photo."""
    with FaceMesh(Mode.IMAGE, max_faces, landmarker=landmarker) as mesh:
        return mesh(image_bgr)
