"""Recording sessions from an image folder, a video file, an interrupted stream and the preview loop."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from landmark_emotion.apps import recording
from landmark_emotion.apps.recording import RecordingError, Session, record, record_preview, save_session
from landmark_emotion.commands import record_dataset
from landmark_emotion.data.table import load_table
from landmark_emotion.face.appearance import N_DESCRIPTOR
from landmark_emotion.face.landmarker import Detection
from landmark_emotion.frames import Frame

ROOT = Path(__file__).resolve().parent.parent


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def two_faces(astronaut, astronaut_faces) -> np.ndarray:
    """Two copies of the astronaut's face side by side: a frame that must be skipped."""
    x, y, w, h = astronaut_faces.boxes()[0]
    crop = astronaut[max(0, y - h) : y + 2 * h, max(0, x - w) : x + 2 * w]
    return np.hstack([crop, crop])


@pytest.fixture()
def folder(tmp_path, astronaut, two_faces) -> Path:
    """Two usable photos, a blank one, one with two faces, and a corrupt file."""
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "a1.jpg"), astronaut)
    cv2.imwrite(str(folder / "a2.png"), cv2.resize(astronaut, (320, 320)))
    cv2.imwrite(str(folder / "blank.jpg"), np.full((240, 240, 3), 255, np.uint8))
    cv2.imwrite(str(folder / "two.jpg"), two_faces)
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    return folder


@pytest.fixture()
def video(tmp_path, astronaut) -> Path:
    """Six frames of the astronaut, the third one black."""
    path = tmp_path / "me.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (512, 512))
    for i in range(6):
        writer.write(np.zeros_like(astronaut) if i == 2 else astronaut)
    writer.release()
    return path


def test_folder_session_keeps_one_face_frames_and_counts_the_rest(folder, tmp_path, capsys):
    out = tmp_path / "personal"
    assert (
        record_dataset.main(["--label", "Happiness", "--source", str(folder), "--out-dir", str(out), "--no-progress"])
        == 0
    )
    files = list(out.iterdir())
    assert len(files) == 1 and files[0].name.endswith("_happy.npz")
    table = load_table(files[0])
    assert len(table) == 2 and table.counts() == {"happy": 2}
    assert sorted(table.paths.tolist()) == ["a1.jpg", "a2.png"]
    assert sorted(table.width.tolist()) == [320, 512]
    meta = table.meta
    assert meta["skipped_counts"] == {"no_face": 1, "several_faces": 1, "unreadable": 1}
    assert meta["label"] == "happy" and meta["static_detection"] is True and meta["frames_read"] == 4
    assert meta["feature_version"] and meta["mediapipe_version"] and meta["created"]
    with np.load(files[0], allow_pickle=False) as data:  # landmarks, descriptors and metadata only, never pixels
        assert set(data.files) == {
            "landmarks",
            "descriptors",
            "width",
            "height",
            "labels",
            "paths",
            "groups",
            "splits",
            "meta",
        }
        assert data["descriptors"].shape == (2, N_DESCRIPTOR)
        assert max(data[name].size for name in data.files if name not in ("landmarks", "descriptors")) <= 2
    assert "2 captured from 4 frames" in capsys.readouterr().out


def test_video_session_stops_at_samples_and_a_second_run_adds_a_file(video, tmp_path):
    out = tmp_path / "personal"
    args = ["--label", "sad", "--source", str(video), "--out-dir", str(out), "--samples", "3", "--no-progress"]
    assert record_dataset.main(args) == 0
    (first,) = out.iterdir()
    before = digest(first)
    table = load_table(first)
    assert len(table) == 3 and table.meta["static_detection"] is False
    assert table.meta["skipped_counts"]["no_face"] == 1 and table.meta["frames_read"] == 4
    assert table.paths.tolist() == ["me.mp4#0", "me.mp4#1", "me.mp4#3"]

    assert record_dataset.main(args) == 0
    files = sorted(out.iterdir())
    assert len(files) == 2 and first in files and digest(first) == before
    assert all(f.name.endswith(("_sad.npz", "_sad_2.npz")) for f in files)


def test_sessions_started_in_the_same_second_never_overwrite(tmp_path, astronaut_faces):
    started = datetime(2026, 11, 22, 21, 5, 3)
    paths = []
    for n in (1, 2, 3):
        session = Session("happy", "test", static=True, appearance=False, started=started)
        for i in range(n):
            session.offer(astronaut_faces, Frame(i, 0.0, None, f"f{i}"))
        paths.append(save_session(session, tmp_path))
    assert [p.name for p in paths] == [
        "2026-11-22T21-05-03_happy.npz",
        "2026-11-22T21-05-03_happy_2.npz",
        "2026-11-22T21-05-03_happy_3.npz",
    ]
    assert [len(load_table(p)) for p in paths] == [1, 2, 3]
    assert sorted(tmp_path.iterdir()) == paths  # no temporary file left behind


