"""scr/main.py as a user runs it: bad input gives one line and a non-zero exit; a headless run reports what it did."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from demo_data import count_frames, scene, write_video
from synthetic_faces import make_table

ROOT = Path(__file__).resolve().parent.parent
MAIN = ROOT / "scr" / "main.py"
SAMPLE_CLIP = ROOT / "datasets" / "samples" / "astronaut.mp4"
LABELS = ["neutral", "happy", "sad", "surprise"]


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory) -> Path:
    """An untrained two-layer network saved as a real bundle: the CLI needs one, not a good one."""
    import keras

    from landmark_emotion.face.features import N_FEATURES
    from landmark_emotion.model.bundle_write import save_bundle

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((N_FEATURES,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(len(LABELS), activation="softmax"),
        ]
    )
    path = tmp_path_factory.mktemp("models") / "tiny"
    return save_bundle(path, model, np.zeros(N_FEATURES), np.ones(N_FEATURES), LABELS, {"kind": "base"}, {})


def demo(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    return subprocess.run(
        [sys.executable, str(MAIN), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "make, message",
    [
        (lambda t: ["--source", "3"], "error: no camera at index 3; try --source"),
        (
            lambda t: ["--source", str((t / "bad.mp4").write_bytes(b"junk") and t / "bad.mp4")],
            "error: cannot read video",
        ),
        (lambda t: ["--source", str(t)], "error: no images in"),
        (lambda t: ["--source", str(t / "nope.mp4")], "error: no such camera, video or folder"),
    ],
    ids=["no-camera", "unreadable-video", "empty-folder", "missing-file"],
)
def test_bad_source_is_one_line_and_an_exit_code(make, message, tiny_bundle, tmp_path):
    result = demo("--model", str(tiny_bundle), *make(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1


@pytest.mark.slow
def test_missing_model_is_one_line_with_a_hint(tmp_path):
    result = demo("--model", str(tmp_path / "none"), "--source", "3")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: no model bundle at {tmp_path / 'none'}") and "train" in result.stderr
    assert "scr/train_model.py --data TABLE.npz --out" in result.stderr


@pytest.mark.slow
def test_a_missing_personal_model_says_to_fine_tune_and_names_the_bundles_beside_it(tmp_path, tiny_bundle):
    """``--model models/personal`` before any fine-tuning: training a base model is not what the user wants."""
    result = demo("--model", str(tiny_bundle.parent / "personal"), "--source", "3")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert f"{tiny_bundle.parent} has {tiny_bundle.name};" in result.stderr
    assert "fine-tune one on your recordings with: python scr/train_personal.py" in result.stderr
    assert "train_model" not in result.stderr


@pytest.mark.slow
def test_outputs_are_checked_before_the_source_opens(tmp_path, tiny_bundle):
    """A bad --output is the error, not a camera that does not open (and a camera is not taken to find it)."""
    result = demo("--model", str(tiny_bundle), "--source", "3", "--output", str(tiny_bundle / "out.mp4"))
    assert result.returncode == 2 and "inside the input folder --model" in result.stderr


def test_main_in_this_process_reads_a_clip_headless_and_refuses_a_missing_model(
    astronaut, tiny_bundle, tmp_path, monkeypatch, capsys
):
    """main.py's main without a child process, for the fast tier (the other tests here run it as a command)."""
    from landmark_emotion.commands import main as demo_main

    monkeypatch.setenv("GLOG_minloglevel", "2")  # main() sets it when unset: the test's own, undone after it
    clip = write_video(tmp_path / "clip.mp4", [scene(astronaut, [100 + 3 * i]) for i in range(6)])
    log = tmp_path / "log.jsonl"
    assert demo_main.main(["--model", str(tiny_bundle), "--source", str(clip), "--no-display", "--log", str(log)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"model: {tiny_bundle} (base; {', '.join(LABELS)})"
    assert lines[1] == "calibration: unavailable (the model has no population neutral)"
    assert lines[2] == f"headless: log -> {log}"
    assert lines[3].startswith("6 frames processed, 1 face(s) seen (6 detections), ")
    said = re.fullmatch(r"read: face \d+: (.+) of 6 frames", lines[4])  # before: what it read was not said at all
    assert said and sum(int(part.split()[-1]) for part in said[1].split(", ")) == 6, lines[4]
    assert [len(json.loads(line)["faces"]) for line in log.read_text().splitlines()] == [1] * 6
    empty = write_video(tmp_path / "empty.mp4", [np.full((300, 640, 3), 90, np.uint8)] * 3)
    assert demo_main.main(["--model", str(tiny_bundle), "--source", str(empty), "--no-display"]) == 0
    lines = capsys.readouterr().out.splitlines()
    summary = lines[3]  # before: "3 frames processed, 0 face(s) seen (...)", no why
    assert not any(line.startswith("read:") for line in lines), lines
    assert summary.endswith(
        "; no face was found in any frame: a face is found from about 40 px wide, facing the camera, in enough light"
    ), summary
    assert demo_main.main(["--model", str(tmp_path / "none"), "--source", "3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: no model bundle at {tmp_path / 'none'}") and err.count("\n") == 1


def test_a_folder_of_photos_says_what_it_read_left_out_and_may_have_missed(
    astronaut, tiny_bundle, tmp_path, monkeypatch, capsys
):
    """Before, a folder's run said "frames processed" and "faces seen" (one track across unrelated photos), a file
    that is no image was left out without a word, and a photo of more people than --max-faces read only that
    many, silently."""
    from landmark_emotion.commands import main as demo_main

    monkeypatch.setenv("GLOG_minloglevel", "2")
    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "a.png"), np.hstack([astronaut, astronaut[:, ::-1]]))  # two people
    cv2.imwrite(str(photos / "b.png"), astronaut)
    (photos / "c.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    args = ["--model", str(tiny_bundle), "--source", str(photos), "--no-display", "--log", str(tmp_path / "log.jsonl")]
    assert demo_main.main([*args, "--max-faces", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    summary = lines[3]
    assert summary.startswith("2 photo(s) read, 3 face(s) found, "), summary
    assert lines[4].startswith("read: ") and sum(int(part.split()[-1]) for part in lines[4][6:].split(", ")) == 3
    assert summary.endswith(
        "; skipped 1 file(s) that are no image it can read: c.jpg; 1 photo(s) had 2 faces, the most --max-faces "
        "reads: with more people in view, raise it"
    ), summary
    assert demo_main.main([*args, "--max-faces", "3"]) == 0
    assert "--max-faces" not in capsys.readouterr().out.splitlines()[3]


@pytest.mark.slow
def test_headless_run_reports_and_writes(astronaut, tiny_bundle, tmp_path):
    clip = write_video(tmp_path / "clip.mp4", [scene(astronaut, [100 + 3 * i]) for i in range(24)])
    out, log = tmp_path / "out.mp4", tmp_path / "log.jsonl"
    result = demo("--model", str(tiny_bundle), "--source", str(clip), "--output", str(out), "--log", str(log))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"model: {tiny_bundle} (base; {', '.join(LABELS)})"
    assert lines[1] == "calibration: unavailable (the model has no population neutral)"
    assert lines[2] == f"headless: video -> {out}, log -> {log}"  # no DISPLAY: headless without being told
    assert lines[3].startswith("24 frames processed, 1 face(s) seen (24 detections), ") and "frames/s" in lines[3]
    assert count_frames(out) == 24 and len(log.read_text().splitlines()) == 24


@pytest.mark.slow
def test_a_folders_log_names_each_photo(astronaut, tiny_bundle, tmp_path):
    (tmp_path / "photos" / "later").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "photos" / "a.jpg"), astronaut)
    cv2.imwrite(str(tmp_path / "photos" / "later" / "b.png"), astronaut[:, ::-1])
    log = tmp_path / "log.jsonl"
    result = demo("--model", str(tiny_bundle), "--source", str(tmp_path / "photos"), "--log", str(log))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["frame"], r["file"], len(r["faces"])) for r in records] == [(0, "a.jpg", 1), (1, "later/b.png", 1)]


