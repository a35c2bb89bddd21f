"""The native libraries' own log lines (MediaPipe's ``W0000 …``, TensorFlow's, TensorFlow Lite's ``INFO: …``) kept
off the terminal, whenever they come.

They are written by C++ straight to file descriptor 2, from the libraries' own threads, at times
that drift under load: silencing the descriptor for a while (around a graph opening, its first
frames) let the late ones through. Instead, once :func:`hide_native_logs` has run, descriptor 2 is a
pipe read by a thread that drops the lines in the libraries' log formats and passes every other
line on. Python's own ``sys.stderr`` is pointed at the terminal directly, so a command's ``error:``
line or a traceback never waits for that thread. ``--verbose`` (:func:`show_native_logs`) leaves
descriptor 2 alone, in this process and the ones it starts.
"""

from __future__ import annotations

import atexit
import io
import os
import re
import sys
import threading

VERBOSE_ENV = "LANDMARK_EMOTION_VERBOSE"
"""Set (to anything but empty): native log lines are shown; what ``--verbose`` sets for the process and its workers."""

LOG_LINE = re.compile(
    rb"[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] "  # absl, glog: W0000 00:00:1796.57 6174 file.cc:114] …
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] \S+:\d+\] "  # TensorFlow: 2026-12-04 21:49:55.66: I tensorflow/…
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|WARNING: Logging before InitGoogle\(\) is written to STDERR"
    rb"|INFO: Created TensorFlow Lite XNNPACK delegate"
    rb"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags"
    rb"|libpng (?:warning|error): |Corrupt JPEG data: |Premature end of JPEG file"  # decoders, on files we report
)
"""A line the native libraries log on their own: dropped. Fatal (``F``) lines are kept: the process is dying."""

_DRAINED = b"\0landmark_emotion: drained\0"
"""Written through the pipe at exit: once the thread has read it, every line written before has been passed on."""


class _Filter:
    """Descriptor 2 through a pipe and a thread that passes on every line but native log lines (installed once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pipe: tuple[int, int] | None = None  # (st_dev, st_ino) of the pipe, to tell it is still descriptor 2
        self._drained = threading.Event()

    def install(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            if sys.stderr is not None:
                sys.stderr.flush()
            try:
                passed = os.dup(2)
            except OSError:  # no descriptor 2 (a daemon's): nothing reaches a terminal anyway
                return
            read, write = os.pipe()
            stat = os.fstat(write)
            self._pipe = (stat.st_dev, stat.st_ino)
            os.dup2(write, 2)
            os.close(write)
            own = sys.__stderr__  # the interpreter's own stream, not one a caller put in its place (a test's capture)
            if own is not None and sys.stderr is own and _fileno(own) == 2:
                sys.stderr = _text_stream(os.dup(passed), own.encoding, own.errors)
            self._drained.clear()
            self._thread = threading.Thread(
                target=self._pass_on, args=(read, passed), name="native-log-filter", daemon=True
            )
            self._thread.start()

    def _pass_on(self, read: int, passed: int) -> None:
        pending = b""
        with open(read, "rb", buffering=0) as pipe:
            while chunk := pipe.read(1 << 16):
                *lines, pending = (pending + chunk).split(b"\n")
                kept, drained = [], False
                for line in lines:
                    end = b"\n"
                    if line.endswith(_DRAINED):  # after a line that had no end yet, if any: pass that on as it is
                        line, end, drained = line[: -len(_DRAINED)], b"", True
                    if line and not LOG_LINE.match(line) or not line and end:
                        kept.append(line + end)
                _write_all(passed, b"".join(kept))
                if drained:
                    self._drained.set()
        if pending and not LOG_LINE.match(pending):
            _write_all(passed, pending)
        os.close(passed)  # descriptor 2 was replaced by someone else (a test's capture): a later call installs anew

    def drain(self, timeout: float = 2.0) -> None:
        """Wait until what was written to descriptor 2 so far has been passed on (at exit: nothing is lost)."""
        if self._thread is None or not self._thread.is_alive() or self._pipe is None:
            return
        try:
            stat = os.fstat(2)
            if (stat.st_dev, stat.st_ino) != self._pipe:
                return
            os.write(2, _DRAINED + b"\n")
        except OSError:
            return
        self._drained.wait(timeout)


def _fileno(stream: object) -> int | None:
    try:
        return stream.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return None


def _text_stream(fd: int, encoding: str, errors: str | None) -> io.TextIOWrapper:
    """A text stream on ``fd`` in the encoding and error handling of the one it replaces, line-buffered as that one:
    each line reaches ``fd`` in one write, never cut by a line the thread passes on."""
    return io.TextIOWrapper(open(fd, "wb"), encoding=encoding, errors=errors, line_buffering=True)


def _write_all(fd: int, data: bytes) -> None:
    try:
        while data:
            data = data[os.write(fd, data) :]
    except OSError:
        pass  # the terminal went away: keep reading, so no writer ever blocks on a full pipe


_FILTER = _Filter()
atexit.register(_FILTER.drain)  # registered on import, so it runs after the handlers of modules that import this one


def hide_native_logs() -> None:
    """From now on, in this process and the ones it starts, drop the native libraries' log lines from descriptor 2.

    Does nothing when :data:`VERBOSE_ENV` is set (:func:`show_native_logs`). Call it before a library that logs
    loads or opens a graph; calling it again is free.
    """
    if not os.environ.get(VERBOSE_ENV):
        _FILTER.install()


def show_native_logs() -> None:
    """``--verbose``: native log lines stay on the terminal, in this process and the workers it starts."""
    os.environ[VERBOSE_ENV] = "1"
