"""The first thing a script does: a stop signal while it is still loading ends it with one line, not a traceback;
so does a missing extra; OpenCV keeps its own logging to itself.

Loads in no time: it imports only :mod:`landmark_emotion.signals` and :mod:`landmark_emotion.resources`, which
need nothing but the standard library.
"""

import os
import signal
import sys
from types import TracebackType

from landmark_emotion.resources import CHECKOUT
from landmark_emotion.signals import heeded

EXTRA_MODULES = {
    "tensorflow": "train",
    "keras": "train",
    "sklearn": "train",
    "starlette": "web",
    "uvicorn": "web",
    "websockets": "web",
    "anyio": "web",
    "PIL": "web",
    "dask": "cluster",
    "distributed": "cluster",
}
"""The modules of the optional dependencies (pyproject.toml's extras), and the extra that installs each."""


def _exit_at_startup(signum: int, _frame: object) -> None:
    print("error: interrupted while starting; nothing done", file=sys.stderr)
    os._exit(128 + signum)  # nothing to save yet, and no traceback from a half-finished import


def missing_extra(exc: BaseException) -> str | None:
    """The one line that says which extra to install, for an import of a module that only an extra installs."""
    name = (getattr(exc, "name", None) or "").partition(".")[0]
    if not isinstance(exc, ModuleNotFoundError) or name not in EXTRA_MODULES:
        return None
    extra = EXTRA_MODULES[name]
    install = f'pip install "{CHECKOUT}[{extra}]"' if CHECKOUT else f'pip install ".[{extra}]" from the checkout'
    return f"error: this command needs the {extra} extra ({name} is not installed): {install}"


def _one_line_for_a_missing_extra(
    kind: type[BaseException], exc: BaseException, traceback: TracebackType | None
) -> None:
    line = missing_extra(exc)
    if line is None:
        sys.__excepthook__(kind, exc, traceback)
        return
    print(line, file=sys.stderr)
    sys.exit(2)  # raised from the hook, SystemExit sets the exit code: 2, as for every other error line


def quiet_startup() -> None:
    """Make a stop signal during the imports end the script with one line (call before any other import), and a
    module of an extra that is not installed, whenever it is imported, one line that says what to install.

    Also keeps OpenCV's camera probing and FFmpeg's complaints about a file it cannot read off the
    terminal (our own error says it in one line): OpenCV reads these variables when it loads.
    """
    for signum in heeded():
        signal.signal(signum, _exit_at_startup)
    sys.excepthook = _one_line_for_a_missing_extra
    for var, value in (("OPENCV_LOG_LEVEL", "OFF"), ("OPENCV_FFMPEG_LOGLEVEL", "-8")):
        os.environ.setdefault(var, value)
