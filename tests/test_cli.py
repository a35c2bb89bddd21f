"""Every script's flags are checked before any work (with the accepted range in the message), and every way of
stopping a script is clean: one line, exit 128 + the signal, what was done kept, no worker left behind."""

from __future__ import annotations

import argparse
import errno
import importlib
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from child_processes import heed_all_signals
from demo_data import scene, write_video
from landmark_emotion import signals
from landmark_emotion.cli import arguments
from landmark_emotion.cli.run import run_command
from landmark_emotion.commands import (
    evaluate,
    extract_landmarks,
    record_dataset,
    train_model,
    train_personal,
    web,
)
from landmark_emotion.commands import (
    main as demo_main,
)
from landmark_emotion.data.table import load_table, save_table
from landmark_emotion.face.landmarker import import_mediapipe
from landmark_emotion.resources import COMMANDS
from landmark_emotion.signals import SIGNALS
from synthetic_faces import make_table

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scr"


def test_argument_types_state_their_range():
    rate = arguments.learning_rate
    for text in ("0", "-1", "nan", "inf", "2", "x"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"must be a number in \(0, 1\]"):
            rate(text)
    assert rate("1e-3") == 1e-3 and arguments.seed("4294967295") == 2**32 - 1
    with pytest.raises(argparse.ArgumentTypeError, match="a whole number from 0 to 4294967295, got -1"):
        arguments.seed("-1")
    with pytest.raises(argparse.ArgumentTypeError, match="1 to 8 comma-separated layer sizes from 1 to 4096"):
        arguments.layer_sizes()("256,100000")
    assert arguments.layer_sizes()("256,128") == (256, 128)
    assert arguments.label_factors("Neutral=1.3,contempt=0.5") == (("neutral", 1.3), ("contempt", 0.5))


@pytest.mark.parametrize("script", list(COMMANDS))
def test_every_command_takes_verbose_and_says_what_each_option_does(script, monkeypatch):
    parsers = []
    parse = argparse.ArgumentParser.parse_args
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", lambda self, *a: parsers.append(self) or parse(self, *a))
    with pytest.raises(SystemExit):
        importlib.import_module(f"landmark_emotion.commands.{script}").parse_args(["--help"])
    (parser,) = parsers
    assert "--verbose" in parser._option_string_actions
    assert [action.option_strings for action in parser._actions if not action.help] == []


@pytest.mark.parametrize(
    "module, args, flag, accepted",
    [
        (train_model, ["--lr", "nan"], "--lr", r"a number in \(0, 1\]"),
        (train_model, ["--seed", "-3"], "--seed", "from 0 to 4294967295"),
        (train_model, ["--seed", "99999999999"], "--seed", "from 0 to 4294967295"),
        (train_model, ["--hidden", "100000000"], "--hidden", "layer sizes from 1 to 4096"),
        (train_model, ["--hidden", "256,0"], "--hidden", "layer sizes from 1 to 4096"),
        (train_model, ["--hidden", ",".join(["64"] * 9)], "--hidden", "1 to 8 comma-separated"),
        (train_model, ["--dropout", "1"], "--dropout", r"a number in \[0, 1\)"),
        (train_model, ["--batch-size", "0"], "--batch-size", "from 1 to 65536"),
        (train_model, ["--epochs", "-5"], "--epochs", "from 1 to 100000"),
        (train_model, ["--val-fraction", "0"], "--val-fraction", r"a number in \(0, 0.9\)"),
        (train_model, ["--min-class-count", "0"], "--min-class-count", "from 2 to"),
        (train_model, ["--replay-per-class", "-1"], "--replay-per-class", "from 0 to"),
        (train_model, ["--identity-augment", "-1"], "--identity-augment", r"a number in \[0, 10\]"),
        (train_model, ["--class-prior", "bored=2"], "--class-prior", "unknown emotion label"),
        (train_model, ["--class-prior", "neutral=0"], "--class-prior", "LABEL=FACTOR pairs"),
        (train_model, ["--class-prior", "neutral=2,calm=1"], "--class-prior", "each label once"),
        (train_model, ["--class-prior", "neutral"], "--class-prior", "LABEL=FACTOR pairs"),
        (extract_landmarks, ["--augment", "-1"], "--augment", "from 0 to 100"),
        (train_personal, ["--l2", "0"], "--l2", r"a number in \(0, 1000\]"),
        (train_personal, ["--per-label", "0"], "--per-label", "from 1 to"),
        (train_personal, ["--min-samples", "0"], "--min-samples", "from 1 to"),  # 1 per label is a valid recording
        (extract_landmarks, ["--workers", "0"], "--workers", "from 1 to 4096"),
        (extract_landmarks, ["--max-per-class", "0"], "--max-per-class", "at least 1"),
        (extract_landmarks, ["--backend", "threading"], "--backend", "invalid choice: 'threading'"),
        (extract_landmarks, ["--backend", "multiprocessing"], "--backend", "invalid choice: 'multiprocessing'"),
        (demo_main, ["--max-faces", "0"], "--max-faces", "from 1 to 32"),
        (demo_main, ["--min-confidence", "nan"], "--min-confidence", r"a number in \[0, 1\]"),
        (demo_main, ["--smoothing", "0"], "--smoothing", "from 1 to 10000"),
        (record_dataset, ["--label", "happy", "--samples", "0"], "--samples", "at least 1"),
        (web, ["--port", "70000"], "--port", "from 0 to 65535"),
        (web, ["--port", "-1"], "--port", "from 0 to 65535"),
    ],
)
def test_bad_flags_are_refused_before_any_work(module, args, flag, accepted, capsys):
    required = {train_model: ["--data", "t.npz", "--out", "m"], evaluate: ["--model", "m", "--data", "t.npz"]}
    with pytest.raises(SystemExit) as stop:
        module.parse_args([*required.get(module, []), *args])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and f"argument {flag}: " in err
    assert re.search(accepted, err), err


