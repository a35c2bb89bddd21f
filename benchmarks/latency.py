"""Classifier latency per face: the NumPy Predictor vs Keras model.predict vs model(x) vs TFLite.

  python benchmarks/latency.py --model models/default [--repeat 2000]

Times one face at a time (what the live demo does), after a warm-up, and checks that
all paths give the same probabilities. Feature extraction is timed too,
since it runs once per face as well: landmarks normalised, plus the crop and descriptors for a
landmarks+appearance bundle, on the first face of the sample clip.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from landmark_emotion.cli.run import run_command
from landmark_emotion.face.features import image_vectors
from landmark_emotion.model.bundle import load_bundle

ROOT = Path(__file__).resolve().parent.parent


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


def first_face(video: Path) -> tuple[np.ndarray, np.ndarray]:
    """The first frame of ``video`` and the landmarks (1, 468, 3) of its face."""
    from landmark_emotion.face.mesh import FaceMesh, Mode
    from landmark_emotion.frames import open_source

    with open_source(video) as source:
        image = next(iter(source)).image
    with FaceMesh(Mode.IMAGE) as mesh:
        faces = mesh(image)
    if not len(faces):
        sys.exit(f"error: no face in the first frame of {video}")
    return image, faces.landmarks[:1]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    p.add_argument(
        "--video",
        type=Path,
        default=ROOT / "datasets" / "samples" / "astronaut.mp4",
        help="the face whose features are timed: the first frame of this clip",
    )
    p.add_argument("--repeat", type=int, default=2000, help="timed calls of the fast paths")
    p.add_argument("--repeat-keras", type=int, default=100, help="timed calls of model.predict / model(x)")
    args = p.parse_args(argv)
    bundle = load_bundle(args.model)
    image, landmarks = first_face(args.video)
    predictor = bundle.predictor()
    features = image_vectors(predictor.feature_set, image, landmarks)
    x = bundle.preprocess.transform(features)

    reference = predictor.predict_proba(features)
    rows = [
        (
            f"features ({predictor.feature_set}): image + landmarks -> vector",
            per_call_ms(lambda: image_vectors(predictor.feature_set, image, landmarks), args.repeat),
        ),
        ("Predictor.predict_proba (NumPy)", per_call_ms(lambda: predictor.predict_proba(features), args.repeat)),
    ]

    model = bundle.keras_model()  # imports TensorFlow: after the NumPy timings
    import tensorflow as tf

    tf_x = tf.constant(x)
    diffs = {
        "model(x)": np.abs(np.asarray(model(tf_x, training=False)) - reference).max(),
        "model.predict": np.abs(model.predict(x, verbose=0) - reference).max(),
    }
    rows += [
        ("keras model(x, training=False)", per_call_ms(lambda: model(tf_x, training=False), args.repeat_keras)),
        ("keras model.predict(x)", per_call_ms(lambda: model.predict(x, verbose=0), args.repeat_keras)),
    ]
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
    print(
        "largest difference from the NumPy predictor: "
        + ", ".join(f"{name} {diff:.1g}" for name, diff in diffs.items())
    )


if __name__ == "__main__":
    sys.exit(run_command(main))
