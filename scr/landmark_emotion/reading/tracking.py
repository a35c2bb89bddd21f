"""Give each face a stable id from frame to frame, by the overlap of its box with last frame's boxes.

Face Mesh returns the faces of a frame in no guaranteed order, so per-face state
(the smoothed probabilities, a neutral reference) is keyed by a track id instead of a
list position. Between two video frames a face moves little, so the box that overlaps a
track's last box most is that face; a face unseen for a few frames keeps its id, so one
missed detection does not restart its smoothing. A reader of a few frames a second (a
slow machine, a busy server) sees a moving face jump further than overlap can follow, so
a face left unmatched then takes the unmatched track it is nearest to, within about its
own size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` (n, 4) with every box in ``b`` (m, 4), boxes as x, y, w, h."""
    a = np.asarray(a, dtype=np.float64)[:, None, :]
    b = np.asarray(b, dtype=np.float64)[None, :, :]
    w = np.minimum(a[..., 0] + a[..., 2], b[..., 0] + b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    h = np.minimum(a[..., 1] + a[..., 3], b[..., 1] + b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    inter = np.clip(w, 0, None) * np.clip(h, 0, None)
    union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
    return inter / np.maximum(union, 1e-9)


@dataclass
class _Track:
    box: np.ndarray
    missing: int = 0


class FaceTracker:
    """Match each frame's face boxes to the tracks of earlier frames."""

    def __init__(self, min_iou: float = 0.2, max_missing: int = 15, max_shift: float = 1.0):
        self.min_iou = min_iou
        self.max_missing = max_missing
        self.max_shift = max_shift  # how far a face may jump, in its track's box sizes, and keep its id
        self._tracks: dict[int, _Track] = {}
        self._next_id = 0

    @property
    def ids(self) -> list[int]:
        """Ids of the tracks still alive (seen within the last ``max_missing`` frames)."""
        return list(self._tracks)

    def update(self, boxes: np.ndarray) -> list[int]:
        """Track ids for this frame's boxes (n, 4), in the order given; unmatched boxes start new tracks.

        Greedy matching, best overlap first, then nearest centre first for what is left:
        with a handful of faces it gives the same pairs as an optimal assignment whenever
        the faces do not overlap each other.
        """
        boxes = np.asarray(boxes).reshape(-1, 4)
        ids: list[int | None] = list(self._tracks)
        result: list[int | None] = [None] * len(boxes)
        if ids and len(boxes):
            last = np.stack([self._tracks[t].box for t in self._tracks]).astype(np.float64)
            self._match(iou(boxes, last), self.min_iou, result, ids)
            if None in result and any(t is not None for t in ids):
                centres = boxes[:, None, :2] + boxes[:, None, 2:] / 2 - (last[None, :, :2] + last[None, :, 2:] / 2)
                shift = np.linalg.norm(centres, axis=2) / np.maximum(last[:, 2:].max(axis=1), 1.0)
                self._match(-shift, -self.max_shift, result, ids)
        seen = set()
        for row, box in enumerate(boxes):
            track = result[row]
            if track is None:
                track, self._next_id = self._next_id, self._next_id + 1
                result[row] = track
            self._tracks[track] = _Track(box.copy())
            seen.add(track)
        for track_id in [t for t in self._tracks if t not in seen]:
            self._tracks[track_id].missing += 1
            if self._tracks[track_id].missing > self.max_missing:
                del self._tracks[track_id]
        return result  # type: ignore[return-value]

    @staticmethod
    def _match(score: np.ndarray, least: float, result: list[int | None], ids: list[int | None]) -> None:
        """Pair boxes (rows) and tracks (columns) still free, best ``score`` first, down to ``least``."""
        for flat in np.argsort(score, axis=None)[::-1]:
            row, col = divmod(int(flat), len(ids))
            if score[row, col] < least:
                break
            if result[row] is None and ids[col] is not None:
                result[row], ids[col] = ids[col], None
