"""Shared fixtures: a real face photo (NASA's public-domain ``astronaut``, the repository's sample) and its landmarks,
and the small models the tests train, each trained once per session.

Its landmarks are found once per test session (opening a face mesh imports MediaPipe: seconds).

The tiers (docs/contributing.md, "Checks"): ``pytest -m "not slow"`` is the fast tier, ``pytest`` runs all. A test is
``slow`` when it trains, runs a command in a child process (as a user runs it: a new interpreter and its imports each
time), reads a long clip or stresses something; ``browser`` tests drive Chromium and are slow too. A trained model is
shared: a test that needs one asks for a fixture of ``TRAINED_MODELS`` (below), never trains its own copy, and is
slow by that alone. A trained model's files are read-only for the tests: a test that would change them copies the
folder first.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

DATA = Path(__file__).resolve().parent.parent / "datasets" / "samples"

TRAINED_MODELS = {"base_bundle", "trained_base"}
"""The session's trained models: a test using one of them (directly or through another fixture) is slow."""
SLOW_FIXTURES = TRAINED_MODELS | {"server"}  # test_web's: scr/web.py in a child process, reading with MediaPipe
BROWSER_FIXTURES = {"browser"}  # test_web's: headless Chromium


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses a browser is ``browser``; ``browser`` implies ``slow``, and so does a fixture of
    ``SLOW_FIXTURES`` among a test's fixtures: a new test on them cannot slow the fast tier down unmarked."""
    for item in items:
        fixtures = set(item.fixturenames)
        if item.get_closest_marker("browser") is None and BROWSER_FIXTURES & fixtures:
            item.add_marker(pytest.mark.browser)
        if item.get_closest_marker("slow") is None and (
            item.get_closest_marker("browser") is not None or SLOW_FIXTURES & fixtures
        ):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """A 512x512 BGR photo with one frontal face."""
    image = cv2.imread(str(DATA / "astronaut.jpg"), cv2.IMREAD_COLOR)
    assert image is not None
    return image


@pytest.fixture(scope="session")
def astronaut_faces(astronaut):
    from one_photo import detect

    faces = detect(astronaut)
    assert len(faces) == 1
    return faces


# ---------------------------------------------------------------- trained models, one of each per session


@pytest.fixture(scope="session")
def base_bundle(tmp_path_factory) -> Path:
    """A tiny 3-Dense-layer MLP trained on synthetic faces of four expressions, with a replay table (test_personal's
    base: fine-tuned there and by the public API's fine_tune)."""
    from test_personal import train_base_bundle

    return train_base_bundle(tmp_path_factory.mktemp("models") / "base")


@pytest.fixture(scope="session")
def synthetic_table(tmp_path_factory) -> Path:
    """Three expressions from 12 people, and 'fear' with too few samples to be trained (a saved table)."""
    from landmark_emotion.data.table import save_table
    from synthetic_faces import make_table

    path = tmp_path_factory.mktemp("data") / "synthetic.npz"
    save_table(make_table({"neutral": 48, "happy": 48, "surprise": 36, "fear": 6}, people=12), path)
    return path


TINY_TRAINING = ["--hidden", "32", "--epochs", "40", "--patience", "6", "--batch-size", "32", "--no-progress"]
"""train_model.py's settings for a small network that learns the synthetic expressions in seconds."""


@pytest.fixture(scope="session")
def trained_base(synthetic_table, tmp_path_factory) -> tuple[int, Path]:
    """train_model.py on ``synthetic_table`` (fear dropped, 20 replay faces per class, a TFLite export): its exit code
    and the bundle it wrote."""
    from landmark_emotion.commands import train_model

    out = tmp_path_factory.mktemp("models") / "base"
    code = train_model.main(
        [
            "--data",
            str(synthetic_table),
            "--out",
            str(out),
            "--min-class-count",
            "10",
            "--replay-per-class",
            "20",
            "--export",
            "tflite",
            *TINY_TRAINING,
        ]
    )
    return code, out
