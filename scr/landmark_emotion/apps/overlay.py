"""Draw what the reader found onto the frame: box or mesh, label, confidence, emoji, bars, FPS, and why.

Drawing runs every displayed frame next to a ~3 ms face mesh, so it stays cheap:
plain OpenCV lines and Hershey text, emoji from a sprite cache pasted with one
multiply-add over a small patch, the mesh only when asked for.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from landmark_emotion.apps.emoji import emoji_sprite
from landmark_emotion.face.regions import LANDMARK_REGIONS, REGIONS
from landmark_emotion.labels import UNCERTAIN
from landmark_emotion.model.explanation import Explanation
from landmark_emotion.reading.pipeline import Face

FONT = cv2.FONT_HERSHEY_SIMPLEX
WHITE, BLACK, GREY = (255, 255, 255), (0, 0, 0), (160, 160, 160)
LABEL_COLOURS: dict[str, tuple[int, int, int]] = {
    "neutral": (200, 200, 200),
    "happy": (0, 210, 255),
    "sad": (220, 140, 60),
    "surprise": (255, 220, 0),
    "fear": (200, 90, 160),
    "disgust": (90, 180, 60),
    "angry": (40, 40, 230),
    "contempt": (0, 140, 255),
    UNCERTAIN: GREY,
}
BAR_WIDTH, BAR_ROW, BAR_TEXT = 80, 14, 66
CALIBRATION_TAGS = {
    "capturing": "taking neutral: hold still",
    "captured": "neutral: captured",
    "personal": "neutral: personal",
    "estimating": "neutral: estimating",
    "auto": "neutral: auto",
}
"""What the frame shows below a face about the neutral it is read against now (nothing when it has none)."""
TAG_SCALE, TAG_HEIGHT = 0.45, 20
RAISED, LOWERED, UNMOVED = (40, 80, 255), (255, 160, 40), (110, 110, 110)
"""Colours of an explained face's regions: warm where its change from neutral raised the label, cool where it
lowered it, grey where it did not matter."""
LEAST_SCALE = 0.05
"""The region that moved the reading most gets the full colour, the others a blend by their share of it; below this
change of the label's probability nothing is coloured fully (a face at rest stays grey)."""


def colour_of(label: str) -> tuple[int, int, int]:
    return LABEL_COLOURS.get(label, GREY)


def paste_sprite(frame: np.ndarray, sprite: np.ndarray, x: int, y: int) -> None:
    """Blend a premultiplied BGRA sprite onto ``frame`` with its top-left corner at (x, y), clipped to the frame."""
    h, w = sprite.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, frame.shape[1]), min(y + h, frame.shape[0])
    if x0 >= x1 or y0 >= y1:
        return
    part = sprite[y0 - y : y1 - y, x0 - x : x1 - x]
    roi = frame[y0:y1, x0:x1]
    keep = 255 - part[..., 3:].astype(np.uint16)
    roi[:] = (roi * keep + 127) // 255 + part[..., :3]


def _text_box(frame: np.ndarray, text: str, x: int, y: int, scale: float, colour, background) -> int:
    """Text with a filled background whose top-left is (x, y), moved inside the frame; returns the box's width."""
    (w, h), base = cv2.getTextSize(text, FONT, scale, 1)
    x = int(np.clip(x, 0, max(frame.shape[1] - w - 6, 0)))
    y = int(np.clip(y, 0, max(frame.shape[0] - h - base - 4, 0)))
    cv2.rectangle(frame, (x, y), (x + w + 6, y + h + base + 4), background, -1)
    cv2.putText(frame, text, (x + 3, y + h + 2), FONT, scale, colour, 1, cv2.LINE_AA)
    return w + 6


@lru_cache(maxsize=1)
def _mesh_edges() -> np.ndarray:
    """Face-mesh tesselation as (E, 2) landmark index pairs (MediaPipe is already loaded by the detector)."""
    from mediapipe.tasks.python.vision.face_landmarker import FaceLandmarksConnections  # in 0.10.x and 1.x

    return np.array(
        sorted((c.start, c.end) for c in FaceLandmarksConnections.FACE_LANDMARKS_TESSELATION), dtype=np.intp
    )


