"""The bundles shipped in models/: they load, say what data they come from, and read a real smile."""
from __future__ import annotations

from pathlib import Path

import pytest

from emotion.features import HYBRID, LANDMARKS, image_vectors
from emotion.labels import CANONICAL_LABELS
from emotion.model_bundle import load_bundle

MODELS = Path(__file__).resolve().parent.parent / "models"


@pytest.mark.parametrize("name, feature_set, labels, licence", [
    ("default", HYBRID, list(CANONICAL_LABELS), "non-commercial"),
    ("facial_expressions", LANDMARKS, ["neutral", "happy", "sad", "surprise", "disgust", "angry"], "Apache-2.0"),
])
def test_shipped_bundle_reads_the_astronauts_smile(name, feature_set, labels, licence, astronaut, astronaut_faces):
    bundle = load_bundle(MODELS / name)
    assert bundle.feature_set == feature_set and bundle.labels == labels
    assert licence in bundle.info["training_data"]["licence"]
    predictor = bundle.predictor()
    probs = predictor.predict_proba(image_vectors(feature_set, astronaut, astronaut_faces.landmarks))[0]
    assert predictor.labels[probs.argmax()] == "happy" and probs.max() > 0.5


def test_default_bundle_records_its_affectnet_scores():
    metrics = load_bundle(MODELS / "default").metrics
    assert metrics["evaluated_on"].startswith("test split, the dataset's own split")
    assert metrics["accuracy"] >= 0.62 and metrics["macro_f1"] >= 0.61
    assert min(c["recall"] for c in metrics["per_class"].values()) >= 0.40
