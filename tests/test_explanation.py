"""Why a face was read as it was: regions of the face, their share of the reading, and what moved, in words."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import landmark_emotion
from landmark_emotion.face.appearance import N_DESCRIPTOR, mirror_descriptors
from landmark_emotion.face.canonical import MIRROR_PERMUTATION
from landmark_emotion.face.features import FEATURE_SETS, HYBRID, N_FEATURES, REFERENCE_SHAPE
from landmark_emotion.face.landmarker import Detection
from landmark_emotion.face.movements import MM, MOVEMENTS, describe_movements
from landmark_emotion.face.regions import LANDMARK_REGIONS, NONE, REGIONS, feature_regions
from landmark_emotion.model.explanation import ExplanationError, explainer_of
from landmark_emotion.reading import pipeline as pipeline_module
from landmark_emotion.reading.pipeline import Face, Pipeline


@pytest.fixture(scope="module")
def model():
    return landmark_emotion.load_model()


class Fixed:
    """A detector that finds the given faces in every image."""

    def __init__(self, landmarks: np.ndarray):
        self.landmarks = landmarks

    def __call__(self, image):
        return Detection(self.landmarks, image.shape[1], image.shape[0])


def region(name: str) -> np.ndarray:
    return LANDMARK_REGIONS == REGIONS.index(name)


def test_every_landmark_is_in_one_region_and_a_region_is_its_own_mirror_image():
    assert LANDMARK_REGIONS.shape == (468,) and set(LANDMARK_REGIONS) == set(range(len(REGIONS)))
    assert min(np.bincount(LANDMARK_REGIONS)) >= 15
    np.testing.assert_array_equal(LANDMARK_REGIONS[list(MIRROR_PERMUTATION)], LANDMARK_REGIONS)
    assert {movement.region for movement in MOVEMENTS} <= set(REGIONS)


@pytest.mark.parametrize("feature_set", list(FEATURE_SETS))
def test_every_value_of_the_vector_has_its_region_and_the_mirror_image_keeps_it(feature_set):
    regions, appearance = feature_regions(feature_set)
    assert len(regions) == len(appearance) == FEATURE_SETS[feature_set][1]
    np.testing.assert_array_equal(regions[:N_FEATURES], np.repeat(LANDMARK_REGIONS, 3))
    assert not appearance[:N_FEATURES].any() and appearance[N_FEATURES:].all()
    if feature_set == HYBRID:
        described = regions[N_FEATURES:]
        # a HOG cell or patch of one side of the face reads the same region on the other side
        np.testing.assert_array_equal(mirror_descriptors(described), described)
        assert 0 < np.mean(described == NONE) < 0.02  # only cells past the jaw, in the crop's corners, read no region
        assert len(described) == N_DESCRIPTOR


def test_words_say_the_largest_movements_one_per_region_and_nothing_at_rest():
    assert describe_movements(np.zeros((468, 3))) == []
    smile = np.zeros((468, 3))
    smile[[61, 291], 1] -= 4 * MM  # mouth corners 4 mm up
    smile[61, 0] -= 2 * MM  # and 4 mm wider
    smile[291, 0] += 2 * MM
    smile[region("brows"), 1] -= 3.5 * MM  # brows 3.5 mm up
    assert describe_movements(smile) == ["mouth corners up", "brows raised"]  # one word for the mouth corners
    assert describe_movements(smile, most=1) == ["mouth corners up"]
    assert describe_movements(-smile) == ["mouth corners down", "brows lowered"]
    assert describe_movements(smile * 0.7) == ["mouth corners up"]  # the brows: less than a clear change


def test_each_regions_effect_is_the_drop_when_that_region_alone_is_put_back_to_neutral(model):
    """The explainer's one pass over the first layer gives what reading each occluded face gives."""
    predictor = model.predictor()
    rng = np.random.default_rng(0)
    population = model.references.population
    features = population + rng.normal(0, 1, population.shape).astype(np.float32) * predictor.preprocess.scale
    features = features.astype(np.float32)
    delta = features - population
    regions, _ = feature_regions(model.feature_set)
    label = int(predictor.predict_proba(features).argmax())
    probability, at_neutral, drops = explainer_of(predictor).effects(features, delta, label)
    occluded = np.stack([np.where(regions == r, population, features) for r in range(len(REGIONS))])
    expected = predictor.predict_proba(occluded)[:, label]
    assert probability == pytest.approx(predictor.predict_proba(features)[0, label], abs=1e-5)
    np.testing.assert_allclose(drops, probability - expected, atol=1e-4)
    put_back = np.where(regions == NONE, features, population)
    assert at_neutral == pytest.approx(predictor.predict_proba(put_back)[0, label], abs=1e-4)
    assert np.ptp(drops) > 0.01  # the regions differ: the test compares something


