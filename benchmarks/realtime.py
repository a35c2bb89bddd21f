"""Real-time demo speed and smoothing, side by side with the earlier system's loop.

  python benchmarks/realtime.py [--video datasets/samples/astronaut.mp4] [--model DIR] [--repeats 5]
                                [--landmarker legacy|tasks]

Speed: frames per second over the whole video (decoding included; start-up excluded:
every graph is created and warmed on the video before the clock starts), each configuration
one pass per round, rounds interleaved so that the machine's load falls on all alike, for
  - the earlier system's loop: face mesh, sklearn StandardScaler.transform and Keras
    model.predict on every frame;
  - face mesh alone (tracking mode, one face): the floor under any loop;
  - the demo headless with --log (as `scr/main.py --no-display --log`, its reader built as the
    demo builds it), with the face search it uses and with one plain 4-face tracking graph;
  - the same reader called one frame at a time (no face mesh running ahead, no log);
  - the demo headless with --log and --output (drawing and video encoding).
Then the cost of each stage per frame, timed on its own over the faces of the video.

Smoothing: synthetic classifier output on a face that holds each expression for one
second (30 frames), with noise; counts label changes against expression changes and
the frames each change takes to settle.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack, closing
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

from landmark_emotion.apps.demo import frame_record, run
from landmark_emotion.apps.overlay import annotate
from landmark_emotion.cli.run import run_command
from landmark_emotion.face.features import image_vectors
from landmark_emotion.face.landmarker import LANDMARKERS, default_landmarker, graph_factory
from landmark_emotion.face.mesh import FaceMesh
from landmark_emotion.frames import SourceError, open_source
from landmark_emotion.model.bundle import BundleError, load_bundle
from landmark_emotion.model.discovery import find_default_model
from landmark_emotion.model.emotion_model import EmotionModel
from landmark_emotion.reading.options import ReadOptions
from landmark_emotion.reading.pipeline import Pipeline, pipeline_for
from landmark_emotion.reading.smoothing import WINDOW, ProbabilitySmoother, TrackSmoothers, ema_alpha
from landmark_emotion.reading.tracking import FaceTracker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' smoothing check
from smoothing_check import label_changes, noisy_sequence, settle_frames


def frame_rate(fn, video: Path) -> float:
    """Frames/s of ``fn(frame_image)`` over one pass of the video."""
    with open_source(video) as source:
        start, frames = time.perf_counter(), 0
        for frame in source:
            fn(frame.image)
            frames += 1
    return frames / (time.perf_counter() - start)


def demo_rate(video: Path, model: EmotionModel, mesh, **outputs) -> float:
    """Frames/s of the demo's own loop (``landmark_emotion.apps.demo.run``) with the pipeline it builds, one pass."""
    with open_source(video) as source:
        stats = run(source, pipeline_for(model, mesh, ReadOptions()), display=False, **outputs)
    return stats.frames / stats.seconds


