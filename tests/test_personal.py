"""Fine-tuning a small base bundle on synthetic personal sessions, and refusing bad personal data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from landmark_emotion.commands import train_personal
from landmark_emotion.data.table import LandmarkTable, save_table
from landmark_emotion.face.canonical import CANONICAL_VERTICES
from landmark_emotion.model.bundle import load_bundle
from landmark_emotion.model.bundle_write import save_bundle
from landmark_emotion.model.calibration import calibrate
from landmark_emotion.training.base import population_neutral
from landmark_emotion.training.personal import (
    FineTuneError,
    FineTuneSettings,
    PersonalDataError,
    answered_labels,
    check_labels,
    freeze_layers,
    load_sessions,
    split_heldout,
)

ROOT = Path(__file__).resolve().parent.parent
BASE_LABELS = ["neutral", "happy", "sad", "surprise"]
SIZE = 512
_rng = np.random.default_rng(7)
PATTERNS = {label: _rng.normal(0, 0.35, (468, 3)) for label in BASE_LABELS}  # cm per vertex, per expression
PERSON = _rng.normal(0, 0.35, (468, 3))  # one user's own face shape, unlike anyone in the base data


def faces(label: str, n: int, seed: int, person: bool = False, pattern: str | None = None) -> np.ndarray:
    """MediaPipe-like landmarks (n, 468, 3): the canonical face plus an expression, noise and a random pose."""
    rng = np.random.default_rng(seed)
    shape = np.asarray(CANONICAL_VERTICES) + PATTERNS[pattern or label] + (PERSON if person else 0)
    out = np.empty((n, 468, 3), np.float32)
    for i in range(n):
        yaw = rng.uniform(-0.2, 0.2)
        rot = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
        points = (shape + rng.normal(0, 0.08, shape.shape)) @ rot.T * rng.uniform(10, 14)  # pixels
        points[:, :2] += rng.uniform(200, 312, 2)
        out[i] = points / SIZE
    return out


def table_of(labelled: list[tuple[str, np.ndarray]]) -> LandmarkTable:
    landmarks = np.concatenate([lm for _, lm in labelled])
    labels = [label for label, lm in labelled for _ in lm]
    n = len(labels)
    return LandmarkTable(landmarks, [SIZE] * n, [SIZE] * n, labels, [f"s{i}" for i in range(n)], [""] * n)


def train_base_bundle(path: Path) -> Path:
    """A tiny 3-Dense-layer MLP trained on synthetic faces of four expressions, with a replay table.

    Trained once a session for every test: the fixture ``base_bundle`` (conftest.py)."""
    import keras

    keras.utils.set_random_seed(0)
    train = table_of([(label, faces(label, 80, seed=i)) for i, label in enumerate(BASE_LABELS)])
    x = train.features()
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    y = np.array([BASE_LABELS.index(label) for label in train.labels])
    model = keras.Sequential(
        [
            keras.Input((x.shape[1],)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(len(BASE_LABELS), activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    model.fit((x - mean) / scale, y, epochs=30, batch_size=32, verbose=0)
    replay = train.subset(np.concatenate([np.flatnonzero(train.labels == label)[:25] for label in BASE_LABELS]))
    info = {"kind": "base", "labels": BASE_LABELS, "base": None, "train_args": {"synthetic": True}}
    save_bundle(
        path,
        model,
        mean,
        scale,
        BASE_LABELS,
        info,
        {"test_accuracy": 1.0},
        replay=replay,
        references=population_neutral(train),
    )
    return path


def write_sessions(folder: Path, sessions: dict[str, np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (label, landmarks) in sessions.items():
        save_table(table_of([(label, landmarks)]), folder / f"{name}.npz")


def personal_sessions(folder: Path) -> Path:
    """The user's 'happy' looks like everyone's 'neutral' (plus their own face); also a corrupt session file."""
    write_sessions(
        folder,
        {
            "2026-11-22T21-05-03_happy": ("happy", faces("happy", 24, seed=10, person=True, pattern="neutral")),
            "2026-11-22T21-06-10_sad": ("sad", faces("sad", 24, seed=11, person=True)),
        },
    )
    (folder / "2026-11-22T21-07-00_angry.npz").write_bytes(b"PK\x03\x04 truncated")
    return folder


@pytest.fixture(scope="session")
def personal_run(base_bundle, tmp_path_factory):
    """train_personal.py's defaults on that recording, and what it printed."""
    data = personal_sessions(tmp_path_factory.mktemp("personal_data"))
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    out = tmp_path_factory.mktemp("models") / "personal"
    code = train_personal.main(
        ["--base", str(base_bundle), "--data-dir", str(data), "--out", str(out), "--no-progress", "--min-samples", "5"]
    )
    return code, out, data, before