def test_a_face_whose_only_change_from_its_neutral_is_a_raised_brow_gets_brows_as_its_top_region(
    model, astronaut, astronaut_faces
):
    detector = Fixed(astronaut_faces.landmarks)
    reader = Pipeline(detector, model.predictor(), smoothing_frames=1, references=model.references)
    reader(astronaut)
    reader.start_neutral_capture(frames=1)
    assert reader(astronaut)[0].calibration == "capturing"  # this frame becomes the face's neutral reference
    raised = astronaut_faces.landmarks.copy()
    raised[0, region("brows"), 1] -= 6 / astronaut.shape[0]  # 6 px up: about a centimetre on this face
    detector.landmarks = raised
    face = reader(astronaut)[0]
    explanation = face.explain()
    assert face.calibration == "captured" and explanation.reference == "captured"
    assert explanation.label == face.label != "happy"  # the smile is this face's neutral: it reads the brows
    assert explanation.top == "brows" and explanation.regions["brows"] > 0.3
    others = [effect for name, effect in explanation.regions.items() if name != "brows"]
    assert max(map(abs, others)) < 1e-3  # nothing else changed
    assert explanation.words == ("brows raised",)
    assert explanation.neutral_probability < explanation.probability - 0.3


def test_nothing_is_explained_until_asked_and_every_face_is_when_the_reader_explains(model, astronaut, monkeypatch):
    with landmark_emotion.Reader(model) as reader:
        expected = reader.read(astronaut)[0].explain()  # the real explainer, for comparison

    def refuse(predictor):
        raise AssertionError("explained without being asked")

    monkeypatch.setattr(pipeline_module, "explainer_of", refuse)
    with landmark_emotion.Reader(model) as reader:
        face = reader.read(astronaut)[0]
    assert face.explanation is None and "explanation" not in face.to_json()
    with pytest.raises(AssertionError, match="without being asked"):
        face.explain()  # on demand only
    monkeypatch.undo()
    with landmark_emotion.Reader(model, explain=True) as reader:
        face = reader.read(astronaut)[0]
    assert face.explanation is not None and face.explain() is face.explanation
    assert face.explanation.regions == pytest.approx(expected.regions) and face.explanation.words == expected.words
    entry = json.loads(json.dumps(face.to_json()))["explanation"]
    assert entry["label"] == face.label and entry["reference"] == "population"
    assert list(entry["regions"]) == list(face.explanation.regions) and entry["words"] == list(expected.words)


def test_without_a_neutral_reference_there_is_nothing_to_explain_against(model, astronaut, astronaut_faces):
    bare = copy.copy(model)
    bare.references = None
    with pytest.raises(ExplanationError, match="no population neutral"):
        landmark_emotion.Reader(bare, explain=True)
    with pytest.raises(ExplanationError, match="no population neutral"):
        Pipeline(Fixed(astronaut_faces.landmarks), bare.predictor(), references=None, explain=True)
    face = Pipeline(Fixed(astronaut_faces.landmarks), bare.predictor(), references=None)(astronaut)[0]
    with pytest.raises(ExplanationError, match="no population neutral"):
        face.explain()
    made = Face((0, 0, 1, 1), np.zeros((468, 3), np.float32), "happy", 0.9, {"happy": 0.9})
    with pytest.raises(ExplanationError, match="not read by a reader"):
        made.explain()


def test_the_unit_of_the_words_is_a_millimetre_of_the_canonical_face():
    # the canonical eye corners 33 and 263 are 8.9 cm apart in MediaPipe's canonical face model
    distance = np.linalg.norm(REFERENCE_SHAPE[33] - REFERENCE_SHAPE[263])
    assert distance / MM == pytest.approx(89.0, abs=0.5)
