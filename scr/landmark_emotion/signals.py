"""Stop signals (Ctrl-C, ``kill``, closing the terminal) as one exception that long work can catch and survive.

SIGINT, SIGTERM and SIGHUP all stop a command the way Ctrl-C does: inside
:func:`raising_stop_signals` each raises :class:`Interrupted` (a ``KeyboardInterrupt``),
which the long loops catch to keep what was done, and the command exits with 128 + the
signal's number (:func:`interrupted_code`). Native code that swallows the exception, work
that must not be cut in half, and work that saves what was captured each have a tool here.
This is the ground floor: it imports nothing of the package, so the landmarker, the demo,
recording and training all use it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
"""The ways a user stops a command: Ctrl-C, kill (or a service manager), closing the terminal."""


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


def heeded() -> tuple[int, ...]:
    """The stop signals this process was not told to ignore (``nohup`` ignores SIGHUP, ``cmd &`` in a script SIGINT)."""
    return tuple(signum for signum in SIGNALS if signal.getsignal(signum) is not signal.SIG_IGN)


def interrupted_code() -> int:
    """The exit code of a run stopped by a signal: 128 + the last signal received (130 for Ctrl-C)."""
    return 128 + _last_signal


def _raise_interrupted(signum: int, _frame: object) -> None:
    global _last_signal, _pending
    _last_signal = _pending = signum
    if not _deferring:
        raise Interrupted(signum)


@contextmanager
def raising_stop_signals() -> Iterator[None]:
    """Within the body, every heeded stop signal raises :class:`Interrupted` (a command's whole run)."""
    global _last_signal, _pending
    _last_signal, _pending = int(signal.SIGINT), None
    previous = {signum: signal.signal(signum, _raise_interrupted) for signum in heeded()}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        # the run is over: a stop it caught must neither stop nor colour whatever the process does next
        _last_signal, _pending = int(signal.SIGINT), None


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
    (Keras' loop polls :func:`stop_requested` instead, see ``training.callbacks.StopOnSignal``).
    Unlike :func:`held_signals` no handler is swapped: the handler of :func:`raising_stop_signals`
    notes the signal and :func:`raise_if_interrupted` raises it after. Signals are handled on
    the main thread only, so elsewhere this does nothing.
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


def interrupt_behind(exc: BaseException | None) -> KeyboardInterrupt | None:
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
