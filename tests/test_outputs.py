"""Where commands write: never over an input, checked before the work, replaced atomically even under kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from landmark_emotion import outputs
from landmark_emotion.outputs import (
    OutputError,
    check_outputs,
    check_writable,
    recover,
    remove_leftovers,
    replace_folder,
    write_file,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def files(tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"video")
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "bundle.json").write_text("{}")
    (tmp_path / "link.mp4").symlink_to(tmp_path / "clip.mp4")
    os.link(tmp_path / "clip.mp4", tmp_path / "hard.mp4")
    return tmp_path


@pytest.mark.parametrize(
    "out, message",
    [
        ("clip.mp4", "--output .*clip.mp4 is the input --source"),
        ("link.mp4", "is the input --source"),  # a symlink to the input
        ("hard.mp4", "is the input --source"),  # a hard link to the input
        ("./sub/../clip.mp4", "is the input --source"),
        (".", "holds the input"),  # a folder that would be replaced with the input in it
        ("bundle/log.jsonl", "inside the input folder --model"),
        ("bundle", "is the input --model"),
    ],
    ids=["same", "symlink", "hardlink", "dotdot", "holds", "inside-bundle", "bundle-itself"],
)
def test_an_output_that_resolves_to_an_input_is_refused(files, out, message, monkeypatch):
    monkeypatch.chdir(files)
    (files / "sub").mkdir()
    with pytest.raises(OutputError, match=message):
        check_outputs(
            {"--source": files / "clip.mp4", "--model": files / "bundle"}, {"--output": Path(out)}, whole=["--model"]
        )


def test_two_outputs_in_one_place_and_distinct_outputs(files):
    with pytest.raises(OutputError, match="--output .* and --log .* are the same place"):
        check_outputs({}, {"--output": files / "x", "--log": files / "link" / ".." / "x"})
    check_outputs(
        {"--source": files / "clip.mp4", "--data": [files / "a.npz", None]},
        {"--output": files / "out.mp4", "--log": files / "log.jsonl", "--json": None},
    )
    # a folder read only for its images may get an output inside; a bundle (read whole) may not
    check_outputs({"--data-dir": files / "bundle"}, {"--out": files / "bundle" / "t.npz"})


def test_unwritable_outputs_are_found_before_the_work(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="cannot write to .*file"):
        check_writable(tmp_path / "file" / "out.npz")
    with pytest.raises(OutputError, match="cannot write to .*file"):
        check_writable(tmp_path / "file" / "sessions", into=True)
    with pytest.raises(OutputError, match="it is a folder"):
        check_writable(tmp_path)
    check_writable(tmp_path / "new" / "deeper" / "out.npz")
    assert (tmp_path / "new" / "deeper").is_dir() and list((tmp_path / "new" / "deeper").iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)
    with pytest.raises(OutputError, match="cannot write to"):
        check_writable(folder, into=True)


def test_write_file_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "scores.json"
    target.write_text("old")

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_file(target, broken)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["scores.json"]
    write_file(target, lambda tmp: tmp.write_text("new"))
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["scores.json"]


def make_folder(path: Path, text: str) -> Path:
    path.mkdir()
    for name in ("a.txt", "b.txt"):
        (path / name).write_text(text)
    return path


@pytest.mark.parametrize("atomic", [True, False], ids=["exchange", "two-renames"])
def test_replace_folder_swaps_old_for_new(tmp_path, atomic, monkeypatch):
    if not atomic:
        monkeypatch.setattr(outputs, "exchange", lambda a, b: False)
    target = make_folder(tmp_path / "bundle", "old")
    replace_folder(make_folder(tmp_path / "new", "new"), target)
    assert (target / "a.txt").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]
    replace_folder(make_folder(tmp_path / "newer", "newer"), tmp_path / "other")  # nothing to replace
    assert (tmp_path / "other" / "b.txt").read_text() == "newer"


def test_a_replace_killed_between_its_renames_is_recovered(tmp_path):
    target = make_folder(tmp_path / "personal", "old")
    new = make_folder(tmp_path / f".personal.{2**22 + 7}.abc.tmp", "new")  # its writer is dead
    os.rename(target, tmp_path / ".personal.old")  # the first rename happened, the kill came before the second
    assert recover(target).startswith("restored") and (target / "a.txt").read_text() == "old"
    assert remove_leftovers(target) == [new] and sorted(p.name for p in tmp_path.iterdir()) == ["personal"]
    make_folder(tmp_path / ".personal.old", "older")  # the kill came after the second rename
    assert recover(target).startswith("removed") and (target / "a.txt").read_text() == "old"
    assert recover(target) is None and sorted(p.name for p in tmp_path.iterdir()) == ["personal"]


def test_temporaries_of_a_running_writer_are_kept(tmp_path):
    mine = tmp_path / f".out.npz.{os.getpid()}.x.tmp.npz"
    mine.write_text("being written")
    assert remove_leftovers(tmp_path / "out.npz") == [] and mine.exists()


KILL_LOOP = """
import sys, itertools
from pathlib import Path
from landmark_emotion.outputs import replace_folder, temporary_folder
target = Path(sys.argv[1])
print("ready", flush=True)
for i in itertools.count():
    tmp = temporary_folder(target)
    for k in range(20):
        (tmp / f"f{k}.txt").write_text(str(i))
    replace_folder(tmp, target)
"""


@pytest.mark.slow
def test_kill_9_at_any_instant_of_a_forced_replace_leaves_a_whole_folder(tmp_path):
    """A writer replacing a folder over and over, killed at random instants: a complete folder is always there."""
    target = tmp_path / "bundle"
    target.mkdir()
    for k in range(20):
        (target / f"f{k}.txt").write_text("start")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scr")}
    for delay in [0.05, 0.11, 0.17, 0.23, 0.31, 0.37, 0.43, 0.5]:
        writer = subprocess.Popen([sys.executable, "-c", KILL_LOOP, str(target)], stdout=subprocess.PIPE, env=env)
        assert writer.stdout.readline() == b"ready\n"
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        recover(target)
        contents = {(target / f"f{k}.txt").read_text() for k in range(20)}
        assert len(contents) == 1 and len(list(target.iterdir())) == 20  # one whole version, old or new
        remove_leftovers(target)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]
