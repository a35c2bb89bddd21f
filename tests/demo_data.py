"""Data for the demo's tests: frames made from the real face photo.

The photo's face fills only a fifth of it, too small for Face Mesh's detector when two
copies share a frame, so the face is cropped first.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SIZE = (640, 300)
TILE = 240


def scene(photo: np.ndarray, lefts: list[int], top: int = 30) -> np.ndarray:
    """A 640x300 frame with a copy of the face (cropped, 240 px) at each x in ``lefts``."""
    canvas = np.full((SIZE[1], SIZE[0], 3), 90, np.uint8)
    tile = cv2.resize(photo[20:300, 110:390], (TILE, TILE))
    for i, x in enumerate(lefts):
        canvas[top : top + TILE, x : x + TILE] = tile if i % 2 == 0 else tile[:, ::-1]  # every other one mirrored
    return canvas


def write_video(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (frames[0].shape[1], frames[0].shape[0]))
    for image in frames:
        writer.write(image)
    writer.release()
    return path


def count_frames(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    n = 0
    while capture.read()[0]:
        n += 1
    capture.release()
    return n
