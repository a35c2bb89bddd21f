"""The demo's loop, headless, on videos made from the real face photo; keys, clipboard and the fallback source."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from demo_data import count_frames, scene, write_video
from landmark_emotion.apps import demo
from landmark_emotion.apps.clipboard import UNAVAILABLE, Clipboard, clipboard_command
from landmark_emotion.apps.demo import (
    EXPLAINING,
    HELP,
    Action,
    FpsMeter,
    ViewState,
    action_for_key,
    apply_action,
    frame_record,
    open_demo_source,
    run,
)
from landmark_emotion.apps.overlay import draw_hud
from landmark_emotion.face.features import N_FEATURES
from landmark_emotion.face.mesh import FaceMesh
from landmark_emotion.frames import SourceError, VideoFileSource, open_source
from landmark_emotion.labels import UNCERTAIN
from landmark_emotion.reading.options import ReadOptions
from landmark_emotion.reading.pipeline import Face, Pipeline, pipeline_for

LABELS = ["neutral", "happy", "sad", "surprise"]


class StandInPredictor:
    """Plays a model bundle's predictor: a fixed random projection of the features, softmaxed."""

    labels = LABELS

    def __init__(self):
        self.weights = np.random.default_rng(0).normal(0, 0.2, (N_FEATURES, len(LABELS))).astype(np.float32)
        self.calls: list[int] = []

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        self.calls.append(len(features))
        logits = np.atleast_2d(features) @ self.weights
        e = np.exp(logits - logits.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)


@pytest.fixture(scope="module")
def clips(astronaut, tmp_path_factory):
    """A 24-frame clip of one face drifting right, and a 20-frame clip of two faces side by side."""
    folder = tmp_path_factory.mktemp("clips")
    one = write_video(folder / "one.mp4", [scene(astronaut, [100 + 4 * i], top=20 + i) for i in range(24)])
    two = write_video(folder / "two.mp4", [scene(astronaut, [10 + i, 390 - i]) for i in range(20)])
    return {"one": one, "two": two}


def _run(path, tmp_path, **kwargs):
    predictor = StandInPredictor()
    with FaceMesh("video", 4) as mesh, open_source(path) as source:
        stats = run(source, Pipeline(mesh, predictor, min_confidence=0.3), **kwargs)
    return stats, predictor


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_headless_run_writes_a_log_line_and_a_video_frame_per_frame(clips, tmp_path):
    out, log = tmp_path / "out" / "annotated.mp4", tmp_path / "out" / "log.jsonl"
    stats, predictor = _run(clips["one"], tmp_path, output=out, log=log)
    records = _lines(log)
    assert stats.frames == len(records) == count_frames(out) == 24
    assert [r["frame"] for r in records] == list(range(24))
    assert records[3]["t"] == pytest.approx(3 / 30, abs=1e-3)
    for record in records:
        assert set(record) == {"frame", "t", "faces"} and len(record["faces"]) == 1
        face = record["faces"][0]
        assert set(face) == {"id", "box", "label", "confidence", "emoji", "probs", "calibration"}
        assert face["calibration"] == "off"  # the stand-in model has no neutral reference
        assert face["label"] in [*LABELS, UNCERTAIN] and 0 <= face["confidence"] <= 1
        assert list(face["probs"]) == LABELS and sum(face["probs"].values()) == pytest.approx(1, abs=1e-3)
        x, y, w, h = face["box"]
        assert 60 < w < 120 and 60 < h < 130
    assert records[-1]["faces"][0]["box"][0] - records[0]["faces"][0]["box"][0] == pytest.approx(92, abs=6)
    assert {r["faces"][0]["id"] for r in records} == {0} and len(stats.tracks) == 1
    assert predictor.calls == [1] * 24  # one batched call per frame


def test_two_faces_give_two_entries_per_frame_with_stable_ids(clips, tmp_path):
    log = tmp_path / "log.jsonl"
    stats, predictor = _run(clips["two"], tmp_path, log=log)
    records = _lines(log)
    assert len(records) == 20 and all(len(r["faces"]) == 2 for r in records)
    left_ids = {min(r["faces"], key=lambda f: f["box"][0])["id"] for r in records}
    right_ids = {max(r["faces"], key=lambda f: f["box"][0])["id"] for r in records}
    assert len(left_ids) == len(right_ids) == 1 and left_ids != right_ids
    assert predictor.calls == [2] * 20 and stats.detections == 40 and len(stats.tracks) == 2


