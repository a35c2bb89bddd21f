"""Faces in video frames at the cost of tracking the faces present, not the most faces allowed.

MediaPipe's tracking mode skips its face detector only while it already tracks
``max_faces`` faces. With ``--max-faces 4`` and one person in view it would run the
detector on every frame: about 2 ms of a 5 ms frame here. So the faces present are
tracked by a graph sized to their number (no detection while they stay), and a
stateless full search for up to ``max_faces`` faces runs every ``rescan`` frames;
when it counts a different number of faces, tracking moves to a graph of that size.
A newcomer is therefore picked up within ``rescan`` frames (one second at 30 fps).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .detect import Faces, get_detector

Detector = Callable[[np.ndarray], Faces]
RESCAN = 30


def _graph(static: bool, max_faces: int) -> Detector:
    return get_detector(static=static, max_faces=max_faces)


class FaceSearch:
    """A detector callable (image -> :class:`Faces`) for consecutive video frames."""

    def __init__(self, max_faces: int, rescan: int = RESCAN, graph: Callable[[bool, int], Detector] = _graph):
        self.max_faces = max_faces
        self.rescan = rescan
        self._graph = graph
        self._search = graph(True, max_faces)  # now, not on the first frame: creating it imports MediaPipe
        self._tracking: Detector | None = None
        self._tracked = 0
        self._since_search = 0
        self.switches = 0

    def __call__(self, image: np.ndarray) -> Faces:
        if self._tracking is not None and self._since_search < self.rescan:
            self._since_search += 1
            return self._tracking(image)
        faces = self._search(image)
        self._since_search = 0
        if len(faces) != self._tracked:
            self._track(len(faces), image)
        return faces

    def _track(self, count: int, image: np.ndarray) -> None:
        """Track ``count`` faces from the next frame on (none: search every frame until one appears)."""
        self._tracked = count
        self._tracking = self._graph(False, count) if count else None
        if self._tracking is not None:
            # A tracking graph left idle still follows where its faces were seconds ago and would
            # report landmarks there. A frame with no face empties it; the next frame is then
            # detected afresh, exactly as the full search would.
            self._tracking(np.zeros_like(image))
        self.switches += 1
