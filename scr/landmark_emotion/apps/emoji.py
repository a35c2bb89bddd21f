"""Colour emoji for the overlay, drawn with OpenCV primitives: no emoji font and no download needed.

``cv2.putText`` cannot draw emoji and colour-emoji fonts are missing on many
machines, so each label's face is drawn from circles, ellipses and lines (at 4x
size, then shrunk for smooth edges) into a small BGRA sprite. Sprites are cached
per label and size: drawing one costs a fraction of a millisecond, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from landmark_emotion.labels import UNCERTAIN

_SUPERSAMPLE = 4
_YELLOW, _GREEN, _ORANGE, _GREY = (40, 200, 255), (100, 200, 120), (40, 120, 245), (180, 180, 180)
_INK, _WHITE, _BLUE, _RED = (35, 45, 80), (255, 255, 255), (235, 165, 70), (70, 70, 200)


@dataclass(frozen=True)
class Style:
    """What one emoji face is made of; each field names a drawing below."""

    skin: tuple[int, int, int] = _YELLOW
    eyes: str = "oval"
    brows: str = ""
    mouth: str = "flat"
    extra: str = ""


STYLES: dict[str, Style] = {
    "neutral": Style(),
    "happy": Style(eyes="smile", mouth="grin"),
    "sad": Style(brows="worried", mouth="frown", extra="tear"),
    "surprise": Style(brows="raised", mouth="o"),
    "fear": Style(brows="worried", mouth="open", extra="pale"),
    "disgust": Style(skin=_GREEN, eyes="squeeze", mouth="wavy"),
    "angry": Style(skin=_ORANGE, brows="angry", mouth="frown"),
    "contempt": Style(eyes="side", mouth="smirk"),
    UNCERTAIN: Style(skin=_GREY, brows="raised", mouth="flat", extra="question"),
}


def _draw_face(canvas: np.ndarray, alpha: np.ndarray, style: Style) -> None:
    size = canvas.shape[0]

    def p(x: float, y: float) -> tuple[int, int]:
        return round(x * size), round(y * size)

    def ax(a: float, b: float) -> tuple[int, int]:
        return round(a * size), round(b * size)

    thick = max(1, round(0.045 * size))
    cv2.circle(canvas, p(0.5, 0.5), round(0.47 * size), style.skin, -1, cv2.LINE_AA)
    cv2.circle(alpha, p(0.5, 0.5), round(0.47 * size), 255, -1, cv2.LINE_AA)
    cv2.circle(
        canvas,
        p(0.5, 0.5),
        round(0.47 * size) - thick // 4,
        tuple(int(c * 0.75) for c in style.skin),
        thick // 2,
        cv2.LINE_AA,
    )
    if style.extra == "pale":  # the blue forehead of the fearful face
        top = canvas.copy()
        cv2.ellipse(top, p(0.5, 0.5), ax(0.45, 0.45), 0, 180, 360, _BLUE, -1, cv2.LINE_AA)
        canvas[: size // 2] = cv2.addWeighted(canvas, 0.35, top, 0.65, 0)[: size // 2]

    for side in (-1, 1):
        x = 0.5 + side * 0.16
        if style.eyes == "oval":
            cv2.ellipse(canvas, p(x, 0.42), ax(0.05, 0.08), 0, 0, 360, _INK, -1, cv2.LINE_AA)
        elif style.eyes == "smile":
            cv2.ellipse(canvas, p(x, 0.44), ax(0.08, 0.07), 0, 180, 360, _INK, thick, cv2.LINE_AA)
        elif style.eyes == "squeeze":
            tip = x + side * -0.07
            cv2.polylines(
                canvas,
                [np.array([p(x + side * 0.06, 0.35), p(tip, 0.41), p(x + side * 0.06, 0.47)])],
                False,
                _INK,
                thick,
                cv2.LINE_AA,
            )
        elif style.eyes == "side":
            cv2.ellipse(canvas, p(x, 0.43), ax(0.09, 0.05), 0, 0, 360, _WHITE, -1, cv2.LINE_AA)
            cv2.circle(canvas, p(x + 0.05, 0.44), round(0.035 * size), _INK, -1, cv2.LINE_AA)
            cv2.line(canvas, p(x - 0.1, 0.41), p(x + 0.1, 0.41), _INK, thick, cv2.LINE_AA)
        if style.brows == "raised":
            cv2.ellipse(canvas, p(x, 0.30), ax(0.08, 0.05), 0, 200, 340, _INK, thick, cv2.LINE_AA)
        elif style.brows in ("angry", "worried"):
            inner_y, outer_y = (0.33, 0.25) if style.brows == "angry" else (0.25, 0.31)
            cv2.line(canvas, p(x - side * 0.05, inner_y), p(x + side * 0.09, outer_y), _INK, thick, cv2.LINE_AA)

    mouth = style.mouth
    if mouth == "flat":
        cv2.line(canvas, p(0.34, 0.70), p(0.66, 0.70), _INK, thick, cv2.LINE_AA)
    elif mouth == "grin":
        cv2.ellipse(canvas, p(0.5, 0.62), ax(0.25, 0.2), 0, 0, 180, _INK, -1, cv2.LINE_AA)
        cv2.ellipse(canvas, p(0.5, 0.76), ax(0.11, 0.05), 0, 0, 360, _RED, -1, cv2.LINE_AA)
    elif mouth == "frown":
        cv2.ellipse(canvas, p(0.5, 0.80), ax(0.17, 0.1), 0, 180, 360, _INK, thick, cv2.LINE_AA)
    elif mouth == "o":
        cv2.ellipse(canvas, p(0.5, 0.71), ax(0.08, 0.11), 0, 0, 360, _INK, -1, cv2.LINE_AA)
    elif mouth == "open":
        cv2.ellipse(canvas, p(0.5, 0.72), ax(0.17, 0.1), 0, 0, 360, _INK, -1, cv2.LINE_AA)
        cv2.line(canvas, p(0.37, 0.67), p(0.63, 0.67), _WHITE, thick, cv2.LINE_AA)
    elif mouth == "wavy":
        xs = np.linspace(0.3, 0.7, 7)
        points = [p(x, 0.70 + (0.035 if i % 2 else -0.035)) for i, x in enumerate(xs)]
        cv2.polylines(canvas, [np.array(points)], False, _INK, thick, cv2.LINE_AA)
    elif mouth == "smirk":
        cv2.ellipse(canvas, p(0.5, 0.60), ax(0.17, 0.1), -12, 40, 140, _INK, thick, cv2.LINE_AA)

    if style.extra == "tear":
        drop = np.array([p(0.30, 0.50), p(0.26, 0.60), p(0.34, 0.60)])
        cv2.fillConvexPoly(canvas, drop, _BLUE, cv2.LINE_AA)
        cv2.circle(canvas, p(0.30, 0.62), round(0.045 * size), _BLUE, -1, cv2.LINE_AA)
    elif style.extra == "question":
        cv2.putText(canvas, "?", p(0.70, 0.42), cv2.FONT_HERSHEY_DUPLEX, size / 90, _INK, thick, cv2.LINE_AA)


@lru_cache(maxsize=64)
def emoji_sprite(label: str, size: int) -> np.ndarray:
    """A (size, size, 4) BGRA sprite of the label's emoji, colour premultiplied by alpha. Cached, read-only.

    Premultiplied, because shrinking a drawing on black keeps exactly that form, and
    pasting it is then one multiply-add: ``frame * (1 - alpha) + bgr``.
    """
    big = size * _SUPERSAMPLE
    canvas = np.zeros((big, big, 3), np.uint8)
    alpha = np.zeros((big, big), np.uint8)
    _draw_face(canvas, alpha, STYLES.get(label, STYLES[UNCERTAIN]))
    np.minimum(canvas, alpha[..., None], out=canvas)  # premultiplied: no colour brighter than its coverage
    sprite = cv2.resize(np.dstack([canvas, alpha]), (size, size), interpolation=cv2.INTER_AREA)
    sprite.flags.writeable = False
    return sprite
