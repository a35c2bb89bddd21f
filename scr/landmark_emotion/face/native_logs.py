"""The native libraries' own log lines (MediaPipe's ``W0000 …``, TensorFlow's, TensorFlow Lite's ``INFO: …``) kept
off the terminal, whenever they come.

They are written by C++ straight to file descriptor 2, from the libraries' own threads, at times
that drift under load: silencing the descriptor for a while (around a graph opening, its first
frames) let the late ones through. Instead, once :func:`hide_native_logs` has run, descriptor 2 is a
pipe read by a small child process that drops the lines in the libraries' log formats and passes
every other line on. Python's own ``sys.stderr`` is pointed at the terminal directly, so a command's ``error:``
line or a traceback never waits for that process. ``--verbose`` (:func:`show_native_logs`) leaves
descriptor 2 alone, in this process and the ones it starts.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
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

_PASS_ON = r"""
import os, re, signal, sys
for name in ("SIGINT", "SIGTERM", "SIGHUP"):  # a Ctrl-C or a closed terminal ends the command, not its last lines
    if hasattr(signal, name):
        signal.signal(getattr(signal, name), signal.SIG_IGN)
log_line = re.compile(sys.argv[1].encode("latin-1"))

def write(data):
    try:
        while data:
            data = data[os.write(1, data):]
    except OSError:
        pass  # the terminal went away: keep reading, so no writer ever blocks on a full pipe

pending = b""
while chunk := os.read(0, 1 << 16):
    *lines, pending = (pending + chunk).split(b"\n")
    write(b"".join(line + b"\n" for line in lines if not log_line.match(line)))
if pending and not log_line.match(pending):
    write(pending)
"""
"""The filter: a child process reads the pipe and passes on every line that is not a native log line. A child, not
a thread: it outlives the process, so what was written just before a crash (a fatal line, then ``abort()``) still
reaches the terminal, and it ends when the last writer closes the pipe."""


class _Filter:
    """Descriptor 2 through a pipe to the filter process (installed once; again if someone replaced descriptor 2)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pipe: tuple[int, int] | None = None  # (st_dev, st_ino) of the pipe, to tell it is still descriptor 2

    def installed(self) -> bool:
        try:
            stat = os.fstat(2)
        except OSError:
            return False
        return self._pipe == (stat.st_dev, stat.st_ino)

    def install(self) -> None:
        with self._lock:
            if self.installed() or not sys.executable:
                return
            if sys.stderr is not None:
                sys.stderr.flush()
            try:
                passed = os.dup(2)
            except OSError:  # no descriptor 2 (a daemon's): nothing reaches a terminal anyway
                return
            read, write = os.pipe()
            try:
                subprocess.Popen(
                    [sys.executable, "-I", "-S", "-c", _PASS_ON, LOG_LINE.pattern.decode("latin-1")],
                    stdin=read,
                    stdout=passed,
                    stderr=passed,
                    start_new_session=os.name == "posix",  # the terminal's Ctrl-C goes to the command only
                )
            except OSError:  # no process can be started: the lines stay as they are
                os.close(write)
                os.close(passed)
                return
            finally:
                os.close(read)
            stat = os.fstat(write)
            self._pipe = (stat.st_dev, stat.st_ino)
            os.dup2(write, 2)
            os.close(write)
            own = sys.__stderr__  # the interpreter's own stream, not one a caller put in its place (a test's capture)
            if own is not None and sys.stderr is own and _fileno(own) == 2:
                sys.stderr = _text_stream(os.dup(passed), own.encoding, own.errors)
            os.close(passed)


def _fileno(stream: object) -> int | None:
    try:
        return stream.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return None


def _text_stream(fd: int, encoding: str, errors: str | None) -> io.TextIOWrapper:
    """A text stream on ``fd`` in the encoding and error handling of the one it replaces, line-buffered as that one:
    each line reaches ``fd`` in one write, never cut by a line the filter passes on."""
    return io.TextIOWrapper(open(fd, "wb"), encoding=encoding, errors=errors, line_buffering=True)


_FILTER = _Filter()


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
