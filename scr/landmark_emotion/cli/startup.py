"""The first thing a script does: a stop signal while it is still loading ends it with one line, not a traceback;
OpenCV keeps its own logging to itself.

Loads in no time: it imports only :mod:`landmark_emotion.signals`, which needs nothing but the standard library.
"""

import os
import signal
import sys

from landmark_emotion.signals import heeded


def _exit_at_startup(signum: int, _frame: object) -> None:
    print("error: interrupted while starting; nothing done", file=sys.stderr)
    os._exit(128 + signum)  # nothing to save yet, and no traceback from a half-finished import


def quiet_startup() -> None:
    """Make a stop signal during the imports end the script with one line (call before any other import).

    Also keeps OpenCV's camera probing and FFmpeg's complaints about a file it cannot read off the
    terminal (our own error says it in one line): OpenCV reads these variables when it loads.
    """
    for signum in heeded():
        signal.signal(signum, _exit_at_startup)
    for var, value in (("OPENCV_LOG_LEVEL", "OFF"), ("OPENCV_FFMPEG_LOGLEVEL", "-8")):
        os.environ.setdefault(var, value)
