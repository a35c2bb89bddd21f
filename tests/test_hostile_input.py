"""Hostile input, as a user could give it by mistake: outputs naming inputs, unwritable places, tampered bundles,
bad rows in tables and sessions, the same data twice. Each ends in one clear line or a correct result; nothing
that was there before is lost."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import child_processes
from demo_data import scene, write_video
from landmark_emotion.commands import evaluate, extract_landmarks, record_dataset, train_model, train_personal
from landmark_emotion.commands import main as demo_main
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
@pytest.mark.parametrize(
    "outputs",
    [["--output", "a.jpg"], ["--log", "b.jpg"], ["--log", "sub/new.jsonl"]],
    ids=["output-over-a-photo", "log-over-a-photo", "log-inside-the-folder"],
)
def test_the_demo_never_writes_into_its_folder_source(outputs, astronaut, bundle, tmp_path):
    """Files inside a folder source are its inputs: the photos read, and what the next run would read."""
    import cv2

    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    for name in ("a.jpg", "b.jpg", "sub/c.jpg"):
        cv2.imwrite(str(photos / name), astronaut)
    before = {path: path.read_bytes() for path in photos.rglob("*.jpg")}
    flag, name = outputs
    result = demo("--model", str(bundle), "--source", str(photos), flag, str(photos / name))
    assert result.returncode == 2
    one_error_line(result.stderr, f"is inside the input folder --source {photos}")
    assert {path: path.read_bytes() for path in photos.rglob("*.jpg")} == before
    assert not (photos / "sub" / "new.jsonl").exists()


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


# ---------------------------------------------------------------- tampered folders: a FIFO, JSON nested too deeply

DEEP = "[" * 100_000 + "]" * 100_000
"""Valid JSON that Python's parser cannot read: a RecursionError, which is no ValueError."""


def test_small_files_are_regular_files_of_bounded_size_and_any_json_error_is_one_line(tmp_path):
    from landmark_emotion.inputs import FileFormatError, parse_json, read_json

    fifo = tmp_path / "bundle.json"
    os.mkfifo(fifo)
    with pytest.raises(FileFormatError, match="is not a regular file"):  # at once: no writer is waited for
        read_json(fifo)
    big = tmp_path / "big.json"
    big.write_text(" " * 100 + "{}")
    with pytest.raises(FileFormatError, match="larger than 10 bytes"):
        read_json(big, limit=10)
    for text in (DEEP, "{", b"\xff\xfe{\x00", "nothing"):
        with pytest.raises(FileFormatError):
            parse_json(text)
    assert read_json(big) == {}


def tampered_models(bundle: Path, root: Path) -> Path:
    """Bundles: a good default, a FIFO named bundle.json, and bundle.json or metrics.json nested too deeply."""
    import shutil

    shutil.copytree(bundle, root / "default")
    (root / "fifo").mkdir()
    os.mkfifo(root / "fifo" / "bundle.json")
    for name, file in (("deep_info", "bundle.json"), ("deep_metrics", "metrics.json")):
        shutil.copytree(bundle, root / name)
        (root / name / file).write_text(DEEP)
    return root


