"""One frame -> the emotion of every face in it: detect, describe, calibrate, classify, track, smooth.

The per-frame work of the demo, kept apart from windows, keys and files so it can
be tested and timed on its own. It is lean on purpose: one Face Mesh call, one
:func:`~landmark_emotion.face.features.image_vectors` call and one ``predict_proba`` for all faces.
Each track can carry a neutral reference (:mod:`landmark_emotion.model.calibration`); the reader owns
that state, so the demo's ``n`` key and a web page's "neutral" button call the same
:meth:`EmotionReader.start_neutral_capture`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from landmark_emotion.face.features import LANDMARKS, image_vectors
from landmark_emotion.face.landmarker import BLENDSHAPES, Faces
from landmark_emotion.face.search import Detector
from landmark_emotion.labels import UNCERTAIN, emoji_char
from landmark_emotion.model.calibration import CalibrationError, References
from landmark_emotion.reading.neutral import CAPTURE_FRAMES, TrackReferences
from landmark_emotion.reading.smoothing import WINDOW, TrackSmoothers
from landmark_emotion.reading.tracking import FaceTracker

if TYPE_CHECKING:
    from landmark_emotion.model.emotion_model import EmotionModel


class Predictor(Protocol):
    """What the reader needs of a model (see ``landmark_emotion.model.bundle.Predictor``)."""

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
    calibration: str = "off"  # how the face was calibrated: see TrackReferences.apply
    blendshapes: np.ndarray | None = (
        None  # (52,) scores in landmark_emotion.face.landmarker.BLENDSHAPES order, when asked for
    )

    @property
    def emoji(self) -> str:
        return emoji_char(self.label)

    def to_json(self, labels: list[str]) -> dict:
        """The face's entry in the per-frame log (probabilities rounded: the log is for reading, not replay)."""
        entry = {
            "id": self.track,
            "box": list(self.box),
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "emoji": self.emoji,
            "probs": {name: round(float(p), 4) for name, p in zip(labels, self.probs)},
            "calibration": self.calibration,
        }
        if self.blendshapes is not None:
            entry["blendshapes"] = {name: round(float(v), 4) for name, v in zip(BLENDSHAPES, self.blendshapes)}
        return entry


