"""Small faces in large photos: which face widths the photo path finds, with and without its tiles.

  python benchmarks/small_faces.py [--photos DIR] [--n 20] [--landmarker legacy|tasks]

Each photo (the sample photo, and up to ``--n`` photos of ``DIR``, one face each) is shrunk so
that its face is W px wide and pasted at ``--places`` seeded places of a grey 1000x750 canvas;
the face mesh in ``image`` mode (what ``Reader.read`` and folders use) reads it with its tiles
(:mod:`landmark_emotion.face.tiles`) and without (``small_faces=False``: the face mesh alone).
A face counts as found when a face is found whose centre is within half a face of where it was
pasted; "false" counts the other faces found. Times are the medians per photo.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from landmark_emotion.cli.run import run_command
from landmark_emotion.face.mesh import FaceMesh, Mode
from landmark_emotion.frames import list_images
from landmark_emotion.resources import SAMPLE_PHOTO

CANVAS = (750, 1000)
WIDTHS = (25, 30, 35, 40, 50, 60, 80, 100, 120, 160)


def placed(photo: np.ndarray, box: np.ndarray, width: int, rng: np.random.Generator):
    """(canvas, centre of the pasted face) with the face of ``photo`` (``box``) ``width`` px wide."""
    scale = width / box[2]
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)[: CANVAS[0], : CANVAS[1]]
    h, w = small.shape[:2]
    y, x = int(rng.integers(0, CANVAS[0] - h + 1)), int(rng.integers(0, CANVAS[1] - w + 1))
    canvas = np.full((*CANVAS, 3), 127, np.uint8)
    canvas[y : y + h, x : x + w] = small
    return canvas, np.array([x + (box[0] + box[2] / 2) * scale, y + (box[1] + box[3] / 2) * scale])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photos", type=Path, help="a folder of photos of one face each")
    p.add_argument("--n", type=int, default=20, help="photos taken from --photos")
    p.add_argument("--places", type=int, default=3, help="places per photo and width")
    p.add_argument("--landmarker", choices=("legacy", "tasks"))
    args = p.parse_args(argv)

    rng = np.random.default_rng(0)
    paths = [SAMPLE_PHOTO]
    if args.photos:
        found = list_images(args.photos)
        paths += [found[i] for i in rng.choice(len(found), min(args.n, len(found)), replace=False)]
    with (
        FaceMesh(Mode.IMAGE, 4, landmarker=args.landmarker) as tiled,
        FaceMesh(Mode.IMAGE, 4, landmarker=args.landmarker, small_faces=False) as whole,
    ):
        photos = []
        for path in paths:
            image = cv2.imread(str(path))
            boxes = whole(image).boxes() if image is not None else []
            if len(boxes) == 1:
                photos.append((image, boxes[0]))
        print(f"landmarker {tiled.landmarker}; {len(photos)} photos of one face, {args.places} places each\n")
        print("| face width (px) | found, face mesh alone | found, with tiles | false faces, with tiles | ms a photo |")
        print("|---|---|---|---|---|")
        for width in WIDTHS:
            hits = {"whole": 0, "tiled": 0}
            false, times, total = 0, [], 0
            for image, box in photos:
                for _ in range(args.places):
                    canvas, centre = placed(image, box, width, rng)
                    total += 1
                    for name, mesh in (("whole", whole), ("tiled", tiled)):
                        start = time.perf_counter()
                        boxes = mesh(canvas).boxes()
                        if name == "tiled":
                            times.append(time.perf_counter() - start)
                        centres = boxes[:, :2] + boxes[:, 2:] / 2
                        near = np.linalg.norm(centres - centre, axis=1) < width / 2 if len(boxes) else np.zeros(0, bool)
                        hits[name] += int(near.any())
                        false += int((~near).sum()) if name == "tiled" else 0
            print(
                f"| {width} | {hits['whole'] / total:.0%} | {hits['tiled'] / total:.0%} | {false} | "
                f"{1000 * float(np.median(times)):.0f} |"
            )


if __name__ == "__main__":
    sys.exit(run_command(main))
