"""Are explanations faithful, and what do they cost? The deletion test on a table's faces.

  python benchmarks/explain.py TABLE [--model models/default] [--split test]

Every face of the split is read as a photo is (uncalibrated: its neutral reference is the model's
population neutral) and explained. Putting the face's top region back to the neutral (its
landmarks, HOG cells and patches) must lower the read label's probability far more than putting
back a region drawn at random (each of the 13 alike, the top one included); the means of both
drops and their ratio are reported, for the library's explanation (occlusion to the neutral) and
for gradient x (features - neutral) summed per region, the other way the issue allowed (its top
region's drop is measured the same way). Times are per face, one face at a time, with BLAS on one
thread as in the demo, measured in the same run as CPU time of this thread (on a shared machine
wall time also counts the waits for a core): the classifier's forward pass, each explanation, and a
whole reading of the sample photo's face (``Pipeline.read``: appearance, features, classifier,
tracking) with explanations off and on. The last line is the library's: ``deletion: top-region
drop X, random-region drop Y, ratio Z, N ms per face``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from threadpoolctl import threadpool_limits

from landmark_emotion.cli.run import run_command
from landmark_emotion.data.table import load_table
from landmark_emotion.face.mesh import FaceMesh, Mode
from landmark_emotion.face.regions import REGIONS, feature_regions
from landmark_emotion.model.emotion_model import EmotionModel
from landmark_emotion.model.explanation import explainer_of
from landmark_emotion.model.inference import ACTIVATIONS, Predictor
from landmark_emotion.reading.pipeline import Pipeline
from landmark_emotion.resources import SAMPLE_PHOTO

ROOT = Path(__file__).resolve().parent.parent
DERIVATIVES = {"relu": lambda z: (z > 0).astype(np.float32), "linear": np.ones_like}


def gradient_by_region(
    predictor: Predictor, regions: np.ndarray, features: np.ndarray, delta: np.ndarray, label: int
) -> np.ndarray:
    """gradient x delta of the label's probability, summed per region (dense layers, relu or linear, then softmax).

    ``regions`` is :func:`feature_regions`' first answer for the model's feature set."""
    *hidden, last = predictor.steps
    inputs, slopes, x = [], [], features
    for step in hidden:
        z = x @ step.weight + step.bias
        inputs.append(step.weight)
        slopes.append(DERIVATIVES[step.activation](z))
        x = ACTIVATIONS[step.activation](z.copy())
    p = ACTIVATIONS["softmax"]((x @ last.weight + last.bias)[None])[0]
    grad = last.weight @ (p[label] * (np.eye(len(p), dtype=np.float32)[label] - p))
    for weight, slope in zip(reversed(inputs), reversed(slopes)):
        grad = weight @ (grad * slope)
    inside = regions >= 0
    return np.bincount(regions[inside], (grad * delta)[inside], minlength=len(REGIONS))


def reading_ms(model: EmotionModel, repeat: int = 500) -> dict[bool, float]:
    """CPU ms of one ``Pipeline.read`` of the sample photo's face, explanations off and on (runs alternate)."""
    image = cv2.imread(str(SAMPLE_PHOTO), cv2.IMREAD_COLOR)
    with FaceMesh(Mode.IMAGE) as mesh:
        detection = mesh(image)
    pipelines = {
        on: Pipeline(mesh, model.predictor(), smoothing_frames=1, references=model.references, explain=on)
        for on in (False, True)
    }
    seconds = dict.fromkeys(pipelines, 0.0)
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(repeat):
            for on, pipeline in pipelines.items():
                started = time.thread_time()
                pipeline.read(image, detection)
                seconds[on] += time.thread_time() - started
    return {on: 1000 * total / repeat for on, total in seconds.items()}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("table", type=Path, help="a landmark table with appearance descriptors (extract_landmarks.py)")
    p.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    p.add_argument("--split", default="test", help="the table's split to explain (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="of the random regions")
    args = p.parse_args(argv)
    model = EmotionModel.load(args.model)
    if model.references is None:
        raise SystemExit(f"error: {args.model} has no population neutral to explain against")
    table = load_table(args.table)
    table = table.subset(np.flatnonzero(table.splits == args.split))
    features = table.features(model.feature_set)
    predictor = model.predictor()
    steps = predictor.steps
    if any(s.elementwise or s.activation not in DERIVATIVES for s in steps[:-1]) or steps[-1].elementwise:
        raise SystemExit("error: the gradient here takes dense layers with relu or linear activations only")
    explainer = explainer_of(predictor)
    regions, _ = feature_regions(predictor.feature_set)
    deltas = features - model.references.population
    labels = predictor.predict_proba(features).argmax(axis=1)
    random = np.random.default_rng(args.seed).integers(len(REGIONS), size=len(features))
    n = len(features)
    drops, top_gradient = np.empty((n, len(REGIONS))), np.empty(n, np.intp)
    seconds = {"classify": 0.0, "explain": 0.0, "gradient": 0.0}
    with threadpool_limits(limits=1, user_api="blas"):
        for i in range(n):
            started = time.thread_time()
            predictor.predict_proba(features[i])
            classified = time.thread_time()
            explanation = explainer.explain(features[i], deltas[i], labels[i], "population")
            explained = time.thread_time()
            top_gradient[i] = gradient_by_region(predictor, regions, features[i], deltas[i], labels[i]).argmax()
            seconds["classify"] += classified - started
            seconds["explain"] += explained - classified
            seconds["gradient"] += time.thread_time() - explained
            drops[i] = [explanation.regions[region] for region in REGIONS]
    rows = np.arange(n)
    random_drop = drops[rows, random].mean()
    ms = {name: 1000 * total / n for name, total in seconds.items()}
    print(f"{n} faces of {args.table.name} ({args.split}), {args.model}; neutral: the population neutral")
    print(f"classifier's forward pass: {ms['classify']:.3f} ms per face")
    reading = reading_ms(model)
    print(f"reading the sample photo's face (Pipeline.read): {reading[False]:.3f} ms, explained {reading[True]:.3f} ms")
    print(
        f"gradient x delta: top-region drop {drops[rows, top_gradient].mean():.4f}, ratio "
        f"{drops[rows, top_gradient].mean() / random_drop:.2f}, {ms['gradient']:.3f} ms per face"
    )
    tops = np.bincount(drops.argmax(axis=1), minlength=len(REGIONS))
    print("top region: " + ", ".join(f"{REGIONS[r]} {tops[r]}" for r in np.argsort(-tops) if tops[r]))
    top_drop = drops.max(axis=1).mean()
    print(
        f"deletion: top-region drop {top_drop:.4f}, random-region drop {random_drop:.4f}, "
        f"ratio {top_drop / random_drop:.2f}, {ms['explain']:.3f} ms per face"
    )


if __name__ == "__main__":
    sys.exit(run_command(main))
