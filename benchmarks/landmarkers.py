"""The legacy Face Mesh and the Tasks face landmarker side by side: same landmarks? same model accuracy? speed?

  python benchmarks/landmarkers.py compat --data-dir /work/data/YOLO_format [--split test] [--n 600] [--model DIR]
  python benchmarks/landmarkers.py speed [--video datasets/samples/astronaut.mp4] [--repeats 3]

compat: both landmarkers read the same labelled photos (one split of a YOLO-format set,
e.g. AffectNet's) through the extraction pipeline (``--workers`` processes, tiny crops
enlarged, appearance descriptors computed). On the photos where both find the face:
the per-point distance between their first 468 landmarks after ``normalize`` (faces
have RMS radius 1 there), against the distance between two different photos read by
one landmarker; then the model's accuracy on the landmarks of each, and how often the
two agree. Both tables are kept in ``--out-dir`` for ``scr/evaluate.py``.

speed: frames/s in one process, decoding included, start-up excluded, the configurations
taking turns round by round (see ``benchmarks/realtime.py``): the earlier per-frame loop, the bare landmarker loops of
both landmarkers in each configuration (running mode, number of faces, blendshapes), and
the headless demo (``--log``, face search for up to 4 faces) on each landmarker. Needs
mediapipe 0.10.x for the legacy rows (it also carries the Tasks API); on mediapipe >= 1
only the Tasks rows run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack, closing
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

from landmark_emotion.cli.run import run_command
from landmark_emotion.data.extraction import extract_table
from landmark_emotion.data.sources import from_yolo
from landmark_emotion.data.table import LandmarkTable, save_table
from landmark_emotion.face.features import normalize
from landmark_emotion.face.landmarker import default_landmarker, graph_factory, mediapipe_version
from landmark_emotion.face.mesh import FaceMesh
from landmark_emotion.model.bundle import load_bundle
from landmark_emotion.model.discovery import find_default_model
from landmark_emotion.model.emotion_model import EmotionModel
from landmark_emotion.model.evaluation import evaluate_labels
from realtime import demo_rate, earlier_loop, frame_rate, side_by_side

LEGACY = mediapipe_version().startswith("0.")


def aligned(table: LandmarkTable) -> np.ndarray:
    return normalize(table.landmarks, table.width, table.height).reshape(len(table), 468, 3)


def compat(args: argparse.Namespace) -> None:
    items = [item for item in from_yolo(args.data_dir) if item.split == args.split][: args.n]
    print(f"{len(items)} photos of {args.data_dir} ({args.split}) ; mediapipe {mediapipe_version()}")
    tables = {}
    for name in ("legacy", "tasks"):
        table, report = extract_table(
            items, workers=args.workers, progress=False, landmarker=name, meta={"source": str(args.data_dir)}
        )
        print(f"  {name:6s}: {report.summary()}")
        args.out_dir.mkdir(parents=True, exist_ok=True)
        save_table(table, args.out_dir / f"{args.split}_{name}.npz")
        tables[name] = table
    legacy, tasks = tables["legacy"], tables["tasks"]
    both = sorted(set(legacy.paths.tolist()) & set(tasks.paths.tolist()))
    print(f"faces found: legacy {len(legacy)}, tasks {len(tasks)}, both {len(both)} of {len(items)}")
    pick = {
        name: np.array([{p: i for i, p in enumerate(t.paths.tolist())}[p] for p in both]) for name, t in tables.items()
    }
    read = {name: tables[name].subset(pick[name]) for name in tables}
    a, b = aligned(read["legacy"]), aligned(read["tasks"])
    per_point = np.linalg.norm(a - b, axis=2)  # (n, 468)
    rms = np.sqrt((per_point**2).mean(axis=1))
    other = np.sqrt((np.linalg.norm(a - np.roll(a, 1, axis=0), axis=2) ** 2).mean(axis=1))
    print(
        f"RMS per-point distance after normalize, same photo, legacy vs tasks: median {np.median(rms):.4f}, "
        f"95th percentile {np.percentile(rms, 95):.4f}"
    )
    print(f"  for scale: two different photos, legacy vs legacy: median {np.median(other):.4f}")
    worst = np.argsort(-per_point.mean(axis=0))[:5]
    print(
        "  points that differ most (mean distance): " + ", ".join(f"{i} ({per_point[:, i].mean():.3f})" for i in worst)
    )

    bundle = load_bundle(args.model or find_default_model())
    predictor = bundle.predictor()
    truth = read["legacy"].labels
    predicted = {name: predictor.predict(t.features(predictor.feature_set)) for name, t in read.items()}
    print(
        f"model {bundle.path} ({predictor.feature_set}; {', '.join(bundle.labels)}) on the {len(both)} "
        "photos both read:"
    )
    for name, labels in predicted.items():
        m = evaluate_labels(truth, labels, bundle.labels)
        print(f"  {name:6s} landmarks: accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}")
    agree = np.mean(np.asarray(predicted["legacy"]) == np.asarray(predicted["tasks"]))
    print(f"  same label from both landmarkers: {agree:.1%}")


def speed(args: argparse.Namespace) -> None:
    bundle = EmotionModel.load(args.model or find_default_model())
    print(f"video {args.video} ; mediapipe {mediapipe_version()} ; model {bundle.path}")
    with ExitStack() as opened, tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "log.jsonl"

        def graph(landmarker: str, tracking: bool, faces: int, blendshapes: bool = False):
            return opened.enter_context(closing(graph_factory(landmarker, blendshapes=blendshapes)(tracking, faces)))

        def demo(**mesh_options) -> Callable[[], float]:
            return partial(
                demo_rate, args.video, bundle, opened.enter_context(FaceMesh("video", 4, **mesh_options)), log=log
            )

        passes: dict[str, Callable[[], float]] = {}
        if LEGACY:
            passes["earlier loop (legacy mesh + StandardScaler + keras predict)"] = partial(
                frame_rate,
                earlier_loop(load_bundle(ROOT / "models" / "facial_expressions"), graph("legacy", True, 1)),
                args.video,
            )  # a landmarks-only bundle: the earlier loop fed raw landmarks to its network
            passes["bare legacy: tracking, 1 face"] = partial(frame_rate, graph("legacy", True, 1), args.video)
            passes["bare legacy: tracking, 4 faces (detects every frame)"] = partial(
                frame_rate, graph("legacy", True, 4), args.video
            )
        for name, config in {
            "VIDEO, 1 face": (True, 1),
            "VIDEO, 1 face, blendshapes": (True, 1, True),
            "VIDEO, 4 faces (detects every frame)": (True, 4),
            "IMAGE, 1 face (detects every frame)": (False, 1),
        }.items():
            passes[f"bare tasks: {name}"] = partial(frame_rate, graph("tasks", *config), args.video)
        for name in ("legacy", "tasks") if LEGACY else ("tasks",):
            passes[f"demo headless --log, {name} (face search, max 4 faces)"] = demo(landmarker=name)
        passes["demo headless --log --blendshapes (tasks)"] = demo(blendshapes=True)
        rows = list(side_by_side(passes, args.repeats).items())
    medians = {name: statistics.median(r) for name, r in rows}
    earlier = next((v for k, v in medians.items() if k.startswith("earlier")), None)
    legacy = medians.get("bare legacy: tracking, 1 face")
    print(f"\n{'configuration':60s} {'median':>7s} {'best':>7s}  vs earlier  vs bare legacy")
    for name, r in rows:
        fps = medians[name]
        print(
            f"{name:60s} {fps:7.1f} {max(r):7.1f}  "
            f"{f'{fps / earlier:9.1f}x' if earlier else '':>10s}  {f'{fps / legacy:12.2f}x' if legacy else ''}"
        )
    print(f"\ndefault landmarker here: {default_landmarker()}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    c = sub.add_parser("compat", help="landmarks and model accuracy of both landmarkers on the same photos")
    c.add_argument("--data-dir", type=Path, required=True, help="a YOLO-format set (data.yaml, split folders)")
    c.add_argument("--split", default="test", help="which of its splits (default: %(default)s)")
    c.add_argument("--n", type=int, help="first N images (default: all)")
    c.add_argument("--workers", type=int, default=2)
    c.add_argument("--out-dir", type=Path, default=ROOT / "datasets" / "landmarkers")
    c.add_argument("--model", type=Path, help="model bundle (default: as scr/main.py chooses)")
    s = sub.add_parser("speed", help="frames/s of each landmarker configuration and of the demo")
    s.add_argument("--video", type=Path, default=ROOT / "datasets" / "samples" / "astronaut.mp4")
    s.add_argument("--repeats", type=int, default=3)
    s.add_argument("--model", type=Path, help="model bundle (default: as scr/main.py chooses)")
    args = p.parse_args(argv)
    if args.what == "compat" and not LEGACY:
        sys.exit("error: compat needs mediapipe 0.10.x, which has both landmarkers")
    compat(args) if args.what == "compat" else speed(args)


if __name__ == "__main__":
    sys.exit(run_command(main))
