"""The first thing a script does: a stop signal while it is still loading ends it with one line, not a traceback;
OpenCV keeps its own logging to itself.

Kept apart from :mod:`landmark_emotion.cli` so that it loads in no time: it imports nothing but
``os``, ``signal`` and ``sys``, which the interpreter has loaded already.
"""
import os
import signal
import sys

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
"""The ways a user stops a command: Ctrl-C, kill (or a service manager), closing the terminal."""


def _exit_at_startup(signum: int, _frame) -> None:
    print("error: interrupted while starting; nothing done", file=sys.stderr)
    os._exit(128 + signum)  # nothing to save yet, and no traceback from a half-finished import


def heeded() -> tuple[int, ...]:
    """The stop signals this process was not told to ignore (``nohup`` ignores SIGHUP, ``cmd &`` in a script SIGINT)."""
    return tuple(signum for signum in SIGNALS if signal.getsignal(signum) is not signal.SIG_IGN)


def quiet_startup() -> None:
    """Make a stop signal during the imports end the script with one line (call before any other import).

    Also keeps OpenCV's camera probing and FFmpeg's complaints about a file it cannot read off the
    terminal (our own error says it in one line): OpenCV reads these variables when it loads.
    """
    for signum in heeded():
        signal.signal(signum, _exit_at_startup)
    for var, value in (("OPENCV_LOG_LEVEL", "OFF"), ("OPENCV_FFMPEG_LOGLEVEL", "-8")):
        os.environ.setdefault(var, value)
