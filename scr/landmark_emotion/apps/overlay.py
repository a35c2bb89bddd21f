"""Draw what the reader found onto the frame: box or mesh, label, confidence, emoji, bars, FPS.

Drawing runs every displayed frame next to a ~3 ms face mesh, so it stays cheap:
plain OpenCV lines and Hershey text, emoji from a sprite cache pasted with one
multiply-add over a small patch, the mesh only when asked for.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from landmark_emotion.apps.emoji import emoji_sprite
from landmark_emotion.labels import UNCERTAIN
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


def draw_mesh(frame: np.ndarray, landmarks: np.ndarray, colour=(190, 190, 190)) -> None:
    points = (landmarks[:, :2] * (frame.shape[1], frame.shape[0])).round().astype(np.int32)
    cv2.polylines(frame, list(points[_mesh_edges()]), False, colour, 1, cv2.LINE_8)


def emoji_size(box_width: int) -> int:
    """Emoji size for a face: a third of its width in steps of 8 px, so a few sizes fill the sprite cache."""
    return int(np.clip(box_width // 3 // 8 * 8, 24, 96))


def face_tags(face: Face) -> list[str]:
    """The captions below a face: why it reads "uncertain" when it cannot be read, and its neutral reference."""
    return [tag for tag in (face.unreadable, CALIBRATION_TAGS.get(face.calibration)) if tag]


def draw_reading(frame: np.ndarray, face: Face, show_mesh: bool = False, show_bars: bool = False) -> None:
    """Box (or mesh); emoji, label and confidence above the face (inside the frame's top edge when the face is at
    it); the captions below it, never over the label; probability bars beside it if asked."""
    x, y, w, h = face.box
    colour = colour_of(face.label)
    if show_mesh:
        draw_mesh(frame, face.landmarks, colour)
    else:
        cv2.rectangle(frame, (x, y), (x + w, y + h), colour, 2)
    size = emoji_size(w)
    left = int(np.clip(x, 0, max(frame.shape[1] - size, 0)))
    top = int(np.clip(y - size - 4, 0, max(frame.shape[0] - size, 0)))
    tags = face_tags(face)
    below = max(min(y + h + 4, frame.shape[0] - TAG_HEIGHT * len(tags)), top + size + 2)  # under the label row
    for i, tag in enumerate(tags):
        _text_box(frame, tag, x, below + i * TAG_HEIGHT, TAG_SCALE, WHITE, BLACK)
    paste_sprite(frame, emoji_sprite(face.label, size), left, top)
    _text_box(frame, f"{face.label} {face.confidence:.0%}", left + size + 4, top + (size - 22) // 2, 0.6, BLACK, colour)
    if show_bars:
        right = x + w + 8
        draw_bars(
            frame,
            face,
            right if right + BAR_WIDTH + BAR_TEXT < frame.shape[1] else max(x - BAR_WIDTH - BAR_TEXT - 8, 3),
            y,
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
    """FPS counter at the top left; a status line (e.g. the key help) at the bottom."""
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
    """Draw the HUD and every face onto ``frame`` in place (faces last: no caption covers a label); returns it."""
    draw_hud(frame, fps, status)
    for face in faces:
        draw_reading(frame, face, show_mesh, show_bars)
    return frame
