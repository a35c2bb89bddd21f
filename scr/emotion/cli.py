"""What every script in ``scr/`` does the same way: argument types, and one ``error:`` line on failure."""
from __future__ import annotations

import argparse
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
