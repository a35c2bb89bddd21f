"""Hostile input, as a user could give it by mistake: outputs naming inputs, unwritable places, tampered bundles,
bad rows in tables and sessions, the same data twice. Each ends in one clear line or a correct result; nothing
that was there before is lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from demo_data import scene, write_video
from landmark_emotion.commands import evaluate, extract_landmarks, record_dataset, train_model, train_personal
from landmark_emotion.data.table import LandmarkTable, TableError, describe_skipped, load_table, save_table
from landmark_emotion.face.features import N_FEATURES
from landmark_emotion.model.bundle import load_bundle
from landmark_emotion.model.bundle_write import save_bundle
from landmark_emotion.training.personal import load_sessions
from synthetic_faces import make_table

ROOT = Path(__file__).resolve().parent.parent
LABELS = ["neutral", "happy", "sad", "surprise"]


@pytest.fixture(scope="module")
def table() -> LandmarkTable:
    return make_table({label: 8 for label in LABELS}, people=4)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, table) -> Path:
    """An untrained network saved as a real bundle, with a replay table."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((N_FEATURES,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(len(LABELS), activation="softmax"),
        ]
    )
    return save_bundle(
        tmp_path_factory.mktemp("models") / "base",
        model,
        np.zeros(N_FEATURES),
        np.ones(N_FEATURES),
        LABELS,
        {},
        {},
        replay=table.subset(np.arange(8)),
    )


@pytest.fixture(scope="module")
def clip(astronaut, tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("clip") / "clip.mp4", [scene(astronaut, [100 + i]) for i in range(6)])


