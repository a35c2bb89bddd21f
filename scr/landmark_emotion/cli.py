"""What every script in ``scr/`` does the same way: argument types, signals, and one ``error:`` line on failure.

Every numeric flag is parsed by one of the types below, so a bad value is refused by
argparse before any work starts, with the accepted range in the message. Signals:
:func:`landmark_emotion.startup.quiet_startup` (the first thing a script calls) makes SIGINT, SIGTERM and SIGHUP
end a script that is still loading with one line; :func:`run_command` then turns them into
:class:`Interrupted` (a ``KeyboardInterrupt``), which the long loops already catch to
keep what was done, and exits with 128 + the signal's number (130, 143, 129).
"""
from __future__ import annotations

import argparse
import errno
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .startup import heeded

MAX_SEED = 2**32 - 1


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP arrived: stop like Ctrl-C (keep what was done), exit 128 + ``signum``."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)


_last_signal = int(signal.SIGINT)
_pending: int | None = None
"""A stop signal whose exception has not reached our code yet (native code may have swallowed it)."""
_deferring = False
"""True while :func:`deferred_signals` holds a stop signal back."""


def interrupted_code() -> int:
    """The exit code of a run stopped by a signal: 128 + the last signal received (130 for Ctrl-C)."""
    return 128 + _last_signal


def _raise_interrupted(signum: int, _frame) -> None:
    global _last_signal, _pending
    _last_signal = _pending = signum
    if not _deferring:
        raise Interrupted(signum)


def raise_if_interrupted() -> None:
    """Raise a stop signal again if its exception was lost on the way.

    A signal that lands while MediaPipe runs Python code from C++ (opening a graph, its
    first frames) raises there, and MediaPipe catches and logs the exception: the command
    would carry on as if nothing was asked. Long loops and graph openings call this.
    """
    global _pending
    if _pending is not None:
        signum, _pending = _pending, None
        raise Interrupted(signum)


def stop_requested() -> bool:
    """Whether a stop signal is waiting to be raised (by :func:`raise_if_interrupted`)."""
    return _pending is not None


@contextmanager
def deferred_signals() -> Iterator[None]:
    """Let a stop signal wait until the body has run, then raise it (cheap enough for every frame).

    For native work driven from Python: an exception raised inside MediaPipe's ``Image``
    constructor leaves a half-made object whose destructor prints a traceback when it is
    collected, and one raised between TensorFlow's training steps can crash the process
    (Keras' loop polls :func:`stop_requested` instead, see ``callbacks.StopOnSignal``). Unlike :func:`held_signals` no handler is swapped: the handler of
    :func:`run_command` notes the signal and :func:`raise_if_interrupted` raises it after.
    Signals are handled on the main thread only, so elsewhere this does nothing.
    """
    global _deferring
    if _deferring or threading.current_thread() is not threading.main_thread():
        yield
        return
    _deferring = True
    try:
        yield
    finally:
        _deferring = False
    raise_if_interrupted()


@contextmanager
def held_signals() -> Iterator[list[int]]:
    """Hold stop signals while the body runs (e.g. saving what was captured); yields those that arrived.

    A signal that arrives meanwhile is noted, not raised: the caller knows it was asked
    to stop, and finishes saving instead of losing the data half-way.
    """
    global _last_signal
    arrived: list[int] = []
    if threading.current_thread() is not threading.main_thread():  # only the main thread handles signals
        yield arrived
        return
    previous = {signum: signal.signal(signum, lambda signum, _frame: arrived.append(signum)) for signum in heeded()}
    try:
        yield arrived
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if arrived:
            _last_signal = arrived[-1]


