"""What the tests' child processes share: they heed every stop signal, however the test run was started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from landmark_emotion.signals import SIGNALS

SCRIPTS = Path(__file__).resolve().parent.parent / "scr"


def heed_all_signals() -> None:
    """In the child: a test run in the background (``pytest &``) ignores SIGINT, one under ``nohup`` SIGHUP, and
    the child would inherit that (a test that stops it with that signal would wait for it in vain)."""
    for signum in SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


def run_script(script: str, *args: str, timeout: float = 120, folder: Path = SCRIPTS) -> subprocess.CompletedProcess:
    """``python scr/<script> ARGS`` (or a script of another ``folder``: ``benchmarks/``) as a user runs it, headless
    (no display to open a window on), its output kept."""
    env = {**os.environ, "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    return subprocess.run(
        [sys.executable, str(folder / script), *args], capture_output=True, text=True, env=env, timeout=timeout
    )