@pytest.mark.slow
def test_a_script_with_a_bad_flag_prints_no_traceback():
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "train_model.py"), "--data", "x.npz", "--out", "m", "--lr", "nan"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].endswith("argument --lr: must be a number in (0, 1], got nan")


def test_an_error_raised_on_purpose_that_a_command_did_not_expect_is_still_one_line(capsys):
    from landmark_emotion.errors import InputError

    def main(argv: list[str] | None) -> int:
        raise InputError("expected features of shape (4320,), got (1504,)")

    assert run_command(main, []) == 2
    assert capsys.readouterr().err == "error: expected features of shape (4320,), got (1504,)\n"


# ---------------------------------------------------------------- stopping


@pytest.fixture
def restore_signals():
    saved = {signum: signal.getsignal(signum) for signum in SIGNALS}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)
    signals._last_signal = signal.SIGINT  # what a plain Ctrl-C in the next test's command reports


def test_a_stop_signal_becomes_an_interrupt_with_its_exit_code(restore_signals, capsys):
    def work(_argv):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        return 0

    before = signal.getsignal(signal.SIGTERM)
    assert run_command(work) == 143
    assert capsys.readouterr().err == "error: interrupted (SIGTERM); nothing written\n"
    assert signal.getsignal(signal.SIGTERM) is before  # the command's handlers are removed after it