@pytest.mark.slow
def test_a_tampered_bundle_folder_neither_hangs_nor_crashes_the_demo_or_the_api(bundle, clip, tmp_path):
    from landmark_emotion.api import load_model
    from landmark_emotion.model.bundle import BundleError
    from landmark_emotion.model.discovery import find_default_model

    models = tampered_models(bundle, tmp_path / "models")
    found: list[Path] = []
    chooser = threading.Thread(target=lambda: found.append(find_default_model(models)), daemon=True)
    chooser.start()
    chooser.join(60)
    with contextlib.suppress(OSError):  # a reader blocked on the FIFO (before the fix) gets an end of file
        os.close(os.open(models / "fifo" / "bundle.json", os.O_WRONLY | os.O_NONBLOCK))
    assert found == [models / "default"]  # it returned: the FIFO was not read
    for name in ("fifo", "deep_info", "deep_metrics"):
        with pytest.raises(BundleError):
            load_model(models / name)
    env = {**os.environ, "DISPLAY": "", "LANDMARK_EMOTION_MODELS": str(models)}
    chosen = subprocess.run(  # the demo's own model choice, in a folder holding a FIFO named bundle.json
        [sys.executable, str(ROOT / "scr" / "main.py"), "--no-display", "--source", str(clip)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert chosen.returncode == 0 and f"model: {models / 'default'}" in chosen.stdout, chosen.stderr
    for name in ("deep_info", "deep_metrics"):
        result = demo("--model", str(models / name), "--source", str(clip))
        assert result.returncode == 2
        one_error_line(result.stderr, f"model bundle {models / name}: unreadable bundle.json or metrics.json")


@pytest.mark.slow
def test_a_tampered_bundle_folder_neither_hangs_nor_crashes_the_web_server(bundle, tmp_path):
    from urllib.request import urlopen

    from web_check import web_server

    models = tampered_models(bundle, tmp_path / "models")
    with web_server("--models-dir", str(models), "--personal-dir", str(tmp_path / "none")) as server:
        with urlopen(server.url + "api/bundles", timeout=30) as response:
            listed = [choice["id"] for choice in json.load(response)["bundles"]]
    assert listed == ["models/deep_metrics", "models/default"]  # its bundle.json reads; it is refused when chosen


# ---------------------------------------------------------------- one line, never a traceback


def run_script(script: str, *args: str) -> subprocess.CompletedProcess:
    return child_processes.run_script(script, *args, timeout=300)


@pytest.fixture(scope="module")
def narrow_descriptors(table, tmp_path_factory) -> Path:
    """A table whose appearance descriptors have 100 columns, not the appearance descriptor's width."""
    narrow = table.subset(np.arange(len(table)))
    narrow.descriptors = np.zeros((len(narrow), 100), np.float16)
    path = tmp_path_factory.mktemp("narrow") / "t.npz"
    np.savez(
        path,
        **{name: getattr(narrow, name) for name in ("landmarks", "width", "height", "labels")},
        descriptors=narrow.descriptors,
        meta=np.array("{}"),
    )
    return path


@pytest.mark.parametrize(
    "script, args, message",
    [
        ("evaluate.py", ["--model", "MODEL", "--data", "NARROW"], "descriptors have 100 columns"),
        (
            "train_model.py",
            ["--data", "NARROW", "--out", "OUT", "--features", "landmarks+appearance"],
            "descriptors have 100 columns",
        ),
        ("main.py", ["--model", "MODEL", "--no-display", "--source", "99999999999999999999"], "no camera at index"),
        ("main.py", ["--model", "MODEL", "--no-display", "--source", "\u00b2"], "no such camera, video or folder"),
    ],
    ids=["evaluate-narrow-descriptors", "train-narrow-descriptors", "huge-camera-index", "superscript-two"],
)
@pytest.mark.slow
def test_bad_input_that_used_to_be_a_traceback_is_one_line(script, args, message, bundle, narrow_descriptors, tmp_path):
    values = {"MODEL": str(ROOT / "models" / "default"), "NARROW": str(narrow_descriptors), "OUT": str(tmp_path / "m")}
    result = run_script(script, *(values.get(arg, arg) for arg in args))
    assert result.returncode == 2
    one_error_line(result.stderr, message)


def test_a_utf16_csv_reads_as_utf8_does_and_other_bytes_are_one_line(astronaut, tmp_path, capsys):
    import cv2

    from landmark_emotion.data.sources import DatasetError, from_csv

    for name in ("a.jpg", "b.jpg"):
        cv2.imwrite(str(tmp_path / name), astronaut)
    text = "image,label\na.jpg,happy\nb.jpg,tristesse\n".replace("tristesse", "sad")
    for encoding in ("utf-8", "utf-8-sig", "utf-16"):  # Excel saves "Unicode text" as UTF-16 with a BOM
        (tmp_path / "legend.csv").write_bytes(text.encode(encoding))
        items, skipped = from_csv(tmp_path / "legend.csv")
        assert [(Path(i.path).name, i.label) for i in items] == [("a.jpg", "happy"), ("b.jpg", "sad")], encoding
    (tmp_path / "legend.csv").write_bytes("image,label\ncaf\u00e9.jpg,happy\n".encode("latin-1"))
    with pytest.raises(DatasetError, match="is not UTF-8 or UTF-16 text"):
        from_csv(tmp_path / "legend.csv")
    (tmp_path / "legend.csv").write_bytes(b"image,label\na.jpg,ha\x00ppy\n")
    with pytest.raises(DatasetError, match="legend.csv"):
        from_csv(tmp_path / "legend.csv")
    (tmp_path / "legend.csv").write_bytes(text.encode("utf-16"))
    args = ["--csv", str(tmp_path / "legend.csv"), "--out", str(tmp_path / "t.npz"), "--workers", "1", "--no-progress"]
    assert extract_landmarks.main(args) == 0, capsys.readouterr().err
    assert load_table(tmp_path / "t.npz").counts() == {"happy": 1, "sad": 1}


# ---------------------------------------------------------------- the broader hostile pass: names, FIFOs, huge claims


def undecodable(folder: Path, suffix: str) -> Path:
    """A file name that is not valid UTF-8 (Python holds it with surrogates: ``\\udcff``)."""
    return Path(os.fsdecode(os.fsencode(folder) + b"/\xff\xfe" + suffix.encode()))


@pytest.mark.slow
def test_file_names_that_are_not_utf8_neither_crash_nor_stop_a_command(astronaut, clip, bundle, tmp_path):
    """OpenCV given such a name crashed the process (segfault); printed, it ended a command with a traceback."""
    import shutil

    import cv2

    photos = tmp_path / "photos" / "happy"
    photos.mkdir(parents=True)
    ok, encoded = cv2.imencode(".jpg", astronaut)
    undecodable(photos, ".jpg").write_bytes(encoded.tobytes())
    result = demo("--model", str(bundle), "--source", str(photos), "--log", str(tmp_path / "log.jsonl"))
    assert result.returncode == 0 and "1 photo(s) read, 1 face(s) found" in result.stdout, result.stderr
    [logged] = (tmp_path / "log.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(logged)["file"] == "\\xff\\xfe.jpg"  # the log names it, its bytes escaped
    extracted = run_script("extract_landmarks.py", "--data-dir", str(photos.parent), "--out", str(tmp_path / "t.npz"))
    assert extracted.returncode == 0 and load_table(tmp_path / "t.npz").counts() == {"happy": 1}, extracted.stderr
    video = undecodable(tmp_path, ".mp4")
    shutil.copy(clip, video)
    result = demo("--model", str(bundle), "--source", str(video))
    assert result.returncode == 2
    one_error_line(result.stderr, "its name is not valid UTF-8, which OpenCV needs; rename it")
    result = demo("--model", str(bundle), "--source", str(clip), "--output", str(undecodable(tmp_path, ".mp4")) + "2")
    assert result.returncode == 2
    one_error_line(result.stderr, "its name is not valid UTF-8, which OpenCV needs")
    log = undecodable(tmp_path, ".jsonl")
    result = demo("--model", str(bundle), "--source", str(clip), "--log", str(log))  # printed: "wrote log: ..."
    assert result.returncode == 0 and "wrote log: " in result.stdout and "\\udcff" in result.stdout, result.stderr
    assert log.is_file()


def test_a_reader_reads_an_undecodable_name_and_refuses_a_fifo_at_once(astronaut, tmp_path):
    import cv2

    from landmark_emotion import InputError, Reader

    ok, encoded = cv2.imencode(".jpg", astronaut)
    named = undecodable(tmp_path, ".jpg")
    named.write_bytes(encoded.tobytes())
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    with Reader(ROOT / "models" / "default") as reader:
        assert len(reader.read(named)) == 1
        with pytest.raises(InputError, match="is not an image OpenCV can read"):  # cv2.imread waited for a writer
            reader.read(fifo)


def test_an_empty_source_is_no_source_not_the_working_folder(bundle, capsys):
    assert demo_main.main(["--model", str(bundle), "--no-display", "--source", ""]) == 2
    one_error_line(capsys.readouterr().err, "no source given")


def test_a_table_claiming_an_array_larger_than_memory_is_one_line(bundle, tmp_path, capsys):
    """A few bytes can claim terabytes in an .npy header: numpy's MemoryError was a traceback."""
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**9, 468, 3)})
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("landmarks.npy", header.getvalue() + bytes(64))
        for name, value in (("width", np.ones(1)), ("height", np.ones(1)), ("labels", np.array(["happy"]))):
            member = io.BytesIO()
            np.save(member, value)
            archive.writestr(f"{name}.npy", member.getvalue())
        member = io.BytesIO()
        np.save(member, np.array("{}"))
        archive.writestr("meta.npy", member.getvalue())
    with pytest.raises(TableError, match="Unable to allocate"):
        load_table(path)
    assert evaluate.main(["--model", str(bundle), "--data", str(path)]) == 2
    one_error_line(capsys.readouterr().err, "is not a readable .npz landmark table")


def test_a_table_too_small_to_hold_out_a_test_split_is_one_line(tmp_path, capsys):
    small = make_table({"neutral": 4, "happy": 4, "sad": 4}, people=1)
    small.groups[:] = ""  # every face its own group: 12 groups, but 4 faces of each class for 7 folds
    save_table(small, tmp_path / "t.npz")
    args = ["--data", str(tmp_path / "t.npz"), "--out", str(tmp_path / "m"), "--min-class-count", "2"]
    assert train_model.main(args) == 2 and not (tmp_path / "m").exists()
    one_error_line(capsys.readouterr().err, "too few samples to hold out 15% of each class")
