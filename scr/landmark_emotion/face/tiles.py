"""Small faces in photos: the face mesh on overlapping tiles, after the whole image.

MediaPipe's face detector reads the image shrunk to 128x128: it finds no face narrower than
about 11% of the image's longer side (110 px in a 1000 px photo: a group photo, a classroom, a
person far from the camera), and not every face under 20%. So a photo in which the whole-image
pass finds no face, only faces narrower than :data:`SMALL` of its longer side (a scene of
small faces, where more may hide), or several faces all narrower than :data:`WHOLE` (a group, some
of whom it may have missed), is searched again in overlapping square tiles of
:data:`TILE` px, where a 40 px face is 17% of the tile, then of twice that side, and so on
until the tiles hold whole every face the whole-image pass may miss. A tile keeps only faces
the whole-image pass could have missed (narrower than :data:`WHOLE` of the photo's longer
side): anything larger it finds in a tile is a false face (a round badge, a patch), since the
whole image would have shown a real one. The landmarks a tile gives are put back in the
photo's coordinates. A face both find is taken from the tile: near the detector's floor the
whole-image pass may find a face yet misplace its mesh (one of four faces 10% of a strip wide: its
box 79 px wide for a 63 px face, read "cannot read this face"), where the tile, in which the face
is larger, places it. A face only a tile finds is kept when the mesh finds it again in a square of
:data:`CONTEXT` times its size around it, enlarged to :data:`CHECK` px: a tile shows the detector
little of the photo, and the Tasks landmarker took the dark collar under a chin for a face. A photo
of one face above :data:`SMALL` (a portrait), or with a face above :data:`WHOLE`, costs nothing
more; video searches the same tiles a few a frame and follows what they find
(:mod:`landmark_emotion.face.crops`).
"""

from __future__ import annotations

import cv2
import numpy as np

from landmark_emotion.face.landmarker import Detection, Graph

TILE = 240
"""The smallest tile side, in pixels: a 40 px face is 17% of it (the detector finds none under about 11%)."""
WHOLE = 0.2
"""The whole-image pass finds faces at least this share of the image's longer side; narrower ones it may miss."""
CONTEXT = 4.0
"""A face only a tile found is looked for again in a square this many times its size around it..."""
CHECK = 256
"""...enlarged to at least this many pixels a side: there a real face is a quarter of the picture."""
SMALL = 0.165
"""A photo whose faces found are all narrower than this share of its longer side is searched in tiles (one face
wider: a portrait, not searched; the sample photo's face is 18% of it)."""


def tile_sides(width: int, height: int) -> list[int]:
    """The tile sides a photo is searched with, doubling from :data:`TILE` until the tiles hold whole every face the
    whole-image pass may miss; none when that pass finds faces of 40 px already."""
    longest = max(width, height)
    sides: list[int] = []
    side = TILE
    while WHOLE * longest > (sides[-1] / 2 if sides else 40) and side < longest:
        sides.append(side)
        side *= 2
    return sides


def tiles(width: int, height: int, side: int) -> list[tuple[int, int, int, int]]:
    """(x, y, w, h) tiles of ``side`` px over the image, overlapping by half a tile: every face up to half a tile
    wide lies whole in one of them."""

    def starts(length: int) -> list[int]:
        if length <= side:
            return [0]
        count = int(np.ceil((length - side) / (side / 2))) + 1
        return [round(i * (length - side) / (count - 1)) for i in range(count)]

    return [(x, y, min(side, width), min(side, height)) for y in starts(height) for x in starts(width)]


def _centre_in(box: np.ndarray, other: np.ndarray) -> bool:
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return bool(other[0] <= cx <= other[0] + other[2] and other[1] <= cy <= other[1] + other[3])


def found_again(box: np.ndarray, boxes: list[np.ndarray]) -> int | None:
    """The first of ``boxes`` that is the same face as ``box`` (either's centre in the other), or None."""
    return next((i for i, other in enumerate(boxes) if _centre_in(box, other) or _centre_in(other, box)), None)


def square_around(image: np.ndarray, cx: float, cy: float, side: float) -> tuple[np.ndarray, int, int]:
    """The square of ``side`` px centred on (cx, cy) (where it leaves the image, grey), and its top left corner in the
    image's pixels."""
    half = side / 2
    x0, y0, x1, y1 = int(cx - half), int(cy - half), int(cx + half), int(cy + half)
    height, width = image.shape[:2]
    pad = max(0, -x0, -y0, x1 - width, y1 - height)
    square = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(127, 127, 127))
    return square[y0 + pad : y1 + pad, x0 + pad : x1 + pad], x0, y0