def test_an_ignored_signal_stays_ignored(restore_signals):
    """Under nohup (SIGHUP ignored), closing the terminal must not stop a long training run."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

    def work(_argv):
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(0.1)
        return 0

    assert run_command(work) == 0 and signal.getsignal(signal.SIGHUP) is signal.SIG_IGN


def test_held_signals_let_a_save_finish(restore_signals):
    for signum in (signal.SIGTERM, signal.SIGHUP):  # heeded even when the run was started under nohup
        signal.signal(signum, signals._raise_interrupted)
    with signals.held_signals() as arrived:
        os.kill(os.getpid(), signal.SIGHUP)
        saved = "complete"
    assert saved == "complete" and arrived == [signal.SIGHUP] and signals.interrupted_code() == 129
    assert signal.getsignal(signal.SIGTERM) is signals._raise_interrupted


def test_a_stop_signal_waits_for_the_mediapipe_import(restore_signals, monkeypatch, capsys):
    """Code a signal lands in while mediapipe loads may swallow it or re-raise it as another error (a CI
    run printed "the legacy Face Mesh needs mediapipe 0.10.x" and exited 2 for a Ctrl-C)."""
    imported = []

    def import_module(name: str):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler has run by now
        imported.append(name)
        return sys

    monkeypatch.setattr(importlib, "import_module", import_module)
    assert run_command(lambda _argv: import_mediapipe() and 0) == 143
    assert imported == ["mediapipe"]  # finished, then stopped
    assert capsys.readouterr().err == "error: interrupted (SIGTERM); nothing written\n"


def test_an_error_raised_from_a_stop_signal_is_that_stop(restore_signals, capsys):
    """Python 3.11 re-raises an interrupt that lands while a class is defined as RuntimeError (a CI run: a
    traceback and exit 1 for a Ctrl-C while matplotlib loaded)."""

    def work(_argv):
        try:
            raise signals.Interrupted(signal.SIGTERM)
        except signals.Interrupted as exc:
            raise RuntimeError("Error calling __set_name__") from exc

    assert run_command(work) == 143
    assert capsys.readouterr().err == "error: interrupted (SIGTERM); nothing written\n"

    def fails_while_stopping(_argv):
        try:
            raise signals.Interrupted(signal.SIGTERM)
        except signals.Interrupted:
            raise RuntimeError("a bug of its own")  # noqa: B904  (raised while handling, not from it: not hidden behind it)

    with pytest.raises(RuntimeError, match="a bug of its own"):
        run_command(fails_while_stopping)


def test_a_deferred_signal_is_raised_once_the_body_has_run(restore_signals, capsys):
    """A stop signal must not cut a native object's constructor short (MediaPipe's Image then errs when freed)."""
    steps = []

    def work(_argv):
        with signals.deferred_signals():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # the handler has run by now, and not raised
            steps.append("body finished")
        steps.append("after the body")  # not reached: the signal is raised as the body ends
        return 0

    assert run_command(work) == 143 and steps == ["body finished"]
    assert capsys.readouterr().err == "error: interrupted (SIGTERM); nothing written\n"


def test_quiet_startup_ends_a_script_stopped_while_loading_with_one_line(restore_signals, monkeypatch, capsys):
    """What a script does first, in this process (the tests that start scripts are slow): a stop signal while it loads
    exits with one line; a signal the script was told to ignore stays ignored; OpenCV is told to keep quiet."""
    from landmark_emotion.cli import startup

    for var in ("OPENCV_LOG_LEVEL", "OPENCV_FFMPEG_LOGLEVEL"):
        monkeypatch.delenv(var, raising=False)  # restored after the test: later child processes get the user's
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test too
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    startup.quiet_startup()
    assert sys.excepthook is startup._one_line_for_a_missing_extra
    assert signal.getsignal(signal.SIGTERM) is startup._exit_at_startup
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    assert os.environ["OPENCV_LOG_LEVEL"] == "OFF" and os.environ["OPENCV_FFMPEG_LOGLEVEL"] == "-8"
    exits = []
    monkeypatch.setattr(startup.os, "_exit", exits.append)
    startup._exit_at_startup(signal.SIGTERM, None)
    assert exits == [143] and capsys.readouterr().err == "error: interrupted while starting; nothing done\n"


def test_a_missing_extra_is_named_with_the_pip_command_that_installs_it(monkeypatch, capsys):
    """What the hook quiet_startup installs says (the tests that run commands without an extra are slow)."""
    from landmark_emotion.cli import startup

    missing = ModuleNotFoundError("No module named 'keras'", name="keras")
    monkeypatch.setattr(startup, "CHECKOUT", Path("/src/landmark-emotion"))  # run from a checkout
    assert startup.missing_extra(missing) == (
        'error: this command needs the train extra (keras is not installed): pip install "/src/landmark-emotion[train]"'
    )
    monkeypatch.setattr(startup, "CHECKOUT", None)  # installed from a checkout elsewhere
    assert startup.missing_extra(ModuleNotFoundError(name="starlette.routing")).endswith(
        'needs the web extra (starlette is not installed): pip install ".[web]" from the checkout'
    )
    assert startup.missing_extra(ModuleNotFoundError(name="cv2")) is None  # not an extra's: the traceback says it
    with pytest.raises(SystemExit) as exited:
        startup._one_line_for_a_missing_extra(ModuleNotFoundError, missing, None)
    assert exited.value.code == 2 and capsys.readouterr().err.startswith("error: this command needs the train extra")


def start(script: str, *args: str, cwd: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    return subprocess.Popen(
        [sys.executable, str(SCRIPTS / script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
        preexec_fn=heed_all_signals,
    )


def wait_for(process: subprocess.Popen, pattern: str, timeout: float = 90) -> str:
    """Read the process's stderr until ``pattern`` appears (a progress bar shows the work is under way)."""
    seen, deadline = "", time.monotonic() + timeout
    fd = process.stderr.fileno()
    while not re.search(pattern, seen):
        assert time.monotonic() < deadline and process.poll() is None, seen
        if select.select([fd], [], [], 0.2)[0]:
            seen += os.read(fd, 4096).decode(errors="replace")
    return seen


