"""Landmarks -> pose- and scale-free feature vectors: the one feature pipeline.

Every script (extraction, training, recording, fine-tuning, the demo) turns landmarks
into features through :func:`normalize`, and every model records
:data:`FEATURE_VERSION`, so a model is never fed features computed another way.
"""

from __future__ import annotations

import numpy as np

from landmark_emotion.errors import InputError
from landmark_emotion.face.appearance import APPEARANCE_VERSION, N_HOG, N_PATCH, describe
from landmark_emotion.face.canonical import CANONICAL_VERTICES, MIRROR_PERMUTATION, RIGID_LANDMARK_WEIGHTS

FEATURE_VERSION = "procrustes-rigid-v1"
"""Bump whenever :func:`normalize` changes what it returns; models trained on another version are refused."""

N_FEATURES = 468 * 3

LANDMARKS = "landmarks"
HYBRID = "landmarks+appearance"
FEATURE_BLOCKS: dict[str, tuple[int, ...]] = {LANDMARKS: (N_FEATURES,), HYBRID: (N_FEATURES, N_HOG, N_PATCH)}
"""The blocks of each feature set's vector, in order: landmarks, then HOG and patches of the aligned face."""
_VERSIONS = {LANDMARKS: FEATURE_VERSION, HYBRID: f"{FEATURE_VERSION}+{APPEARANCE_VERSION}"}
FEATURE_SETS: dict[str, tuple[str, int]] = {
    name: (_VERSIONS[name], sum(blocks)) for name, blocks in FEATURE_BLOCKS.items()
}
"""Feature set -> (its version string, its vector length): what a bundle records and checks."""

_PERM = np.asarray(MIRROR_PERMUTATION, dtype=np.intp)
_RIGID_IDS = np.asarray(list(RIGID_LANDMARK_WEIGHTS), dtype=np.intp)
_RIGID_W = np.asarray(list(RIGID_LANDMARK_WEIGHTS.values()), dtype=np.float64)
_RIGID_W /= _RIGID_W.sum()


def _rigid_centroid_and_radius(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The weighted centroid of the rigid landmarks and their weighted RMS distance from it."""
    rigid = points[..., _RIGID_IDS, :]
    centroid = np.einsum("k,...kd->...d", _RIGID_W, rigid)
    radius = np.sqrt(np.einsum("k,...kd->...", _RIGID_W, (rigid - centroid[..., None, :]) ** 2))
    return centroid, radius


def _center_and_scale(points: np.ndarray) -> np.ndarray:
    """Move the weighted centroid of the rigid landmarks to 0 and their weighted RMS radius to 1."""
    centroid, radius = _rigid_centroid_and_radius(points)
    return (points - centroid[..., None, :]) / np.maximum(radius, 1e-12)[..., None, None]


REFERENCE_SHAPE = _center_and_scale(np.asarray(CANONICAL_VERTICES, dtype=np.float64))
"""The canonical face, centred and scaled like every input: the frontal pose all faces are turned to."""
CANONICAL_RADIUS_CM = float(_rigid_centroid_and_radius(np.asarray(CANONICAL_VERTICES, dtype=np.float64))[1])
"""The canonical face's size (its rigid landmarks' RMS radius) in centimetres: the unit of aligned landmarks."""


def to_pixel_units(landmarks: np.ndarray, width, height) -> np.ndarray:
    """Put x, y and z in the same units: MediaPipe scales x by width, y by height and z like x."""
    width = np.asarray(width, dtype=np.float64)[..., None, None]
    height = np.asarray(height, dtype=np.float64)[..., None, None]
    scale = np.concatenate(np.broadcast_arrays(width, height, width), axis=-1)
    return np.asarray(landmarks, dtype=np.float64)[..., :3] * scale


def face_size(landmarks: np.ndarray, width, height) -> np.ndarray:
    """The size of each face in pixels (RMS radius of its rigid landmarks): below one, it is no face to normalize."""
    return _rigid_centroid_and_radius(to_pixel_units(landmarks, width, height))[1]


def align(points: np.ndarray) -> np.ndarray:
    """Remove translation, scale and 3-D rotation (weighted Kabsch on the rigid landmarks).

    Aligning on points that barely move with expression means a wide smile or raised
    brows do not tilt the estimate of the head's pose.
    """
    points = _center_and_scale(points)
    rigid = points[..., _RIGID_IDS, :] * _RIGID_W[:, None]
    cov = np.swapaxes(rigid, -1, -2) @ REFERENCE_SHAPE[_RIGID_IDS]  # (..., 3, 3)
    u, _, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))  # never a reflection: a face is not its mirror
    u[..., :, 2] *= d[..., None]
    return points @ (u @ vt)


def normalize(landmarks: np.ndarray, width, height) -> np.ndarray:
    """Feature vectors of faces: (468, 3) -> (1404,), or (n, 468, 3) with n widths/heights -> (n, 1404).

    Feature version :data:`FEATURE_VERSION`: landmarks in pixel units, then
    :func:`align`ed to the canonical frontal face, flattened.
    """
    landmarks = np.asarray(landmarks)
    if landmarks.shape[-2:] != (468, 3):
        raise InputError(f"expected landmarks of shape (..., 468, 3), got {landmarks.shape}")
    aligned = align(to_pixel_units(landmarks, width, height))
    return aligned.reshape(*landmarks.shape[:-2], N_FEATURES).astype(np.float32)


def face_vectors(
    feature_set: str, landmarks: np.ndarray, width, height, descriptors: np.ndarray | None = None
) -> np.ndarray:
    """The vectors a model of ``feature_set`` reads: normalized landmarks, then (hybrid) appearance descriptors.

    The one place where a face becomes a model input, for tables, recordings and live frames alike.
    """
    if feature_set not in FEATURE_SETS:
        raise InputError(f"unknown feature set {feature_set!r}; expected one of {', '.join(FEATURE_SETS)}")
    shape = normalize(landmarks, width, height)
    if feature_set == LANDMARKS:
        return shape
    if descriptors is None:
        raise InputError(f"features {feature_set!r} need appearance descriptors")
    return np.concatenate([shape, np.asarray(descriptors, np.float32).reshape(*shape.shape[:-1], -1)], axis=-1)


def image_vectors(feature_set: str, image_bgr: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """:func:`face_vectors` of faces found in an image, describing their appearance when the set needs it."""
    height, width = image_bgr.shape[:2]
    descriptors = None if feature_set == LANDMARKS else describe(image_bgr, landmarks)
    return face_vectors(feature_set, landmarks, width, height, descriptors)


def mirror(landmarks: np.ndarray) -> np.ndarray:
    """The landmarks of the left-right mirrored image (x -> 1 - x, points renumbered).

    Works on raw MediaPipe landmarks of shape (..., 468, 3); ``mirror(mirror(x)) == x``.
    """
    out = np.array(landmarks[..., _PERM, :], copy=True)
    out[..., 0] = 1.0 - out[..., 0]
    return out
