"""The console commands (``landmark-emotion-demo`` etc.): each runs its script in ``scr/`` as ``python scr/X.py`` does.

The scripts are installed as :mod:`landmark_emotion.commands` (``scr/`` itself, see
pyproject.toml), so a command and its script are the same code. A script run as
``__main__`` calls :func:`~landmark_emotion.cli.startup.quiet_startup` before its imports
and ends with ``sys.exit(run_command(main))``; :func:`_run` does the same two things
for the installed command. :mod:`landmark_emotion.cli.startup` is all that is imported here, so a
stop signal while the script's imports load ends with one line, and so does a missing extra.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from landmark_emotion.cli.startup import quiet_startup


def _run(script: str) -> int:
    quiet_startup()
    from landmark_emotion.cli.run import run_command

    return run_command(importlib.import_module(f"landmark_emotion.commands.{script}").main)


def _command(script: str) -> Callable[[], int]:
    """The console-script entry point that runs ``scr/<script>.py``."""

    def command() -> int:
        return _run(script)

    command.__doc__ = f"Run scr/{script}.py as an installed command."
    return command


extract = _command("extract_landmarks")  # landmark-emotion-extract
train = _command("train_model")  # landmark-emotion-train
evaluate = _command("evaluate")  # landmark-emotion-evaluate
record = _command("record_dataset")  # landmark-emotion-record
fine_tune = _command("train_personal")  # landmark-emotion-fine-tune
demo = _command("main")  # landmark-emotion-demo
web = _command("web")  # landmark-emotion-web
