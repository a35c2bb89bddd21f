"""The caller-owned face mesh: both landmarkers, both modes, closing, no graph shared between owners."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from demo_data import scene, write_video
from landmark_emotion import signals
from landmark_emotion.apps.demo import run
from landmark_emotion.face import landmarker as landmarker_module
from landmark_emotion.face.appearance import N_DESCRIPTOR
from landmark_emotion.face.features import normalize
from landmark_emotion.face.landmarker import (
    BLENDSHAPES,
    TASK_FILE,
    Detection,
    LandmarkerError,
    default_landmarker,
    landmarker_for_model,
)
from landmark_emotion.face.mesh import FaceMesh, Mode, mode_for
from landmark_emotion.face.readability import Readability, ReadabilityError, load_readability
from landmark_emotion.face.tiles import SmallFaceSearch
from landmark_emotion.frames import open_source
from landmark_emotion.reading.pipeline import Pipeline
from one_photo import LANDMARKERS, LEGACY_INSTALLED, detect, four_in_a_row

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["legacy", "tasks"]


class ConstantPredictor:
    labels = ["neutral", "happy"]

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        return np.tile([0.2, 0.8], (len(features), 1))


def test_default_landmarker_follows_the_installed_mediapipe(monkeypatch):
    monkeypatch.delenv("LANDMARK_EMOTION_LANDMARKER", raising=False)
    monkeypatch.delenv("EMOTION_LANDMARKER", raising=False)
    assert default_landmarker() == ("legacy" if LEGACY_INSTALLED else "tasks")
    monkeypatch.setenv("EMOTION_LANDMARKER", "tasks")
    assert default_landmarker() == "tasks"
    with FaceMesh("image") as mesh:
        assert mesh.landmarker == "tasks"


def test_the_landmarker_variable_has_the_package_s_prefix_and_its_old_name_still_works(monkeypatch):
    monkeypatch.setenv("EMOTION_LANDMARKER", "tasks")  # the earlier name
    monkeypatch.delenv("LANDMARK_EMOTION_LANDMARKER", raising=False)
    assert default_landmarker() == "tasks"
    monkeypatch.setenv("LANDMARK_EMOTION_LANDMARKER", "legacy")  # the new name wins
    assert default_landmarker() == "legacy"


@pytest.mark.skipif(LEGACY_INSTALLED, reason="the path of Python 3.13 / mediapipe >= 1")
def test_without_legacy_mediapipe_tasks_runs_on_numpy_2(astronaut):
    assert int(np.__version__.split(".")[0]) >= 2
    with pytest.raises(LandmarkerError, match="mediapipe 0.10"):
        FaceMesh("image", landmarker="legacy")
    assert len(detect(astronaut)) == 1


def test_the_task_file_is_googles_face_landmarker():
    assert TASK_FILE.stat().st_size == 3_758_596


@pytest.mark.parametrize("landmarker", LANDMARKERS)
def test_image_mode_finds_the_face_and_gives_468_points(astronaut, astronaut_faces, landmarker):
    with FaceMesh(Mode.IMAGE, 2, landmarker=landmarker) as mesh:
        assert mesh.landmarker == landmarker
        faces = mesh(astronaut)
        blank = mesh(np.full((300, 300, 3), 200, np.uint8))
    assert faces.landmarks.shape == (1, 468, 3) and faces.landmarks.dtype == np.float32 and len(blank) == 0
    assert faces.blendshapes is None
    np.testing.assert_allclose(faces.boxes(), astronaut_faces.boxes(), atol=8)  # same face, either landmarker


@pytest.mark.parametrize("landmarker", LANDMARKERS)
def test_video_mode_follows_a_moving_face(astronaut, landmarker):
    frames = [scene(astronaut, [40 + 12 * i]) for i in range(12)]
    with FaceMesh("video", 2, landmarker=landmarker, rescan=5) as mesh:
        boxes = [mesh(f).boxes() for f in frames]
    assert all(len(b) == 1 for b in boxes)
    xs = np.array([b[0, 0] for b in boxes])
    assert np.all(np.diff(xs) > 0) and abs((xs[-1] - xs[0]) - 12 * 11) < 10


def test_the_two_landmarkers_agree_after_normalize(astronaut):
    """The first 468 of the Tasks' 478 points are Face Mesh's: same order, nearly the same place."""
    if not LEGACY_INSTALLED:
        pytest.skip("needs mediapipe 0.10.x beside the Tasks landmarker")
    legacy, tasks = detect(astronaut, landmarker="legacy"), detect(astronaut, landmarker="tasks")
    a = normalize(legacy.landmarks, legacy.width, legacy.height).reshape(468, 3)
    b = normalize(tasks.landmarks, tasks.width, tasks.height).reshape(468, 3)
    distance = np.linalg.norm(a - b, axis=1)
    assert np.sqrt(np.mean(distance**2)) < 0.06  # measured 0.028; faces have RMS radius 1 after normalize
    shuffled = np.linalg.norm(a - b[np.random.default_rng(0).permutation(468)], axis=1)
    assert np.median(distance) < 0.1 * np.median(shuffled)


def test_closing_ends_the_graph_and_the_owner_may_close_twice(astronaut):
    mesh = FaceMesh("video")
    with mesh:
        assert len(mesh(astronaut)) == 1 and not mesh.closed
    assert mesh.closed
    mesh.close()
    with pytest.raises(RuntimeError, match="closed"):
        mesh(astronaut)


def test_a_graph_stopped_while_it_opens_is_closed_at_once(monkeypatch):
    """Left to the garbage collector, it would be released after the command's one error line (or print a traceback
    at exit)."""
    closed = []

    class StoppedGraph(landmarker_module.LegacyGraph):
        def __init__(self, *_args):
            try:
                signals._raise_interrupted(signal.SIGINT, None)  # Ctrl-C while MediaPipe opened it...
            except signals.Interrupted:
                pass  # ... caught in there, as MediaPipe does

        def close(self):
            closed.append(True)

    monkeypatch.setattr(landmarker_module, "LegacyGraph", StoppedGraph)
    with pytest.raises(signals.Interrupted):
        landmarker_module.graph_factory("legacy")(True, 1)
    assert closed == [True]


@pytest.mark.parametrize("landmarker", LANDMARKERS)
def test_a_stop_signal_while_a_graph_opens_closes_it_before_the_error_reaches_anyone(monkeypatch, landmarker):
    """Its threads would go on starting, and log, while the command prints its error line."""
    landmarker_module.import_mediapipe()
    if landmarker == "legacy":
        from mediapipe.python.solutions import face_mesh as owner

        graph_class, name = landmarker_module.LegacyGraph, "FaceMesh"
    else:
        from mediapipe.tasks.python.vision import FaceLandmarker as owner

        graph_class, name = landmarker_module.TasksGraph, "create_from_options"
    build = getattr(owner, name)

    def build_then_stop(*args, **kwargs):
        built = build(*args, **kwargs)
        signals._pending = signal.SIGINT  # arrived while MediaPipe built the graph (its handler only notes it)
        return built

    monkeypatch.setattr(owner, name, build_then_stop)
    with pytest.raises(signals.Interrupted) as stopped:
        graph_class(True, 1)
    (graph,) = {
        id(f): f
        for f in (entry.frame.f_locals.get("self") for entry in stopped.traceback)
        if isinstance(f, graph_class)
    }.values()  # the half-made graph, still referenced by the traceback
    assert not graph._open and graph not in landmarker_module._OPEN_GRAPHS


def test_two_owners_get_independent_graphs(astronaut):
    """No shared graph: a second owner does not see the first one's tracked face, nor its closing."""
    left, right = scene(astronaut, [0]), scene(astronaut, [400])
    with FaceMesh("video") as first:
        for _ in range(3):
            first(left)
        with FaceMesh("video") as second:
            assert second._detect is not first._detect
            assert abs(second(right).boxes()[0, 0] - detect(right).boxes()[0, 0]) < 8
        assert abs(first(left).boxes()[0, 0] - detect(left).boxes()[0, 0]) < 8  # still open, still tracking


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="mode"):
        FaceMesh("photos")
    with pytest.raises(ValueError, match="max_faces"):
        FaceMesh("image", 0)
    with pytest.raises(LandmarkerError, match="unknown landmarker"):
        FaceMesh("image", landmarker="dlib")


