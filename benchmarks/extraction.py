"""Extraction throughput: images per second through face mesh, by number of workers, startup excluded.

  python benchmarks/extraction.py --images-dir DIR [--n 2000] [--workers 1 2] [--landmarker tasks]
                                  [--chunk-size 256 32]

Workers are started (and have imported MediaPipe) before the clock starts (a warm-up
batch), so the figure is the steady-state rate of a long extraction. Each chunk of
images opens and closes its own face mesh, inside the clock: comparing the largest chunk
sizes allowed shows what that costs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from landmark_emotion.cli.run import run_command
from landmark_emotion.data.extraction import extract_table
from landmark_emotion.data.sources import LabeledImage
from landmark_emotion.face.landmarker import LANDMARKERS, default_landmarker
from landmark_emotion.frames import list_images


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images-dir", type=Path, required=True, help="folder of face photos (searched recursively)")
    p.add_argument("--n", type=int, default=2000, help="images to time per run")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--landmarker", choices=LANDMARKERS, default=default_landmarker())
    p.add_argument("--chunk-size", type=int, nargs="+", default=[256], help="most images per face mesh")
    args = p.parse_args(argv)
    paths = list_images(args.images_dir)
    if len(paths) < args.n + 64:
        sys.exit(f"error: need at least {args.n + 64} images in {args.images_dir}, found {len(paths)}")
    items = [LabeledImage(str(path), "neutral") for path in paths]
    warmup, timed = items[:64], items[64 : 64 + args.n]
    rates = {}
    for chunk in args.chunk_size:
        for workers in args.workers:
            extract_table(warmup, workers=workers, progress=False, landmarker=args.landmarker)  # start workers
            _, report = extract_table(
                timed, workers=workers, chunk_size=chunk, progress=False, landmarker=args.landmarker
            )
            rates[chunk, workers] = report.images / report.seconds
            print(
                f"{args.landmarker}, at most {chunk} images per face mesh, {workers} worker(s): {report.summary()}; "
                f"face found in {report.faces / report.images:.1%}"
            )
        if 1 in args.workers:
            for workers in args.workers:
                print(f"speed-up with {workers} worker(s): {rates[chunk, workers] / rates[chunk, 1]:.2f}x")


if __name__ == "__main__":
    sys.exit(run_command(main))
