"""Image + landmarks -> the appearance of the aligned face: a canonical crop and its descriptor.

Landmark geometry carries the shape of an expression but not its texture: the furrows
of disgust, the tension around the eyes in fear, a lowered lid in sadness. The
landmarks already say where every part of the face is, so one small warp puts the
face into a canonical 64x64 grayscale crop (eyes, nose and mouth always on the same
pixels) and two cheap descriptors read it:

- HOG of the whole crop (OpenCV's ``HOGDescriptor``, 7x7 blocks of 2x2 cells, 9 bins:
  1,764 values);
- small patches around 32 landmarks (brows, glabella, eyelids, eye and mouth corners,
  lips, nose wings, cheeks, chin), 6x6 pixels of the half-size crop each, normalised
  by their own mean and deviation (1,152 values): local texture, free of lighting.

A descriptor is a few thousand numbers from which the face cannot be redrawn; tables
and recordings store it instead of any picture. :func:`mirror_descriptors` maps the
descriptor of a face to that of its mirror image (for augmentation), so tables need
no second copy.
"""

from __future__ import annotations

import cv2
import numpy as np

from landmark_emotion.errors import InputError
from landmark_emotion.face.canonical import CANONICAL_VERTICES, MIRROR_PERMUTATION

APPEARANCE_VERSION = "crop64-hog-patch32-v1"
"""Bump whenever the crop or a descriptor changes; tables and bundles record it."""

CROP = 64
ALIGN_IDS = np.array([33, 133, 362, 263, 168, 6, 1, 61, 291])
"""Eye corners, nose bridge, nose tip and mouth corners: the points the crop is aligned on."""

_CENTER = np.array([0.0, 1.0])  # canonical units: the crop spans brows to chin, cheek to cheek
_SCALE = CROP / 16.0  # 16 canonical units (cm) across the crop
CANONICAL_IN_CROP = (np.asarray(CANONICAL_VERTICES)[:, :2] - _CENTER) * _SCALE + (CROP - 1) / 2.0
"""Where each landmark of the canonical face lands in the crop, in pixels: (468, 2)."""
_TARGET = CANONICAL_IN_CROP[ALIGN_IDS]

_LEFT_PATCH_IDS = (70, 105, 107, 33, 133, 159, 145, 129, 50, 216, 61, 84)
_MID_PATCH_IDS = (9, 6, 1, 0, 13, 14, 17, 152)
PATCH_IDS = np.array([*_LEFT_PATCH_IDS, *(MIRROR_PERMUTATION[i] for i in _LEFT_PATCH_IDS), *_MID_PATCH_IDS])
"""32 landmarks whose neighbourhood is described: left side, the same points on the right, the midline."""
PATCH = 6  # samples per side, on the half-size crop (12x12 pixels of the full crop)

_HOG = cv2.HOGDescriptor((CROP, CROP), (16, 16), (8, 8), (8, 8), 9)
HOG_LAYOUT = (7, 7, 2, 2, 9)
"""OpenCV's order of the HOG values: blocks along x, blocks along y, cells along x, cells along y, orientations."""
HOG_CELL = 8  # pixels per side of a cell; a block is 2x2 cells, one cell apart
N_HOG = int(np.prod(HOG_LAYOUT))
N_PATCH = len(PATCH_IDS) * PATCH * PATCH
N_DESCRIPTOR = N_HOG + N_PATCH

_OFFSETS = np.arange(PATCH, dtype=np.float32) - (PATCH - 1) / 2.0


def _mirror_index() -> np.ndarray:
    """Where each value of a mirrored face's descriptor comes from in the face's own descriptor."""
    hog = np.arange(N_HOG).reshape(HOG_LAYOUT)[::-1, :, ::-1, :, ::-1]  # blocks x, cells x, bins theta->pi-theta
    where = {int(i): k for k, i in enumerate(PATCH_IDS)}
    patches = np.arange(N_PATCH).reshape(len(PATCH_IDS), PATCH, PATCH)
    patches = patches[[where[MIRROR_PERMUTATION[i]] for i in PATCH_IDS]][:, :, ::-1]
    return np.concatenate([hog.ravel(), N_HOG + patches.ravel()])


_MIRROR = _mirror_index()


