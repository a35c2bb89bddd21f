"""The public API (``landmark_emotion.Reader`` & co.): what a user coming from ``fer`` or ``deepface`` types."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import landmark_emotion
from landmark_emotion import InputError, LandmarkEmotionError, Reader, fine_tune, load_model
from landmark_emotion.apps.demo import SAMPLE_CLIP
from landmark_emotion.face.regions import REGIONS
from landmark_emotion.frames import SourceError
from landmark_emotion.model.bundle import BundleError
from landmark_emotion.model.calibration import CalibrationError
from test_personal import BASE_LABELS, faces, write_sessions  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
SCR = ROOT / "scr"


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter that finds the package as an installed one would (no sys.path edits)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SCR), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def reader():
    with Reader(ROOT / "models" / "default") as reader:  # not a personal model the developer may have
        yield reader


def test_importing_the_reader_loads_neither_tensorflow_nor_matplotlib_nor_training(tmp_path):
    done = run_python(
        "import json, sys\n"
        "import landmark_emotion\n"
        "bare = sorted(m for m in sys.modules if m.startswith('landmark_emotion.'))\n"
        "reader = landmark_emotion.Reader()\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'matplotlib', "
        "'mediapipe') or m.startswith('landmark_emotion.training'))\n"
        "print(json.dumps({'bare': bare, 'heavy': heavy, 'labels': reader.labels}))\n",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["bare"] == []  # the package itself imports nothing until a name is asked for
    assert result["heavy"] == []
    assert "happy" in result["labels"]


def test_a_photo_gives_its_face_with_box_landmarks_label_and_probabilities(reader, astronaut):
    [face] = reader.read(astronaut)
    assert face.label == "happy" and face.confidence > 0.9
    assert list(face.probabilities) == reader.labels
    assert sum(face.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert face.confidence == pytest.approx(face.probabilities["happy"])
    assert face.landmarks.shape == (468, 3)
    x, y, w, h = face.box
    assert 0 <= x < x + w <= astronaut.shape[1] and 0 <= y < y + h <= astronaut.shape[0] and w > 50
    assert face.calibration == "none" and not face.calibrated  # photos: no neutral known yet
    assert face.track is None and face.blendshapes is None
    assert face.emoji == "\U0001f604"


def test_the_sample_photo_is_explained_region_by_region_and_in_words(reader):
    [face] = reader.read(landmark_emotion.sample_image())
    assert face.explanation is None  # not asked for: nothing computed
    explanation = face.explain()
    assert explanation.label == face.label == "happy" and explanation.reference == "population"
    assert list(explanation.regions) == sorted(REGIONS, key=lambda r: -explanation.regions[r])  # all 13, largest first
    assert explanation.top == "mouth corners" and explanation.regions["mouth corners"] > 0.5
    assert explanation.neutral_probability < 0.1 < 0.9 < explanation.probability
    assert explanation.words[0] == "mouth stretched wide" and len(explanation.words) <= 3
    with Reader(ROOT / "models" / "default", explain=True) as explaining:
        [explained] = explaining.read(landmark_emotion.sample_image())
    assert explained.explanation is not None and explained.to_json()["explanation"] == explanation.to_json()


def test_a_path_an_rgb_array_and_a_grayscale_array_read_like_the_bgr_array(reader, astronaut):
    expected = reader.read(astronaut)[0]
    for image, rgb in (
        (landmark_emotion.sample_image(), False),
        (str(landmark_emotion.sample_image()), False),
        (np.ascontiguousarray(astronaut[:, :, ::-1]), True),
    ):
        face = reader.read(image, rgb=rgb)[0]
        np.testing.assert_allclose(face.landmarks, expected.landmarks, atol=1e-3)
        assert face.label == expected.label
    gray = reader.read(cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY))
    assert len(gray) == 1


def test_an_image_without_a_face_is_an_empty_list_not_an_error(reader):
    assert reader.read(np.full((240, 320, 3), 128, np.uint8)) == []


@pytest.mark.parametrize(
    "image, message",
    [
        (
            np.zeros((64, 64, 3), np.float64),
            "expected a uint8 image (values 0-255, as cv2.imread gives), got dtype "
            "float64; for floats in [0, 1] pass (image * 255).astype(np.uint8)",
        ),
        (np.zeros((64, 64, 3), np.int32), "got dtype int32"),
        (
            np.zeros((64, 64, 5), np.uint8),
            "expected an image of shape (height, width, 3), (height, width, 4) or (height, width), got (64, 64, 5)",
        ),
        (np.zeros((2, 64, 64, 3), np.uint8), "got (2, 64, 64, 3)"),
        (np.zeros((0, 64, 3), np.uint8), "the image is empty (shape (0, 64, 3))"),
        ([[0, 0, 0]], "expected an image: a NumPy array of shape (height, width, 3) or a file path, got list"),
        (None, "got NoneType"),
    ],
)
def test_an_array_of_the_wrong_dtype_or_shape_is_refused_with_what_was_expected(reader, image, message):
    with pytest.raises(InputError) as error:
        reader.read(image)
    assert message in str(error.value)
    assert isinstance(error.value, LandmarkEmotionError) and isinstance(error.value, ValueError)


def test_a_path_that_is_missing_a_folder_or_not_an_image_is_refused(reader, tmp_path):
    with pytest.raises(InputError, match=r"^no such image file: .*nowhere\.jpg$"):
        reader.read(tmp_path / "nowhere.jpg")
    with pytest.raises(InputError, match=r"is a folder, not an image; read the photos in it with stream\("):
        reader.read(tmp_path)
    (tmp_path / "notes.jpg").write_text("not a photo")
    with pytest.raises(InputError, match=r"notes\.jpg is not an image OpenCV can read \(for a video file, use "):
        reader.read(tmp_path / "notes.jpg")


def test_a_folder_that_is_not_a_model_is_refused_before_anything_opens(tmp_path):
    with pytest.raises(BundleError, match="missing folder"):
        Reader(tmp_path / "no_model")
    (tmp_path / "photos").mkdir()
    with pytest.raises(BundleError, match="is incomplete: missing model.keras"):
        load_model(tmp_path / "photos")
    with pytest.raises(InputError, match="expected the path of a model folder, got int"):
        load_model(3)
    (tmp_path / "notes.txt").write_text("not a model")  # before: "missing folder; train one with ... --out notes.txt"
    with pytest.raises(BundleError, match=r"notes\.txt is a file, not a model bundle: a bundle is a folder"):
        load_model(tmp_path / "notes.txt")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_faces": 0}, "max_faces must be an integer of at least 1, got 0"),
        ({"max_faces": 2.5}, "max_faces must be an integer of at least 1, got 2.5"),
        ({"min_confidence": 1.5}, "min_confidence must be a probability in [0, 1], got 1.5"),
        ({"calibrate": "yes"}, "calibrate must be one of 'neutral', 'auto', 'off', got 'yes'"),
        ({"smoothing": 0}, "smoothing must be a number of frames of at least 1 (1: off), got 0"),
        ({"smoothing": float("inf")}, "smoothing must be at most 10000 frames, got inf"),  # failed at the first frame
        ({"smoothing": float("nan")}, "smoothing must be a number of frames of at least 1 (1: off), got nan"),
        ({"min_confidence": float("nan")}, "min_confidence must be a probability in [0, 1], got nan"),
        ({"landmarker": "dlib"}, "landmarker must be one of 'legacy', 'tasks' or None, got 'dlib'"),
    ],
)
def test_reader_settings_are_checked_with_the_accepted_values_in_the_message(kwargs, message):
    with pytest.raises(InputError) as error:
        Reader(**kwargs)
    assert str(error.value) == message


def test_a_stream_tracks_each_face_and_smooths_it(reader):
    with reader.stream(SAMPLE_CLIP) as stream:
        frames = [frame for frame, _ in zip(stream, range(12))]
    assert [frame.index for frame in frames] == list(range(12))
    assert frames[1].t > frames[0].t == 0.0
    assert all(len(frame.faces) == 1 for frame in frames)
    assert {frame.faces[0].track for frame in frames} == {0}  # one face, one track
    assert frames[-1].faces[0].calibration == "estimating" and not frames[-1].faces[0].calibrated  # 12 frames in
    assert frames[-1].faces[0].label == "happy"


def held(photo: np.ndarray, seconds: float, fps: int = 30):
    """A webcam's view of a face holding one expression: the photo drifting a little and flickering, frame by frame."""
    rng = np.random.default_rng(0)
    height, width = photo.shape[:2]
    for i in range(round(seconds * fps)):
        turn = cv2.getRotationMatrix2D((width / 2, height / 2), np.sin(i / 17), 1 + 0.02 * np.sin(i / 23))
        turn[:, 2] += (3 * np.sin(i / 11), 2 * np.cos(i / 13))
        frame = cv2.warpAffine(photo, turn, (width, height), borderMode=cv2.BORDER_REPLICATE).astype(np.int16)
        yield np.clip(frame + rng.normal(0, 2, frame.shape).round() + rng.integers(-4, 5), 0, 255).astype(np.uint8)


