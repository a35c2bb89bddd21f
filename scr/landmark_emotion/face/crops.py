"""Small faces in video: found by the photo path's tiles, a few per frame, then each followed in a crop of its own.

The face mesh's detector reads a frame shrunk to 128x128 (:mod:`landmark_emotion.face.tiles`): in video too it
finds no face narrower than about 11% of the frame's longer side (a person two metres from a webcam, a meeting
room, a classroom). The faces it does find are tracked as before (:class:`~landmark_emotion.face.search.FaceSearch`).
While a frame may hide others (:func:`~landmark_emotion.face.tiles.may_hide_faces`: no face, or only small ones),
its tiles are searched :data:`TILES_PER_FRAME` at a time, so that no frame waits for a whole search; a new sweep
starts ``rescan`` frames after the last one ended (:data:`RESWEEP_WITH_FACES` times that when faces are in view).
A face a tile finds (and finds again with more of the frame around it) is then followed in a square of
:data:`CROP_CONTEXT` times its size, centred where it was in the last frame and resized to :data:`CROP_SIDE` px,
by a graph of its own: there it is a third of the picture, as a face near the camera is of a frame. Near its
floor the whole frame's search finds a face in one frame and loses it in the next: a small face it loses is
followed from where it was, and one followed stays with its crop until it comes near (:data:`WHOLE` of the
frame); a face lost by all is looked for at once by a new sweep, the largest tiles first. A video whose faces
are all found in the whole frame never searches a tile.
"""

from __future__ import annotations

import cv2
import numpy as np

from landmark_emotion.errors import ClosedError
from landmark_emotion.face.landmarker import Detection, Graph, GraphFactory
from landmark_emotion.face.tiles import (
    WHOLE,
    faces_in_tile,
    found_again,
    found_in_context,
    may_hide_faces,
    placed,
    square_around,
    tile_sides,
    tiles,
)

Face = tuple[np.ndarray, np.ndarray, np.ndarray | None]
"""A face found: its box in the frame's pixels, its landmarks as the whole frame's are scaled, its blendshapes."""

TILES_PER_FRAME = 4
"""Tiles searched per frame while a sweep is under way, so that no frame stalls: the 62 tiles of a 1280x720 frame
take 16 frames."""
RESWEEP_WITH_FACES = 4
"""A frame with faces in it is swept again after this many times ``rescan`` frames (4 s at 30 fps), one without after
``rescan``: a newcomer far away is found within seconds, a person far away when no one else is, within a second,
and a face found in the whole frame costs little (the sample clip, its face under 16.5% of some of its frames, is
read in 1.04 to 1.12 times the time: ``benchmarks/small_faces.py --video``)."""
CROP_CONTEXT = 3.0
"""A followed face is read in a square this many times its size around where it last was..."""
CROP_SIDE = 256
"""...resized to this many pixels a side."""


class CropTrack:
    """One small face, followed in a square around where it was in the last frame by a graph of its own.

    The graph is in image mode: MediaPipe's tracking would place this frame's face where the last frame's was in the
    square, but the square has moved with the face since (a face taken over half in view drifted off it)."""

    def __init__(self, graph: Graph, box: np.ndarray):
        self._graph = graph
        self.box = np.asarray(box, np.float64)

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None] | None:
        """The face's landmarks (scaled as the whole frame's would be) and blendshapes in this frame; None: lost."""
        x, y, w, h = self.box
        square, x0, y0 = square_around(image, x + w / 2, y + h / 2, CROP_CONTEXT * max(w, h))
        side_y, side_x = square.shape[:2]
        found = self._graph(np.ascontiguousarray(cv2.resize(square, (CROP_SIDE, CROP_SIDE))))
        if not len(found):
            return None
        height, width = image.shape[:2]
        points = placed(found.landmarks[0], x0, y0, side_x, side_y, width, height)
        self.box = found.boxes()[0] * np.array([side_x, side_y, side_x, side_y]) / CROP_SIDE + np.array([x0, y0, 0, 0])
        return points, None if found.blendshapes is None else found.blendshapes[0]

    def close(self) -> None:
        self._graph.close()


