"""Face search: the faces present are tracked by a graph of their size; a full search runs every few frames."""

from __future__ import annotations

import numpy as np
import pytest

from demo_data import scene
from landmark_emotion.face.landmarker import Detection
from landmark_emotion.face.mesh import FaceMesh
from landmark_emotion.face.search import FaceSearch
from one_photo import detect


class FakeGraph:
    """Stands in for a Face Mesh graph: reports the faces the test says the frame holds (frame[0, 0, 0])."""

    def __init__(self, tracking: bool, max_faces: int, log: list):
        self.name = f"track{max_faces}" if tracking else "search"
        self.max_faces, self.log = max_faces, log
        self.log.append(("open", self.name))

    def __call__(self, image: np.ndarray) -> Detection:
        self.log.append((self.name, int(image.max())))
        n = min(int(image[0, 0, 0]), self.max_faces)
        return Detection(np.zeros((n, 468, 3), np.float32), image.shape[1], image.shape[0])

    def close(self) -> None:
        self.log.append(("close", self.name))


def frame(faces: int) -> np.ndarray:
    return np.full((4, 4, 3), faces, np.uint8)


def test_tracks_with_a_fresh_graph_sized_to_the_faces_and_searches_every_rescan_frames():
    log: list = []
    search = FaceSearch(4, rescan=3, graph=lambda tracking, k: FakeGraph(tracking, k, log))
    counts = [len(search(frame(n))) for n in [1, 1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0, 0, 0]]
    assert counts == [1, 1, 1, 1, 1, 1, 1, 1, 2, 0, 0, 0, 0, 0]  # a newcomer waits for the next search
    search.close()
    assert log == [
        ("open", "search"),
        ("search", 1),
        ("open", "track1"),  # one face found: a new 1-face graph tracks it
        ("track1", 1),
        ("track1", 1),
        ("track1", 1),
        ("search", 1),  # same count: the graph that has been tracking carries on
        ("track1", 2),
        ("track1", 2),
        ("track1", 2),  # max 1: the second face is not looked for
        ("search", 2),
        ("close", "track1"),
        ("open", "track2"),  # found now: a 2-face graph takes over
        ("track2", 0),  # both gone: the 2-face graph lost them...
        ("search", 0),
        ("close", "track2"),  # ...the same frame is searched, and then every frame until someone comes
        ("search", 0),
        ("search", 0),
        ("search", 0),
        ("search", 0),
        ("close", "search"),  # closing the search closes every graph it still holds
    ]
    assert search.switches == 3
    with pytest.raises(RuntimeError, match="closed"):
        search(frame(1))


def test_a_tracking_graph_that_fails_to_open_leaves_each_graph_closed_once():
    """A Ctrl-C while the next tracking graph opens: closing the search must not close the old one again."""
    log: list = []

    def graph(tracking: bool, k: int) -> FakeGraph:
        if k == 2:
            raise KeyboardInterrupt
        return FakeGraph(tracking, k, log)

    search = FaceSearch(4, rescan=0, graph=graph)
    search(frame(1))
    with pytest.raises(KeyboardInterrupt):
        search(frame(2))
    search.close()
    assert [entry for entry in log if entry[0] == "close"] == [("close", "track1"), ("close", "search")]


def test_a_new_tracking_graph_reports_where_faces_are_now(astronaut):
    """One face at the left, then two faces, then one face far right: tracking moves back to one face."""
    frames = [scene(astronaut, [0])] * 4 + [scene(astronaut, [0, 400])] * 4 + [scene(astronaut, [400])] * 6
    with FaceMesh("video", 4, rescan=2) as mesh:
        counts = [len(mesh(f)) for f in frames]
        last = mesh(frames[-1]).boxes()[0]
        switches = mesh._detect.whole.switches
    assert counts[-4:] == [1, 1, 1, 1]
    np.testing.assert_allclose(last, detect(frames[-1]).boxes()[0], atol=6)
    assert switches >= 3


@pytest.mark.parametrize("rescan", [1, 5])
def test_same_faces_as_full_detection_on_a_still_frame(astronaut, rescan):
    image = scene(astronaut, [20, 380])
    expected = detect(image, max_faces=2).boxes()
    with FaceMesh("video", 2, rescan=rescan) as mesh:
        for _ in range(6):
            got = mesh(image).boxes()
    order = np.argsort(got[:, 0])
    np.testing.assert_allclose(got[order], expected[np.argsort(expected[:, 0])], atol=6)


def test_a_face_that_moved_far_since_the_last_frame_is_still_found(astronaut):
    """A reader of a few frames a second: between two of them the face crossed the frame.

    The tracking graph loses it there; without a search of that same frame it would be missing from it."""
    frames = [scene(astronaut, [x]) for x in [0, 0, 400, 400, 0, 400, 0]]
    with FaceMesh("video", 4) as mesh:
        found = [mesh(f).boxes() for f in frames]
    assert [len(boxes) for boxes in found] == [1] * len(frames)
    assert [int(boxes[0, 0] > 300) for boxes in found] == [0, 0, 1, 1, 0, 1, 0]