def demo(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    return subprocess.run(
        [sys.executable, str(ROOT / "scr" / "main.py"), "--no-display", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def one_error_line(err: str, message: str) -> None:
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith("error: "), err
    assert message in err, err


# ---------------------------------------------------------------- outputs never clobber inputs


@pytest.mark.slow
@pytest.mark.parametrize(
    "outputs, message",
    [
        (lambda c, d: ["--output", str(c)], "--output"),
        (lambda c, d: ["--output", str((d / "link.mp4").symlink_to(c) or d / "link.mp4")], "is the input --source"),
        (lambda c, d: ["--log", str(c)], "--log"),
        (lambda c, d: ["--output", str(d / "x.mp4"), "--log", str(d / "x.mp4")], "are the same place"),
    ],
    ids=["output-is-source", "output-symlink-to-source", "log-is-source", "output-is-log"],
)
def test_the_demo_never_writes_over_its_source(outputs, message, clip, bundle, tmp_path):
    before = clip.read_bytes()
    result = demo("--model", str(bundle), "--source", str(clip), *outputs(clip, tmp_path))
    assert result.returncode == 2
    one_error_line(result.stderr, message)
    assert clip.read_bytes() == before


@pytest.mark.slow
def test_the_demo_never_writes_into_its_bundle(clip, bundle):
    result = demo("--model", str(bundle), "--source", str(clip), "--log", str(bundle / "log.jsonl"))
    assert result.returncode == 2
    one_error_line(result.stderr, "is inside the input folder --model")
    assert load_bundle(bundle).labels == LABELS


@pytest.mark.slow
def test_the_demo_says_when_it_cannot_load_the_bundle_it_was_given(clip, bundle, tmp_path):
    import shutil

    tampered = Path(shutil.copytree(bundle, tmp_path / "tampered"))
    info = json.loads((tampered / "bundle.json").read_text())
    (tampered / "bundle.json").write_text(json.dumps({**info, "labels": LABELS[::-1]}))
    result = demo("--model", str(tampered), "--source", str(clip))
    assert result.returncode == 2 and result.stdout == ""  # no other model was used instead
    one_error_line(result.stderr, "bundle.json was changed after training")


def test_evaluate_never_writes_over_its_data(bundle, table, tmp_path, capsys):
    data = save_table(table, tmp_path / "t.npz")
    (tmp_path / "t.png").symlink_to(data)
    before = data.read_bytes()
    for flag, out in (("--json", data), ("--png", tmp_path / "t.png")):
        assert evaluate.main(["--model", str(bundle), "--data", str(data), flag, str(out)]) == 2
        one_error_line(capsys.readouterr().err, f"{flag} {out} is the input --data")
    assert evaluate.main(["--model", str(bundle), "--data", str(data), "--png", str(tmp_path / "c.bmpx")]) == 2
    one_error_line(capsys.readouterr().err, "--png must end in .png, .svg, .pdf, .jpg")
    assert data.read_bytes() == before


def test_fine_tuning_never_replaces_its_base_even_with_force(bundle, tmp_path, capsys):
    before = {p.name: p.read_bytes() for p in bundle.iterdir()}
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    for out, message in [
        (bundle, "is the input --base"),
        (bundle / "p", "inside the input folder --base"),
        (sessions / "p", "inside the input folder --data-dir"),
        (bundle.parent, "holds the input"),
    ]:
        code = train_personal.main(
            ["--base", str(bundle), "--data-dir", str(sessions), "--out", str(out), "--force", "--no-progress"]
        )
        assert code == 2
        one_error_line(capsys.readouterr().err, message)
    assert {p.name: p.read_bytes() for p in bundle.iterdir()} == before


def test_training_never_replaces_a_folder_holding_its_data(table, tmp_path, capsys):
    data = save_table(table, tmp_path / "models" / "t.npz")
    code = train_model.main(["--data", str(data), "--out", str(tmp_path / "models"), "--force", "--no-progress"])
    assert code == 2
    one_error_line(capsys.readouterr().err, "--out")
    assert load_table(data).counts() == table.counts()


def test_extraction_never_writes_over_its_csv(tmp_path, capsys):
    legend = tmp_path / "legend.npz"  # an odd name, but a real input
    legend.write_text("image,label\na.jpg,happy\n")
    code = extract_landmarks.main(["--csv", str(legend), "--out", str(legend), "--force", "--workers", "1"])
    assert code == 2
    one_error_line(capsys.readouterr().err, "is the input --csv")
    assert legend.read_text() == "image,label\na.jpg,happy\n"


def test_unwritable_outputs_fail_before_any_frame_or_epoch(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    opened = []
    monkeypatch.setattr(record_dataset, "open_source", lambda source: opened.append(source))
    code = record_dataset.main(["--label", "happy", "--source", "clip.mp4", "--out-dir", str(blocker / "sessions")])
    assert code == 2 and opened == []  # the source was never opened: nothing was captured to be lost
    one_error_line(capsys.readouterr().err, f"cannot write to {blocker / 'sessions'}")
    code = train_model.main(["--data", str(tmp_path / "missing.npz"), "--out", str(blocker / "m")])
    assert code == 2  # found before the (missing) table is even read
    one_error_line(capsys.readouterr().err, f"cannot write to {blocker}")


# ---------------------------------------------------------------- data validated where it enters


def with_bad_rows(table: LandmarkTable) -> LandmarkTable:
    """The table plus one row of each kind no model can use."""
    bad = table.subset(np.arange(5))
    bad.landmarks[0, 10, 1] = np.nan
    bad.landmarks[1] = 0.5  # all points equal
    bad.landmarks[2] = bad.landmarks[2] * 1e-5  # a face far smaller than a pixel
    bad.width[3] = 0  # no image
    bad.landmarks[4, 3, 0] = np.inf
    return LandmarkTable.concatenate([table, bad])


def test_bad_rows_are_skipped_and_counted(table, tmp_path):
    path = save_table(with_bad_rows(table), tmp_path / "t.npz")
    loaded = load_table(path)
    assert len(loaded) == len(table) and np.array_equal(loaded.landmarks, table.landmarks)
    assert loaded.skipped == {
        "non-finite landmarks": 2,
        "image size not a positive number of pixels": 1,
        "degenerate face (all points equal or smaller than a pixel)": 2,
    }
    assert describe_skipped(loaded.skipped).startswith("skipped 5 unusable row(s): ")
    assert np.all(np.isfinite(loaded.features()))


def test_evaluate_says_which_rows_it_did_not_score(bundle, table, tmp_path, capsys):
    data = save_table(with_bad_rows(table), tmp_path / "t.npz")
    assert evaluate.main(["--model", str(bundle), "--data", str(data), "--json", str(tmp_path / "s.json")]) == 0
    out = capsys.readouterr().out
    assert f"warning: {data}: skipped 5 unusable row(s)" in out and f"on the other {len(table)}" in out
    scores = json.loads((tmp_path / "s.json").read_text())
    assert scores["n"] == len(table) and sum(scores["skipped_rows"].values()) == 5


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"labels": np.arange(3)}, r"wrong type of labels \(int64\)"),
        ({"landmarks": np.full((3, 468, 3), "x")}, "wrong type of landmarks"),
        ({"width": np.array(["a", "b", "c"])}, "wrong type of width"),
        ({"meta": np.array("[1, 2]")}, "wrong type of metadata"),
        ({"landmarks": np.zeros((3, 68, 2), np.float32)}, r"landmarks must have shape \(n, 468, 3\)"),
    ],
    ids=["int-labels", "text-landmarks", "text-width", "meta-list", "landmark-shape"],
)
def test_a_table_of_the_wrong_types_is_refused(arrays, message, table, tmp_path):
    path = save_table(table.subset(np.arange(3)), tmp_path / "t.npz")
    with np.load(path, allow_pickle=False) as data:
        content = {name: data[name] for name in data.files}
    np.savez(path, **{**content, **arrays})
    with pytest.raises(TableError, match=message):
        load_table(path)


