"""Data for the demo's tests and benchmark: frames made from the real face photo, and noisy probability sequences.

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


def noisy_sequence(rng: np.random.Generator, k: int = 7, hold: int = 30, segments: int = 12,
                   noise: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """A classifier's output on a face holding each of ``segments`` expressions for ``hold`` frames.

    Per frame: softmax of a bump of 1.6 on the true class plus Gaussian noise (``noise``
    0.8: the frame's best class is right ~75% of the time; 1.0: ~60%). Returns the true
    class per frame and the (frames, k) probabilities.
    """
    truth = [0]
    for _ in range(segments - 1):
        truth.append(int(rng.choice([c for c in range(k) if c != truth[-1]])))
    labels = np.repeat(truth, hold)
    logits = rng.normal(0, noise, (len(labels), k))
    logits[np.arange(len(labels)), labels] += 1.6
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return labels, probs.astype(np.float32)


def label_changes(labels: np.ndarray) -> int:
    return int(np.count_nonzero(np.diff(labels)))


def settle_frames(truth: np.ndarray, labels: np.ndarray, window: int = 30) -> list[int]:
    """For each change of ``truth``: frames until ``labels`` shows the new class and keeps it (window if never)."""
    out = []
    for start in np.flatnonzero(np.diff(truth)) + 1:
        held = labels[start : start + window] == truth[start]
        settle = int(np.argmax(held)) if held.any() else window
        out.append(settle if held[settle:].all() else window)
    return out