@pytest.fixture(scope="module")
def long_clip(astronaut, tmp_path_factory) -> Path:
    """Long enough that a fast machine is still reading it when the tests stop it (900 frames took ~1.5 s on CI)."""
    scenes = [scene(astronaut, [80 + i]) for i in range(40)]
    frames = [scenes[i % 40] for i in range(4000)]
    return write_video(tmp_path_factory.mktemp("clips") / "long.mp4", frames)


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.5, 1.0, 2.0, 3.5])
def test_ctrl_c_during_start_up_prints_one_line(delay, long_clip, tmp_path):
    """Interpreter start, imports, loading the model, importing MediaPipe and TensorFlow: wherever Ctrl-C lands."""
    process = start("main.py", "--model", str(ROOT / "models" / "default"), "--source", str(long_clip), "--no-display")
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in err, err
    if err:  # still starting: one line says so
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: interrupted"), err
    else:  # on a fast machine the clip was already being read: the run's own summary says it was interrupted
        assert "frames processed" in out and "interrupted" in out, out


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_stopped_recording_keeps_what_it_captured(signum, long_clip, tmp_path):
    out = tmp_path / "sessions"
    process = start("record_dataset.py", "--label", "happy", "--source", str(long_clip), "--out-dir", str(out))
    wait_for(process, r"recording happy: [1-9]\d* faces ")  # faces are being captured
    process.send_signal(signum)
    stdout, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum and "Traceback" not in err, err
    (session,) = out.glob("*.npz")
    table = load_table(session)
    assert 0 < len(table) < 900 and table.meta["interrupted"] is True
    assert f"happy: {len(table)} captured" in stdout and ", interrupted ->" in stdout


@pytest.mark.slow
def test_sigterm_during_training_writes_the_best_epoch_so_far(tmp_path):
    data = save_table(make_table({"neutral": 40, "happy": 40}, people=16), tmp_path / "t.npz")
    out = tmp_path / "m"
    process = start(
        "train_model.py",
        "--data",
        str(data),
        "--out",
        str(out),
        "--min-class-count",
        "5",
        "--epochs",
        "100000",
        "--patience",
        "100000",
    )
    wait_for(process, " 3/100000")
    process.send_signal(signal.SIGTERM)
    stdout, err = process.communicate(timeout=120)
    assert process.returncode == 143 and "Traceback" not in err, err
    assert "(interrupted: the best epoch so far is kept)" in stdout and f"wrote {out}" in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["interrupted"] is True and metrics["best_epoch"] >= 1


