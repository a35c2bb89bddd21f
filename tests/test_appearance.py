"""The appearance of the aligned face: invariant to where the face is, mirrored like the face, one pipeline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from landmark_emotion.data.table import LandmarkTable, TableError, save_table
from landmark_emotion.face.appearance import N_DESCRIPTOR, N_HOG, aligned_crop, alignment, describe, mirror_descriptors
from landmark_emotion.face.features import FEATURE_SETS, HYBRID, LANDMARKS, face_vectors, image_vectors, normalize
from one_photo import detect

ROOT = Path(__file__).resolve().parent.parent


def _distance(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Relative distance of the HOG part and of the patch part of two descriptors."""

    def rel(x, y):
        return float(np.linalg.norm(x - y) / np.linalg.norm(y))

    return rel(a[:N_HOG], b[:N_HOG]), rel(a[N_HOG:], b[N_HOG:])


@pytest.fixture(scope="module")
def reference(astronaut, astronaut_faces) -> np.ndarray:
    return describe(astronaut, astronaut_faces.landmarks[0])


@pytest.fixture(scope="module")
def mirrored(astronaut) -> np.ndarray:
    """The descriptor of the mirrored photo, landmarks found afresh."""
    flipped = np.ascontiguousarray(astronaut[:, ::-1])
    faces = detect(flipped)
    assert len(faces) == 1
    return describe(flipped, faces.landmarks[0])


def test_descriptor_shape_dtype_and_batch(astronaut, astronaut_faces, reference):
    assert reference.shape == (N_DESCRIPTOR,) and reference.dtype == np.float32
    assert np.all(np.isfinite(reference))
    batch = describe(astronaut, np.repeat(astronaut_faces.landmarks, 2, axis=0))
    np.testing.assert_allclose(batch, np.tile(reference, (2, 1)), atol=1e-6)


def test_crop_is_canonical(astronaut, astronaut_faces):
    crop = aligned_crop(astronaut, astronaut_faces.landmarks[0])
    assert crop.shape == (64, 64) and crop.dtype == np.uint8
    # eyes sit on the same row, left and right of the middle; the mouth below them, in the middle
    transform = alignment(astronaut_faces.landmarks[0], 512, 512)
    px = astronaut_faces.landmarks[0][[33, 263, 13], :2] * 512 - 0.5
    eye_r, eye_l, mouth = px @ transform[:, :2].T + transform[:, 2]
    assert abs(eye_r[1] - eye_l[1]) < 2 and eye_r[0] < 24 < 40 < eye_l[0]
    assert abs(mouth[0] - 31.5) < 3 and mouth[1] > eye_r[1] + 15


@pytest.mark.parametrize(
    "angle, scale, shift", [(0, 1.0, (60, 40)), (15, 1.0, (0, 0)), (-12, 0.85, (-40, 30)), (8, 1.15, (70, -10))]
)
def test_descriptor_does_not_depend_on_place_size_or_roll(astronaut, reference, mirrored, angle, scale, shift):
    matrix = cv2.getRotationMatrix2D((256, 256), angle, scale)
    matrix[:, 2] += shift
    moved = cv2.warpAffine(astronaut, matrix, (640, 480), borderValue=(127, 127, 127))
    faces = detect(moved)
    assert len(faces) == 1
    hog, patches = _distance(describe(moved, faces.landmarks[0]), reference)
    # well within what separates the face from its own mirror image
    other_hog, other_patches = _distance(mirrored, reference)
    assert hog < 0.25 and patches < 0.35
    assert hog < other_hog / 2 and patches < other_patches / 2


def test_mirror_of_the_face_gives_the_mirrored_descriptor(reference, mirrored):
    hog, patches = _distance(mirror_descriptors(reference), mirrored)
    assert hog < 0.25 and patches < 0.3
    np.testing.assert_array_equal(mirror_descriptors(mirror_descriptors(reference)), reference)


def test_one_pipeline_from_image_to_vector(astronaut, astronaut_faces, reference):
    lm = astronaut_faces.landmarks
    hybrid = image_vectors(HYBRID, astronaut, lm)
    assert hybrid.shape == (1, FEATURE_SETS[HYBRID][1])
    np.testing.assert_allclose(hybrid[0, :1404], normalize(lm[0], 512, 512), atol=1e-6)
    np.testing.assert_allclose(hybrid[0, 1404:], reference, atol=1e-6)
    np.testing.assert_array_equal(image_vectors(LANDMARKS, astronaut, lm), normalize(lm, 512, 512))
    with pytest.raises(ValueError, match="need appearance descriptors"):
        face_vectors(HYBRID, lm, 512, 512)


def test_table_keeps_descriptors_and_mirrors_them(tmp_path, astronaut_faces, reference):
    table = LandmarkTable(
        astronaut_faces.landmarks, [512], [512], ["happy"], ["a.jpg"], [""], descriptors=reference[None]
    )
    again = __import__("landmark_emotion.data.table", fromlist=["load_table"]).load_table(
        save_table(table, tmp_path / "t.npz")
    )
    assert again.descriptors.shape == (1, N_DESCRIPTOR)
    np.testing.assert_allclose(again.features(HYBRID)[0, 1404:], reference, atol=2e-3)  # stored as float16
    np.testing.assert_allclose(again.mirrored().descriptors, mirror_descriptors(again.descriptors))
    bare = LandmarkTable(astronaut_faces.landmarks, [512], [512], ["happy"], ["a.jpg"], [""])
    with pytest.raises(TableError, match="no appearance descriptors"):
        bare.features(HYBRID)


