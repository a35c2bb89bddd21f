"""Classifier latency per face: the NumPy Predictor vs Keras model.predict vs model(x) vs TFLite.

  python benchmarks/latency.py --model models/default [--repeat 2000]

Times one face at a time (what the live demo does), after a warm-up, and checks that
all paths give the same probabilities. Feature extraction (normalize) is timed too,
since it runs once per face as well.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scr"))

from emotion.features import normalize  # noqa: E402
from emotion.model_bundle import load_bundle  # noqa: E402


def per_call_ms(fn, repeat: int) -> float:
    """Median of ``repeat`` single calls, in ms (after 20 warm-up calls)."""
    for _ in range(20):
        fn()
    times = np.empty(repeat)
    for i in range(repeat):
        started = time.perf_counter()
        fn()
        times[i] = time.perf_counter() - started
    return float(np.median(times) * 1e3)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=Path("models/default"))
    p.add_argument("--repeat", type=int, default=2000, help="timed calls of the fast paths")
    p.add_argument("--repeat-keras", type=int, default=100, help="timed calls of model.predict / model(x)")
    args = p.parse_args()
    bundle = load_bundle(args.model)
    replay = bundle.replay_table()
    landmarks = replay.landmarks[0] if replay is not None else np.random.default_rng(0).random((468, 3))
    features = normalize(landmarks, 640, 480)
    predictor = bundle.predictor()
    x = ((features - bundle.scaler_mean) / bundle.scaler_scale).astype(np.float32)[None]

    reference = predictor.predict_proba(features)
    rows = [("normalize (landmarks -> features)", per_call_ms(lambda: normalize(landmarks, 640, 480), args.repeat)),
            ("Predictor.predict_proba (NumPy)", per_call_ms(lambda: predictor.predict_proba(features), args.repeat))]

    model = bundle.keras_model()  # imports TensorFlow: after the NumPy timings
    import tensorflow as tf

    tf_x = tf.constant(x)
    diffs = {"model(x)": np.abs(np.asarray(model(tf_x, training=False)) - reference).max(),
             "model.predict": np.abs(model.predict(x, verbose=0) - reference).max()}
    rows += [("keras model(x, training=False)", per_call_ms(lambda: model(tf_x, training=False), args.repeat_keras)),
             ("keras model.predict(x)", per_call_ms(lambda: model.predict(x, verbose=0), args.repeat_keras))]
    tflite = args.model / "model.tflite"
    if tflite.exists():
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            interpreter = tf.lite.Interpreter(model_content=tflite.read_bytes())
        interpreter.allocate_tensors()
        source, target = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]

        def run_tflite():
            interpreter.set_tensor(source, x)
            interpreter.invoke()
            return interpreter.get_tensor(target)

        diffs["tflite"] = np.abs(run_tflite() - reference).max()
        rows.append(("TFLite interpreter", per_call_ms(run_tflite, args.repeat)))
    print(f"one face, median per call ({args.model}, {len(bundle.labels)} classes):")
    for name, ms in rows:
        print(f"  {name:<36} {ms:8.3f} ms")
    print("largest difference from the NumPy predictor: "
          + ", ".join(f"{name} {diff:.1g}" for name, diff in diffs.items()))


if __name__ == "__main__":
    main()