@pytest.mark.slow  # ten seconds of frames
def test_a_held_expression_keeps_its_label_for_ten_seconds_by_default(reader, astronaut):
    """She smiles for 10 s: the default (``calibrate="auto"``) must not learn the smile as her face at rest
    (the running mean of every frame did: uncertain after 4 s, contempt, then neutral)."""
    labels, how = [], []
    for frame in reader.stream(held(astronaut, 10.0)):
        labels.append(frame.faces[0].label if frame.faces else "")
        how.append(frame.faces[0].calibration if frame.faces else "")
    assert len(labels) == 300 and labels.count("happy") == 300, {name: labels.count(name) for name in set(labels)}
    assert how[0] == "estimating" and how[-1] == "auto"


def test_a_face_upside_down_reads_uncertain_and_says_why(reader, astronaut):
    [upright] = reader.read(astronaut)
    assert upright.label == "happy" and upright.unreadable is None and "unreadable" not in upright.to_json()
    [turned] = reader.read(cv2.rotate(astronaut, cv2.ROTATE_180))  # it read fear 0.86 before
    assert turned.label == "uncertain" and turned.unreadable == "cannot read this face: upside down or turned too far"
    assert turned.to_json()["unreadable"] == turned.unreadable


def test_a_stream_of_arrays_and_what_a_stream_refuses(reader, astronaut, tmp_path):
    frames = list(reader.stream([astronaut, astronaut[:, :, ::-1].copy()], rgb=False))
    assert [frame.t for frame in frames] == [None, None] and frames[0].faces[0].track == 0
    with pytest.raises(SourceError, match="no such camera, video or folder"):
        reader.stream(tmp_path / "missing.mp4")
    with pytest.raises(InputError, match="got float; for one photo use read()"):
        reader.stream(1.5)
    stream = reader.stream([astronaut])
    list(stream)
    with pytest.raises(LandmarkEmotionError, match="closed or was already read"):
        list(stream)
    with pytest.raises(InputError, match="got dtype float32"):
        list(reader.stream([astronaut.astype(np.float32)]))