@pytest.fixture(scope="session")
def keep_unrecorded_run(base_bundle, tmp_path_factory) -> Path:
    """The same recording and seed with --keep-unrecorded."""
    data = personal_sessions(tmp_path_factory.mktemp("personal_data"))
    out = tmp_path_factory.mktemp("models") / "personal_all"
    assert (
        train_personal.main(
            [
                "--base",
                str(base_bundle),
                "--data-dir",
                str(data),
                "--out",
                str(out),
                "--no-progress",
                "--min-samples",
                "5",
                "--keep-unrecorded",
            ]
        )
        == 0
    )
    return out


def test_fine_tuning_moves_predictions_toward_the_personal_labels(personal_run, base_bundle, capsys):
    code, out, data, before = personal_run
    assert code == 0
    base, personal = load_bundle(base_bundle), load_bundle(out)
    fresh = table_of([("happy", faces("happy", 40, seed=20, person=True, pattern="neutral"))]).features()
    base_p, personal_p = base.predictor().predict_proba(fresh), personal.predictor().predict_proba(fresh)
    happy_base, happy = base.labels.index("happy"), personal.labels.index("happy")
    assert np.mean(base_p.argmax(axis=1) == happy_base) < 0.2  # the base model calls this user's smile neutral
    assert np.mean(personal_p.argmax(axis=1) == happy) > 0.8
    assert personal_p[:, happy].mean() > base_p[:, happy_base].mean() + 0.5


def test_the_personal_model_answers_neutral_and_what_was_recorded(personal_run, keep_unrecorded_run):
    _, out, _, _ = personal_run
    personal, kept = load_bundle(out), load_bundle(keep_unrecorded_run)
    assert personal.labels == ["neutral", "happy", "sad"] and kept.labels == BASE_LABELS
    assert personal.metrics["unrecorded_dropped"] == ["surprise"] and kept.metrics["unrecorded_dropped"] == []
    assert set(personal.replay_table().labels) == {"neutral", "happy", "sad"}  # faces of what it answers
    # the same fine-tuning, its output cut to those labels: the kept model's probabilities shared among them alone
    x = table_of([(label, faces(label, 10, seed=60 + i)) for i, label in enumerate(BASE_LABELS)]).features()
    everything = kept.predictor().predict_proba(x)[:, [BASE_LABELS.index(label) for label in personal.labels]]
    np.testing.assert_allclose(
        personal.predictor().predict_proba(x), everything / everything.sum(axis=1, keepdims=True), atol=1e-5
    )


def test_which_labels_a_personal_model_answers():
    assert answered_labels(BASE_LABELS, ["sad", "happy"], False) == ["neutral", "happy", "sad"]  # the base's order
    assert answered_labels(BASE_LABELS, ["happy"], True) == BASE_LABELS
    assert answered_labels(BASE_LABELS, ["neutral"], False) == BASE_LABELS  # one answer is no classifier
    assert answered_labels(["happy", "sad", "surprise"], ["sad"], False) == ["happy", "sad", "surprise"]
    assert answered_labels(["happy", "sad", "surprise"], ["sad", "happy"], False) == ["happy", "sad"]


def test_unrecorded_expressions_survive_fine_tuning_when_kept(keep_unrecorded_run):
    predictor = load_bundle(keep_unrecorded_run).predictor()
    for label in ("neutral", "surprise"):  # not recorded: kept by the replay table
        x = table_of([(label, faces(label, 40, seed=30 + BASE_LABELS.index(label)))]).features()
        assert np.mean(predictor.predict_proba(x).argmax(axis=1) == BASE_LABELS.index(label)) > 0.8


def test_neutral_is_still_read_by_a_model_of_the_recorded_labels(personal_run):
    _, out, _, _ = personal_run
    personal = load_bundle(out)  # neutral was not recorded, but a face at rest needs an answer
    x = table_of([("neutral", faces("neutral", 40, seed=30))]).features()
    assert np.mean(np.asarray(personal.predictor().predict(x)) == "neutral") > 0.8


