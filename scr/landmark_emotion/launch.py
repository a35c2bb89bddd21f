"""The console commands (``landmark-emotion-demo`` etc.): each runs its script in ``scr/`` as ``python scr/X.py`` does.

The scripts are installed as :mod:`landmark_emotion.commands` (``scr/`` itself, see
pyproject.toml), so a command and its script are the same code. A script run as
``__main__`` calls :func:`~landmark_emotion.startup.quiet_startup` before its imports
and ends with ``sys.exit(run_command(main))``; :func:`_run` does the same two things
for the installed command. Only :mod:`landmark_emotion.startup` is imported here, so a
stop signal while the script's imports load ends with one line.
"""
from __future__ import annotations

import importlib

from .startup import quiet_startup


def _run(script: str) -> int:
    quiet_startup()
    module = importlib.import_module(f"landmark_emotion.commands.{script}")
    from .cli import run_command

    return run_command(module.main)


def extract() -> int:
    """``landmark-emotion-extract``: scr/extract_landmarks.py."""
    return _run("extract_landmarks")


def train() -> int:
    """``landmark-emotion-train``: scr/train_model.py."""
    return _run("train_model")


def evaluate() -> int:
    """``landmark-emotion-evaluate``: scr/evaluate.py."""
    return _run("evaluate")


def record() -> int:
    """``landmark-emotion-record``: scr/record_dataset.py."""
    return _run("record_dataset")


def fine_tune() -> int:
    """``landmark-emotion-fine-tune``: scr/train_personal.py."""
    return _run("train_personal")


def demo() -> int:
    """``landmark-emotion-demo``: scr/main.py."""
    return _run("main")


def web() -> int:
    """``landmark-emotion-web``: scr/web.py."""
    return _run("web")