class SmallFaceTracking:
    """A detector for consecutive frames: ``whole`` (a :class:`~landmark_emotion.face.search.FaceSearch`) on the
    whole frame, and the small faces it misses, found by tiles and followed by :class:`CropTrack` (graphs made by
    ``graph``, all closed with it)."""

    def __init__(self, whole: Graph, graph: GraphFactory, max_faces: int, rescan: int):
        self.whole = whole
        self.max_faces = max_faces
        self.rescan = rescan
        self._graph = graph
        self._tiles: Graph | None = None  # opened by the first sweep: a video of near faces never needs it
        self._plan: list[tuple[int, int, int, int]] = []
        self._plan_size: tuple[int, int] | None = None
        self._wait = 0
        self._crops: list[CropTrack] = []
        self._seen = 0  # faces in the last frame
        self._small: list[np.ndarray] = []  # the boxes of the small faces the whole frame's search had in it
        self._closed = False

    @property
    def followed(self) -> int:
        """How many small faces are followed in crops now."""
        return len(self._crops)

    def __call__(self, image_bgr: np.ndarray) -> Detection:
        if self._closed:
            raise ClosedError("this face search is closed")
        found = self.whole(image_bgr)
        height, width = image_bgr.shape[:2]
        near = WHOLE * max(width, height)
        whole = [np.asarray(box, np.float64) for box in found.boxes()]
        followed: list[Face] = []
        kept: list[CropTrack] = []
        for crop in self._crops:  # a face that came near is the whole frame's; one lost, or found twice, is let go
            read = crop(image_bgr)
            if (
                read is None
                or (crop.box[2] >= near and found_again(crop.box, whole) is not None)
                or found_again(crop.box, [c.box for c in kept]) is not None
            ):
                crop.close()
                continue
            kept.append(crop)
            followed.append((crop.box, *read))
        # the whole frame's faces, but those followed in crops (near its floor it finds them in one frame, loses
        # them in the next); a small face it had in the last frame and lost is followed from where it was
        faces: list[Face] = [
            (box, found.landmarks[i], None if found.blendshapes is None else found.blendshapes[i])
            for i, box in enumerate(whole)
            if found_again(box, [c.box for c in kept]) is None
        ]
        for box in self._small:
            if found_again(box, [face[0] for face in faces + followed]) is None:
                crop = CropTrack(self._graph(False, 1), box)
                read = crop(image_bgr)
                if read is None or found_again(crop.box, [face[0] for face in faces + followed]) is not None:
                    crop.close()  # gone, or it moved onto a face that is followed already
                    continue
                kept.append(crop)
                followed.append((crop.box, *read))
        while len(faces) + len(kept) > self.max_faces:  # the whole frame's faces first, as many as asked for
            kept.pop().close()
            followed.pop()
        self._crops = kept
        self._small = [face[0] for face in faces if face[0][2] < near]
        faces += followed
        if len(faces) < self._seen:  # a face was lost: look for it now
            self._plan, self._wait = [], 0
        if may_hide_faces([face[0] for face in faces], max(width, height), self.max_faces):
            for face in self._sweep(image_bgr, [face[0] for face in faces]):
                self._crops.append(CropTrack(self._graph(False, 1), face[0]))
                faces.append(face)
        else:
            self._plan = []  # a near face came: the sweep under way stops, the next starts when needed
        self._seen = len(faces)
        shapes = [face[2] for face in faces]
        return Detection(
            np.asarray([face[1] for face in faces], np.float32).reshape(-1, 468, 3),
            width,
            height,
            None if found.blendshapes is None or any(s is None for s in shapes) else np.asarray(shapes, np.float32),
        )

    def _sweep(self, image: np.ndarray, boxes: list[np.ndarray]) -> list[Face]:
        """The next :data:`TILES_PER_FRAME` tiles of the sweep under way (one starts when due): the new faces in them,
        as :func:`~landmark_emotion.face.tiles.faces_in_tile` gives them, up to ``max_faces`` in all."""
        height, width = image.shape[:2]
        if self._plan_size != (width, height):
            self._plan, self._plan_size, self._wait = [], (width, height), 0
        if not self._plan:
            if self._wait > 0:
                self._wait -= 1
                return []
            self._plan = [tile for side in tile_sides(width, height)[::-1] for tile in tiles(width, height, side)]
            if not self._plan:
                return []
        if self._tiles is None:
            self._tiles = self._graph(False, self.max_faces)
        new: list[Face] = []
        for tile in self._plan[:TILES_PER_FRAME]:
            for box, points, shapes in faces_in_tile(self._tiles, image, tile):
                seen = boxes + [face[0] for face in new]
                if len(seen) >= self.max_faces or found_again(box, seen) is not None:
                    continue
                if found_in_context(self._tiles, image, box):  # not a patch that looks like a face in a tile
                    new.append((box.astype(np.float64), points, shapes))
        del self._plan[:TILES_PER_FRAME]
        if not self._plan:
            self._wait = self.rescan * (RESWEEP_WITH_FACES if boxes or new else 1)
        return new

    def close(self) -> None:
        self._closed = True
        for graph in [*self._crops, self._tiles, self.whole]:
            if graph is not None:
                graph.close()
        self._crops, self._tiles = [], None