def test_landmark_jitter_is_a_bounded_similarity(astronaut_faces):
    from landmark_emotion.face.augmentation import JITTER_DEGREES, JITTER_SCALE, JITTER_SHIFT, jitter_landmarks

    points = astronaut_faces.landmarks[0] * 512
    size = np.sqrt(((points[:, :2] - points[:, :2].mean(0)) ** 2).sum(1).mean())
    angles = []
    for seed in range(30):
        moved = jitter_landmarks(astronaut_faces.landmarks[0], 512, 512, np.random.default_rng(seed)) * 512
        matrix, _ = cv2.estimateAffinePartial2D(points[:, :2].astype(np.float32), moved[:, :2].astype(np.float32))
        np.testing.assert_allclose(points[:, :2] @ matrix[:, :2].T + matrix[:, 2], moved[:, :2], atol=0.01)
        scale = float(np.hypot(*matrix[:, 0]))
        angles.append(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])))
        shift = moved[:, :2].mean(0) - points[:, :2].mean(0)
        assert abs(angles[-1]) <= JITTER_DEGREES + 1e-3 and abs(scale - 1) <= JITTER_SCALE + 1e-4
        assert np.abs(shift).max() <= JITTER_SHIFT * size + 0.01
        np.testing.assert_allclose(moved[:, 2], points[:, 2] * scale, rtol=1e-4, atol=1e-3)  # depth scales alike
    assert np.ptp(angles) > JITTER_DEGREES  # and it does move


def test_a_degraded_copy_is_seeded_and_changes_a_small_and_a_large_face_alike(astronaut, astronaut_faces, reference):
    """Strengths are in pixels of the aligned crop: the photo at twice its size loses as much of its appearance (the
    crop read at the photo's own landmarks, so that only the pixels' changes count)."""
    from landmark_emotion.face.augmentation import degrade

    landmarks = astronaut_faces.landmarks[0]
    image, moved = degrade(astronaut, landmarks, np.random.default_rng(0))
    again, moved_again = degrade(astronaut, landmarks, np.random.default_rng(0))
    assert image.shape == astronaut.shape and image.dtype == np.uint8 and not np.array_equal(image, astronaut)
    np.testing.assert_array_equal(image, again)
    np.testing.assert_array_equal(moved, moved_again)
    large = cv2.resize(astronaut, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    change = []
    for photo in (astronaut, large):
        own = describe(photo, landmarks)  # landmarks are fractions of the image: the same face
        copies = [degrade(photo, landmarks, np.random.default_rng(seed))[0] for seed in range(12)]
        change.append(np.mean([_distance(describe(copy, landmarks), own) for copy in copies]))
    assert change[0] > 0.05 and 0.85 < change[1] / change[0] < 1.18  # 0.74 were strengths in image pixels


@pytest.mark.slow
def test_hybrid_bundle_refuses_a_table_without_descriptors_in_one_line(tmp_path, astronaut_faces):
    import keras

    from landmark_emotion.model.bundle_write import save_bundle

    n = FEATURE_SETS[HYBRID][1]
    model = keras.Sequential([keras.Input((n,)), keras.layers.Dense(3, activation="softmax")])
    save_bundle(
        tmp_path / "hybrid", model, np.zeros(n), np.ones(n), ["neutral", "happy", "sad"], {}, {}, feature_set=HYBRID
    )
    bare = LandmarkTable(
        np.repeat(astronaut_faces.landmarks, 3, axis=0),
        [512] * 3,
        [512] * 3,
        ["neutral", "happy", "sad"],
        ["a", "b", "c"],
        [""] * 3,
    )
    save_table(bare, tmp_path / "bare.npz")
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scr" / "evaluate.py"),
            "--model",
            str(tmp_path / "hybrid"),
            "--data",
            str(tmp_path / "bare.npz"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "no appearance descriptors" in lines[0]


def test_evaluate_without_a_model_scores_the_shipped_base_model(tmp_path, astronaut, astronaut_faces, capsys):
    """Before, --model was required: the one command of the five that did not know the default model."""
    from landmark_emotion.commands import evaluate
    from landmark_emotion.model.discovery import find_default_model

    table = LandmarkTable(
        astronaut_faces.landmarks,
        [astronaut.shape[1]],
        [astronaut.shape[0]],
        ["happy"],
        ["astronaut.jpg"],
        [""],
        descriptors=describe(astronaut, astronaut_faces.landmarks),
    )
    save_table(table, tmp_path / "smile.npz")
    assert evaluate.main(["--data", str(tmp_path / "smile.npz"), "--json", str(tmp_path / "scores.json")]) == 0
    out = capsys.readouterr().out
    assert f"{find_default_model(personal=False)} on {tmp_path / 'smile.npz'}:" in out, out
    assert '"accuracy": 1.0' in (tmp_path / "scores.json").read_text()  # she smiles: the shipped model reads happy
