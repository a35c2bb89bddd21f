"""One frame -> the emotion of every face in it: detect, describe, classify, track, smooth.

The per-frame work of the demo, kept apart from windows, keys and files so it can
be tested and timed on its own. It is lean on purpose: one Face Mesh call, one
:func:`~emotion.features.image_vectors` call and one ``predict_proba`` for all faces.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .emoji import UNCERTAIN, emoji_char
from .detect import get_detector
from .face_search import Detector, FaceSearch
from .face_tracking import FaceTracker
from .features import LANDMARKS, image_vectors
from .model_bundle import ModelBundle
from .smoothing import WINDOW, TrackSmoothers


class Predictor(Protocol):
    """What the reader needs of a model (see ``emotion.model_bundle.Predictor``)."""

    labels: list[str]

    def predict_proba(self, features: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class FaceReading:
    """One face in one frame: where it is, and its smoothed emotion."""

    track: int
    box: tuple[int, int, int, int]  # x, y, w, h in pixels
    landmarks: np.ndarray  # (468, 3) as MediaPipe returns them
    probs: np.ndarray  # (k,) smoothed, in the model's label order
    label: str  # a model label, or UNCERTAIN when its probability is below the threshold
    confidence: float  # smoothed probability of the label the smoother holds

    @property
    def emoji(self) -> str:
        return emoji_char(self.label)

    def to_json(self, labels: list[str]) -> dict:
        """The face's entry in the per-frame log (probabilities rounded: the log is for reading, not replay)."""
        return {
            "id": self.track,
            "box": list(self.box),
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "emoji": self.emoji,
            "probs": {name: round(float(p), 4) for name, p in zip(labels, self.probs)},
        }


class EmotionReader:
    """Read the emotions of up to the detector's ``max_faces`` faces per frame, each smoothed over its own track."""

    def __init__(self, detector: Detector, predictor: Predictor, min_confidence: float = 0.4,
                 smoothing_frames: float = WINDOW):
        self.detector = detector
        self.predictor = predictor
        self.labels = list(predictor.labels)
        self.feature_set = getattr(predictor, "feature_set", LANDMARKS)  # what the model reads; landmarks if unsaid
        self.min_confidence = min_confidence
        self.tracker = FaceTracker()
        self.smoothers = TrackSmoothers(smoothing_frames)

    def __call__(self, image: np.ndarray) -> list[FaceReading]:
        faces = self.detector(image)
        boxes = faces.boxes()
        tracks = self.tracker.update(boxes)
        self.smoothers.keep_only(self.tracker.ids)
        if not len(faces):
            return []
        probs = self.predictor.predict_proba(image_vectors(self.feature_set, image, faces.landmarks))
        smoothed, best = self.smoothers.update(tracks, probs)
        readings = []
        for i, track in enumerate(tracks):
            confidence = float(smoothed[i, best[i]])
            label = self.labels[best[i]] if confidence >= self.min_confidence else UNCERTAIN
            readings.append(FaceReading(track, tuple(int(v) for v in boxes[i]), faces.landmarks[i], smoothed[i],
                                        label, confidence))
        return readings


def build_reader(bundle: ModelBundle, max_faces: int = 4, min_confidence: float = 0.4,
                 smoothing_frames: float = WINDOW, photos: bool = False,
                 graph: Callable[[bool, int], Detector] = get_detector) -> EmotionReader:
    """The reader of ``bundle`` that every live view uses (the demo, the web page), so they answer alike.

    Video frames are searched and tracked (:class:`FaceSearch`) and smoothed over time;
    ``photos`` are unrelated images: each is searched afresh and nothing carries over.
    ``graph(static, max_faces)`` makes the Face Mesh graphs; the default shares them per
    process, a caller serving several independent streams passes its own.
    """
    detector = graph(True, max_faces) if photos else FaceSearch(max_faces, graph=graph)
    return EmotionReader(detector, bundle.predictor(), min_confidence, 1 if photos else smoothing_frames)
