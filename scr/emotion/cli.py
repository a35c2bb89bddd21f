"""What every script in ``scr/`` does the same way: argument types, and one ``error:`` line on failure."""
from __future__ import annotations

import argparse
import os
import sys


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def fail(exc: BaseException) -> int:
    """Print ``exc`` as one ``error:`` line on stderr (never a traceback) and return the exit code."""
    if isinstance(exc, KeyboardInterrupt):
        print("error: interrupted; nothing written", file=sys.stderr)
        return 130
    if isinstance(exc, OSError):
        message = f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
    else:
        message = str(exc)
    print(f"error: {message}", file=sys.stderr)
    return 2


def add_landmarker_options(parser: argparse.ArgumentParser) -> None:
    """``--landmarker`` and ``--verbose``: which face mesh to run, and whether its start-up chatter shows."""
    from .detect import LANDMARKER_ENV, LANDMARKERS

    parser.add_argument("--landmarker", choices=LANDMARKERS,
                        help=f"face landmarker (default: ${LANDMARKER_ENV}, else legacy where mediapipe 0.10.x "
                             "is installed, else tasks)")
    parser.add_argument("--verbose", action="store_true",
                        help="show MediaPipe's and TensorFlow's own start-up messages")


def quiet_native_logs(verbose: bool) -> None:
    """Unless ``verbose``, keep TensorFlow's and MediaPipe's C++ logging off the terminal (set before they load)."""
    if not verbose:
        for var, value in (("TF_CPP_MIN_LOG_LEVEL", "3"), ("GLOG_minloglevel", "2")):
            os.environ.setdefault(var, value)