def test_the_same_table_twice_adds_no_duplicates(table, tmp_path, capsys):
    path = save_table(table, tmp_path / "a.npz")
    (tmp_path / "b.npz").symlink_to(path)
    merged = train_model.load_tables([path, path, tmp_path / "b.npz"])
    assert len(merged) == len(table) and merged.skipped == {"duplicate row": 2 * len(table)}
    assert capsys.readouterr().out == f"skipped {2 * len(table)} unusable row(s): {2 * len(table)} duplicate row\n"


@pytest.mark.slow
def test_training_on_a_table_given_twice_keeps_test_faces_out_of_training(table, tmp_path):
    path = save_table(make_table({"neutral": 30, "happy": 30}, people=10), tmp_path / "a.npz")
    out = tmp_path / "m"
    assert (
        train_model.main(
            [
                "--data",
                str(path),
                str(path),
                "--out",
                str(out),
                "--min-class-count",
                "5",
                "--hidden",
                "8",
                "--epochs",
                "2",
                "--no-progress",
            ]
        )
        == 0
    )
    metrics = load_bundle(out).metrics
    assert sum(metrics["split"].values()) == 60 and metrics["skipped_rows"] == {"duplicate row": 60}


def test_bad_session_rows_and_copies_are_skipped(table, tmp_path):
    sessions = tmp_path / "sessions"
    save_table(with_bad_rows(table.subset(np.arange(6))), sessions / "a.npz")
    save_table(table.subset(np.arange(6)), sessions / "b.npz")  # a copy of a's good rows
    bad = table.subset(np.arange(1))
    bad.landmarks[:] = np.nan
    save_table(bad, sessions / "c.npz")
    data = load_sessions(sessions)
    assert len(data.table) == 6 and [p.name for p in data.files] == ["a.npz", "b.npz"]
    assert data.table.skipped["duplicate row"] == 6 and sum(data.table.skipped.values()) == 11
    assert data.skipped == [(sessions / "c.npz", "no usable samples")]