def test_ctrl_c_mid_stream_keeps_what_was_captured(tmp_path, astronaut):
    def frames():
        for i in range(3):
            yield Frame(i, i / 30, astronaut, "camera")
        raise KeyboardInterrupt

    ((session, path),) = record(frames(), "camera:0", ["angry"], tmp_path, samples=10, progress=False)
    assert session.interrupted and path is not None
    table = load_table(path)
    assert len(table) == 3 and table.counts() == {"angry": 3} and table.meta["interrupted"] is True


def test_a_crash_mid_stream_still_saves(tmp_path, astronaut, astronaut_faces):
    def frames():
        yield Frame(0, 0.0, astronaut, "camera")
        raise OSError("camera unplugged")

    with pytest.raises(OSError, match="unplugged"):
        record(frames(), "camera:0", ["fear"], tmp_path, samples=5, detector=lambda image: astronaut_faces)
    (path,) = tmp_path.iterdir()
    assert len(load_table(path)) == 1


def test_preview_walks_through_labels_with_keys(monkeypatch, astronaut, astronaut_faces):
    space, n, q = ord(" "), ord("n"), ord("q")
    keys = iter([-1, space, -1, space, space, space, n, space, space, q, space])
    shown = []
    monkeypatch.setattr(recording.cv2, "imshow", lambda name, image: shown.append(image))
    monkeypatch.setattr(recording.cv2, "waitKey", lambda delay: next(keys))
    monkeypatch.setattr(recording.cv2, "getWindowProperty", lambda name, prop: 1.0)
    monkeypatch.setattr(recording.cv2, "destroyAllWindows", lambda: None)
    sessions = [Session(label, "camera:0", static=False) for label in ("happy", "sad", "surprise")]
    frames = (Frame(i, float(i), astronaut, "camera") for i in range(100))  # one frame per second
    record_preview(frames, sessions, lambda image: astronaut_faces, samples=2, get_ready=2.0)
    # happy: two SPACEs fill it; sad: SPACE during the 2 s "get ready" is ignored, one capture, then n;
    # surprise: SPACE ignored again, one capture, then q stops before the last SPACE
    assert [s.names for s in sessions] == [["camera#1", "camera#3"], ["camera#5"], ["camera#8"]]
    assert len(shown) == 10 and np.array_equal(shown[0][300:, :, :], astronaut[300:, ::-1, :])


def test_preview_auto_capture_every_k_frames(monkeypatch, astronaut, astronaut_faces):
    monkeypatch.setattr(recording.cv2, "imshow", lambda name, image: None)
    monkeypatch.setattr(recording.cv2, "waitKey", lambda delay: -1)
    monkeypatch.setattr(recording.cv2, "getWindowProperty", lambda name, prop: 1.0)
    monkeypatch.setattr(recording.cv2, "destroyAllWindows", lambda: None)
    no_face = Detection(np.zeros((0, 468, 3), np.float32), 512, 512)
    faces = iter([astronaut_faces, no_face] * 50)
    session = Session("neutral", "camera:0", static=False)
    frames = (Frame(i, i / 30, astronaut, "camera") for i in range(100))
    record_preview(frames, [session], lambda image: next(faces), samples=3, every=2)
    assert session.names == ["camera#0", "camera#2", "camera#4"] and session.no_face == 0


def test_several_labels_need_the_preview(video, tmp_path):
    with pytest.raises(RecordingError, match="several labels need a camera"):
        record([], str(video), ["happy", "sad"], tmp_path, samples=None)


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, message",
    [
        (["--label", "smug"], "unknown emotion label(s) 'smug'"),
        (["--label", "happy", "--source", "7"], "no camera at index 7"),
        (["--label", "happy", "--source", "{junk}"], "cannot read video"),
        (["--labels", "happy,sad", "--source", "{video}"], "several labels need a camera and a display"),
        (["--label", "happy", "--source", "{blank}"], "no frame with exactly one face was captured"),
    ],
    ids=["unknown-label", "no-camera", "unreadable-video", "labels-from-file", "no-face"],
)
def test_bad_input_is_one_error_line_and_nothing_written(args, message, tmp_path, video):
    blank = tmp_path / "blank"
    blank.mkdir()
    cv2.imwrite(str(blank / "white.png"), np.full((64, 64, 3), 255, np.uint8))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video")
    out = tmp_path / "personal"
    args = [a.format(video=video, blank=blank, junk=junk) for a in args]
    result = subprocess.run(
        [sys.executable, str(ROOT / "scr" / "record_dataset.py"), *args, "--out-dir", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    errors = result.stderr.splitlines()  # ours only: no OpenCV or FFmpeg lines around it
    assert len(errors) == 1 and errors[0].startswith("error:") and message in errors[0], result.stderr
    assert not out.exists() or not any(out.iterdir())
