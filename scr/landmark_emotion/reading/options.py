"""How faces are read: one options object for the Python API, the demo's flags and the web page's, checked once.

A :class:`ReadOptions` that exists is valid: every value is checked where it enters (the
constructor), with a message that names the option and the accepted values, so the reader,
the demo and the web server never meet a bad one halfway through a stream.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from landmark_emotion.errors import InputError
from landmark_emotion.face.landmarker import LANDMARKERS, landmarker_for_model
from landmark_emotion.reading.neutral import MODES
from landmark_emotion.reading.smoothing import WINDOW

if TYPE_CHECKING:
    from landmark_emotion.model.emotion_model import EmotionModel

MAX_FACES = 32
"""The most faces read per frame (each costs a face-mesh pass)."""
MAX_SMOOTHING = 10_000
"""The longest smoothing window, in frames (about five minutes at 30 frames/s)."""


@dataclass(frozen=True)
class ReadOptions:
    """What a reader is asked to do; the defaults are the demo's.

    ``max_faces`` faces are read per image; a face whose most probable label is below
    ``min_confidence`` is labelled ``"uncertain"``. ``calibrate``: ``"neutral"`` reads each
    face relative to a personal model's neutral or one taken on request; ``"auto"`` (streams)
    also estimates each face's neutral from its own frames until then; ``"off"`` never
    calibrates. ``smoothing`` averages a streamed face's probabilities over about that many
    frames (1: off). ``landmarker`` is ``"legacy"`` or ``"tasks"`` (None: the model's own where
    installed); ``blendshapes=True`` adds MediaPipe's 52 blendshape scores (the Tasks landmarker);
    ``explain=True`` explains every face: which regions of it moved the reading, and what moved, in words.
    """

    max_faces: int = 4
    min_confidence: float = 0.4
    calibrate: str = "auto"
    smoothing: float = WINDOW
    landmarker: str | None = None
    blendshapes: bool = False
    explain: bool = False

    def __post_init__(self) -> None:
        for option in fields(self):
            problem = _problem(option.name, getattr(self, option.name))
            if problem:
                raise InputError(f"{option.name} must be {problem}, got {getattr(self, option.name)!r}")

    def landmarker_for(self, model: EmotionModel) -> tuple[str, str | None]:
        """The landmarker to read ``model`` with, and a warning when it is not the one the model was trained on
        (blendshapes need the Tasks landmarker)."""
        return landmarker_for_model(model.info.get("landmarker"), "tasks" if self.blendshapes else self.landmarker)


def at_face_limit(faces: int, max_faces: int) -> bool:
    """Whether a picture in which ``faces`` were read may hold more, unsaid: as many as ``max_faces`` reads (with 1,
    one face was wanted)."""
    return 1 < max_faces <= faces


def _problem(name: str, value: object) -> str | None:
    """What is wrong with one option's value (the end of "<name> must be ..."), or None."""
    if name == "max_faces":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            return "an integer of at least 1"
        return f"at most {MAX_FACES} (faces per frame)" if value > MAX_FACES else None
    if name == "min_confidence":
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0:
            return None
        return "a probability in [0, 1]"
    if name == "calibrate":
        return None if value in MODES else f"one of {', '.join(map(repr, MODES))}"
    if name == "smoothing":
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 1:
            return "a number of frames of at least 1 (1: off)"
        return f"at most {MAX_SMOOTHING} frames" if not value <= MAX_SMOOTHING else None
    if name == "landmarker":
        return None if value is None or value in LANDMARKERS else f"one of {', '.join(map(repr, LANDMARKERS))} or None"
    return None if isinstance(value, bool) else "True or False"  # blendshapes, explain