@lru_cache(maxsize=1)
def region_edges() -> list[np.ndarray]:
    """The mesh's edges inside each region of :data:`~landmark_emotion.face.regions.REGIONS` (an edge between two
    regions belongs to neither)."""
    edges = _mesh_edges()
    first, second = LANDMARK_REGIONS[edges[:, 0]], LANDMARK_REGIONS[edges[:, 1]]
    return [edges[(first == region) & (second == region)] for region in range(len(REGIONS))]


def _pixels(frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    return (landmarks[:, :2] * (frame.shape[1], frame.shape[0])).round().astype(np.int32)


def draw_mesh(frame: np.ndarray, landmarks: np.ndarray, colour=(190, 190, 190)) -> None:
    cv2.polylines(frame, list(_pixels(frame, landmarks)[_mesh_edges()]), False, colour, 1, cv2.LINE_8)


def region_colour(effect: float, scale: float) -> tuple[int, int, int]:
    """Grey for a region that did not move the reading, warmer the more it raised the label, cooler if it lowered it
    (full colour at ``scale``)."""
    share = min(abs(effect) / scale, 1.0)
    target = RAISED if effect > 0 else LOWERED
    blue, green, red = (int(round(grey + (full - grey) * share)) for grey, full in zip(UNMOVED, target))
    return blue, green, red


def draw_explanation(frame: np.ndarray, face: Face, explanation: Explanation) -> None:
    """The face's mesh, each region coloured by how much its change from neutral moved the reading (the regions that
    moved it most in thicker lines, on a face large enough to leave room between them)."""
    points = _pixels(frame, face.landmarks)
    scale = max(LEAST_SCALE, *map(abs, explanation.regions.values()))
    for region, edges in zip(REGIONS, region_edges()):
        effect = explanation.regions[region]
        width = 2 if abs(effect) >= scale / 2 and face.box[2] >= 200 else 1
        cv2.polylines(frame, list(points[edges]), False, region_colour(effect, scale), width, cv2.LINE_AA)


def why_lines(explanation: Explanation) -> list[str]:
    """What moved, in words, and the regions that raised the label most: the lines below an explained face."""
    raised = [(region, effect) for region, effect in explanation.regions.items() if effect >= 0.01][:2]
    lines = [", ".join(explanation.words) or "no clear movement from neutral"]
    if raised:
        lines.append(f"{explanation.label}: " + ", ".join(f"{region} +{effect:.0%}" for region, effect in raised))
    return lines


def emoji_size(box_width: int) -> int:
    """Emoji size for a face: a third of its width in steps of 8 px, so a few sizes fill the sprite cache."""
    return int(np.clip(box_width // 3 // 8 * 8, 24, 96))


def face_tags(face: Face) -> list[str]:
    """The captions below a face: why it reads "uncertain" when it cannot be read, its neutral reference, and what
    moved when it is explained."""
    tags = [tag for tag in (face.unreadable, CALIBRATION_TAGS.get(face.calibration)) if tag]
    return tags + (why_lines(face.explanation) if face.explanation is not None else [])


LABEL_SCALE = 0.6
Rect = tuple[int, int, int, int]
"""x0, y0, x1, y1 in frame pixels."""


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _label_text(face: Face) -> str:
    return face.label if face.unreadable else f"{face.label} {face.confidence:.0%}"  # no % the model cannot back


def place_label(frame: np.ndarray, face: Face, taken: list[Rect]) -> tuple[int, int]:
    """Where the emoji of ``face``'s label row goes (left, top): above the face, inside the frame; when that covers
    a label already placed (``taken``, to which this one is added), a row higher, two rows, or below the face."""
    x, y, w, h = face.box
    height, width = frame.shape[:2]
    size = emoji_size(w)
    (text_width, _), _ = cv2.getTextSize(_label_text(face), FONT, LABEL_SCALE, 1)
    row = size + 4 + text_width + 6  # the row's width: emoji, gap, text box
    left = int(np.clip(x, 0, max(width - row, 0)))  # moved left whole at the frame's edge
    right = left + row
    above = int(np.clip(y - size - 4, 0, max(height - size, 0)))
    spots = [above, above - (size + 4), above - 2 * (size + 4), y + h + 4]
    inside = [top for top in spots if 0 <= top <= height - size]
    top = next((t for t in inside if not any(_overlaps((left, t, right, t + size), r) for r in taken)), above)
    taken.append((left, top, right, top + size))
    return left, top


def draw_face(frame: np.ndarray, face: Face, show_mesh: bool = False) -> None:
    """The face's box, or its mesh, or its explanation's coloured regions."""
    x, y, w, h = face.box
    if face.explanation is not None:
        draw_explanation(frame, face, face.explanation)
    elif show_mesh:
        draw_mesh(frame, face.landmarks, colour_of(face.label))
    else:
        cv2.rectangle(frame, (x, y), (x + w, y + h), colour_of(face.label), 2)


def draw_tags(frame: np.ndarray, face: Face, label_top: int) -> None:
    """The captions below the face, and below its label row when that is lower (:func:`face_tags`)."""
    x, y, w, h = face.box
    tags = face_tags(face)
    below = max(min(y + h + 4, frame.shape[0] - TAG_HEIGHT * len(tags)), label_top + emoji_size(w) + 2)
    for i, tag in enumerate(tags):
        _text_box(frame, tag, x, below + i * TAG_HEIGHT, TAG_SCALE, WHITE, BLACK)


def draw_label(frame: np.ndarray, face: Face, left: int, top: int) -> None:
    """The emoji, label and confidence at the row :func:`place_label` chose."""
    size = emoji_size(face.box[2])
    paste_sprite(frame, emoji_sprite(face.label, size), left, top)
    _text_box(
        frame, _label_text(face), left + size + 4, top + (size - 22) // 2, LABEL_SCALE, BLACK, colour_of(face.label)
    )


def draw_side_bars(frame: np.ndarray, face: Face) -> None:
    """Probability bars beside the face: right of it, or left when the frame ends there."""
    x, y, w, _ = face.box
    right = x + w + 8
    draw_bars(
        frame, face, right if right + BAR_WIDTH + BAR_TEXT < frame.shape[1] else max(x - BAR_WIDTH - BAR_TEXT - 8, 3), y
    )


def draw_bars(frame: np.ndarray, face: Face, x: int, y: int) -> None:
    """One bar per class on a dark panel, its length the smoothed probability."""
    rows = len(face.probabilities)
    cv2.rectangle(frame, (x - 3, y - 3), (x + BAR_WIDTH + BAR_TEXT, y + rows * BAR_ROW), (30, 30, 30), -1)
    for row, (name, p) in enumerate(face.probabilities.items()):
        top = y + row * BAR_ROW
        cv2.rectangle(frame, (x, top), (x + BAR_WIDTH, top + BAR_ROW - 3), (70, 70, 70), -1)
        cv2.rectangle(frame, (x, top), (x + int(BAR_WIDTH * float(p)), top + BAR_ROW - 3), colour_of(name), -1)
        cv2.putText(frame, name, (x + BAR_WIDTH + 4, top + BAR_ROW - 4), FONT, 0.38, WHITE, 1, cv2.LINE_AA)


def draw_hud(frame: np.ndarray, fps: float, status: str = "") -> None:
    """FPS counter at the top left (none before a second frame gives a rate: "0 fps" on a first photo is untrue);
    a status line (e.g. the key help) at the bottom."""
    if fps > 0:
        _text_box(frame, f"{fps:.0f} fps", 4, 4, 0.55, WHITE, BLACK)
    if status:
        _text_box(frame, status, 4, frame.shape[0] - 26, 0.5, WHITE, BLACK)


def annotate(
    frame: np.ndarray,
    faces: list[Face],
    fps: float,
    status: str = "",
    show_mesh: bool = False,
    show_bars: bool = False,
) -> np.ndarray:
    """Draw the HUD and every face onto ``frame`` in place; returns it.

    In layers, each over every face's layer below: boxes, captions, bars, then the labels, each placed where it
    covers no other (faces side by side in a group photo). So no box, caption or other label covers a label.
    """
    draw_hud(frame, fps, status)
    taken: list[Rect] = []
    spots = [place_label(frame, face, taken) for face in faces]
    for face in faces:
        draw_face(frame, face, show_mesh)
    for face, (_, top) in zip(faces, spots):
        draw_tags(frame, face, top)
    for face in faces if show_bars else []:
        draw_side_bars(frame, face)
    for face, (left, top) in zip(faces, spots):
        draw_label(frame, face, left, top)
    return frame