def test_personal_bundle_keeps_scaler_labels_and_frozen_layers(personal_run, base_bundle):
    _, out, _, _ = personal_run
    base, personal = load_bundle(base_bundle), load_bundle(out)
    assert np.array_equal(personal.scaler_mean, base.scaler_mean)
    assert np.array_equal(personal.scaler_scale, base.scaler_scale)
    assert personal.feature_version == base.feature_version
    assert personal.info["kind"] == "personal" and personal.info["base"] == str(base_bundle)
    base_dense, personal_dense = base.keras_model().layers, personal.keras_model().layers
    for layer_base, layer_personal in zip(base_dense[:1], personal_dense[:1]):  # default: all but the last two
        for w_base, w_personal in zip(layer_base.get_weights(), layer_personal.get_weights()):
            assert np.array_equal(w_base, w_personal)
    columns = [base.labels.index(label) for label in personal.labels]
    assert not np.allclose(base_dense[-1].get_weights()[0][:, columns], personal_dense[-1].get_weights()[0])


def test_metrics_and_skipped_corrupt_session(personal_run):
    _, out, data, before = personal_run
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["heldout_n"] == 10 and metrics["heldout_counts"] == {"happy": 5, "sad": 5}
    assert metrics["heldout_accuracy"] > metrics["heldout_accuracy_base"] + 0.3
    info = json.loads((out / "bundle.json").read_text())
    assert [s["file"] for s in info["skipped_sessions"]] == ["2026-11-22T21-07-00_angry.npz"]
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before  # nothing recorded is touched


def test_heldout_slice_is_the_tail_of_each_label():
    labels = np.array(["sad"] * 5 + ["happy"] * 10 + ["sad"] * 5)
    train, heldout = split_heldout(labels, 0.2)
    assert sorted(heldout.tolist()) == [13, 14, 18, 19]
    assert sorted(np.concatenate([train, heldout]).tolist()) == list(range(20))
    assert split_heldout(np.array(["sad", "sad"]), 0.2)[1].tolist() == [1]


def test_label_checks_name_the_problem():
    with pytest.raises(PersonalDataError, match="fear, contempt not among the base model's labels"):
        check_labels({"fear": 10, "happy": 10, "contempt": 10}, BASE_LABELS, 5)
    with pytest.raises(PersonalDataError, match="sad has 3 .*at least 5"):
        check_labels({"happy": 10, "sad": 3}, BASE_LABELS, 5)
    check_labels({"happy": 5}, BASE_LABELS, 5)


def test_freeze_and_settings_are_checked(base_bundle):
    model = load_bundle(base_bundle).keras_model()
    assert freeze_layers(model, 2) == [layer.name for layer in model.layers[:2]]
    assert [layer.trainable for layer in model.layers] == [False, False, True]
    with pytest.raises(FineTuneError, match="between 0 and 2"):
        freeze_layers(model, 3)
    with pytest.raises(FineTuneError, match="held-out fraction"):
        FineTuneSettings(heldout_fraction=1.0)


def test_sessions_without_groups_are_grouped_by_file(tmp_path):
    write_sessions(tmp_path, {"a": ("sad", faces("sad", 3, 1)), "b": ("sad", faces("sad", 2, 2))})
    (tmp_path / "empty.npz").write_bytes(b"")
    data = load_sessions(tmp_path)
    assert data.table.groups.tolist() == ["a"] * 3 + ["b"] * 2
    assert [p.name for p, _ in data.skipped] == ["empty.npz"]


