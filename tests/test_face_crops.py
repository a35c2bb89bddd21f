"""Small faces in video: the whole frame's search misses faces under ~11% of it; tiles find them, crops follow them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from landmark_emotion.face.crops import RESWEEP_WITH_FACES, TILES_PER_FRAME, SmallFaceTracking
from landmark_emotion.face.landmarker import Detection
from landmark_emotion.face.mesh import FaceMesh
from landmark_emotion.face.tiles import tile_sides, tiles
from one_photo import LANDMARKERS

SIZE = (750, 1000)  # height, width


def small_faces_clip(photo: np.ndarray, face_box_width: int, width: int, lefts: list[int], frames: int, top=300):
    """Frames of ``SIZE`` with the face of ``photo`` ``width`` px wide at each x of ``lefts`` and ``top``, drifting
    right a pixel a frame and down half a pixel."""
    scale = width / face_box_width
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    out = []
    for t in range(frames):
        canvas = np.full((*SIZE, 3), 127, np.uint8)
        for left in lefts:
            x, y = left + t, top + t // 2
            canvas[y : y + small.shape[0], x : x + small.shape[1]] = small
        out.append(canvas)
    return out, scale


@pytest.mark.parametrize("landmarker", LANDMARKERS)
def test_small_faces_in_a_video_are_found_and_followed(astronaut, landmarker):
    """Two faces 60 px wide in 1000 px frames (6%): the face mesh alone finds neither in any frame; a sweep finds
    both within its first frames, and their crops follow them as they move."""
    with FaceMesh("image", 1, landmarker=landmarker) as photo_mesh:
        box = photo_mesh(astronaut).boxes()[0]
    frames, scale = small_faces_clip(astronaut, int(box[2]), 60, [100, 560], 60)
    with FaceMesh("video", 4, landmarker=landmarker, small_faces=False) as whole:
        assert sum(len(whole(frame)) for frame in frames[:10]) == 0
    with FaceMesh("video", 4, landmarker=landmarker) as mesh:
        found = [mesh(frame).boxes() for frame in frames]
    first = next(t for t, boxes in enumerate(found) if len(boxes) == 2)
    assert first <= 6, first  # a 1000x750 frame's sweep: 48 tiles, 4 a frame, the faces in the first rows
    assert all(len(boxes) == 2 for boxes in found[first:])
    for t in (first, len(frames) - 1):
        for (x, y, w, _), left in zip(sorted(found[t].tolist()), (100, 560)):
            expected_x = left + t + box[0] * scale
            assert abs(x - expected_x) <= 8 and 50 <= w <= 70, (t, found[t])  # on the face as it moved
            assert abs(y - (300 + t // 2 + box[1] * scale)) <= 10


def test_a_face_at_the_whole_frames_floor_is_found_on_every_frame(astronaut):
    """A face 95 px wide in 1000 px frames, at the whole frame's floor: its search finds it in one frame, misses it
    in the next. Once found, in a tile or whole, the face is found on every frame."""
    portrait = np.ascontiguousarray(astronaut[20:300, 110:390])
    with FaceMesh("image", 1) as photo_mesh:
        box = photo_mesh(portrait).boxes()[0]
    frames, scale = small_faces_clip(portrait, int(box[2]), 95, [100], 100, top=100)
    with FaceMesh("video", 4) as mesh:
        found = [mesh(frame).boxes() for frame in frames]
    first = next(t for t, boxes in enumerate(found) if len(boxes))
    assert first <= 10, first
    assert [len(boxes) for boxes in found[first:]] == [1] * (len(frames) - first)
    for t in range(first, len(frames)):
        assert abs(found[t][0][0] - (100 + t + box[0] * scale)) <= 12, (t, found[t])  # where the face is


def test_a_face_found_whole_takes_the_place_of_a_small_one_beyond_max_faces(astronaut):
    """One face asked for: a small face is followed until a near one comes into view, which the whole frame's
    search finds; the small one is let go (and its graph closed), not reported beside it."""
    with FaceMesh("image", 1) as photo_mesh:
        box = photo_mesh(astronaut).boxes()[0]
    frames, _ = small_faces_clip(astronaut, int(box[2]), 60, [100], 40)
    near = cv2.resize(astronaut[20:300, 110:390], (650, 650))  # her face about 220 px: 22% of the frame
    for frame in frames[20:]:
        frame[50:700, 340:990] = near
    with FaceMesh("video", 1) as mesh:
        found = [mesh(frame).boxes() for frame in frames]
        followed = mesh._detect.followed
    assert all(len(boxes) == 1 for boxes in found[10:])
    assert all(boxes[0][2] < 80 for boxes in found[10:20]) and all(boxes[0][2] > 150 for boxes in found[20:])
    assert followed == 0


class Frames:
    """A graph factory whose graphs find faces only in whole frames (as the script says: one face of the given
    share of the frame's width, or none), never in a tile; it logs each graph opened and each image read."""

    def __init__(self, share: float | None):
        self.share, self.log = share, []

    def __call__(self, tracking: bool, max_faces: int):
        factory = self
        name = f"{'track' if tracking else 'search'}{max_faces}#{sum(e[0] == 'open' for e in self.log)}"
        self.log.append(("open", name))

        class Graph:
            def __call__(self, image: np.ndarray) -> Detection:
                factory.log.append((name, image.shape[:2]))
                faces = np.zeros((0, 468, 3), np.float32)
                if image.shape[:2] == SIZE and factory.share is not None:
                    faces = np.zeros((1, 468, 3), np.float32)
                    faces[0, :, 0] = np.linspace(0.1, 0.1 + factory.share, 468)
                    faces[0, :, 1] = np.linspace(0.2, 0.2 + factory.share * SIZE[1] / SIZE[0], 468)
                return Detection(faces, image.shape[1], image.shape[0])

            def close(self) -> None:
                factory.log.append(("close", name))

        return Graph()


def tile_graph(graphs: Frames) -> str | None:
    """The second searching graph opened: the first is the whole frame's."""
    opened = [e[1] for e in graphs.log if e[0] == "open" and e[1].startswith("search")]
    return opened[1] if len(opened) > 1 else None


def tracking(graphs: Frames, rescan: int = 30) -> SmallFaceTracking:
    from landmark_emotion.face.search import FaceSearch

    return SmallFaceTracking(FaceSearch(4, rescan, graphs), graphs, 4, rescan)


def test_a_face_found_in_the_whole_frame_costs_no_tile():
    """A face of 25% of the frame: the frames cannot hide a face the whole frame's search would miss beside it."""
    graphs = Frames(0.25)
    search = tracking(graphs)
    for _ in range(100):
        assert len(search(np.zeros((*SIZE, 3), np.uint8))) == 1
    search.close()
    assert [e for e in graphs.log if e[0] == "open"] == [("open", "search4#0"), ("open", "track1#1")]
    assert all(e[1] == SIZE for e in graphs.log if e[0] not in ("open", "close"))
    assert [e for e in graphs.log if e[0] == "close"] == [("close", "track1#1"), ("close", "search4#0")]


@pytest.mark.parametrize("share, wait", [(None, 1), (0.12, RESWEEP_WITH_FACES)])
def test_a_sweep_is_spread_over_frames_and_comes_again(share, wait):
    """No face, or one small face: every tile is searched, a few a frame, then again after ``rescan`` frames (more
    when a face is in view)."""
    graphs = Frames(share)
    search = tracking(graphs, rescan=5)
    plan = [tile for side in tile_sides(SIZE[1], SIZE[0]) for tile in tiles(SIZE[1], SIZE[0], side)]
    sweep = -(-len(plan) // TILES_PER_FRAME)
    per_frame = []
    for _ in range(2 * sweep + 5 * wait):
        start = len(graphs.log)
        search(np.zeros((*SIZE, 3), np.uint8))
        per_frame.append(sum(e[0] == tile_graph(graphs) for e in graphs.log[start:]))
    search.close()
    assert per_frame[:sweep] == [TILES_PER_FRAME] * (sweep - 1) + [len(plan) - TILES_PER_FRAME * (sweep - 1)]
    assert per_frame[sweep : sweep + 5 * wait] == [0] * 5 * wait  # the next sweep waits
    assert sum(per_frame) == 2 * len(plan)  # ...and then searches every tile again
    tiles_read = {e[1] for e in graphs.log if e[0] == tile_graph(graphs)}
    assert tiles_read == {(h, w) for _, _, w, h in plan}
    assert ("close", tile_graph(graphs)) in graphs.log  # the tile graph is closed with the search