class EmotionReader:
    """Read the emotions of up to the detector's ``max_faces`` faces per frame, each smoothed over its own track.

    ``references`` (a model's :attr:`~landmark_emotion.model.emotion_model.EmotionModel.references`) enables
    calibration; ``calibrate`` is ``neutral`` (a personal bundle's neutral, or one taken with
    :meth:`start_neutral_capture`), ``auto`` (also estimated from each face's frames) or ``off``.
    """

    def __init__(
        self,
        detector: Detector,
        predictor: Predictor,
        min_confidence: float = 0.4,
        smoothing_frames: float = WINDOW,
        references: References | None = None,
        calibrate: str = "neutral",
    ):
        self.detector = detector
        self.predictor = predictor
        self.labels = list(predictor.labels)
        self.feature_set = getattr(predictor, "feature_set", LANDMARKS)  # what the model reads; landmarks if unsaid
        self.min_confidence = min_confidence
        self.tracker = FaceTracker()
        self.smoothers = TrackSmoothers(smoothing_frames)
        self.references = TrackReferences(references, calibrate)
        self._last: list[tuple[int, int]] = []  # (track, box area) of the faces of the last frame
        self.unfinished: list[int] = []
        """Tracks lost in the last frame read before their neutral capture was done: the user should try again."""

    def start_neutral_capture(self, track: int | None = None, frames: int = CAPTURE_FRAMES) -> int:
        """ "This is my neutral face": take a face's next ``frames`` frames as its neutral reference.

        ``track`` is a face's ``FaceReading.track`` from the last frame read; None picks the
        largest face of that frame (the one nearest the camera). Returns the track chosen.
        From the next frame on, that face's readings say ``calibration == "capturing"``
        (it is read as before meanwhile); once it has been seen in ``frames`` frames (30:
        about a second of video) the mean of its feature vectors becomes its reference and
        its readings say ``"captured"``, calibrated until the track is lost (a face that
        leaves and comes back is a new track and must be captured again). Calling again
        restarts the capture and replaces the reference.

        Raises :class:`~landmark_emotion.model.calibration.CalibrationError`, whose message is one line
        meant for the user, when calibration is off, the model has no population neutral,
        or no face (or no face with that track) is in view: in the last frame that had faces,
        and still tracked (a missed detection does not count). Call it between frames, from
        the thread that calls the reader.
        """
        self.references.require()
        if not self._last:
            raise CalibrationError("no face in view: look at the camera with a neutral face and try again")
        if track is None:
            track = max(self._last, key=lambda item: item[1])[0]
        elif track not in {t for t, _ in self._last}:
            raise CalibrationError(f"no face with track {track} in view")
        self.references.start_capture(track, frames)
        return track

    def clear_neutral(self, track: int | None = None) -> None:
        """Forget the neutral references taken with :meth:`start_neutral_capture` (of one track, or all)."""
        self.references.clear(track)

    def __call__(self, image: np.ndarray) -> list[FaceReading]:
        return self.read(image, self.detector(image))

    def read(self, image: np.ndarray, faces: Faces) -> list[FaceReading]:
        """The readings of the faces the detector found in ``image``.

        Apart from :meth:`__call__` so that a loop can run the detector on the next frame
        meanwhile (:mod:`landmark_emotion.reading.pipelining`); frames must still come in order.
        """
        boxes = faces.boxes()
        tracks = self.tracker.update(boxes)
        self.smoothers.keep_only(self.tracker.ids)
        self.unfinished = self.references.keep_only(self.tracker.ids)
        if not len(faces):  # a missed detection does not take a face out of view while the tracker keeps its track
            alive = set(self.tracker.ids)
            self._last = [(track, area) for track, area in self._last if track in alive]
            return []
        self._last = [(track, int(box[2]) * int(box[3])) for track, box in zip(tracks, boxes)]
        vectors = image_vectors(self.feature_set, image, faces.landmarks)
        features, calibration = self.references.apply(tracks, vectors)
        probs = self.predictor.predict_proba(features)
        smoothed, best = self.smoothers.update(tracks, probs)
        readings = []
        for i, track in enumerate(tracks):
            confidence = float(smoothed[i, best[i]])
            label = self.labels[best[i]] if confidence >= self.min_confidence else UNCERTAIN
            readings.append(
                FaceReading(
                    track,
                    tuple(int(v) for v in boxes[i]),
                    faces.landmarks[i],
                    smoothed[i],
                    label,
                    confidence,
                    calibration[i],
                    None if faces.blendshapes is None else faces.blendshapes[i],
                )
            )
        return readings


def build_reader(
    bundle: EmotionModel,
    detector: Detector,
    min_confidence: float = 0.4,
    smoothing_frames: float = WINDOW,
    photos: bool = False,
    calibrate: str = "auto",
) -> EmotionReader:
    """The reader of ``bundle`` that every live view uses (the demo, the web page), so they answer alike.

    ``detector`` is the caller's open :class:`~landmark_emotion.face.mesh.FaceMesh` (``image`` mode for
    ``photos``, ``video`` mode for frames that follow on). Video frames are smoothed over
    time; ``photos`` are unrelated images: nothing carries over from one to the next.
    ``calibrate`` is the reader's calibration mode (``neutral``, ``auto`` or ``off``) with
    the bundle's references; photos hold no run of frames to learn a neutral from, so
    ``auto`` becomes ``neutral`` for them.
    """
    if photos and calibrate == "auto":
        calibrate = "neutral"
    return EmotionReader(
        detector, bundle.predictor(), min_confidence, 1 if photos else smoothing_frames, bundle.references, calibrate
    )
