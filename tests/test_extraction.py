"""extract_landmarks end to end on a small real dataset made from the astronaut photo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from importlib import metadata
from pathlib import Path

import cv2
import numpy as np
import pytest

import child_processes
from landmark_emotion.commands import extract_landmarks
from landmark_emotion.data.sources import from_class_folders, from_csv, group_from_filename
from landmark_emotion.data.table import TableError, load_table, save_table
from landmark_emotion.face.landmarker import default_landmarker


@pytest.fixture()
def dataset(tmp_path, astronaut) -> Path:
    """Train/Test splits of class folders (aliases, odd case), plus a blank and a corrupt image."""
    root = tmp_path / "affectnet" / "archive"
    happy, sad, anger = root / "Train" / "Happy", root / "Train" / "sadness", root / "Test" / "anger"
    for folder in (happy, sad, anger):
        folder.mkdir(parents=True)
    cv2.imwrite(str(happy / "a_0001.jpg"), astronaut)
    cv2.imwrite(str(happy / "a_0002.png"), cv2.resize(astronaut, (300, 300)))
    (happy / "nested").mkdir()
    cv2.imwrite(str(happy / "nested" / "b_0001.jpg"), np.ascontiguousarray(astronaut[:, ::-1]))
    cv2.imwrite(str(sad / "c_0001.jpg"), astronaut[20:400, 60:440])
    cv2.imwrite(str(sad / "blank_0001.jpg"), np.full((256, 256, 3), 255, np.uint8))
    cv2.imwrite(str(anger / "d_0001.jpg"), cv2.resize(astronaut, (350, 350)))
    (anger / "corrupt_0001.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    (root / "Train" / "notes.txt").write_text("not an image")
    return tmp_path / "affectnet"


def run_script(*args: str) -> subprocess.CompletedProcess:
    return child_processes.run_script("extract_landmarks.py", *args, timeout=300)


def test_class_folders_merge_splits_and_map_aliases(dataset):
    items = from_class_folders(dataset, group_from_filename)
    labels = sorted(i.label for i in items)
    assert labels == ["angry", "angry", "happy", "happy", "happy", "sad", "sad"]
    assert {i.group for i in items} == {"a", "b", "c", "blank", "d", "corrupt"}


def test_extract_counts_faces_and_skips_bad_files(dataset, tmp_path, capsys):
    out = tmp_path / "t.npz"
    code = extract_landmarks.main(
        ["--data-dir", str(dataset), "--out", str(out), "--workers", "1", "--groups", "filename", "--no-progress"]
    )
    printed = capsys.readouterr().out
    assert code == 0
    table = load_table(out)
    assert len(table) == 5 and table.counts() == {"angry": 1, "happy": 3, "sad": 1}
    assert table.landmarks.shape == (5, 468, 3) and table.landmarks.dtype == np.float32
    assert sorted(set(table.width.tolist())) == [300, 350, 380, 512]
    reasons = {Path(s["path"]).name: s["reason"] for s in table.meta["skipped"]}
    assert reasons == {"blank_0001.jpg": "no face found", "corrupt_0001.jpg": "unreadable image"}
    assert table.meta["images_read"] == 7 and table.meta["faces_found"] == 5
    assert table.meta["mediapipe_version"] == metadata.version("mediapipe") and table.meta["feature_version"]
    assert table.meta["landmarker"] == default_landmarker()
    assert "7 images read, 5 faces found, 1 without a face, 1 unreadable" in printed
    assert "corrupt_0001.jpg: unreadable image" in printed


def test_max_per_class_and_class_subset(dataset, tmp_path):
    out = tmp_path / "t.npz"
    assert (
        extract_landmarks.main(
            [
                "--data-dir",
                str(dataset),
                "--out",
                str(out),
                "--workers",
                "1",
                "--max-per-class",
                "1",
                "--classes",
                "Happiness,sad",
                "--no-progress",
            ]
        )
        == 0
    )
    assert load_table(out).counts() == {"happy": 1, "sad": 1}


def test_augment_adds_described_copies_of_training_photos_only(dataset, tmp_path, capsys):
    out = tmp_path / "t.npz"
    args = ["--data-dir", str(dataset), "--out", str(out), "--workers", "1", "--no-progress", "--augment", "2"]
    assert extract_landmarks.main(args) == 0
    assert "and 8 augmented copies" in capsys.readouterr().out  # 2 of each of the 4 Train faces, none of Test's
    table = load_table(out)
    photos, copies = table.subset(table.photographed()), table.subset(table.copies())
    assert photos.counts() == {"angry": 1, "happy": 3, "sad": 1} and table.meta["faces_found"] == 5
    assert len(copies) == 8 and set(copies.splits) == {"train"} and table.meta["augmented_copies"] == 2
    for i in table.copies():
        photo = int(np.flatnonzero((table.paths == table.paths[i]) & ~table.augmented)[0])
        assert photo < i and table.labels[photo] == table.labels[i]  # a copy follows its photo, labelled alike
        # the crop moved and the pixels changed: another appearance, the same expression's landmarks
        assert not np.array_equal(table.descriptors[i], table.descriptors[photo])
        assert not np.array_equal(table.landmarks[i], table.landmarks[photo])
        shape = table.subset(np.array([photo, i])).features()
        assert np.abs(shape[1] - shape[0]).max() < 0.02 * np.abs(shape[0]).max()
    again = tmp_path / "again.npz"
    assert extract_landmarks.main([*args[:3], str(again), *args[4:]]) == 0  # seeded: the same copies
    np.testing.assert_array_equal(load_table(again).descriptors, table.descriptors)
    from landmark_emotion.data.extraction import copy_rng

    draws = {landmarker: copy_rng(0, "a.jpg", landmarker).random(4).tolist() for landmarker in ("legacy", "tasks")}
    assert draws["legacy"] != draws["tasks"]  # the two landmarkers' tables degrade a photo differently
    assert copy_rng(0, "a.jpg", "legacy").random(4).tolist() == draws["legacy"]
    assert copy_rng(0, "caf\udce9.jpg", "legacy").random() != copy_rng(0, "caf\udce8.jpg", "legacy").random()


def test_a_copy_is_kept_with_its_photo_by_max_per_class():
    from landmark_emotion.data.extraction import cap_per_class
    from landmark_emotion.data.table import LandmarkTable

    labels = ["happy", "happy", "happy", "sad", "happy", "happy"]
    augmented = [False, True, True, False, False, True]
    table = LandmarkTable(
        np.zeros((6, 468, 3)), [1] * 6, [1] * 6, labels, list("aaabcc"), [""] * 6, augmented=augmented
    )
    capped = cap_per_class(table, 1)
    assert capped.paths.tolist() == ["a", "a", "a", "b"] and capped.augmented.tolist() == [False, True, True, False]


def test_kagglehub_path_with_download_replaced_by_local_folder(dataset, tmp_path, monkeypatch):
    import kagglehub

    calls = []
    monkeypatch.setattr(kagglehub, "dataset_download", lambda handle: calls.append(handle) or str(dataset))
    out = tmp_path / "affectnet.npz"
    assert extract_landmarks.main(["--out", str(out), "--workers", "1", "--no-progress"]) == 0
    assert calls == ["mstjebashazida/affectnet"]
    table = load_table(out)
    assert len(table) == 5 and table.meta["source"] == "kaggle:mstjebashazida/affectnet"


def test_kaggle_failure_is_one_clear_error(tmp_path, monkeypatch, capsys):
    import kagglehub

    def offline(handle):
        raise ConnectionError("network unreachable")

    monkeypatch.setattr(kagglehub, "dataset_download", offline)
    assert extract_landmarks.main(["--out", str(tmp_path / "t.npz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: could not get mstjebashazida/affectnet from Kaggle") and "--data-dir" in err


def test_csv_source_with_groups_and_conflicts(dataset, tmp_path):
    images = dataset / "archive" / "Train" / "Happy"
    csv = tmp_path / "legend.csv"
    csv.write_text(
        "user.id,image,emotion\n1,a_0001.jpg,HAPPINESS\n1,a_0002.png,anger\n"
        "1,a_0002.png,sadness\n1,missing_0001.jpg,neutral\n"
    )
    items, skipped = from_csv(csv, images, group_rule=group_from_filename)
    assert [(Path(i.path).name, i.label, i.group) for i in items] == [("a_0001.jpg", "happy", "a")]
    assert sorted(reason for _, reason in skipped) == ["listed with conflicting labels angry/sad", "missing file"]


def test_table_round_trip_is_atomic_and_pickle_free(tmp_path, astronaut_faces):
    from landmark_emotion.data.table import LandmarkTable

    landmarks = np.repeat(astronaut_faces.landmarks[:1], 2, axis=0)
    table = LandmarkTable(landmarks, [512] * 2, [512] * 2, ["happy"] * 2, ["x.jpg"] * 2, ["x"] * 2, {"k": 1})
    table.augmented[1] = True
    path = save_table(table, tmp_path / "sub" / "t.npz")
    assert [p.name for p in path.parent.iterdir()] == ["t.npz"]  # no temporary files left
    with np.load(path, allow_pickle=False) as data:
        assert json.loads(str(data["meta"]))["k"] == 1
    again = load_table(path)
    np.testing.assert_array_equal(again.landmarks, table.landmarks)
    np.testing.assert_allclose(again.features(), table.features())
    assert again.augmented.tolist() == [False, True] and again.photographed().tolist() == [0]


@pytest.mark.parametrize("content", [b"not a zip", b""])
def test_corrupt_table_is_refused(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(TableError, match="not a readable .npz landmark table"):
        load_table(path)


def test_mismatched_arrays_are_refused():
    from landmark_emotion.data.table import LandmarkTable

    with pytest.raises(TableError, match="labels has 2"):
        LandmarkTable(np.zeros((1, 468, 3)), [1], [1], ["happy", "sad"], ["a"], [""])


@pytest.mark.slow
@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda d, t: ["--data-dir", str(t / "nope")], "does not exist"),
        (lambda d, t: ["--data-dir", str(t / "empty")], "no labelled images"),
        (lambda d, t: ["--data-dir", str(t / "unknown")], "unknown class folder(s) bored"),
        (lambda d, t: ["--data-dir", str(t / "faceless")], "no faces found in any image"),
        (lambda d, t: ["--data-dir", str(d), "--out", "/proc/forbidden/t.npz"], "cannot write to /proc/forbidden"),
        (lambda d, t: ["--data-dir", str(d), "--classes", "happy,bored"], "unknown emotion label(s) 'bored'"),
        (
            lambda d, t: ["--data-dir", str(d), "--augment", "1", "--features", "landmarks"],
            "--augment changes the appearance",
        ),
    ],
    ids=["missing", "empty", "unknown-class", "no-faces", "unwritable", "bad-classes", "augment-landmarks"],
)
def test_bad_input_is_one_clear_line(dataset, tmp_path, make_args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "unknown" / "bored").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "unknown" / "bored" / "x.jpg"), np.zeros((20, 20, 3), np.uint8))
    (tmp_path / "faceless" / "happy").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "faceless" / "happy" / "x.jpg"), np.full((64, 64, 3), 90, np.uint8))
    args = make_args(dataset, tmp_path)
    if "--out" not in args:
        args += ["--out", str(tmp_path / "out.npz")]
    result = run_script(*args, "--workers", "1", "--no-progress")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "out.npz").exists()


def test_existing_output_is_not_replaced_without_force(dataset, tmp_path, capsys):
    out = tmp_path / "t.npz"
    out.write_bytes(b"precious")
    assert extract_landmarks.main(["--data-dir", str(dataset), "--out", str(out), "--workers", "1"]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert out.read_bytes() == b"precious"


def test_a_run_stopped_after_its_first_chunk_keeps_it(astronaut, tmp_path, monkeypatch, capsys):
    """Stopped as soon as the first chunk is read, a run writes that chunk's faces: the first chunks are small, so
    seconds of work are kept (the chunks used to be of 256 images per worker, all lost before the first was done)."""
    import landmark_emotion.data.extraction as extraction
    from landmark_emotion.cli.run import run_command

    class StoppedAtFirstUpdate:  # the progress bar, which hears of the first chunk done: `kill` lands there
        def __init__(self, *args, **kwargs) -> None:
            pass

        def update(self, n: int) -> None:
            os.kill(os.getpid(), signal.SIGTERM)

        def close(self) -> None:
            pass

    photos = tmp_path / "photos" / "happy"
    photos.mkdir(parents=True)
    for i in range(3 * extraction.FIRST_CHUNK):
        cv2.imwrite(str(photos / f"{i:02d}.jpg"), cv2.resize(astronaut, (200 + 4 * i, 200 + 4 * i)))
    monkeypatch.setattr(extraction, "tqdm", StoppedAtFirstUpdate)
    out = tmp_path / "t.npz"
    code = run_command(extract_landmarks.main, ["--data-dir", str(photos.parent), "--out", str(out), "--workers", "1"])
    printed = capsys.readouterr()
    assert code == 128 + signal.SIGTERM and "Traceback" not in printed.err
    table = load_table(out)
    assert len(table) == extraction.FIRST_CHUNK and table.meta["interrupted"] is True
    assert f"wrote {out}: {extraction.FIRST_CHUNK} faces" in printed.out


def test_chunks_take_a_worker_about_the_same_time_and_come_back_in_order():
    from landmark_emotion.data.extraction import CHUNK_SECONDS, FIRST_CHUNK, Chunks

    chunks = Chunks(list(range(10_000)), workers=2, max_size=256)
    sent = iter(chunks)
    first, second = next(sent), next(sent)
    assert len(first) == len(second) == FIRST_CHUNK  # nothing timed yet
    assert chunks.finished(seconds=0.8) == first  # 0.1 s per image
    assert len(next(sent)) == round(CHUNK_SECONDS / 0.1)
    assert chunks.finished(seconds=0.008) == second  # fast images: at most max_size
    assert len(next(sent)) == 256
    assert [len(c) for c in Chunks(list(range(10)), workers=4, max_size=256)] == [3, 3, 3, 1]  # no idle worker


def test_a_stop_while_the_table_is_written_waits_for_it(astronaut, tmp_path, monkeypatch, capsys):
    """A second Ctrl-C (or a kill) while the faces found are being saved must not throw them away."""
    from landmark_emotion.cli.run import run_command

    save_table = extract_landmarks.save_table

    def stopped_while_saving(table, path):
        os.kill(os.getpid(), signal.SIGTERM)
        return save_table(table, path)

    photos = tmp_path / "photos" / "happy"
    photos.mkdir(parents=True)
    cv2.imwrite(str(photos / "a.jpg"), astronaut)
    monkeypatch.setattr(extract_landmarks, "save_table", stopped_while_saving)
    out = tmp_path / "t.npz"
    code = run_command(extract_landmarks.main, ["--data-dir", str(photos.parent), "--out", str(out), "--workers", "1"])
    assert code == 128 + signal.SIGTERM and len(load_table(out)) == 1
    assert f"wrote {out}: 1 faces" in capsys.readouterr().out
