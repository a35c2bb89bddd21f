"""Reading the small files a command finds in a folder it is handed (``bundle.json``, ``metrics.json``, ``data.yaml``).

A folder may be tampered with, and reading it must still end in one line, not a hang or a
traceback: :func:`read_small` reads only regular files of bounded size (a FIFO named
``bundle.json`` would block the reader for ever; a device never ends), and :func:`parse_json`
turns every decode error into :class:`FileFormatError`, also JSON nested too deeply for
Python's parser (a ``RecursionError``, which is no ``ValueError``).
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from typing import Any

from landmark_emotion.errors import LandmarkEmotionError

MAX_SMALL_FILE = 16 * 2**20
"""The largest file :func:`read_small` reads: a bundle's JSON files are kilobytes, a data.yaml less."""


NPZ_ERRORS = (OSError, ValueError, zipfile.BadZipFile, EOFError, MemoryError)
"""What ``np.load`` raises for a file that is no good ``.npz``: unreadable, truncated, not a zip, pickled data,
or an array header claiming more than memory holds (a few bytes can claim terabytes)."""


class FileFormatError(LandmarkEmotionError, ValueError):
    """A file that cannot be what it is named: not a regular file, too large, or not decodable."""


def read_small(path: str | os.PathLike, limit: int = MAX_SMALL_FILE) -> bytes:
    """The content of the regular file ``path``, of at most ``limit`` bytes; never blocks on a FIFO or a device.

    Raises ``OSError`` when it cannot be opened and :class:`FileFormatError` when it is not a regular file or
    is too large.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))  # a FIFO opens without a writer
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileFormatError(f"{os.fspath(path)} is not a regular file")
        content = file.read(limit + 1)
    if len(content) > limit:
        raise FileFormatError(f"{os.fspath(path)} is larger than {limit} bytes")
    return content


def parse_json(text: str | bytes) -> Any:
    """``json.loads``, with every decode error a :class:`FileFormatError` (one line, whatever the input)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise FileFormatError("JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise FileFormatError(f"not JSON ({exc})") from None


def read_json(path: str | os.PathLike, limit: int = MAX_SMALL_FILE) -> Any:
    """The JSON value of the small regular file ``path`` (:func:`read_small`, :func:`parse_json`)."""
    return parse_json(read_small(path, limit))