@pytest.mark.slow
def test_explain_logs_why_each_face_reads_as_it_does_and_needs_a_neutral_reference(astronaut, tiny_bundle, tmp_path):
    clip = write_video(tmp_path / "clip.mp4", [scene(astronaut, [100 + 3 * i]) for i in range(5)])
    log = tmp_path / "log.jsonl"
    result = demo("--source", str(clip), "--explain", "--log", str(log))  # the default model
    assert result.returncode == 0, result.stderr
    faces = [json.loads(line)["faces"][0] for line in log.read_text().splitlines()]
    assert len(faces) == 5 and all(face["explanation"]["label"] == face["label"] for face in faces)
    assert all(len(face["explanation"]["regions"]) == 13 for face in faces)
    result = demo("--model", str(tiny_bundle), "--source", str(clip), "--explain")
    assert result.returncode == 2 and "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: this model has no population neutral")


@pytest.mark.slow
def test_without_a_camera_the_default_command_processes_the_sample_clip(tiny_bundle, tmp_path):
    camera = cv2.VideoCapture(0)
    if camera.isOpened():
        camera.release()
        pytest.skip("a camera is present: the default command would use it")
    result = demo("--model", str(tiny_bundle), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        "no camera at index 0: processing the bundled sample clip astronaut.mp4 headless instead"
    )
    assert "150 frames processed, 1 face(s) seen" in result.stdout
    assert "press n" not in result.stdout  # headless: no key to press
    assert result.stdout.splitlines()[-1].startswith("next: landmark-emotion-web shows the same in your browser")
    records = [json.loads(line) for line in (tmp_path / "demo_output" / "log.jsonl").read_text().splitlines()]
    assert len(records) == 150 and all(len(r["faces"]) == 1 for r in records)
    assert count_frames(tmp_path / "demo_output" / "annotated.mp4") == 150


