"""One frame -> the emotion of every face in it: detect, describe, calibrate, classify, track, smooth.

The per-frame work of the demo, kept apart from windows, keys and files so it can
be tested and timed on its own. It is lean on purpose: one Face Mesh call, one
:func:`~landmark_emotion.face.features.image_vectors` call and one ``predict_proba`` for all faces.
Each track can carry a neutral reference (:mod:`landmark_emotion.model.calibration`); the reader owns
that state, so the demo's ``n`` key and a web page's "neutral" button call the same
:meth:`Pipeline.start_neutral_capture`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Protocol

import numpy as np

from landmark_emotion.face.appearance import describe as describe_appearance
from landmark_emotion.face.features import LANDMARKS, N_FEATURES, face_vectors, image_vectors
from landmark_emotion.face.landmarker import BLENDSHAPES, Detection, Detector
from landmark_emotion.face.readability import REASON, shipped_readability
from landmark_emotion.labels import UNCERTAIN, emoji_char
from landmark_emotion.model.calibration import NEUTRAL, CalibrationError, References, calibrate
from landmark_emotion.model.explanation import POPULATION, Explanation, ExplanationError, explainer_of, require_neutral
from landmark_emotion.reading.neutral import (
    CAPTURE_FRAMES,
    EXPRESSIVE_CAPTURE,
    Expressions,
    TrackReferences,
    capture_expressive,
    capture_unfinished,
)
from landmark_emotion.reading.options import ReadOptions
from landmark_emotion.reading.smoothing import WINDOW, TrackSmoothers
from landmark_emotion.reading.tracking import FaceTracker

if TYPE_CHECKING:
    from landmark_emotion.model.emotion_model import EmotionModel


CALIBRATED = frozenset({"personal", "captured", "auto"})
"""The ``Face.calibration`` values of a face read relative to its own neutral reference (``estimating``: an
``auto`` estimate still mostly the population's)."""


class Predictor(Protocol):
    """What the pipeline needs of a model (:class:`landmark_emotion.model.inference.Predictor` is one)."""

    labels: list[str]

    def predict_proba(self, features: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True, eq=False)
class Face:
    """One face in one frame, read: where it is, and its (smoothed) emotion.

    ``label`` is the most probable of the model's labels, or ``"uncertain"`` when its
    probability is below the reader's ``min_confidence`` or the face cannot be read
    (``unreadable`` says why: upside down, turned too far); ``probabilities`` maps every
    label of the model to its probability (smoothed over the face's recent frames in a
    stream). ``calibration`` says how the face was read: ``off`` or ``none`` (not
    calibrated), ``personal`` (a personal model's neutral, or one set on the reader),
    ``estimating`` then ``auto`` (estimated from its own frames), ``captured`` (taken on request)
    or ``capturing``.
    """

    box: tuple[int, int, int, int]
    """x, y, width, height in pixels."""
    landmarks: np.ndarray
    """(468, 3) float32 face-mesh points: x by the image width, y by its height, z roughly by the width."""
    label: str
    confidence: float
    """The smoothed probability of the label the smoother holds."""
    probabilities: dict[str, float]
    calibration: str = "off"
    track: int | None = None
    """In a stream: the face's id, the same from frame to frame while it stays in view. None for a photo."""
    blendshapes: dict[str, float] | None = None
    """The 52 MediaPipe blendshape scores by name, when the reader was asked for them."""
    explanation: Explanation | None = None
    """Why the face was read as ``label``, when the reader was asked to explain every face (see :meth:`explain`)."""
    _why: Callable[[], Explanation] | None = field(default=None, repr=False)
    """How the pipeline that read the face explains it on demand (what :meth:`explain` calls)."""
    unreadable: str | None = None
    """Why the face reads "uncertain" whatever the model says (:mod:`landmark_emotion.face.readability`), or None."""

    def explain(self) -> Explanation:
        """Why the face was read as ``label``: how much each region of the face (brows, lids, mouth corners...)
        moved that label's probability, and the largest movements in words, against the neutral reference it was
        read with (its own when calibrated, else the population neutral). About 2 ms with the shipped model;
        nothing is computed until it is asked for, unless the reader explains every face (``explain=True``)."""
        if self.explanation is not None:
            return self.explanation
        if self._why is None:
            raise ExplanationError("this face was not read by a reader, so there is nothing to explain it with")
        return self._why()

    @property
    def calibrated(self) -> bool:
        """Whether the face was read relative to a neutral reference."""
        return self.calibration in CALIBRATED

    @property
    def emoji(self) -> str:
        return emoji_char(self.label)

    def to_json(self) -> dict:
        """The face's entry in the per-frame log (probabilities rounded: the log is for reading, not replay)."""
        entry = {
            "id": self.track,
            "box": list(self.box),
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "emoji": self.emoji,
            "probs": {name: round(p, 4) for name, p in self.probabilities.items()},
            "calibration": self.calibration,
        }
        if self.unreadable is not None:
            entry["unreadable"] = self.unreadable
        if self.blendshapes is not None:
            entry["blendshapes"] = {name: round(v, 4) for name, v in self.blendshapes.items()}
        if self.explanation is not None:
            entry["explanation"] = self.explanation.to_json()
        return entry


class Pipeline:
    """One frame -> its faces, read: up to the detector's ``max_faces`` faces, each smoothed over its own track.

    ``references`` (a model's :attr:`~landmark_emotion.model.emotion_model.EmotionModel.references`) enables
    calibration; ``calibrate`` is ``neutral`` (a personal model's neutral, or one taken with
    :meth:`start_neutral_capture`), ``auto`` (also estimated from each face's frames, which needs
    the model's ``directions``: :meth:`~landmark_emotion.model.emotion_model.EmotionModel.expression_directions`)
    or ``off``. With ``explain`` every face read carries its :class:`~landmark_emotion.model.explanation.Explanation`.
    """

    def __init__(
        self,
        detector: Detector,
        predictor: Predictor,
        min_confidence: float = 0.4,
        smoothing_frames: float = WINDOW,
        references: References | None = None,
        calibrate: str = "neutral",
        directions: np.ndarray | None = None,
        explain: bool = False,
    ):
        self.detector = detector
        self.predictor = predictor
        self.labels = list(predictor.labels)
        self.feature_set = getattr(predictor, "feature_set", LANDMARKS)  # what the model reads; landmarks if unsaid
        self.min_confidence = min_confidence
        self.tracker = FaceTracker()
        self.smoothers = TrackSmoothers(smoothing_frames)
        self.references = TrackReferences(
            references, calibrate, Expressions.of(predictor.predict_proba, self.labels, directions)
        )
        self.readability = shipped_readability()
        self.explains = False
        self.explain_faces(explain)
        self._last: list[tuple[int, int]] = []  # (track, box area) of the faces of the last frame
        self.unfinished: list[int] = []
        """Tracks lost in the last frame read before their neutral capture was done: the user should try again."""
        self.expressive: list[tuple[int, str, float]] = []
        """(track, label, probability) of the neutral references the last frame finished that read as an expression
        (:data:`~landmark_emotion.reading.neutral.EXPRESSIVE_CAPTURE`): the user may have been smiling."""

    def start_neutral_capture(self, track: int | None = None, frames: int = CAPTURE_FRAMES) -> int:
        """ "This is my neutral face": take a face's next ``frames`` frames as its neutral reference.

        ``track`` is a face's ``Face.track`` from the last frame read; None picks the
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
        the thread that calls the pipeline.
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

    def explain_faces(self, on: bool = True) -> None:
        """Explain every face read from now on (``Face.explanation``, and in its JSON), or stop.

        Raises :class:`~landmark_emotion.model.explanation.ExplanationError` when the model has no neutral
        reference to measure changes from, or is no network the explainer can take apart.
        """
        if on:
            require_neutral(self.references.population)
            explainer_of(self.predictor)
        self.explains = on

    def clear_neutral(self, track: int | None = None) -> None:
        """Forget the neutral references taken with :meth:`start_neutral_capture` (of one track, or all)."""
        self.references.clear(track)

    def __call__(self, image: np.ndarray) -> list[Face]:
        return self.read(image, self.detector(image))

    def describe(self, image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The feature vectors of the faces of ``image`` and their appearance descriptors (which tell the faces
        that cannot be read): one description of each face, whether the model reads its appearance or not."""
        if self.feature_set == LANDMARKS:
            height, width = image.shape[:2]
            return face_vectors(LANDMARKS, landmarks, width, height), describe_appearance(image, landmarks)
        vectors = image_vectors(self.feature_set, image, landmarks)
        return vectors, vectors[:, N_FEATURES:]

    def read(self, image: np.ndarray, detection: Detection) -> list[Face]:
        """The faces of ``detection`` (what the detector found in ``image``), read.

        Apart from :meth:`__call__` so that a loop can run the detector on the next frame
        meanwhile (:mod:`landmark_emotion.reading.pipelining`); frames must still come in order.
        """
        boxes = detection.boxes()
        tracks = self.tracker.update(boxes)
        self.smoothers.keep_only(self.tracker.ids)
        self.unfinished = self.references.keep_only(self.tracker.ids)
        if not len(detection):  # a missed detection does not take a face out of view while the tracker keeps it
            alive = set(self.tracker.ids)
            self._last = [(track, area) for track, area in self._last if track in alive]
            return []
        self._last = [(track, int(box[2]) * int(box[3])) for track, box in zip(tracks, boxes)]
        vectors, descriptors = self.describe(image, detection.landmarks)
        unreadable = self.readability.unreadable(descriptors)
        features, calibration = self.references.apply(tracks, vectors)
        self.expressive = self._expressive(self.references.taken)
        probs = self.predictor.predict_proba(features)
        smoothed, best = self.smoothers.update(tracks, probs)
        faces = []
        for i, track in enumerate(tracks):
            confidence = float(smoothed[i, best[i]])
            readable = confidence >= self.min_confidence and not unreadable[i]
            label = self.labels[best[i]] if readable else UNCERTAIN
            scores = None if detection.blendshapes is None else detection.blendshapes[i]
            why = partial(self._explain, features[i], vectors[i], self.references.neutral(track), int(best[i]))
            faces.append(
                Face(
                    (int(boxes[i, 0]), int(boxes[i, 1]), int(boxes[i, 2]), int(boxes[i, 3])),
                    detection.landmarks[i],
                    label,
                    confidence,
                    dict(zip(self.labels, smoothed[i].tolist())),
                    calibration[i],
                    track,
                    None if scores is None else dict(zip(BLENDSHAPES, scores.tolist())),
                    why() if self.explains else None,
                    why,
                    REASON if unreadable[i] else None,
                )
            )
        return faces

    @property
    def notices(self) -> list[str]:
        """What the user should be told after the last frame: captures lost with their face, or taken mid-expression."""
        return [*map(capture_unfinished, self.unfinished), *(capture_expressive(*e) for e in self.expressive)]

    def _expressive(self, taken: list[tuple[int, np.ndarray]]) -> list[tuple[int, str, float]]:
        """Of references just taken, those the model reads as an expression, read as the face was before them (its
        personal bundle's neutral, or none)."""
        if not taken:
            return []
        references = np.stack([reference for _, reference in taken])
        personal, population = self.references.personal, self.references.population
        if personal is not None and population is not None:
            references = calibrate(references, personal, population)
        found = []
        for (track, _), probabilities in zip(taken, self.predictor.predict_proba(references)):
            best = int(np.argmax(probabilities))
            if self.labels[best] != NEUTRAL and probabilities[best] >= EXPRESSIVE_CAPTURE:
                found.append((track, self.labels[best], float(probabilities[best])))
        return found

    def _explain(
        self, features: np.ndarray, vector: np.ndarray, neutral: tuple[str, np.ndarray] | None, label: int
    ) -> Explanation:
        """Explain one face of a frame: ``features`` (what the model read) for its ``label``, against the neutral
        reference its frame was read with (the population neutral for a face read uncalibrated)."""
        source, reference = neutral or (POPULATION, require_neutral(self.references.population))
        return explainer_of(self.predictor).explain(features, vector - reference, label, source)


def pipeline_for(model: EmotionModel, detector: Detector, options: ReadOptions, photos: bool = False) -> Pipeline:
    """The pipeline of ``model`` that every reader uses (the demo, the web page, the API), so they answer alike.

    ``detector`` is the caller's open :class:`~landmark_emotion.face.mesh.FaceMesh` (``image`` mode for
    ``photos``, ``video`` mode for frames that follow on). Video frames are tracked and smoothed
    over time; ``photos`` are unrelated images: nothing carries over from one to the next.
    Photos hold no run of frames to learn a neutral from, so ``auto`` calibration becomes
    ``neutral`` for them.
    """
    calibrate = "neutral" if photos and options.calibrate == "auto" else options.calibrate
    smoothing = 1 if photos else options.smoothing
    directions = model.expression_directions() if calibrate == "auto" and model.references is not None else None
    return Pipeline(
        detector,
        model.predictor(),
        options.min_confidence,
        smoothing,
        model.references,
        calibrate,
        directions,
        options.explain,
    )