WORKERS = """
import os, sys, time
from joblib import Parallel, delayed
from landmark_emotion.data.extraction import follow_parent

def work(parent):
    follow_parent(parent, interval=0.1)
    time.sleep(0.5)
    return os.getpid()

pids = Parallel(n_jobs=2, backend="loky")(delayed(work)(os.getpid()) for _ in range(4))
print(" ".join(map(str, sorted(set(pids)))), flush=True)
time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_kill_9_of_an_extraction_leaves_no_worker_behind():
    env = {**os.environ, "PYTHONPATH": str(SCRIPTS)}
    parent = subprocess.Popen([sys.executable, "-c", WORKERS], stdout=subprocess.PIPE, text=True, env=env)
    workers = [int(pid) for pid in parent.stdout.readline().split()]
    assert workers and all(alive(pid) for pid in workers)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in workers)


# ---------------------------------------------------------------- disk full


@pytest.mark.slow
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_disk_full_is_one_line(astronaut, tmp_path):
    clip = write_video(tmp_path / "clip.mp4", [scene(astronaut, [100])] * 5)
    process = start(
        "main.py",
        "--model",
        str(ROOT / "models" / "default"),
        "--source",
        str(clip),
        "--no-display",
        "--log",
        "/dev/full",
    )
    _, err = process.communicate(timeout=120)
    assert process.returncode == 2 and "Traceback" not in err, err
    assert err.splitlines()[-1] == "error: No space left on device (disk full; what was complete before is kept)"


def test_a_recording_whose_folder_is_full_is_kept_elsewhere_and_says_where(astronaut, tmp_path, monkeypatch, capsys):
    """What was recorded cannot be recorded again: a full session folder sends it to the temporary folder."""
    import tempfile

    import cv2

    import landmark_emotion.apps.recording as recording

    sessions, spare = tmp_path / "sessions", tmp_path / "tmp"
    spare.mkdir()
    save_table = recording.save_table

    def full_in_sessions(table, path):
        if Path(path).parent == sessions:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return save_table(table, path)

    monkeypatch.setattr(recording, "save_table", full_in_sessions)
    monkeypatch.setattr(tempfile, "tempdir", str(spare))
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i}.jpg"), cv2.resize(astronaut, (300 + 10 * i, 300 + 10 * i)))
    code = record_dataset.main(
        ["--label", "happy", "--source", str(folder), "--out-dir", str(sessions), "--no-progress"]
    )
    err = capsys.readouterr().err
    (kept,) = spare.glob("*/*_happy.npz")  # nothing kept before: the samples were lost
    assert code == 2 and err == (
        f"error: No space left on device in {sessions}: the 3 happy samples were saved to {kept} instead; "
        f"move it into {sessions}\n"
    )
    assert len(load_table(kept)) == 3 and list(sessions.iterdir()) == []


def run_with_files_limited_to(size: int, script: str, *args: str) -> subprocess.CompletedProcess:
    """``script`` in a child whose files cannot grow beyond ``size`` bytes (EFBIG, as a full disk gives ENOSPC)."""

    def limit() -> None:
        import resource

        heed_all_signals()
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return subprocess.run(
        [sys.executable, str(SCRIPTS / script), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "DISPLAY": "", "WAYLAND_DISPLAY": ""},
        preexec_fn=limit,
        timeout=300,
    )


@pytest.mark.slow
def test_a_recording_that_cannot_be_saved_anywhere_says_so_in_one_line(long_clip, tmp_path):
    args = ["--label", "happy", "--source", str(long_clip), "--out-dir", str(tmp_path / "s"), "--samples", "60"]
    result = run_with_files_limited_to(100_000, "record_dataset.py", *args, "--no-progress")
    err = result.stderr
    assert result.returncode == 2 and err.count("\n") == 1, err  # no "Exception ignored in ZipFile.__del__"
    assert err.startswith("error: File too large") and "the 60 happy samples could not be saved anywhere" in err


@pytest.mark.slow
def test_a_video_cut_short_by_a_full_disk_is_said_not_claimed(long_clip, tmp_path):
    """OpenCV's video writer says nothing when a write fails: the demo said "wrote annotated video" (exit 0) of a
    file no player opens."""
    out = tmp_path / "annotated.mp4"
    model = str(ROOT / "models" / "default")
    result = run_with_files_limited_to(
        200_000, "main.py", "--model", model, "--no-display", "--source", str(long_clip), "--output", str(out)
    )
    assert result.returncode == 2 and "wrote annotated video" not in result.stdout, result.stdout
    assert result.stderr == (
        f"error: could not write video {out} completely: it does not read back (is the disk full?)\n"
    )


def test_save_npz_closes_its_file_when_the_disk_fills(monkeypatch):
    """np.savez leaves its zip file to the garbage collector, which then writes to a closed file and prints
    "Exception ignored in ZipFile.__del__" after the command's one error line."""
    import gc
    import io

    import numpy as np

    from landmark_emotion.outputs import save_npz

    class FullDisk(io.RawIOBase):
        written = 0

        def writable(self) -> bool:
            return True

        def write(self, data) -> int:
            if self.written + len(data) > 10_000:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.written += len(data)
            return len(data)

    ignored = []
    monkeypatch.setattr(sys, "unraisablehook", ignored.append)
    with pytest.raises(OSError) as raised, FullDisk() as disk:
        save_npz(disk, {"noise": np.random.default_rng(0).normal(size=10_000)})
    gc.collect()
    assert raised.value.errno == errno.ENOSPC and ignored == []
    buffer = io.BytesIO()
    save_npz(buffer, {"a": np.arange(3), "b": np.array("text")})
    with np.load(io.BytesIO(buffer.getvalue()), allow_pickle=False) as data:
        assert data["a"].tolist() == [0, 1, 2] and str(data["b"]) == "text"


@pytest.mark.slow
def test_a_reader_that_leaves_early_is_not_an_error(tmp_path):
    """`evaluate.py … | head -1`: the pipe closes before the report is printed; exit as `head`'s writers do."""
    data = save_table(make_table({"neutral": 10, "happy": 10}, people=2), tmp_path / "t.npz")
    process = subprocess.Popen(
        [
            sys.executable,
            str(SCRIPTS / "evaluate.py"),
            "--model",  # reads landmarks alone
            str(ROOT / "models" / "facial_expressions"),
            "--data",
            str(data),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait(timeout=60) == 141 and err == ""