@pytest.mark.parametrize(
    "case, message",
    [
        ("no-sessions", "no session files (*.npz) in"),
        ("only-corrupt", "none of the 1 session files"),
        ("few-samples", "too few samples: sad has 3"),
        ("unknown-label", "angry not among the base model's labels"),
        ("no-base", "missing"),
        ("out-exists", "exists; pass --force"),
    ],
)
def test_bad_input_is_a_clear_error_and_nothing_is_lost(case, message, base_bundle, tmp_path, capsys):
    data, out, base = tmp_path / "personal_data", tmp_path / "models" / "personal", base_bundle
    data.mkdir()
    n_sad = 3 if case == "few-samples" else 8
    sessions = {"happy": ("happy", faces("happy", 8, 1)), "sad": ("sad", faces("sad", n_sad, 2))}
    if case == "unknown-label":
        sessions["angry"] = ("angry", faces("happy", 8, 3))
    if case == "only-corrupt":
        (data / "x.npz").write_text("junk")
    elif case != "no-sessions":
        write_sessions(data, sessions)
    if case == "no-base":
        base = tmp_path / "models" / "nothing"
    if case == "out-exists":
        out.mkdir(parents=True)
        (out / "keep.txt").write_text("mine")
    before = sorted(p.name for p in data.iterdir())
    code = train_personal.main(["--base", str(base), "--data-dir", str(data), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code != 0 and message in err and err.count("error:") == 1
    assert sorted(p.name for p in data.iterdir()) == before
    assert (out / "keep.txt").read_text() == "mine" if case == "out-exists" else not out.exists()


@pytest.mark.slow
def test_script_error_has_no_traceback(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scr" / "train_personal.py"),
            "--base",
            str(tmp_path / "no"),
            "--data-dir",
            str(tmp_path),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and result.stderr.startswith("error:") and "Traceback" not in result.stderr


def test_ctrl_c_during_fine_tuning_keeps_the_best_epoch_so_far(
    personal_run, base_bundle, tmp_path, monkeypatch, capsys
):
    from landmark_emotion.training.callbacks import EpochBar

    _, _, data, _ = personal_run
    original = EpochBar.on_epoch_end

    def interrupt_at_epoch_5(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 4:
            raise KeyboardInterrupt

    monkeypatch.setattr(EpochBar, "on_epoch_end", interrupt_at_epoch_5)
    out = tmp_path / "personal"
    code = train_personal.main(
        ["--base", str(base_bundle), "--data-dir", str(data), "--out", str(out), "--no-progress", "--lr", "1e-3"]
    )
    assert code == 130 and "interrupted: wrote" in capsys.readouterr().out
    metrics = load_bundle(out).metrics
    assert metrics["interrupted"] is True and metrics["epochs_run"] == 5 and 1 <= metrics["best_epoch"] <= 5


def test_without_a_recorded_neutral_it_says_so_and_fine_tunes_uncalibrated(personal_run, capsys):
    _, out, _, _ = personal_run
    personal = load_bundle(out)
    assert personal.metrics["calibrated"] is False
    assert personal.references is not None and personal.references.person is None  # `n` still works in the demo


@pytest.fixture(scope="session")
def few_shot_run(base_bundle, tmp_path_factory):
    """One neutral and three photos per expression of a user whose face differs from everyone's: the fixed schedule."""
    data = tmp_path_factory.mktemp("few_shot")
    write_sessions(
        data,
        {
            "2026-11-22T21-05-00_neutral": ("neutral", faces("neutral", 1, seed=40, person=True)),
            "2026-11-22T21-05-03_happy": ("happy", faces("happy", 3, seed=41, person=True, pattern="neutral")),
            "2026-11-22T21-06-10_sad": ("sad", faces("sad", 3, seed=42, person=True)),
        },
    )
    out = tmp_path_factory.mktemp("models") / "few_shot"
    code = train_personal.main(
        [
            "--base",
            str(base_bundle),
            "--data-dir",
            str(data),
            "--out",
            str(out),
            "--no-progress",
            "--min-samples",
            "1",
            "--lr",
            "1e-3",
        ]
    )
    return code, out


def test_few_shot_recording_trains_the_fixed_schedule_on_calibrated_features(few_shot_run, base_bundle, capsys):
    code, out = few_shot_run
    assert code == 0
    personal, base = load_bundle(out), load_bundle(base_bundle)
    metrics = personal.metrics
    assert metrics["schedule"] == "fixed 30 epochs" and metrics["epochs_run"] == 30 and metrics["heldout_n"] == 0
    assert metrics["calibrated"] is True and metrics["train_counts"] == {"happy": 3, "neutral": 1, "sad": 3}
    refs = personal.references
    assert refs.person_n == 1 and np.array_equal(refs.population, base.references.population)
    own = table_of([("neutral", faces("neutral", 1, seed=40, person=True))]).features()[0]
    np.testing.assert_allclose(refs.person, own, atol=1e-5)
    fresh = table_of([("happy", faces("happy", 40, seed=43, person=True, pattern="neutral"))]).features()
    tuned = personal.predictor().predict(calibrate(fresh, refs.person, refs.population))
    assert np.mean(np.asarray(tuned) == "happy") > 0.8  # the user's smile, read the way the demo reads it
    assert np.mean(np.asarray(base.predictor().predict(fresh)) == "happy") < 0.2


def test_one_sample_per_label_is_accepted(base_bundle, tmp_path, capsys):
    data = tmp_path / "data"
    write_sessions(
        data,
        {
            "n": ("neutral", faces("neutral", 1, seed=50, person=True)),
            "h": ("happy", faces("happy", 1, seed=51, person=True)),
        },
    )
    code = train_personal.main(
        [
            "--base",
            str(base_bundle),
            "--data-dir",
            str(data),
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
            "--min-samples",
            "1",
            "--fixed-epochs",
            "2",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "fixed schedule of 2 epochs" in out and "calibrated to your neutral face (1 samples)" in out
    assert "answers neutral, happy; not sad, surprise, which you did not record (--keep-unrecorded keeps them)" in out