def run_command(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Call a script's ``main`` with stop signals raised as :class:`Interrupted`; never a traceback for them."""
    global _last_signal, _pending
    _last_signal, _pending = int(signal.SIGINT), None
    previous = {signum: signal.signal(signum, _raise_interrupted) for signum in heeded()}
    try:
        return main(argv)
    except KeyboardInterrupt as exc:
        return fail(exc)
    except OSError as exc:  # e.g. the disk filled up or a pipe closed outside a command's own handling
        return fail(exc)
    except Exception as exc:
        interrupt = interrupt_behind(exc)
        if interrupt is None:
            raise
        return fail(interrupt)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def interrupt_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The stop signal an error was raised from, if any.

    Code a signal lands in may re-raise its exception as another: a native module's
    initialisation as ImportError, Python 3.11 defining a class as RuntimeError ("Error calling
    __set_name__"). Only explicit causes count: an error raised while handling an interrupt
    (saving what was done, say) is an error of its own.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__
    return None


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


# ---------------------------------------------------------------- argument types

def int_range(low: int, high: int | None = None) -> Callable[[str], int]:
    """argparse type: a whole number in [low, high] (no upper bound when ``high`` is None)."""
    accepted = f"a whole number from {low} to {high}" if high is not None else f"a whole number of at least {low}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {accepted}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {accepted}, got {value}")
        return value

    parse.__name__ = "integer"  # argparse names the type in its own messages
    return parse


def float_range(low: float, high: float, low_open: bool = False, high_open: bool = False) -> Callable[[str], float]:
    """argparse type: a finite number in the interval from ``low`` to ``high`` (open ends excluded)."""
    accepted = f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {accepted}, got {text!r}") from None
        inside = (low < value if low_open else low <= value) and (value < high if high_open else value <= high)
        if not (math.isfinite(value) and inside):
            raise argparse.ArgumentTypeError(f"must be {accepted}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


positive_int = int_range(1)
"""argparse type: a whole number of at least 1."""

seed = int_range(0, MAX_SEED)
"""argparse type: a random seed NumPy and Keras accept."""

probability = float_range(0.0, 1.0)
"""argparse type: a number in [0, 1]."""

fraction = float_range(0.0, 1.0, low_open=True, high_open=True)
"""argparse type: a number strictly between 0 and 1."""

learning_rate = float_range(0.0, 1.0, low_open=True)
"""argparse type: a learning rate in (0, 1]."""


def number_list(what: str, example: str, max_items: int, low: int, high: int) -> Callable[[str], tuple[int, ...]]:
    """argparse type: 1 to ``max_items`` comma-separated whole numbers, each in [low, high]."""
    accepted = f"1 to {max_items} comma-separated {what} from {low} to {high}, like {example}"

    def parse(text: str) -> tuple[int, ...]:
        try:
            numbers = tuple(int(part) for part in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {accepted}, got {text!r}") from None
        if not 1 <= len(numbers) <= max_items or not all(low <= n <= high for n in numbers):
            raise argparse.ArgumentTypeError(f"must be {accepted}, got {text!r}")
        return numbers

    parse.__name__ = what.replace(" ", "_")
    return parse


def layer_sizes(max_layers: int = 8, max_units: int = 4096) -> Callable[[str], tuple[int, ...]]:
    """argparse type: comma-separated layer sizes like ``256,128``, each in [1, max_units]."""
    return number_list("layer sizes", "256,128", max_layers, 1, max_units)


def add_landmarker_options(parser: argparse.ArgumentParser) -> None:
    """``--landmarker`` and ``--verbose``: which face mesh to run, and whether its start-up chatter shows."""
    from .detect import LANDMARKER_ENV, LANDMARKERS

    parser.add_argument("--landmarker", choices=LANDMARKERS,
                        help=f"face landmarker (default: ${LANDMARKER_ENV}, else legacy where mediapipe 0.10.x "
                             "is installed, else tasks)")
    parser.add_argument("--verbose", action="store_true",
                        help="show MediaPipe's and TensorFlow's own start-up messages")


def quiet_native_logs(verbose: bool) -> None:
    """Unless ``verbose``, keep TensorFlow's and MediaPipe's C++ logging off the terminal (set before they load).

    OpenCV's and FFmpeg's are kept off by :func:`landmark_emotion.startup.quiet_startup`, before cv2 loads."""
    if not verbose:
        for var, value in (("TF_CPP_MIN_LOG_LEVEL", "3"), ("GLOG_minloglevel", "2")):
            os.environ.setdefault(var, value)