def test_a_folder_stream_names_each_photo_and_the_files_it_left_out(reader, astronaut, tmp_path):
    """Before, a folder's frames did not say which photo each was, and a file that is no image shifted every
    index after it without a word."""
    for name in ("a.jpg", "c.jpg"):
        cv2.imwrite(str(tmp_path / name), astronaut)
    (tmp_path / "b.jpg").write_bytes(b"not a jpeg")
    stream = reader.stream(tmp_path)
    frames = list(stream)
    assert [(frame.index, frame.file, len(frame.faces)) for frame in frames] == [(0, "a.jpg", 1), (1, "c.jpg", 1)]
    assert stream.skipped == [tmp_path / "b.jpg"]
    assert [frame.file for frame in reader.stream([astronaut])] == [None]  # arrays are no files


def test_a_stream_tells_a_neutral_taken_mid_smile(reader, astronaut):
    stream = reader.stream([astronaut] * 40)
    said = []
    for frame in stream:
        if frame.index == 0:
            stream.capture_neutral()
        said += stream.notices
    assert len(said) == 1 and said[0].startswith("face 0: the neutral reference taken reads happy"), said


def test_a_neutral_face_calibrates_later_reads_and_is_saved_into_a_model(astronaut, tmp_path):
    copy = shutil.copytree(ROOT / "models" / "default", tmp_path / "mine")
    with Reader(copy) as reader:
        before = reader.read(astronaut)[0]
        with pytest.raises(CalibrationError, match="no neutral set; call set_neutral"):
            reader.save_neutral(copy)
        with pytest.raises(CalibrationError, match="no face in image 0; a neutral reference needs a face at rest"):
            reader.set_neutral(np.zeros((120, 160, 3), np.uint8))
        reader.set_neutral([astronaut, landmark_emotion.sample_image()])
        after = reader.read(astronaut)[0]
        assert after.calibration == "personal" and after.calibrated
        assert after.probabilities["happy"] < before.probabilities["happy"]  # her smile is now her "rest"
        reader.save_neutral(copy)
        reader.clear_neutral()
        assert reader.read(astronaut)[0].calibration == "none"
    assert load_model(copy).references.person_n == 2
    with Reader(copy) as saved:
        face = saved.read(astronaut)[0]
    assert face.calibration == "personal"
    np.testing.assert_allclose(list(face.probabilities.values()), list(after.probabilities.values()), atol=1e-5)


