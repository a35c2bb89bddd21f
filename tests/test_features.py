"""The feature pipeline: real landmarks of a real face, and what normalization must not depend on."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from landmark_emotion.face.canonical import CANONICAL_VERTICES, MIRROR_PERMUTATION
from landmark_emotion.face.features import N_FEATURES, REFERENCE_SHAPE, mirror, normalize, to_pixel_units
from one_photo import detect


def _place(face: np.ndarray, canvas: tuple[int, int], x: int, y: int) -> np.ndarray:
    out = np.full((*canvas, 3), 127, np.uint8)
    out[y : y + face.shape[0], x : x + face.shape[1]] = face
    return out


def _features_of(image: np.ndarray) -> np.ndarray:
    faces = detect(image)
    assert len(faces) == 1, "face not found in transformed image"
    return normalize(faces.landmarks[0], faces.width, faces.height)


def test_real_face_has_468_points(astronaut_faces):
    lm = astronaut_faces.landmarks[0]
    assert lm.shape == (468, 3) and lm.dtype == np.float32
    x, y, w, h = astronaut_faces.boxes()[0]
    # the astronaut's face sits in the upper middle of the 512x512 photo
    assert 150 < x < 220 and 50 < y < 110 and 70 < w < 130 and 80 < h < 140
    # subject's right eye corner (33) appears left of the left one (263) in the image
    assert lm[33, 0] < lm[263, 0]


def test_feature_vector_shape_and_batch(astronaut_faces):
    lm, w, h = astronaut_faces.landmarks, astronaut_faces.width, astronaut_faces.height
    single = normalize(lm[0], w, h)
    batch = normalize(np.repeat(lm, 3, axis=0), [w] * 3, [h] * 3)
    assert single.shape == (N_FEATURES,) and batch.shape == (3, N_FEATURES)
    np.testing.assert_allclose(batch, np.tile(single, (3, 1)), atol=1e-6)


def test_aligned_face_is_close_to_the_canonical_face(astronaut_faces):
    aligned = normalize(astronaut_faces.landmarks[0], 512, 512).reshape(468, 3)
    rms = np.sqrt(((aligned - REFERENCE_SHAPE) ** 2).sum(axis=1).mean())
    spread = np.sqrt((REFERENCE_SHAPE**2).sum(axis=1).mean())
    assert rms < 0.25 * spread


@pytest.mark.parametrize(
    "transform",
    [
        pytest.param(lambda im: _place(im[40:300, 120:380], (480, 640), 300, 180), id="translate"),
        pytest.param(lambda im: cv2.resize(im, None, fx=0.55, fy=0.55, interpolation=cv2.INTER_AREA), id="scale"),
        pytest.param(
            lambda im: cv2.warpAffine(
                im, cv2.getRotationMatrix2D((256, 256), 25, 1.0), (512, 512), borderMode=cv2.BORDER_REPLICATE
            ),
            id="rotate",
        ),
    ],
)
def test_features_invariant_to_translation_scale_rotation(astronaut, astronaut_faces, transform):
    base_lm = astronaut_faces.landmarks[0]
    base = normalize(base_lm, 512, 512)
    moved_image = transform(astronaut)
    faces = detect(moved_image)
    moved_pixels = to_pixel_units(faces.landmarks[0], faces.width, faces.height)
    base_pixels = to_pixel_units(base_lm, 512, 512)
    # the transform really moved the landmarks in the image ...
    assert np.abs(moved_pixels - base_pixels)[:, :2].mean() > 10
    # ... but not the features: far below the spread of features between points
    diff = np.abs(_features_of(moved_image) - base).mean()
    print(f"mean feature change {diff:.4f}")
    assert diff < 0.03, diff


def test_features_change_with_expression_shape(astronaut_faces):
    """Normalization must not erase the shape: opening the mouth moves features well beyond noise."""
    lm = astronaut_faces.landmarks[0].copy()
    lower_lip = [14, 15, 16, 17, 87, 86, 85, 84, 317, 316, 315, 314, 178, 179, 180, 402, 403, 404]
    lm[lower_lip, 1] += 0.03
    diff = np.abs(normalize(lm, 512, 512) - normalize(astronaut_faces.landmarks[0], 512, 512))
    assert diff.reshape(468, 3)[lower_lip].mean() > 0.1


def test_mirror_permutation_matches_mesh_geometry():
    perm = np.asarray(MIRROR_PERMUTATION)
    vertices = np.asarray(CANONICAL_VERTICES)
    assert sorted(perm) == list(range(468))
    np.testing.assert_array_equal(perm[perm], np.arange(468))
    np.testing.assert_allclose(vertices[perm] * [-1, 1, 1], vertices, atol=1e-6)
    assert perm[33] == 263 and perm[61] == 291 and perm[1] == 1


def test_mirror_is_an_involution(astronaut_faces):
    lm = astronaut_faces.landmarks[0]
    np.testing.assert_allclose(mirror(mirror(lm)), lm, atol=1e-6)
    assert not np.allclose(mirror(lm), lm, atol=1e-3)


def test_mirrored_image_gives_mirrored_landmarks(astronaut, astronaut_faces):
    flipped = detect(np.ascontiguousarray(astronaut[:, ::-1]))
    expected = mirror(astronaut_faces.landmarks[0])
    pixel_error = np.abs(flipped.landmarks[0] - expected)[:, :2].mean() * 512
    assert pixel_error < 2.0, pixel_error
    feature_diff = np.abs(normalize(flipped.landmarks[0], 512, 512) - normalize(expected, 512, 512)).mean()
    assert feature_diff < 0.03


def test_blank_image_has_no_face():
    assert len(detect(np.full((300, 300, 3), 200, np.uint8))) == 0
    assert len(detect(np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8))) == 0


def test_normalize_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="468, 3"):
        normalize(np.zeros((100, 3)), 10, 10)
