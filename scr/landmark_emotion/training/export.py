"""Export a bundle's network to TensorFlow Lite, for phones and boards without Python/Keras.

The converted model is run once with ``tf.lite.Interpreter`` and compared with Keras
before it is accepted, so a bundle never ships a ``model.tflite`` that disagrees.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np

from landmark_emotion.errors import LandmarkEmotionError
from landmark_emotion.model.inference import TOLERANCE

TFLITE_FILE = "model.tflite"


class ExportError(LandmarkEmotionError, RuntimeError):
    """The converter failed, or the converted model does not reproduce the Keras one."""


def to_tflite(model, check_inputs: np.ndarray) -> tuple[bytes, float]:
    """The TFLite flatbuffer of ``model`` and its largest output difference from Keras on ``check_inputs``.

    ``check_inputs`` are scaled features (what the network sees), shape (n, n_features).
    """
    import tensorflow as tf

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the converter prints its temporary SavedModel's layout
            flatbuffer = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    except Exception as exc:  # the converter raises many types; all mean "cannot convert"
        raise ExportError(f"TFLite conversion failed ({type(exc).__name__}: {exc})") from None
    x = np.asarray(check_inputs, np.float32)
    diff = float(np.max(np.abs(run_tflite(flatbuffer, x) - np.asarray(model(x, training=False)))))
    if not diff <= TOLERANCE:
        raise ExportError(f"the TFLite model differs from Keras by {diff:.2g} (> {TOLERANCE})")
    return flatbuffer, diff


def run_tflite(flatbuffer: bytes, x: np.ndarray) -> np.ndarray:
    """Outputs of a TFLite model for a batch of inputs (the interpreter is resized to the batch)."""
    import tensorflow as tf

    with warnings.catch_warnings():  # "tf.lite.Interpreter is deprecated": still the one TF ships with
        warnings.simplefilter("ignore", UserWarning)
        interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    (source,) = interpreter.get_input_details()
    interpreter.resize_tensor_input(source["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(source["index"], np.asarray(x, np.float32))
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