def found_in_context(graph: Graph, image: np.ndarray, box: np.ndarray) -> bool:
    """Whether ``graph`` finds a face at ``box`` again in a square of :data:`CONTEXT` times its size around it (the
    photo's edge padded grey), enlarged to :data:`CHECK` px."""
    square, x0, y0 = square_around(image, box[0] + box[2] / 2, box[1] + box[3] / 2, CONTEXT * max(box[2], box[3]))
    scale = max(1.0, CHECK / max(square.shape[:2]))
    square = cv2.resize(square, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    found = graph(np.ascontiguousarray(square)).boxes() / scale + np.array([x0, y0, 0, 0])  # in the photo's pixels
    return any(_centre_in(again, box) for again in found)


def placed(landmarks: np.ndarray, x: float, y: float, w: float, h: float, width: int, height: int) -> np.ndarray:
    """Landmarks found in the ``w`` x ``h`` part of an image whose top left corner is at (x, y), scaled as the
    whole image's would be (x, y, z by its ``width`` and ``height``)."""
    part = np.array([w, h, w], np.float32)
    return (landmarks * part + np.array([x, y, 0], np.float32)) / np.array([width, height, width], np.float32)


def may_hide_faces(boxes: list[np.ndarray], longest: int, max_faces: int) -> bool:
    """Whether an image whose whole-image pass found faces at ``boxes`` may hold faces it missed: none found, only
    faces narrower than :data:`SMALL` of its longer side, or several all narrower than :data:`WHOLE` (and fewer
    than ``max_faces``). A portrait (one face of :data:`SMALL` or more) or a face of :data:`WHOLE` does not."""
    shares = [box[2] / longest for box in boxes]
    portrait = len(shares) == 1 and shares[0] >= SMALL
    return not (len(shares) >= max_faces or portrait or any(share >= WHOLE for share in shares))


def faces_in_tile(
    graph: Graph, image: np.ndarray, tile: tuple[int, int, int, int]
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """The faces ``graph`` finds whole in one tile of ``image`` that the whole image may have missed: each as its box
    in the image's pixels, its landmarks as the whole image's would be (x, y, z scaled by its width and height) and
    its blendshapes (or None). A face cut by the tile's edge is whole in another tile; one of :data:`WHOLE` of the
    image or more would have been found in the whole image, so here it is a false face (a round badge, a patch)."""
    x, y, w, h = tile
    height, width = image.shape[:2]
    part = graph(np.ascontiguousarray(image[y : y + h, x : x + w]))
    out = []
    for i, box in enumerate(part.boxes()):
        cut = (box[0] <= 1 and x > 0, box[1] <= 1 and y > 0) + (
            box[0] + box[2] >= w - 1 and x + w < width,
            box[1] + box[3] >= h - 1 and y + h < height,
        )
        if any(cut) or box[2] >= WHOLE * max(width, height):
            continue
        points = placed(part.landmarks[i], x, y, w, h, width, height)
        out.append(
            (box + np.array([x, y, 0, 0], np.int32), points, None if part.blendshapes is None else part.blendshapes[i])
        )
    return out


class SmallFaceSearch:
    """A detector for photos over one image-mode graph: the whole image, then tiles for the faces it missed."""

    def __init__(self, graph: Graph, max_faces: int):
        self._graph = graph
        self.max_faces = max_faces

    def __call__(self, image_bgr: np.ndarray) -> Detection:
        found = self._graph(image_bgr)
        height, width = image_bgr.shape[:2]
        longest = max(width, height)
        boxes = list(found.boxes())
        if not may_hide_faces(boxes, longest, self.max_faces):
            return found
        sides = tile_sides(width, height)
        if not sides:
            return found
        landmarks = list(found.landmarks)
        blendshapes = None if found.blendshapes is None else list(found.blendshapes)
        from_tile = [False] * len(boxes)  # the whole image's faces, until a tile finds them too
        for side in sides:
            for tile in tiles(width, height, side):
                for box, points, shapes in faces_in_tile(self._graph, image_bgr, tile):
                    again = found_again(box, boxes)
                    if again is not None and from_tile[again]:  # the smallest tile that held it whole placed it
                        continue
                    if again is None and not found_in_context(self._graph, image_bgr, box):
                        continue  # not a face: not seen again with more of the photo around it (another tile's
                        # box of the same face may be: each is checked)
                    if again is None:  # a face the whole image missed
                        landmarks.append(points)
                        boxes.append(box)
                        from_tile.append(True)
                        if blendshapes is not None and shapes is not None:
                            blendshapes.append(shapes)
                    else:  # a face of the whole image: the tile's mesh, in which the face is larger, replaces its
                        landmarks[again], boxes[again], from_tile[again] = points, box, True
                        if blendshapes is not None and shapes is not None:
                            blendshapes[again] = shapes
        keep = slice(0, self.max_faces)  # the whole image's faces first, in MediaPipe's order
        return Detection(
            np.asarray(landmarks, np.float32)[keep].reshape(-1, 468, 3),
            width,
            height,
            None if blendshapes is None else np.asarray(blendshapes, np.float32)[keep],
        )

    def close(self) -> None:
        self._graph.close()
