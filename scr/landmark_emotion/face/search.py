"""Faces in video frames at the cost of tracking the faces present, not the most faces allowed.

MediaPipe's tracking mode skips its face detector only while it already tracks
``max_faces`` faces. With ``--max-faces 4`` and one person in view it would run the
detector on every frame: about 2 ms of a 5 ms frame here. So the faces present are
tracked by a graph sized to their number (no detection while they stay), and a
stateless full search for up to ``max_faces`` faces runs every ``rescan`` frames;
when it counts a different number of faces, a fresh tracking graph of that size
takes over (a new graph holds no stale faces). A newcomer is therefore picked up
within ``rescan`` frames (one second at 30 fps). A frame in which the tracking graph
loses a face is searched at once: MediaPipe would look for it again only on the next
frame, and the face would be missing from this one. The search owns every graph it
opens and closes them.
"""

from __future__ import annotations

import numpy as np

from landmark_emotion.errors import ClosedError
from landmark_emotion.face.landmarker import Detection, Graph, GraphFactory

RESCAN = 30


class FaceSearch:
    """A detector (image -> :class:`Detection`) for consecutive video frames, over graphs made by ``graph``."""

    def __init__(self, max_faces: int, rescan: int, graph: GraphFactory):
        self.max_faces = max_faces
        self.rescan = rescan
        self._graph = graph
        self._search: Graph | None = graph(False, max_faces)  # now, not on the first frame: it imports MediaPipe
        self._tracking: Graph | None = None
        self._tracked = 0
        self._since_search = 0
        self.switches = 0

    def __call__(self, image_bgr: np.ndarray) -> Detection:
        if self._search is None:
            raise ClosedError("this face search is closed")
        if self._tracking is not None and self._since_search < self.rescan:
            self._since_search += 1
            faces = self._tracking(image_bgr)
            if len(faces) == self._tracked:
                return faces
            # the tracker lost a face: gone, or moved too far since the last frame (a slow reader of a few
            # frames a second, a fast turn of the head); searching this frame at once keeps it in view
        faces = self._search(image_bgr)
        self._since_search = 0
        if len(faces) != self._tracked:
            self._track(len(faces))
        return faces

    def _track(self, count: int) -> None:
        """Track ``count`` faces from the next frame on (none: search every frame until one appears)."""
        if self._tracking is not None:
            self._tracking.close()
            self._tracking = None  # closed: if the next one fails to open, close() must not close it again
        self._tracked = count
        self._tracking = self._graph(True, count) if count else None
        self.switches += 1

    def close(self) -> None:
        for graph in (self._tracking, self._search):
            if graph is not None:
                graph.close()
        self._tracking = self._search = None