def side_by_side(passes: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Each configuration's frames/s in ``repeats`` rounds of one pass of each, after a warm-up round.

    Interleaved, so that a change of load on the machine falls on every configuration alike.
    """
    rates: dict[str, list[float]] = {name: [] for name in passes}
    for round_ in range(repeats + 1):
        for name, one_pass in passes.items():
            fps = one_pass()
            if round_:
                rates[name].append(fps)
    return rates


def earlier_loop(bundle, mesh):
    """The earlier system's per-frame work: face mesh (``mesh``, a tracking graph), StandardScaler.transform,
    Keras model.predict."""
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler()
    scaler.mean_, scaler.scale_ = bundle.scaler_mean, bundle.scaler_scale
    scaler.var_, scaler.n_features_in_ = bundle.scaler_scale**2, len(bundle.scaler_mean)
    model = bundle.keras_model()

    def step(image: np.ndarray) -> None:
        faces = mesh(image)
        if len(faces):
            model.predict(scaler.transform(faces.landmarks.reshape(len(faces), -1)), verbose=0)

    return step


def per_stage_ms(video: Path, predictor, labels: list[str], search) -> dict[str, float]:
    """Milliseconds per frame of each stage, each timed alone over the video's faces (``search``: the demo's mesh)."""
    import cv2
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")  # as the demo's loop runs
    with open_source(video) as source:
        frames = [f.image for f in source]
    stages: dict[str, float] = {}

    def timed(name, fn, items):
        start = time.perf_counter()
        out = [fn(item) for item in items]
        stages[name] = (time.perf_counter() - start) / len(frames) * 1e3
        return out

    capture, start = cv2.VideoCapture(str(video)), time.perf_counter()
    while capture.read()[0]:
        pass
    stages["decode (OpenCV)"] = (time.perf_counter() - start) / len(frames) * 1e3
    [search(f) for f in frames[:30]]  # warm
    faces = timed("face mesh (face search, 4 faces max)", search, frames)
    features = timed(
        f"features ({predictor.feature_set})",
        lambda fi: image_vectors(predictor.feature_set, fi[0], fi[1].landmarks),
        zip(frames, faces),
    )
    probs = timed("predict_proba", predictor.predict_proba, features)
    tracker, smoothers = FaceTracker(), TrackSmoothers()
    timed("track + smooth", lambda fp: smoothers.update(tracker.update(fp[0].boxes()), fp[1]), zip(faces, probs))
    pipeline = Pipeline(lambda image: faces[0], predictor)
    readings = [pipeline(frames[0]) for _ in frames]
    timed("JSON log line", lambda r: json.dumps(frame_record(0, 0.0, r), ensure_ascii=False), readings)
    drawn = timed(
        "draw (box, emoji, label, fps)", lambda fr: annotate(fr[0], fr[1], 30.0), zip(frames, readings)
    )  # in place, as the loop does; the cost does not depend on what is below
    timed(
        "draw bars + mesh (keys e, m)",
        lambda fr: annotate(fr[0], fr[1], 30.0, show_mesh=True, show_bars=True),
        zip(frames, readings),
    )
    with tempfile.TemporaryDirectory() as tmp:
        writer = cv2.VideoWriter(
            str(Path(tmp) / "o.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (frames[0].shape[1], frames[0].shape[0])
        )
        timed("encode video (--output)", writer.write, drawn)
        writer.release()
    return stages


def smoothing_report(noise: float, runs: int = 100) -> str:
    """Label changes and settling of the default smoother (its defaults) on noisy sequences."""
    raw_ratio, smooth_ratio, settles, accuracy = [], [], [], []
    for seed in range(runs):
        truth, probs = noisy_sequence(np.random.default_rng(seed), noise=noise)
        smoother = ProbabilitySmoother(ema_alpha(WINDOW))
        labels = np.array([smoother.update(p)[1] for p in probs])
        accuracy.append(np.mean(probs.argmax(1) == truth))
        raw_ratio.append(label_changes(probs.argmax(1)) / label_changes(truth))
        smooth_ratio.append(label_changes(labels) / label_changes(truth))
        settles += settle_frames(truth, labels)
    settles = np.array(settles)
    return (
        f"noise {noise}: raw frame accuracy {np.mean(accuracy):.0%}; label changes per expression change: raw "
        f"{np.mean(raw_ratio):.2f}, smoothed {np.mean(smooth_ratio):.3f} (worst run {np.max(smooth_ratio):.2f}); "
        f"settling: median {np.median(settles):.0f} frames, 95th percentile {np.percentile(settles, 95):.0f}, "
        f"{np.mean(settles <= 10):.1%} of changes within 10 frames ({len(settles)} changes, {runs} runs)"
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--video", type=Path, default=ROOT / "datasets" / "samples" / "astronaut.mp4")
    p.add_argument("--model", type=Path, help="model bundle (default: as scr/main.py chooses)")
    p.add_argument(
        "--earlier-model",
        type=Path,
        default=ROOT / "models" / "facial_expressions",
        help="a landmarks-only bundle for the earlier loop, which fed raw landmarks to its network "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="timed passes per configuration; median and best are reported (the best is the least "
        "disturbed by other work on the machine)",
    )
    p.add_argument("--skip-earlier", action="store_true", help="do not time the (slow) earlier loop")
    p.add_argument("--landmarker", choices=LANDMARKERS, default=default_landmarker())
    args = p.parse_args(argv)
    try:
        bundle = EmotionModel.load(args.model or find_default_model())  # as scr/main.py loads it
        earlier_bundle = None if args.skip_earlier else load_bundle(args.earlier_model)
        open_source(args.video).close()
    except (BundleError, SourceError) as exc:
        sys.exit(f"error: {exc}")
    predictor = bundle.predictor()
    print(
        f"video {args.video} ; model {bundle.path} ({len(bundle.classes_)} labels, {bundle.feature_set}) ; "
        f"{args.landmarker} landmarker"
    )

    graph = graph_factory(args.landmarker)
    with ExitStack() as opened, tempfile.TemporaryDirectory() as tmp:
        log, out = Path(tmp) / "log.jsonl", Path(tmp) / "out.mp4"
        bare, plain = opened.enter_context(closing(graph(True, 1))), opened.enter_context(closing(graph(True, 4)))
        search = opened.enter_context(FaceMesh("video", 4, landmarker=args.landmarker))
        passes = (
            {}
            if args.skip_earlier
            else {
                "earlier loop: mesh + StandardScaler + keras predict": partial(
                    frame_rate, earlier_loop(earlier_bundle, opened.enter_context(closing(graph(True, 1)))), args.video
                )
            }
        )
        passes.update(
            {
                "face mesh alone (tracking, 1 face) + decode": partial(frame_rate, bare, args.video),
                "demo headless --log (face search, --max-faces 4)": partial(
                    demo_rate, args.video, bundle, search, log=log
                ),
                "  the same reader, one frame at a time, no log": partial(
                    frame_rate, pipeline_for(bundle, search, ReadOptions()), args.video
                ),
                "demo headless --log, one plain 4-face tracking graph": partial(
                    demo_rate, args.video, bundle, plain, log=log
                ),
                "demo headless --log --output (draw + encode)": partial(
                    demo_rate, args.video, bundle, search, log=log, output=out
                ),
            }
        )
        rows = list(side_by_side(passes, args.repeats).items())
    base = statistics.median(rows[0][1]) if not args.skip_earlier else None
    print(f"\n{'configuration':56s} {'median':>7s} {'best':>7s} frames/s  {'vs earlier (median)':>10s}")
    for name, rates in rows:
        fps = statistics.median(rates)
        print(f"{name:56s} {fps:7.1f} {max(rates):7.1f}           {f'{fps / base:.1f}x' if base else ''}")

    print("\nper frame, each stage alone (ms):")
    with FaceMesh("video", 4, landmarker=args.landmarker) as search:
        stages = per_stage_ms(args.video, predictor, bundle.classes_, search)
    for name, ms in stages.items():
        print(f"  {name:44s} {ms:6.3f}")

    print("\nsmoothing (each expression held 30 frames; targets: changes <= 1.10x, settled within 10 frames):")
    for noise in (0.8, 1.0):
        print("  " + smoothing_report(noise))


if __name__ == "__main__":
    sys.exit(run_command(main))
