"""train_model.py and evaluate.py end to end on a synthetic table; scores; bad input gives one clear error line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from child_processes import run_script
from landmark_emotion.commands import evaluate, train_model
from landmark_emotion.data.table import save_table
from landmark_emotion.model.bundle import load_bundle
from landmark_emotion.model.evaluation import evaluate_labels
from synthetic_faces import make_table

TINY = ["--hidden", "32", "--epochs", "40", "--patience", "6", "--batch-size", "32", "--no-progress"]


@pytest.fixture(scope="module")
def data(synthetic_table) -> Path:
    """Three expressions from 12 people, and 'fear' with too few samples to be trained (conftest's, shared)."""
    return synthetic_table


@pytest.fixture(scope="module")
def trained(trained_base):
    """train_model.py on ``data`` with a TFLite export: exit code and bundle (conftest's, trained once a session)."""
    return trained_base


def test_scores_by_hand():
    m = evaluate_labels(
        ["happy", "happy", "sad", "sad", "fear"], ["happy", "sad", "sad", "sad", "happy"], ["happy", "sad"]
    )
    assert m["labels"] == ["happy", "sad", "fear"] and m["n"] == 5 and m["accuracy"] == pytest.approx(0.6)
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert m["per_class"]["sad"] == {
        "precision": pytest.approx(2 / 3),
        "recall": 1.0,
        "f1": pytest.approx(0.8),
        "support": 2,
    }
    assert m["per_class"]["happy"]["f1"] == pytest.approx(0.5) and m["per_class"]["fear"]["f1"] == 0
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 0) / 3)
    assert m["unknown_labels"] == {"fear": 1}


def test_train_model_writes_a_complete_bundle(trained):
    code, out = trained
    assert code == 0
    assert {
        "model.keras",
        "forward.npz",
        "scaler.npz",
        "bundle.json",
        "metrics.json",
        "replay.npz",
        "confusion.png",
        "curves.png",
        "model.tflite",
    } <= {p.name for p in out.iterdir()}
    bundle = load_bundle(out)
    assert bundle.labels == ["neutral", "happy", "surprise"]  # fear (6 samples) dropped
    assert bundle.metrics["dropped_classes"] == {"fear": 6} and bundle.metrics["accuracy"] > 0.9
    assert bundle.metrics["evaluated_on"] == "test split, person-disjoint"
    assert bundle.metrics["tflite_max_difference"] < 1e-4
    assert bundle.replay_table().counts() == {"happy": 20, "neutral": 20, "surprise": 20}
    assert bundle.info["train_args"]["recipe"]["hidden"] == [32]


def test_tflite_export_runs_and_matches(trained):
    from landmark_emotion.training.export import run_tflite

    _, out = trained
    bundle = load_bundle(out)
    features = bundle.replay_table().features()
    x = ((features - bundle.scaler_mean) / bundle.scaler_scale).astype(np.float32)
    tflite = run_tflite((out / "model.tflite").read_bytes(), x)
    assert np.max(np.abs(tflite - bundle.predictor().predict_proba(features))) < 1e-4


def test_evaluate_writes_scores_and_counts_unknown_labels(trained, data, tmp_path, capsys):
    _, out = trained
    code = evaluate.main(
        ["--model", str(out), "--data", str(data), "--json", str(tmp_path / "s.json"), "--png", str(tmp_path / "c.png")]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "warning: " in printed and "fear (6)" in printed  # trained on it; fear unknown
    scores = json.loads((tmp_path / "s.json").read_text())
    assert {"accuracy", "macro_f1", "n", "labels", "per_class", "confusion"} <= set(scores)
    assert scores["n"] == 138 and np.sum(scores["confusion"]) == 138
    assert scores["labels"] == ["neutral", "happy", "surprise", "fear"] and scores["unknown_labels"] == {"fear": 6}
    assert scores["per_class"]["fear"]["recall"] == 0 and scores["accuracy"] <= 132 / 138
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_never_scores_augmented_copies(trained, data, tmp_path, capsys):
    from landmark_emotion.data.table import LandmarkTable, load_table

    _, out = trained
    table = load_table(data)
    copies = table.subset(np.flatnonzero(table.labels == "happy"))
    copies.labels[:] = "surprise"  # scored, every copy would be an error
    copies.landmarks += 1e-3
    copies.augmented[:] = True
    save_table(LandmarkTable.concatenate([table, copies]), tmp_path / "t.npz")
    assert evaluate.main(["--model", str(out), "--data", str(data), "--json", str(tmp_path / "photos.json")]) == 0
    assert (
        evaluate.main(["--model", str(out), "--data", str(tmp_path / "t.npz"), "--json", str(tmp_path / "s.json")]) == 0
    )
    capsys.readouterr()
    photos, scores = (json.loads((tmp_path / name).read_text()) for name in ("photos.json", "s.json"))
    assert scores == photos and scores["n"] == len(table)


def test_existing_model_is_never_overwritten_without_force(trained, data, capsys):
    _, out = trained
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert train_model.main(["--data", str(data), "--out", str(out), *TINY]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.slow
def test_force_replaces_an_existing_model(data, tmp_path):
    out = tmp_path / "base"
    args = ["--data", str(data), "--out", str(out), "--min-class-count", "10", *TINY]
    assert train_model.main(args) == 0
    first = (out / "forward.npz").read_bytes()
    assert train_model.main([*args, "--force", "--seed", "1"]) == 0
    assert (out / "forward.npz").read_bytes() != first and load_bundle(out).info["train_args"]["seed"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["base"]  # no leftover of the old bundle


@pytest.mark.slow
def test_one_class_table_is_refused(data, tmp_path):
    one = tmp_path / "one.npz"
    save_table(make_table({"happy": 30}, people=3), one)
    result = run_script("train_model.py", "--data", str(one), "--out", str(tmp_path / "m"), *TINY)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "error: need at least two classes with at least 10 samples each to train, the table has: happy 30"
    )
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    "case, message",
    [
        ("mismatched", "table arrays disagree in length: landmarks has 3 rows but labels has 2"),
        ("csv", "is not a readable .npz landmark table"),
        ("missing", "no table at"),
    ],
)
def test_bad_tables_are_refused_by_both_scripts(case, message, trained, tmp_path):
    path = tmp_path / ("t.csv" if case == "csv" else "t.npz")
    if case == "mismatched":
        np.savez(
            path,
            landmarks=np.zeros((3, 468, 3), np.float32),
            width=[1] * 3,
            height=[1] * 3,
            labels=["happy", "sad"],
            meta=np.array("{}"),
        )
    elif case == "csv":
        path.write_text("path,label\na.jpg,happy\n")
    for script, args in [
        ("train_model.py", ["--out", str(tmp_path / "m")]),
        ("evaluate.py", ["--model", str(trained[1])]),
    ]:
        result = run_script(script, "--data", str(path), *args)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.slow
def test_evaluate_refuses_an_incomplete_bundle(data, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "bundle.json").write_text("{}")
    result = run_script("evaluate.py", "--model", str(tmp_path / "m"), "--data", str(data))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: model bundle {tmp_path / 'm'} is incomplete: missing model.keras")
