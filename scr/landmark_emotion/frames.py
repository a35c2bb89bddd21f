"""One way to read frames from a camera, a video file, or a folder of images.

Recording and the demo take the same ``--source``: a camera index ("0"), a video
file, or a folder. Cameras are read on a background thread that keeps only the
newest frame, so a slow frame downstream never builds up lag.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from landmark_emotion.errors import LandmarkEmotionError
from landmark_emotion.inputs import FileFormatError, read_small

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
MAX_CAMERA_INDEX = 2**31 - 1
"""OpenCV takes a camera index as a C int: a larger one overflows instead of finding no camera."""


class SourceError(LandmarkEmotionError, RuntimeError):
    """A source that cannot be opened; the message says what to try instead."""


MAX_IMAGE_FILE = 2**30
"""The largest image file read (1 GiB): no photo is near it."""


def read_image(path: str | os.PathLike) -> np.ndarray | None:
    """The BGR image in the file ``path`` (as ``cv2.imread`` reads it), or None: not a regular file, or no image.

    Decoded from the file's bytes: OpenCV given the name itself crashes the process (a
    segfault) on a name that is not valid UTF-8, and waits for ever on a FIFO.
    """
    try:
        data = read_small(path, MAX_IMAGE_FILE)
    except (OSError, FileFormatError):
        return None
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None


def opencv_name(path: str | os.PathLike) -> str | None:
    """``path`` as a name for OpenCV's video files, or None when it is not valid UTF-8 (OpenCV would crash on it)."""
    name = os.fspath(path)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return name


@dataclass(frozen=True)
class Frame:
    index: int
    t: float
    image: np.ndarray
    name: str = ""


def list_images(folder: str | Path) -> list[Path]:
    """Image files below ``folder`` (recursively), in a stable sorted order.

    Hidden files and folders are left out: they hold editors' and notebooks' copies
    (e.g. ``.ipynb_checkpoints/``), which would count the same photo twice.
    """
    folder = Path(folder)
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


class FrameSource:
    """Iterate over :class:`Frame` objects; ``live`` is True for cameras."""

    live = False
    fps = 30.0

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VideoFileSource(FrameSource):
    def __init__(self, path: Path):
        self.path = path
        name = opencv_name(path)
        if name is None:
            raise SourceError(f"cannot read video {path}: its name is not valid UTF-8, which OpenCV needs; rename it")
        self._cap = cv2.VideoCapture(name)
        ok, first = self._cap.read() if self._cap.isOpened() else (False, None)
        if not ok or first is None:
            self._cap.release()
            raise SourceError(f"cannot read video {path}; is it a video file OpenCV can decode?")
        self._first = first
        self.fps = self._cap.get(cv2.CAP_PROP_FPS) or 30.0
        self.size = (first.shape[1], first.shape[0])

    def __iter__(self) -> Iterator[Frame]:
        image, index = self._first, 0
        while image is not None:
            yield Frame(index, index / self.fps, image, self.path.name)
            ok, image = self._cap.read()
            image = image if ok else None
            index += 1

    def close(self) -> None:
        self._cap.release()


class ImageFolderSource(FrameSource):
    """Images of a folder in sorted order; unreadable files are skipped and listed in ``skipped``."""

    def __init__(self, folder: Path, fps: float = 30.0):
        self.folder = Path(folder)
        self.paths = list_images(folder)
        if not self.paths:
            raise SourceError(f"no images in {folder} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
        self.fps = fps
        self.skipped: list[Path] = []

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        for path in self.paths:
            image = read_image(path)
            if image is None:
                self.skipped.append(path)
                continue
            yield Frame(index, index / self.fps, image, path.relative_to(self.folder).as_posix())
            index += 1


class CameraSource(FrameSource):
    """A camera read on a background thread that keeps only the newest frame."""

    live = True

    def __init__(self, index: int):
        self._cap = cv2.VideoCapture(index)
        ok, first = self._cap.read() if self._cap.isOpened() else (False, None)
        if not ok or first is None:
            self._cap.release()
            raise SourceError(f"no camera at index {index}; try --source path/to/video.mp4 or a folder of images")
        self.fps = self._cap.get(cv2.CAP_PROP_FPS) or 30.0
        self.size = (first.shape[1], first.shape[0])
        self._latest: tuple[int, np.ndarray | None] | None = (0, first)  # (index, None): taken
        self._cond = threading.Condition()
        self._running = True
        self._thread = threading.Thread(target=self._reader, daemon=True)
        self._thread.start()

    def _reader(self) -> None:
        count = 1
        while self._running:
            ok, image = self._cap.read()
            with self._cond:
                self._latest = (count, image) if ok else None
                self._running = self._running and ok
                self._cond.notify()
            count += 1

    def __iter__(self) -> Iterator[Frame]:
        start, index = time.perf_counter(), 0
        while True:
            with self._cond:
                while self._latest is not None and self._latest[1] is None:
                    self._cond.wait()
                if self._latest is None:
                    return
                number, image = self._latest
                self._latest = (number, None)  # taken: wait for a newer one
            assert image is not None  # the loop above waited for a frame not yet taken
            yield Frame(index, time.perf_counter() - start, image, "camera")
            index += 1

    def close(self) -> None:
        self._running = False
        self._thread.join(timeout=1.0)
        self._cap.release()


def open_source(source: str | int | os.PathLike) -> FrameSource:
    """Open a camera index, a video file or an image folder, or raise :class:`SourceError`."""
    text = str(source)
    if not text:  # Path("") is the working folder: it would read every photo below it
        raise SourceError("no source given: name a camera index, a video file or a folder of images")
    if text.isascii() and text.isdigit():  # "²" is a digit to Python, and no camera
        if int(text) > MAX_CAMERA_INDEX:
            raise SourceError(f"no camera at index {text}; try --source path/to/video.mp4 or a folder of images")
        return CameraSource(int(text))
    path = Path(text)
    if path.is_dir():
        return ImageFolderSource(path)
    if path.is_file():
        return VideoFileSource(path)
    raise SourceError(f"no such camera, video or folder: {text}")