def test_the_mode_comes_from_the_source(tmp_path, astronaut):
    import cv2

    cv2.imwrite(str(tmp_path / "a.jpg"), astronaut)
    clip = write_video(tmp_path / "c.mp4", [astronaut] * 3)
    with open_source(tmp_path) as folder, open_source(clip) as video:
        assert mode_for(folder) is Mode.IMAGE and mode_for(video) is Mode.VIDEO


def test_blendshapes_reach_the_log(tmp_path, astronaut):
    """The smiling astronaut: 52 named scores per face, smile high, in every log line."""
    clip = write_video(tmp_path / "c.mp4", [scene(astronaut, [100])] * 4)
    log = tmp_path / "log.jsonl"
    with FaceMesh("video", blendshapes=True) as mesh, open_source(clip) as source:
        assert mesh.landmarker == "tasks"
        run(source, Pipeline(mesh, ConstantPredictor()), log=log)
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    scores = [line["faces"][0]["blendshapes"] for line in lines]
    assert len(scores) == 4 and all(list(s) == list(BLENDSHAPES) for s in scores)
    assert min(s["mouthSmileLeft"] for s in scores) > 0.5 and max(s["eyeBlinkLeft"] for s in scores) < 0.5


def run_code(code: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter that imports this checkout's package, its output kept."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT / "scr"), **env},
        timeout=300,
    )