def test_calibration_off_or_unavailable_is_said_in_one_sentence(astronaut):
    with Reader(calibrate="off") as reader:
        with pytest.raises(CalibrationError, match=r"^calibration is off \(calibrate='off'\)"):
            reader.set_neutral(astronaut)


def test_a_closed_reader_says_so():
    reader = Reader()
    reader.close()
    assert reader.closed
    with pytest.raises(LandmarkEmotionError, match="this Reader is closed"):
        reader.read(landmark_emotion.sample_image())


SHARED_READER = """
import threading, landmark_emotion
from landmark_emotion.resources import SAMPLE_CLIP
photo = landmark_emotion.sample_image()
labels, errors = [], []
with landmark_emotion.Reader(MODEL) as reader:
    clip = reader.stream(SAMPLE_CLIP)

    def read_photos():
        try:
            for _ in range(6):
                labels.append(tuple(face.label for face in reader.read(photo)))
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=read_photos) for _ in range(8)]
    frames = iter(clip)
    next(frames)
    for thread in threads:
        thread.start()
    closer = threading.Thread(target=clip.close)  # a stream closed by another thread while it is read
    closer.start()
    streamed = sum(1 for _ in frames)
    for thread in threads + [closer]:
        thread.join()
print(sorted(set(labels)), len(labels), errors, streamed < 149)
"""


@pytest.mark.slow
def test_threads_sharing_a_reader_take_turns(tmp_path):
    """MediaPipe's graphs are not thread-safe: eight threads sharing one reader crashed the process (segfault), lost
    faces, or raised MediaPipe's "CalculatorGraph::Run() failed"."""
    done = run_python(SHARED_READER.replace("MODEL", repr(str(ROOT / "models" / "default"))), tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    with Reader(ROOT / "models" / "default") as alone:
        expected = [face.label for face in alone.read(landmark_emotion.sample_image())]
    assert done.stdout.strip() == f"[{tuple(expected)!r}] 48 [] True"


@pytest.mark.parametrize("sessions, out", [(None, "OUT"), (3, "OUT"), ("SESSIONS", 3)])
def test_fine_tune_refuses_what_is_not_a_folder_where_it_enters(sessions, out, tmp_path):
    model = load_model(ROOT / "models" / "default")
    values = {"SESSIONS": str(tmp_path / "sessions"), "OUT": str(tmp_path / "out")}
    with pytest.raises(InputError, match="must be the path of a folder"):
        fine_tune(model, values.get(sessions, sessions), values.get(out, out))
    assert not (tmp_path / "out").exists()


def test_fine_tune_writes_and_returns_a_personal_model(base_bundle, tmp_path):
    data = tmp_path / "sessions"
    write_sessions(
        data,
        {
            "happy": ("happy", faces("happy", 12, seed=20, person=True)),
            "neutral": ("neutral", faces("neutral", 12, seed=21, person=True)),
        },
    )
    base = load_model(base_bundle)
    assert isinstance(base, landmark_emotion.EmotionModel)  # the one model object, exported at the top level
    personal = fine_tune(base, data, tmp_path / "me", l2=3.0, per_label=5)
    assert personal.metrics["personal_head"]["frames_selected"] == {"happy": 5, "neutral": 5}
    assert personal.info["kind"] == "personal" and personal.classes_ == ["neutral", "happy"]  # what was recorded
    assert personal.references.person_n == 12  # the recorded neutral calibrates the new model
    assert load_model(tmp_path / "me").info["sessions"] == ["happy.npz", "neutral.npz"]
    assert load_model(base_bundle).info["kind"] == "base"  # the base is not changed
    with pytest.raises(InputError, match="exists; pass force=True to replace it, or choose another out"):
        fine_tune(base, data, tmp_path / "me")
    with pytest.raises(InputError, match="unknown fine-tuning option.s. epochs; expected some of l2, per_label, "):
        fine_tune(base, data, tmp_path / "other", epochs=3)
    with pytest.warns(UserWarning, match="skipped session junk.npz"):  # what the user should know: said, not hidden
        (data / "junk.npz").write_bytes(b"junk")
        fine_tune(base, data)


def readme_example() -> str:
    """The first ``python`` block of the README's "Use it from Python" section, as written."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Use it from Python\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_the_readme_example_runs_as_written_from_another_folder(tmp_path):
    done = run_python(readme_example(), tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"happy 1\.00 \(\d+, \d+, \d+, \d+\)", lines[0]), lines
    assert lines[1] == "('mouth stretched wide', 'cheeks raised', 'mouth open')"  # as the comment says
    assert lines[2] == "0 None happy"  # a folder holds unrelated photos: no track
    assert re.fullmatch(r"\[\('\w+', True\)\]", lines[3]), lines
