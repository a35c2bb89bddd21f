"""Facial-emotion recognition from face-mesh landmarks: the library behind the scripts in ``scr/``.

From Python (see :mod:`landmark_emotion.api`)::

    import landmark_emotion

    with landmark_emotion.Reader() as reader:
        for face in reader.read("photo.jpg"):
            print(face.label, face.confidence)

The names below are imported on first use, so ``import landmark_emotion`` (and every
script's ``from landmark_emotion.cli.startup import ...``) stays instant, and getting
:class:`Reader` imports neither MediaPipe nor TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__all__ = [
    "EmotionModel", "Face", "FrameFaces", "InputError", "LandmarkEmotionError", "Reader", "Stream", "fine_tune",
    "load_model", "sample_image",
]  # fmt: skip
_WHERE = {name: ".errors" if name.endswith("Error") else ".api" for name in __all__}

if TYPE_CHECKING:
    from landmark_emotion.api import Face, FrameFaces, Reader, Stream, fine_tune, load_model, sample_image
    from landmark_emotion.errors import InputError, LandmarkEmotionError
    from landmark_emotion.model.emotion_model import EmotionModel


def __getattr__(name: str) -> object:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