def assert_prints_only_ok(code: str, cwd: Path) -> None:
    """Run ``code`` in a fresh interpreter: it must print 'ok' and nothing else, on either stream."""
    done = run_code(code, cwd)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr
    assert done.stderr == ""


@pytest.mark.slow
def test_no_start_up_chatter_and_no_traceback_at_exit(tmp_path):
    """A script's terminal shows only its own lines: both landmarkers, opened, used and closed, on photos of
    different sizes in turn (MediaPipe warns ``W0000 … Using NORM_RECT without IMAGE_DIMENSIONS`` on them).

    Neither loads TensorFlow on the way (MediaPipe would, only because it is installed)."""
    code = (
        "import cv2\n"
        "from landmark_emotion.cli.arguments import quiet_native_logs\n"
        "quiet_native_logs(False)\n"
        "from landmark_emotion.face.mesh import FaceMesh\n"
        f"image = cv2.imread({str(ROOT / 'datasets' / 'samples' / 'astronaut.jpg')!r})\n"
        "sizes = [(512, 512)] * 4 + [(640, 480), (480, 640), (300, 200), (512, 512)]\n"
        f"for name in {NAMES if LEGACY_INSTALLED else ['tasks']!r}:\n"
        "    for mode in ('image', 'video'):\n"
        "        with FaceMesh(mode, landmarker=name) as mesh:\n"
        "            assert [len(mesh(cv2.resize(image, size))) for size in sizes] == [1] * len(sizes)\n"
        "import sys\n"
        "assert 'tensorflow' not in sys.modules, 'TensorFlow loaded (or left unimportable) by mediapipe'\n"
        "print('ok')\n"
    )
    assert_prints_only_ok(code, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("landmarker", LANDMARKERS)
def test_a_graph_its_owner_never_got_is_released_quietly(tmp_path, landmarker):
    """A stop signal between a graph opening and its owner storing it leaves it to the collector.

    Unreleased, a Tasks graph of mediapipe 1.x prints a traceback at shutdown (and a legacy graph
    logs its start-up at exit, after the command's one error line). Graphs dropped, kept in a
    cycle, or still referenced at exit are all released, without a word."""
    code = (
        "from landmark_emotion.face.landmarker import LegacyGraph, TasksGraph\n"
        "from landmark_emotion.face.native_logs import hide_native_logs\n"
        "hide_native_logs()  # as graph_factory does before it opens one\n"
        "kept = []\n"
        "for fate in ('dropped', 'cycle', 'kept'):\n"
        f"    graph = {'LegacyGraph' if landmarker == 'legacy' else 'TasksGraph'}(True, 1)\n"
        "    if fate == 'cycle':\n"
        "        graph.me = graph\n"
        "    elif fate == 'kept':\n"
        "        kept.append(graph)\n"
        "    del graph\n"
        "print('ok')\n"
    )
    assert_prints_only_ok(code, tmp_path)


LATE_LOG = "W0000 00:00:1796420994.615108    6173 landmark_projection_calculator.cc:186] Using NORM_RECT without"


def run_stderr_lines(code: str, **env: str) -> tuple[str, list[str]]:
    done = run_code(code, **env)
    assert done.returncode == 0, done.stderr
    return done.stdout, sorted(done.stderr.splitlines())


NATIVE_LINES = (
    "import os, sys, threading, time\n"
    "from landmark_emotion.face.native_logs import hide_native_logs\n"
    "hide_native_logs()\n"
    "late = threading.Thread(target=lambda: (time.sleep(0.5), os.write(2, sys.argv[1].encode() + b'\\n')))\n"
    "late.start()\n"
    "late.join()\n"
    "os.write(2, b'I0000 00:00:1796421075.828271    7966 cpu_feature_guard.cc:227] This TensorFlow binary\\n'\n"
    "    b'To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the '\n"
    "    b'appropriate compiler flags.\\nINFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n')\n"
    "os.write(2, b'a native line that is no log\\n')\n"
    "print('error: a line of ours', file=sys.stderr)\n"
    "os.write(2, b'last words, without a newline')\n"
    "print('ok')\n"
)


@pytest.mark.slow
def test_native_log_lines_are_dropped_whenever_they_come_and_every_other_line_shows():
    """MediaPipe's threads log at times that drift under load: a line that came after the moments that were kept
    quiet (a graph's opening, its first frames) reached the terminal one run in three. Now a log line is dropped
    whenever it comes, half a second after everything too, and every other line is passed on, the last one
    without its newline too, and ours go straight to the terminal."""
    out, lines = run_stderr_lines(NATIVE_LINES.replace("sys.argv[1]", repr(LATE_LOG)))
    assert out == "ok\n"
    assert lines == ["a native line that is no log", "error: a line of ours", "last words, without a newline"]


@pytest.mark.slow
def test_the_last_words_of_a_crash_reach_the_terminal():
    """A fatal native line just before ``abort()`` (a failed MediaPipe check): the filter outlives the process and
    passes it on (a thread in the process died with it, and the user saw only "Aborted")."""
    code = (
        "import os\n"
        "from landmark_emotion.face.native_logs import hide_native_logs\n"
        "hide_native_logs()\n"
        f"os.write(2, {(LATE_LOG + chr(10)).encode()!r})\n"
        "os.write(2, b'F0000 00:00:1796421075.828271 7966 graph.cc:12] Check failed: the graph\\n')\n"
        "os.abort()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGABRT
    assert done.stderr.splitlines() == ["F0000 00:00:1796421075.828271 7966 graph.cc:12] Check failed: the graph"]


@pytest.mark.slow
def test_verbose_shows_the_native_log_lines():
    _, lines = run_stderr_lines(NATIVE_LINES.replace("sys.argv[1]", repr(LATE_LOG)), LANDMARK_EMOTION_VERBOSE="1")
    assert LATE_LOG in lines and len(lines) == 7


class CountingMesh:
    """Stands in for FaceMesh in its callers: counts how many are opened and whether each was closed."""

    opened: list[CountingMesh] = []
    faces = None  # what every call returns
    landmarker = "counting"

    def __init__(self, mode, max_faces=1, **kwargs):
        self.mode, self.calls, self.closed = Mode(mode), 0, False
        CountingMesh.opened.append(self)

    def __call__(self, image):
        self.calls += 1
        return CountingMesh.faces

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.closed = True


def test_extraction_opens_one_face_mesh_per_chunk_and_closes_it(monkeypatch, tmp_path, astronaut, astronaut_faces):
    import cv2

    import landmark_emotion.face.mesh
    from landmark_emotion.data.extraction import landmarks_of_files

    paths = []
    for i in range(3):
        paths.append(str(tmp_path / f"{i}.jpg"))
        cv2.imwrite(paths[-1], astronaut)
    monkeypatch.setattr(landmark_emotion.face.mesh, "FaceMesh", CountingMesh)
    CountingMesh.opened, CountingMesh.faces = [], astronaut_faces
    rows = landmarks_of_files(paths)
    assert [r[0] is not None for r in rows] == [True] * 3
    assert [(m.mode, m.calls, m.closed) for m in CountingMesh.opened] == [(Mode.IMAGE, 3, True)]


def test_recording_opens_its_own_face_mesh_in_the_sources_mode_and_closes_it(
    monkeypatch, tmp_path, astronaut, astronaut_faces
):
    from landmark_emotion.apps import recording

    clip = write_video(tmp_path / "c.mp4", [astronaut] * 3)
    monkeypatch.setattr(recording, "FaceMesh", CountingMesh)
    CountingMesh.opened, CountingMesh.faces = [], astronaut_faces
    with open_source(clip) as source:
        saved = recording.record(source, "clip", ["happy"], tmp_path / "out", samples=None, progress=False)
    assert len(saved[0][0]) == 3
    assert [(m.mode, m.calls, m.closed) for m in CountingMesh.opened] == [(Mode.VIDEO, 3, True)]
    assert saved[0][0].table().meta["landmarker"] == "counting"


@pytest.mark.slow
def test_extraction_workers_keep_mediapipe_quiet(tmp_path, astronaut):
    """Worker processes print nothing of MediaPipe's or TensorFlow's, however many graphs they open."""
    import cv2

    for label in ("happy", "sad"):
        (tmp_path / "faces" / label).mkdir(parents=True)
        for i in range(3):
            cv2.imwrite(str(tmp_path / "faces" / label / f"{i}.jpg"), astronaut)
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scr" / "extract_landmarks.py"),
            "--data-dir",
            str(tmp_path / "faces"),
            "--out",
            str(tmp_path / "t.npz"),
            "--workers",
            "2",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout and done.stderr == ""


def test_a_model_is_read_with_the_landmarker_it_was_trained_on(monkeypatch):
    monkeypatch.delenv("LANDMARK_EMOTION_LANDMARKER", raising=False)
    monkeypatch.delenv("EMOTION_LANDMARKER", raising=False)
    assert landmarker_for_model("tasks") == ("tasks", None)
    assert landmarker_for_model(None) == (default_landmarker(), None)
    name, warning = landmarker_for_model("legacy")
    assert name == ("legacy" if LEGACY_INSTALLED else "tasks") and (warning is None) == LEGACY_INSTALLED
    name, warning = landmarker_for_model("tasks", "legacy")  # asked for: obeyed, with a warning
    assert name == "legacy" and "trained on tasks landmarks" in warning


def test_a_trained_bundle_names_the_landmarker_of_its_tables(tmp_path, astronaut_faces):
    from landmark_emotion.commands.train_model import load_tables
    from landmark_emotion.data.table import LandmarkTable, save_table

    def table(name: str, landmarker: str) -> Path:
        return save_table(
            LandmarkTable(astronaut_faces.landmarks, [512], [512], ["happy"], [name], [""], {"landmarker": landmarker}),
            tmp_path / name,
        )

    assert load_tables([table("a.npz", "tasks")]).meta["landmarker"] == "tasks"
    assert load_tables([table("a.npz", "tasks"), table("b.npz", "legacy")]).meta["landmarker"] is None


def padded(photo: np.ndarray, face_width: int, face_box_width: int, size=(750, 1000), at=(300, 420)) -> np.ndarray:
    """``photo`` shrunk so that its face is ``face_width`` px wide, on a grey canvas of ``size`` (height, width)."""
    scale = face_width / face_box_width
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((*size, 3), 127, np.uint8)
    h, w = min(small.shape[0], size[0] - at[0]), min(small.shape[1], size[1] - at[1])
    canvas[at[0] : at[0] + h, at[1] : at[1] + w] = small[:h, :w]
    return canvas


@pytest.mark.parametrize("landmarker", LANDMARKERS)
def test_a_small_face_in_a_large_photo_is_found(astronaut, landmarker):
    """A face 40 px wide in a 1000 px photo: the whole-image pass misses anything under ~110 px, tiles find it."""
    with FaceMesh(Mode.IMAGE, 4, landmarker=landmarker) as mesh:
        box_width = int(mesh(astronaut).boxes()[0, 2])
        photo = padded(astronaut, 40, box_width)
        [box] = mesh(photo).boxes()
        assert 34 <= box[2] <= 46 and 420 < box[0] < 420 + 512 * 40 / box_width
        with FaceMesh(Mode.IMAGE, 4, landmarker=landmarker, small_faces=False) as whole:
            assert len(whole(photo)) == 0  # what the face mesh alone gives
        pair = np.hstack([astronaut, astronaut[:, ::-1]])
        assert len(mesh(pair)) == 2  # the photo beside its mirror (1024x512)
        jpeg = cv2.imdecode(cv2.imencode(".jpg", pair)[1], cv2.IMREAD_COLOR)
        assert len(mesh(jpeg)) == 2  # as a JPEG, a tile showed the Tasks landmarker a face in her dark collar
        assert len(mesh(astronaut)) == 1  # no false face from a tile (the badge on her arm was one)


@pytest.mark.parametrize("landmarker", LANDMARKERS)
def test_a_face_both_the_whole_photo_and_a_tile_find_is_placed_by_the_tile(astronaut, landmarker):
    """The legacy mesh misplaced the one face its whole-image pass found here (a box 79 px wide, off to the right, read
    "cannot read this face"); each face is read where it is."""
    strip = four_in_a_row(astronaut)
    with FaceMesh(Mode.IMAGE, 4, landmarker=landmarker) as mesh:
        boxes = sorted(mesh(strip).boxes().tolist())
    assert [x // 150 for x, *_ in boxes] == [0, 1, 2, 3]
    for (x, _, w, h), left in zip(boxes, (20, 170, 320, 470)):
        assert 56 <= w <= 70 and 56 <= h <= 80, boxes
        assert left + 10 <= x <= left + 80, boxes  # on the face, not beside it


class Scripted:
    """A graph that finds faces of the given widths (shares of the photo's width) in the whole photo, none in a
    tile, and counts the calls."""

    def __init__(self, widths: list[float], size=(300, 640)):
        self.size, self.calls = size, 0
        corners = np.stack(np.meshgrid(np.linspace(0, 1, 18), np.linspace(0, 1, 26)), -1).reshape(-1, 2)[:468]
        self.faces = np.zeros((len(widths), 468, 3), np.float32)
        for i, width in enumerate(widths):
            self.faces[i, :, 0] = (0.05 + 0.3 * i) + corners[:, 0] * width
            self.faces[i, :, 1] = 0.2 + corners[:, 1] * width * size[1] / size[0]

    def __call__(self, image: np.ndarray) -> Detection:
        self.calls += 1
        whole = image.shape[:2] == self.size
        return Detection(self.faces if whole else self.faces[:0], image.shape[1], image.shape[0])

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "widths, tiles",
    [
        ([0.18], False),  # a portrait (the sample photo's face is 18% of it): no tiles
        ([0.18, 0.17], True),  # a group the whole pass may not have found whole: searched
        ([0.25, 0.1], False),  # a face the whole pass finds reliably: its neighbours of its size too
        ([0.12], True),  # small faces, where more may hide
    ],
)
def test_which_photos_are_searched_in_tiles(widths, tiles):
    """Three people 120 px wide in a 640 px photo: the whole pass found one or two, and the photo was not searched
    further (10 of 36 such faces missed in research strips; 6 since a group is searched)."""
    graph = Scripted(widths)
    SmallFaceSearch(graph, 4)(np.zeros((300, 640, 3), np.uint8))
    assert (graph.calls > 1) is tiles


def test_the_readability_unit_is_checked_whole_when_it_loads(tmp_path):
    unit = load_readability()  # the shipped one, by its checksum
    assert unit.weight.shape == (N_DESCRIPTOR,)
    changed = tmp_path / "readability.npz"
    changed.write_bytes(Readability(unit.weight * 0, 1.0, 0.0).to_bytes())
    with pytest.raises(ReadabilityError, match="was changed; reinstall"):
        load_readability(changed)
    (tmp_path / "junk.npz").write_text("not an archive")
    with pytest.raises(ReadabilityError, match="malformed"):
        load_readability(tmp_path / "junk.npz", None)
    assert load_readability(changed, None).unreadable(np.zeros((2, N_DESCRIPTOR))).tolist() == [True, True]
