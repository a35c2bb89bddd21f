"""The benchmarks are commands too: a path that is not there, or a broken table, ends in one ``error:`` line and
exit 2, no traceback.

Whoever re-runs a figure of the README types its command with their own paths; a typo is the likeliest error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from child_processes import run_script

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
MISSING = "/nonexistent/landmark-emotion"


@pytest.mark.parametrize(
    "script, args, message",
    [
        ("cross_dataset.py", ["--tables", "TABLES"], "ck.npz is not a readable .npz landmark table"),
        ("calibration.py", ["--table", f"{MISSING}.npz"], "no table at"),
        ("personal.py", ["--table", f"{MISSING}.npz"], "no table at"),
        ("accuracy.py", ["--data", f"{MISSING}.npz"], "no table at"),
        ("explain.py", ["--model", MISSING, f"{MISSING}.npz"], "no model bundle at"),
        ("live_hold.py", ["run", "--cache", MISSING, "--model", MISSING], "no model bundle at"),
    ],
)
def test_a_benchmark_given_a_missing_path_says_so_in_one_line(script, args, message, tmp_path):
    (tmp_path / "ck.npz").write_bytes(b"")  # a table cut short: cross_dataset.py reads every table of --tables
    args = [str(tmp_path) if a == "TABLES" else a for a in args]
    done = run_script(script, *args, folder=BENCHMARKS)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], done.stderr


def test_every_benchmark_ends_through_run_command():
    """So that each one, not only those above, turns an error raised on purpose into one line."""
    scripts = sorted(BENCHMARKS.glob("*.py"))
    assert len(scripts) >= 18
    assert [p.name for p in scripts if "sys.exit(run_command(main))" not in p.read_text()] == []