def hog_cell_centres() -> np.ndarray:
    """(N_HOG, 2): the centre, in crop pixels, of the cell each HOG value describes (what part of the face it reads)."""
    blocks_x, blocks_y, cells_x, cells_y, _ = np.meshgrid(*map(np.arange, HOG_LAYOUT), indexing="ij")
    cells = np.stack([blocks_x + cells_x, blocks_y + cells_y], axis=-1).reshape(N_HOG, 2)
    return cells * HOG_CELL + (HOG_CELL - 1) / 2.0


def alignment(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """The 2x3 similarity transform taking image pixels to the canonical crop (least squares on ALIGN_IDS)."""
    # landmark x * width is a continuous coordinate (pixel i spans [i, i+1)); OpenCV's pixel centres are integers
    src = np.asarray(landmarks, np.float64)[ALIGN_IDS, :2] * (width, height) - 0.5
    src_mean, dst_mean = src.mean(axis=0), _TARGET.mean(axis=0)
    s, d = src - src_mean, _TARGET - dst_mean
    # closed-form 2-D similarity (Umeyama): rotation+scale as a complex number a + ib
    norm = float((s**2).sum())
    if not norm > 1e-9:
        raise InputError("degenerate landmarks: the face has no size")
    a = float((s * d).sum()) / norm
    b = float((s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum()) / norm
    rot = np.array([[a, -b], [b, a]])
    return np.hstack([rot, (dst_mean - rot @ src_mean)[:, None]])


def _warp(image: np.ndarray, transform: np.ndarray) -> np.ndarray:
    crop = cv2.warpAffine(image, transform, (CROP, CROP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop


def aligned_crop(image_bgr: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The face as a canonical 64x64 grayscale crop, whatever its place, size and roll in the image."""
    height, width = image_bgr.shape[:2]
    return _warp(image_bgr, alignment(landmarks, width, height))


def _patches(crop: np.ndarray, points: np.ndarray) -> np.ndarray:
    """6x6 samples around each point of the half-size crop, all in one remap, each normalised."""
    half = cv2.resize(crop, (CROP // 2, CROP // 2), interpolation=cv2.INTER_AREA).astype(np.float32)
    centres = (points + 0.5) / 2.0 - 0.5  # full-crop pixel centres -> half-crop pixel centres
    map_x = (centres[:, 0, None, None] + _OFFSETS[None, None, :]).repeat(PATCH, axis=1)
    map_y = (centres[:, 1, None, None] + _OFFSETS[None, :, None]).repeat(PATCH, axis=2)
    samples = cv2.remap(
        half,
        map_x.reshape(-1, PATCH).astype(np.float32),
        map_y.reshape(-1, PATCH).astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    ).reshape(len(points), -1)
    samples -= samples.mean(axis=1, keepdims=True)
    samples /= samples.std(axis=1, keepdims=True) + 4.0  # +4 grey levels: flat skin stays near 0, not noise
    return samples.ravel()


def describe(image_bgr: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Appearance descriptors of faces: (468, 3) -> (N_DESCRIPTOR,), or (n, 468, 3) -> (n, N_DESCRIPTOR) float32.

    ``landmarks`` are MediaPipe's (x by width, y by height) for ``image_bgr`` (BGR or grayscale).
    """
    landmarks = np.asarray(landmarks, np.float32)
    if landmarks.ndim == 2:
        return describe(image_bgr, landmarks[None])[0]
    height, width = image_bgr.shape[:2]
    out = np.empty((len(landmarks), N_DESCRIPTOR), np.float32)
    for i, face in enumerate(landmarks):
        transform = alignment(face, width, height)
        crop = _warp(image_bgr, transform)
        points = face[PATCH_IDS, :2].astype(np.float64) * (width, height) - 0.5
        points = points @ transform[:, :2].T + transform[:, 2]
        out[i, :N_HOG] = _HOG.compute(crop).ravel()
        out[i, N_HOG:] = _patches(crop, points.astype(np.float32))
    return out


def mirror_descriptors(descriptors: np.ndarray) -> np.ndarray:
    """The descriptors of the left-right mirrored faces; ``mirror(mirror(d)) == d``."""
    descriptors = np.asarray(descriptors)
    if descriptors.shape[-1] != N_DESCRIPTOR:
        raise InputError(f"expected descriptors of length {N_DESCRIPTOR}, got {descriptors.shape}")
    return descriptors[..., _MIRROR]
