"""Faces in BGR images through a face mesh its caller opens, uses and closes.

As with MediaPipe's own API, the caller owns the graph in a ``with`` block
(:class:`FaceMesh`) and names its mode once: ``image`` for unrelated photos
(detection on every image), ``video`` for consecutive camera or clip frames
(faces tracked, see :mod:`landmark_emotion.face.search`). :func:`mode_for` is the one place
that decides which a frame source needs. Nothing is cached at module level: two
owners get two independent graphs, and a closed one is gone. MediaPipe's graphs are not
thread-safe (threads sharing one crashed the process, or lost faces): a face mesh lets one
thread at a time in.
"""

from __future__ import annotations

import threading
from enum import Enum

import numpy as np

from landmark_emotion.errors import ClosedError, InputError
from landmark_emotion.face.crops import SmallFaceTracking
from landmark_emotion.face.landmarker import Detection, Graph, graph_factory
from landmark_emotion.face.search import RESCAN, FaceSearch
from landmark_emotion.face.tiles import SmallFaceSearch
from landmark_emotion.frames import ImageFolderSource


class Mode(str, Enum):
    """How consecutive images relate: unrelated photos, or frames that follow on."""

    IMAGE = "image"
    VIDEO = "video"


def mode_for(source: object) -> Mode:
    """The mode a frame source needs: a folder of photos is IMAGE, a camera or a clip is VIDEO."""
    return Mode.IMAGE if isinstance(source, ImageFolderSource) else Mode.VIDEO


class FaceMesh:
    """Faces in BGR images, for one owner: ``with FaceMesh("video", max_faces=4) as mesh: faces = mesh(frame)``.

    ``image`` mode detects in every image, small faces too (down to about 40 px: overlapping
    tiles, :mod:`landmark_emotion.face.tiles`, unless ``small_faces=False``); ``video`` mode searches for up to
    ``max_faces`` faces every ``rescan`` frames and tracks the ones present in between
    (:class:`landmark_emotion.face.search.FaceSearch`), and the small faces that search misses in crops that
    follow them (:mod:`landmark_emotion.face.crops`, unless ``small_faces=False``). MediaPipe's log lines are hidden
    unless ``--verbose`` asked for them. Close it (or leave the ``with`` block):
    a Tasks graph left to the garbage collector prints a traceback at exit. Threads that
    share one take turns, and closing waits for the image being read.
    """

    def __init__(
        self,
        mode: Mode | str = Mode.VIDEO,
        max_faces: int = 1,
        *,
        landmarker: str | None = None,
        rescan: int | None = None,
        min_confidence: float = 0.5,
        blendshapes: bool = False,
        small_faces: bool = True,
    ):
        try:
            self.mode = Mode(mode)
        except ValueError:
            raise InputError(f"mode must be 'image' or 'video', got {mode!r}") from None
        if max_faces < 1:
            raise InputError(f"max_faces must be at least 1, got {max_faces}")
        self.max_faces = max_faces
        self.blendshapes = blendshapes
        self._lock = threading.Lock()
        make = graph_factory(landmarker, min_confidence, blendshapes)
        self.landmarker: str = make.landmarker  # type: ignore[attr-defined]
        self._detect: Graph | None
        if self.mode is Mode.VIDEO:
            whole = FaceSearch(max_faces, rescan or RESCAN, make)
            self._detect = SmallFaceTracking(whole, make, max_faces, rescan or RESCAN) if small_faces else whole
        else:
            graph = make(False, max_faces)
            self._detect = SmallFaceSearch(graph, max_faces) if small_faces else graph

    def __call__(self, image_bgr: np.ndarray) -> Detection:
        with self._lock:
            if self._detect is None:
                raise ClosedError("this face mesh is closed")
            return self._detect(image_bgr)

    @property
    def closed(self) -> bool:
        return self._detect is None

    def close(self) -> None:
        with self._lock:
            if self._detect is not None:
                self._detect.close()
                self._detect = None

    def __enter__(self) -> FaceMesh:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
