"""Face search: the faces present are tracked by a graph of their size; a full search runs every few frames."""
from __future__ import annotations

from demo_data import scene
import numpy as np
import pytest

from emotion.detect import Faces, detect
from emotion.face_search import FaceSearch


class FakeGraph:
    """Stands in for a Face Mesh graph: reports the faces the test says the frame holds (frame[0, 0, 0])."""

    def __init__(self, static: bool, max_faces: int, log: list):
        self.static, self.max_faces, self.log = static, max_faces, log

    def __call__(self, image: np.ndarray) -> Faces:
        self.log.append(("search" if self.static else f"track{self.max_faces}", int(image.max())))
        n = min(int(image[0, 0, 0]), self.max_faces)
        return Faces(np.zeros((n, 468, 3), np.float32), image.shape[1], image.shape[0])


def frame(faces: int) -> np.ndarray:
    return np.full((4, 4, 3), faces, np.uint8)


def test_tracks_with_a_graph_sized_to_the_faces_and_searches_every_rescan_frames():
    log: list = []
    graphs: dict = {}
    search = FaceSearch(4, rescan=3, graph=lambda s, k: graphs.setdefault((s, k), FakeGraph(s, k, log)))
    counts = [len(search(frame(n))) for n in [1, 1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0, 0, 0]]
    assert counts == [1, 1, 1, 1, 1, 1, 1, 1, 2, 0, 0, 0, 0, 0]  # a newcomer waits for the next search
    assert log == [
        ("search", 1), ("track1", 0),  # one face found; a blank frame empties the 1-face graph
        ("track1", 1), ("track1", 1), ("track1", 1),
        ("search", 1),  # same count: the graph that has been tracking carries on
        ("track1", 2), ("track1", 2), ("track1", 2),  # max 1: the second face is not looked for
        ("search", 2), ("track2", 0),  # found now: a 2-face graph takes over
        ("track2", 0), ("track2", 0), ("track2", 0),  # both gone: the 2-face graph sees nobody...
        ("search", 0),  # ...and once the search agrees, search every frame until someone comes
        ("search", 0),
    ]
    assert search.switches == 3


def test_a_graph_reused_after_idling_reports_where_faces_are_now(astronaut):
    """One face at the left, then two faces, then one face far right: the 1-face graph comes back into use."""
    search = FaceSearch(4, rescan=2)
    frames = [scene(astronaut, [0])] * 4 + [scene(astronaut, [0, 400])] * 4 + [scene(astronaut, [400])] * 6
    counts = [len(search(f)) for f in frames]
    assert counts[-4:] == [1, 1, 1, 1]
    expected = detect(frames[-1]).boxes()[0]
    last = search(frames[-1]).boxes()[0]
    np.testing.assert_allclose(last, expected, atol=6)
    assert search.switches >= 3


@pytest.mark.parametrize("rescan", [1, 5])
def test_same_faces_as_full_detection_on_a_still_frame(astronaut, rescan):
    search = FaceSearch(2, rescan=rescan)
    image = scene(astronaut, [20, 380])
    expected = detect(image, max_faces=2).boxes()
    for _ in range(6):
        got = search(image).boxes()
    order = np.argsort(got[:, 0])
    np.testing.assert_allclose(got[order], expected[np.argsort(expected[:, 0])], atol=6)
