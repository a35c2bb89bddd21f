"""Run a command's ``main`` so that whatever stops it reaches the user as one ``error:`` line and an exit code.

Stop signals become :class:`~landmark_emotion.signals.Interrupted` (exit 128 + the signal's
number: 130, 143, 129); an ``OSError`` (a full disk, a closed pipe) and every error the
command lets through on purpose print one line and exit 2, never a traceback.
"""

from __future__ import annotations

import errno
import io
import os
import signal
import sys
from collections.abc import Callable

from landmark_emotion.errors import LandmarkEmotionError
from landmark_emotion.outputs import recover
from landmark_emotion.signals import interrupt_behind, raising_stop_signals


def run_command(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Call a script's ``main`` with stop signals raised as :class:`Interrupted`; never a traceback for them.

    What the command prints never fails to print: a file name that is not valid UTF-8, or a "—" on a console
    that has none, is written escaped (``\\udcff``) instead of ending the command with ``UnicodeEncodeError``.
    """
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    with raising_stop_signals():
        try:
            return main(argv) or 0  # a main that returns nothing succeeded
        except KeyboardInterrupt as exc:
            return fail(exc)
        except OSError as exc:  # e.g. the disk filled up or a pipe closed outside a command's own handling
            return fail(exc)
        except LandmarkEmotionError as exc:  # raised on purpose where a command did not expect it: still one line
            return fail(exc)
        except Exception as exc:
            interrupt = interrupt_behind(exc)
            if interrupt is None:
                raise
            return fail(interrupt)


def fail(exc: BaseException) -> int:
    """Print ``exc`` as one ``error:`` line on stderr (never a traceback) and return the exit code."""
    if isinstance(exc, KeyboardInterrupt):
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"error: interrupted ({signal.Signals(signum).name}); nothing written", file=sys.stderr)
        return 128 + signum
    if isinstance(exc, BrokenPipeError) and exc.filename is None:  # whoever read our output left (| head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 128 + 13  # as if killed by SIGPIPE, like other command-line tools
    if isinstance(exc, OSError):
        message = f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
        if exc.errno == errno.ENOSPC:
            message += " (disk full; what was complete before is kept)"
    else:
        message = str(exc)
    print(f"error: {message}", file=sys.stderr)
    return 2


def say_recovered(path: str | os.PathLike) -> None:
    """Before a command writes the folder ``path``: finish a replace of it that was interrupted, and say what was done.

    Before the command's checks, so that a bundle put back is seen as existing (``--force``) before the work.
    """
    message = recover(path)
    if message:
        print(message)