def test_no_output_means_no_drawing(clips, tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(demo, "annotate", lambda *a, **k: drawn.append(1))
    stats, _ = _run(clips["one"], tmp_path, log=tmp_path / "log.jsonl")
    assert stats.frames == 24 and drawn == []


def test_window_loop_reacts_to_keys(clips, tmp_path, monkeypatch):
    """The display path with OpenCV's window calls replaced: 'e' shows bars from the next frame, 'q' stops."""
    shown, bars = [], []
    real_annotate = demo.annotate
    monkeypatch.setattr(demo, "annotate", lambda *a, **k: bars.append(a[5]) or real_annotate(*a, **k))
    _fake_window(monkeypatch, [-1, ord("e"), ord("q"), -1])
    monkeypatch.setattr(demo.cv2, "imshow", lambda title, image: shown.append(image.shape))
    stats, _ = _run(clips["one"], tmp_path, display=True)
    assert stats.frames == 3 and len(shown) == 3 and bars == [False, False, True]


def test_unwritable_output_is_a_demo_error(clips, tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(demo.DemoError, match="cannot write log"):
        _run(clips["one"], tmp_path, log=tmp_path / "file" / "log.jsonl")


def test_a_video_name_opencv_cannot_write_leaves_no_file(clips, tmp_path):
    """The start-up check makes the file empty before the first frame; a writer that cannot open removes it."""
    with pytest.raises(demo.DemoError, match="cannot write video"):
        _run(clips["one"], tmp_path, output=tmp_path / "annotated.unknown-suffix")
    assert list(tmp_path.iterdir()) == []


def test_a_stop_before_the_first_frame_leaves_no_video(clips, tmp_path, monkeypatch):
    """Ctrl-C before a frame was written: no empty file is left to pass for the annotated video."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Pipeline, "read", interrupted)
    stats, _ = _run(clips["one"], tmp_path, output=tmp_path / "annotated.mp4")
    assert stats.interrupted and stats.frames == 0 and list(tmp_path.iterdir()) == []


def test_the_first_frame_shows_no_rate():
    """A first photo has no frame rate yet: the HUD draws none rather than "0 fps"."""
    blank = np.zeros((120, 200, 3), np.uint8)
    first, later = blank.copy(), blank.copy()
    draw_hud(first, 0.0)
    draw_hud(later, 30.0)
    assert not first.any() and later.any()


def _face(track: int, w: int, emoji_label: str = "happy") -> Face:
    return Face(
        (0, 0, w, w), np.zeros((468, 3), np.float32), emoji_label, 0.9, {"neutral": 0.1, "happy": 0.9}, track=track
    )


def test_frame_record_is_json():
    record = frame_record(7, 0.25, [_face(2, 50)])
    assert json.loads(json.dumps(record)) == {
        "frame": 7,
        "t": 0.25,
        "faces": [
            {
                "id": 2,
                "box": [0, 0, 50, 50],
                "label": "happy",
                "confidence": 0.9,
                "emoji": "\U0001f604",
                "probs": {"neutral": 0.1, "happy": 0.9},
                "calibration": "off",
            }
        ],
    }


@pytest.mark.parametrize(
    "key, action",
    [
        (ord("q"), Action.QUIT),
        (27, Action.QUIT),
        (ord("e"), Action.TOGGLE_BARS),
        (ord("m"), Action.TOGGLE_MESH),
        (ord("s"), Action.COPY_EMOJI),
        (ord("n"), Action.NEUTRAL),
        (ord("x"), Action.EXPLAIN),
        (0x10000 | ord("q"), Action.QUIT),
        (ord("z"), None),
        (-1, None),
    ],
)
def test_keys_map_to_actions(key, action):
    assert action_for_key(key) is action


def test_actions_change_the_view_without_a_window(capsys):
    state, none = ViewState(), Clipboard(None)
    apply_action(Action.TOGGLE_BARS, state, [], none, now=0.0)
    apply_action(Action.TOGGLE_MESH, state, [], none, now=0.0)
    assert state.show_bars and state.show_mesh and state.running
    apply_action(Action.TOGGLE_BARS, state, [], none, now=0.0)
    assert not state.show_bars
    apply_action(Action.COPY_EMOJI, state, [_face(1, 40)], none, now=10.0)
    assert UNAVAILABLE in state.status_at(11.0) and state.status_at(20.0) == HELP
    assert UNAVAILABLE in capsys.readouterr().out
    apply_action(Action.QUIT, state, [], none, now=0.0)
    assert not state.running


def test_copy_sends_the_largest_faces_emoji_to_the_clipboard_tool(tmp_path):
    target = tmp_path / "clip.txt"
    tool = Clipboard([sys.executable, "-c", f"import sys; open({str(target)!r}, 'wb').write(sys.stdin.buffer.read())"])
    state = ViewState()
    apply_action(Action.COPY_EMOJI, state, [_face(1, 40, "sad"), _face(2, 80, "happy")], tool, now=0.0)
    assert target.read_text(encoding="utf-8") == "\U0001f604" and "copied" in state.status


@pytest.mark.parametrize(
    "env, platform, tools, expected",
    [
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", {"wl-copy", "xclip"}, "wl-copy"),
        ({"DISPLAY": ":0"}, "linux", {"xsel"}, "xsel"),
        ({"DISPLAY": ":0"}, "linux", {"xclip", "xsel"}, "xclip"),
        ({}, "linux", {"xclip", "wl-copy"}, None),  # no display server: nothing to copy to
        ({}, "darwin", {"pbcopy"}, "pbcopy"),
        ({"DISPLAY": ":0"}, "linux", set(), None),
    ],
)
def test_clipboard_tool_detection(env, platform, tools, expected):
    command = clipboard_command(env, platform, which=lambda name: f"/usr/bin/{name}" if name in tools else None)
    assert (command[0] if command else None) == expected


def test_fps_meter():
    meter = FpsMeter()
    rates = [meter.tick(i * 0.1) for i in range(10)]
    assert rates[0] == 0 and rates[-1] == pytest.approx(10)


def test_no_camera_falls_back_to_the_sample_clip(monkeypatch):
    def no_camera(source):
        if str(source) == "0":
            raise SourceError("no camera at index 0; try --source path/to/video.mp4")
        return open_source(source)

    monkeypatch.setattr(demo, "open_source", no_camera)
    source, reason = open_demo_source(None)
    with source:
        assert isinstance(source, VideoFileSource) and source.path == demo.SAMPLE_CLIP
        assert source.size == (640, 480)
    assert reason == "no camera at index 0"
    with pytest.raises(SourceError, match="no camera at index 3"):
        open_demo_source("3")  # a source the user named is never replaced


def _fake_window(monkeypatch, keys: list[int]) -> None:
    """OpenCV's window calls replaced: nothing is shown, and ``keys`` are pressed on the first frames."""
    pressed = iter(keys)
    monkeypatch.setattr(demo.cv2, "namedWindow", lambda *a: None)
    monkeypatch.setattr(demo.cv2, "imshow", lambda title, image: None)
    monkeypatch.setattr(demo.cv2, "waitKey", lambda delay: next(pressed, -1))
    monkeypatch.setattr(demo.cv2, "getWindowProperty", lambda *a: 1.0)
    monkeypatch.setattr(demo.cv2, "destroyWindow", lambda *a: None)


def _population():
    from landmark_emotion.face.features import FEATURE_VERSION
    from landmark_emotion.model.calibration import References

    return References(np.random.default_rng(3).normal(0, 0.1, N_FEATURES).astype(np.float32), FEATURE_VERSION, 10)


def test_n_takes_a_second_of_the_face_as_its_reference_on_the_sample_clip(tmp_path, monkeypatch, capsys):
    log = tmp_path / "log.jsonl"
    _fake_window(monkeypatch, [-1] * 4 + [ord("n")])
    shown = []
    real_annotate = demo.annotate
    monkeypatch.setattr(
        demo, "annotate", lambda *a, **k: shown.append((a[3], [f.calibration for f in a[1]])) or real_annotate(*a, **k)
    )
    with FaceMesh("video", 4) as mesh, open_source(demo.SAMPLE_CLIP) as source:
        stats = run(source, Pipeline(mesh, StandInPredictor(), references=_population()), display=True, log=log)
    how = [[f["calibration"] for f in r["faces"]] for r in _lines(log)]
    assert stats.frames == 150 and all(len(h) == 1 for h in how)
    assert how[:5] == [["none"]] * 5  # `n` pressed while frame 4 was shown
    assert how[5:35] == [["capturing"]] * 30 and how[35:] == [["captured"]] * 115
    assert "hold a neutral face" in shown[5][0]  # the status line says what is happening
    assert "face 0: hold a neutral face" in capsys.readouterr().out


def test_n_with_no_face_in_view_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    blank = write_video(tmp_path / "blank.mp4", [np.full((300, 640, 3), 90, np.uint8)] * 5)
    _fake_window(monkeypatch, [ord("n")])
    with FaceMesh("video", 4) as mesh, open_source(blank) as source:
        assert run(source, Pipeline(mesh, StandInPredictor(), references=_population()), display=True).frames == 5
    assert capsys.readouterr().out == "no face in view: look at the camera with a neutral face and try again\n"


def test_n_on_a_face_that_leaves_says_the_reference_was_not_taken(astronaut, tmp_path, monkeypatch, capsys):
    face, empty = scene(astronaut, [100]), np.full((300, 640, 3), 90, np.uint8)
    clip = write_video(tmp_path / "leaves.mp4", [face] * 3 + [empty] * 20)  # gone before its 30 frames
    _fake_window(monkeypatch, [-1, ord("n")])
    shown = []
    real_annotate = demo.annotate
    monkeypatch.setattr(demo, "annotate", lambda *a, **k: shown.append(a[3]) or real_annotate(*a, **k))
    with FaceMesh("video", 4) as mesh, open_source(clip) as source:
        run(source, Pipeline(mesh, StandInPredictor(), references=_population()), display=True)
    lost = "face 0 left the view before its neutral reference was taken; face the camera and try again"
    assert capsys.readouterr().out.splitlines() == [
        "face 0: hold a neutral face for a second, it becomes the face's reference",
        lost,
    ]
    assert lost in shown[-1]  # and the status line says so


def test_n_on_a_smiling_face_says_the_reference_reads_as_a_smile(astronaut, tmp_path, monkeypatch, capsys):
    """She smiles the whole clip: her smile becomes her neutral (kept: some faces read so at rest), and she is told."""
    import landmark_emotion

    clip = write_video(tmp_path / "smile.mp4", [scene(astronaut, [100 + i]) for i in range(40)])
    _fake_window(monkeypatch, [-1, ord("n")])
    with FaceMesh("video", 4) as mesh, open_source(clip) as source:
        run(source, pipeline_for(landmark_emotion.load_model(), mesh, ReadOptions()), display=True)
    said = capsys.readouterr().out.splitlines()
    assert said[0] == "face 0: hold a neutral face for a second, it becomes the face's reference"
    assert said[1].startswith("face 0: the neutral reference taken reads happy ("), said
    assert said[1].endswith("%); if the face was not at rest, take it again") and len(said) == 2, said


def test_x_explains_every_face_from_the_next_frame_and_x_again_stops(clips, monkeypatch, capsys, tmp_path):
    import landmark_emotion

    log, shown = tmp_path / "log.jsonl", []
    _fake_window(monkeypatch, [-1, ord("x"), -1, -1, ord("x")])
    monkeypatch.setattr(demo.cv2, "imshow", lambda title, image: shown.append(image.copy()))
    with FaceMesh("video", 4) as mesh, open_source(clips["one"]) as source:
        pipeline = pipeline_for(landmark_emotion.load_model(), mesh, ReadOptions())
        assert run(source, pipeline, display=True, log=log).frames == 24
    faces = [r["faces"][0] for r in _lines(log)]
    assert ["explanation" in face for face in faces] == [False, False, True, True, True] + [False] * 19
    explanation = faces[2]["explanation"]
    assert explanation["label"] == faces[2]["label"] and explanation["reference"] == "estimating"
    assert len(explanation["regions"]) == 13 and explanation["words"]
    assert len(shown) == 24  # and drawn (test_emoji_overlay checks how)
    assert capsys.readouterr().out.splitlines() == [EXPLAINING, "explanations off"]


def test_x_with_a_model_that_cannot_be_explained_says_why(clips, monkeypatch, capsys):
    _fake_window(monkeypatch, [ord("x")])
    with FaceMesh("video", 4) as mesh, open_source(clips["one"]) as source:
        run(source, Pipeline(mesh, StandInPredictor(), references=_population()), display=True)
    assert capsys.readouterr().out == "only the NumPy engine's readings can be explained, not StandInPredictor's\n"
