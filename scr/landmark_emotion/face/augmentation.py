"""A degraded copy of a face photo, for training: the same face as another camera, light or landmarker shows it.

AffectNet's faces are small colour web crops; the faces a model meets elsewhere are larger, sharper or blurred,
noisy, JPEG-compressed, lit otherwise, and aligned by a landmarker that jitters. A training photo's copy with
a few of these changes, described by :func:`~landmark_emotion.face.appearance.describe` like any face, shows the
network what does not change an expression (issue #25: measured by ``benchmarks/cross_dataset.py``).
Grayscale needs no copy: the aligned crop is grayscale already.

Strengths are in pixels of the aligned 64x64 crop, so a 96-pixel and a 500-pixel face change alike. The
landmarks are not read again from the degraded photo: they are the photo's own, moved by a small random
similarity, which moves the crop as a landmarker's error would.
"""

from __future__ import annotations

import cv2
import numpy as np

from landmark_emotion.face.appearance import alignment

JITTER_DEGREES, JITTER_SCALE, JITTER_SHIFT = 4.0, 0.04, 0.03
"""The landmarks' random similarity: at most this rotation, relative scale change, and shift (share of the face)."""


def crop_scale(landmarks: np.ndarray, width: int, height: int) -> float:
    """Image pixels per pixel of the face's aligned crop."""
    transform = alignment(landmarks, width, height)
    return 1.0 / float(np.hypot(transform[0, 0], transform[1, 0]))


def jitter_landmarks(landmarks: np.ndarray, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """The landmarks moved by a random similarity about their centre (:data:`JITTER_DEGREES`, ...), still as
    fractions of the image; z scales with x and y."""
    points = np.asarray(landmarks, np.float64) * (width, height, width)
    centre = points[:, :2].mean(axis=0)
    size = np.sqrt(((points[:, :2] - centre) ** 2).sum(axis=1).mean())
    angle = np.radians(rng.uniform(-JITTER_DEGREES, JITTER_DEGREES))
    scale = 1.0 + rng.uniform(-JITTER_SCALE, JITTER_SCALE)
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points[:, :2] = (points[:, :2] - centre) @ rotation.T + centre + rng.uniform(-JITTER_SHIFT, JITTER_SHIFT, 2) * size
    points[:, 2] *= scale
    return (points / (width, height, width)).astype(np.float32)


def degrade(image_bgr: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A randomly degraded copy of a photo (BGR uint8) and its face's jittered landmarks.

    Each change is drawn with its own probability, so a copy gets a few: a lower-resolution source (0.4-0.9
    image pixels per crop pixel, and back), blur (0.3-1.2 crop pixels), contrast (0.6-1.4) and brightness
    (+-30 grey levels), gamma (0.6-1.6), sensor noise (2-8 grey levels), JPEG (quality 20-80).
    """
    height, width = image_bgr.shape[:2]
    per_crop_pixel = crop_scale(landmarks, width, height)
    image = image_bgr.astype(np.float32)
    if rng.random() < 0.5:
        factor = min(1.0, rng.uniform(0.4, 0.9) / per_crop_pixel)
        if factor < 1.0:
            small = cv2.resize(
                image, (max(8, round(width * factor)), max(8, round(height * factor))), interpolation=cv2.INTER_AREA
            )
            image = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    if rng.random() < 0.3:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.2) * per_crop_pixel)
    if rng.random() < 0.6:
        mean = image.mean()
        image = (image - mean) * rng.uniform(0.6, 1.4) + mean + rng.uniform(-30, 30)
    if rng.random() < 0.5:
        image = 255.0 * (np.clip(image, 0, 255) / 255.0) ** np.exp(rng.uniform(np.log(0.6), np.log(1.6)))
    if rng.random() < 0.3:
        image = image + rng.normal(0, rng.uniform(2, 8) * max(1.0, per_crop_pixel) ** 0.5, image.shape)
    out = np.clip(image, 0, 255).astype(np.uint8)
    if rng.random() < 0.4:
        ok, encoded = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 80))])
        if ok:
            out = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    return out, jitter_landmarks(landmarks, width, height, rng)
