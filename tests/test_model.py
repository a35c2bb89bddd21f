"""The model object: load a shipped bundle and read faces with it, fit on a table, fine-tune into a new model."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from landmark_emotion.face.features import face_vectors, image_vectors
from landmark_emotion.model.bundle import BundleError
from landmark_emotion.model.emotion_model import EmotionModel
from landmark_emotion.training.base import Recipe, train_base_model
from landmark_emotion.training.personal import FineTuneSettings, PersonalDataError, train_personal_model
from synthetic_faces import SIZE, make_table

ROOT = Path(__file__).resolve().parent.parent
DEFAULT, LANDMARKS_ONLY = ROOT / "models" / "default", ROOT / "models" / "facial_expressions"
TINY = Recipe(hidden=(16,), dropout=0.1, epochs=8, patience=4, batch_size=32)


def test_load_gives_the_bundle_classes_and_reads_a_photo(astronaut, astronaut_faces):
    model = EmotionModel.load(DEFAULT)
    assert model.classes_ == model.info["labels"] and "happy" in model.classes_
    assert model.feature_set == "landmarks+appearance" and model.references is not None
    assert model.path == DEFAULT and model.metrics == EmotionModel.load(DEFAULT).metrics
    probabilities = model.predict_proba_landmarks(astronaut_faces.landmarks, astronaut)
    assert probabilities.shape == (1, len(model.classes_)) and np.isclose(probabilities.sum(), 1, atol=1e-5)
    features = image_vectors(model.feature_set, astronaut, astronaut_faces.landmarks)
    np.testing.assert_allclose(probabilities, model.predict_proba(features), atol=1e-6)
    one = model.predict_proba_landmarks(astronaut_faces.landmarks[0], astronaut)  # a single (468, 3) face
    np.testing.assert_allclose(one, probabilities, atol=1e-6)
    with pytest.raises(ValueError, match="reads landmarks\\+appearance: pass the image"):
        model.predict_proba_landmarks(astronaut_faces.landmarks)
    with pytest.raises(ValueError, match="expected landmarks of shape"):
        model.predict_proba_landmarks(astronaut_faces.landmarks[0, :100], astronaut)
    with pytest.raises(ValueError, match="8-bit image"):
        model.predict_proba_landmarks(astronaut_faces.landmarks, astronaut.astype(np.float32))


def test_landmarks_only_model_reads_landmarks_given_the_image_size():
    model = EmotionModel.load(LANDMARKS_ONLY)
    landmarks = make_table({"happy": 3}, people=1).landmarks
    probabilities = model.predict_proba_landmarks(landmarks, size=(SIZE, SIZE))
    expected = model.predict_proba(face_vectors("landmarks", landmarks, [SIZE] * 3, [SIZE] * 3))
    np.testing.assert_allclose(probabilities, expected, atol=1e-6)
    with pytest.raises(ValueError, match="pass the image or its size"):
        model.predict_proba_landmarks(landmarks)


def test_what_a_model_cannot_read_is_an_input_error_where_it_enters(astronaut, astronaut_faces):
    """Every value the model refuses is a LandmarkEmotionError (InputError, also a ValueError) saying what it
    expected; NaN features gave NaN probabilities, which read as a confident answer of the first label."""
    from landmark_emotion import InputError

    model = EmotionModel.load(DEFAULT)
    features = image_vectors(model.feature_set, astronaut, astronaut_faces.landmarks)
    with_nan, with_inf = features.copy(), features.copy()
    with_nan[0, 7], with_inf[0, 9] = np.nan, np.inf
    landmarks = astronaut_faces.landmarks[0].copy()
    landmarks[3, 0] = np.nan
    for call, message in (
        (lambda: model.predict_proba(features[:, :100]), r"expected features of shape \(4320,\)"),
        (lambda: model.predict_proba(with_nan), "finite"),
        (lambda: model.predict_proba(with_inf), "finite"),
        (lambda: model.predict(with_nan), "finite"),
        (lambda: model.predict_proba(np.array([["a"] * model.n_features])), "numbers"),
        (lambda: model.predict_proba_landmarks(np.zeros((10, 3)), astronaut), "expected landmarks of shape"),
        (lambda: model.predict_proba_landmarks(landmarks, astronaut), "finite"),
        (
            lambda: EmotionModel.load(LANDMARKS_ONLY).predict_proba_landmarks(astronaut_faces.landmarks, size=(0, 480)),
            "size",
        ),
    ):
        with pytest.raises(InputError, match=message):
            call()


def test_a_bundle_that_is_not_one_is_refused(tmp_path):
    with pytest.raises(BundleError, match="no model bundle at"):
        EmotionModel.load(tmp_path / "nothing")


def test_loading_and_predicting_import_neither_tensorflow_nor_training(tmp_path):
    np.save(tmp_path / "x.npy", make_table({"happy": 2}, people=1).landmarks)
    code = (
        "import sys, numpy as np; from landmark_emotion.model.emotion_model import EmotionModel; "
        f"m = EmotionModel.load({str(LANDMARKS_ONLY)!r}); "
        f"x = np.load({str(tmp_path / 'x.npy')!r}); "
        "print(m.predict_proba_landmarks(x, size=(480, 480)).shape == (2, len(m.classes_))); "
        "print(sorted(n for n in sys.modules if n in ('tensorflow', 'keras', 'matplotlib', 'sklearn') "
        "or n.startswith('landmark_emotion.training')))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scr")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.stdout.split("\n")[:2] == ["True", "[]"], result.stderr


@pytest.fixture(scope="module")
def fitted():
    table = make_table({"neutral": 40, "happy": 40, "sad": 40}, people=8)
    return (
        table,
        *train_base_model(
            table,
            TINY,
            seed=1,
            progress=False,
            replay_per_class=5,
            train_args={"data": ["synthetic.npz"]},
            training_data={"name": "synthetic"},
        ),
    )


@pytest.mark.slow
def test_fit_returns_a_scored_model_that_saves_and_loads(fitted, tmp_path):
    table, model, record = fitted
    assert model.classes_ == ["neutral", "happy", "sad"] and model.feature_set == "landmarks"
    assert model.metrics["evaluated_on"] == "test split, person-disjoint" and model.metrics["n"] > 0
    assert model.metrics["split"] == record.split.sizes() and model.warnings == []
    assert model.info["train_args"]["recipe"]["hidden"] == (16,)
    assert model.info["training_data"] == {"name": "synthetic", "source": [], "licence": "unknown"}
    assert model.references is not None and model.path is None
    path = model.save(tmp_path / "mine")
    assert {"confusion.png", "curves.png", "replay.npz", "neutral.npz"} <= {p.name for p in path.iterdir()}
    loaded = EmotionModel.load(path)
    assert model.path == path and loaded.info == model.info and loaded.metrics == model.metrics
    x = table.features()
    np.testing.assert_allclose(loaded.predict_proba(x), model.predict_proba(x), atol=1e-5)
    assert loaded.replay_table().counts() == {"neutral": 5, "happy": 5, "sad": 5}
    with pytest.raises(BundleError, match="exists; pass --force"):
        model.save(path)
    again = loaded.save(tmp_path / "copy")  # a loaded model keeps its figures when saved elsewhere
    assert sorted(p.name for p in again.iterdir()) == sorted(p.name for p in path.iterdir())


@pytest.mark.slow
def test_fine_tune_returns_a_new_model_and_leaves_the_base_as_it_was(fitted, tmp_path):
    table, base, _ = fitted
    x = table.features()
    before = (base.predict_proba(x), [w.copy() for w in base.keras_model().get_weights()], dict(base.info))
    personal = make_table({"happy": 12, "sad": 12}, people=1, seed=9)
    settings = FineTuneSettings(l2=0.1)
    tuned = train_personal_model(base, personal, settings, progress=False, train_args={"note": "test"})
    assert tuned is not base and tuned.classes_ == base.classes_ and tuned.info["kind"] == "personal"
    assert tuned.info["train_args"] == {"note": "test"} and tuned.metrics["train_counts"]
    assert not np.allclose(tuned.predict_proba(x), before[0], atol=1e-4)
    np.testing.assert_array_equal(base.predict_proba(x), before[0])
    for now, then in zip(base.keras_model().get_weights(), before[1]):
        np.testing.assert_array_equal(now, then)
    assert base.info == before[2]
    loaded = EmotionModel.load(tuned.save(tmp_path / "personal"))
    assert loaded.info["kind"] == "personal" and len(loaded.replay_table()) == len(base.replay_table())
    np.testing.assert_allclose(loaded.predict_proba(x), tuned.predict_proba(x), atol=1e-5)
    with pytest.raises(PersonalDataError, match="angry not among the base model's labels"):
        train_personal_model(base, make_table({"angry": 8}, people=1), replace(settings, l2=1), progress=False)