@pytest.fixture(scope="module")
def calibrated_bundles(tmp_path_factory) -> dict[str, Path]:
    """The tiny network saved as a base bundle with a population neutral, and as a personal one with a user's."""
    import keras

    from landmark_emotion.face.features import FEATURE_VERSION, N_FEATURES
    from landmark_emotion.model.bundle_write import save_bundle
    from landmark_emotion.model.calibration import References

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((N_FEATURES,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(len(LABELS), activation="softmax"),
        ]
    )
    rng = np.random.default_rng(0)
    base = References(rng.normal(0, 0.1, N_FEATURES).astype(np.float32), FEATURE_VERSION, 10)
    folder = tmp_path_factory.mktemp("models")
    replay = make_table({label: 2 for label in LABELS}, people=1)  # what auto calibration measures expressions on
    return {
        kind: save_bundle(
            folder / kind,
            model,
            np.zeros(N_FEATURES),
            np.ones(N_FEATURES),
            LABELS,
            {"kind": kind},
            {},
            references=refs,
            replay=replay,
        )
        for kind, refs in (("base", base), ("personal", base.with_person(rng.normal(0, 0.1, N_FEATURES), 12)))
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind, args, line, how",
    [
        ("personal", [], "calibration: the personal neutral recorded with this model (12 faces)", "personal"),
        ("personal", ["--calibrate", "off"], "calibration: off", "off"),
        (
            "base",
            ["--calibrate", "neutral"],
            "calibration: none (headless: there is no n key to take a neutral reference with)",
            "none",
        ),
        (
            "base",
            [],
            "calibration: estimated from each face's frames, its expressions left out",
            "estimating auto",
        ),
    ],
)
def test_sample_clip_log_says_how_each_face_was_calibrated(calibrated_bundles, tmp_path, kind, args, line, how):
    log = tmp_path / "log.jsonl"
    result = demo("--model", str(calibrated_bundles[kind]), "--source", str(SAMPLE_CLIP), "--log", str(log), *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == line
    records = [json.loads(text) for text in log.read_text().splitlines()]
    assert len(records) == 150 and {f["calibration"] for r in records for f in r["faces"]} == set(how.split())


@pytest.mark.slow
def test_a_bundle_with_a_reference_of_other_features_is_one_clear_line(calibrated_bundles, tmp_path):
    import shutil

    from landmark_emotion.model.bundle_write import add_to_bundle
    from landmark_emotion.model.calibration import REFERENCE_FILE, References

    bad = tmp_path / "bad"
    shutil.copytree(calibrated_bundles["base"], bad)
    old = References(np.zeros(1404, np.float32), "old-features", 3)
    add_to_bundle(bad, {REFERENCE_FILE: old.to_bytes()})  # e.g. the reference of an older bundle
    result = demo("--model", str(bad), "--source", str(SAMPLE_CLIP))
    assert result.returncode == 2 and "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert "was computed on features 'old-features'" in result.stderr
