"""Small faces in large photos and videos: which face widths are found, with and without the small-face search.

  python benchmarks/small_faces.py [--photos DIR] [--n 20] [--landmarker legacy|tasks] [--video]

Each photo (the sample photo, and up to ``--n`` photos of ``DIR``, one face each) is shrunk so
that its face is W px wide and pasted at ``--places`` seeded places of a grey 1000x750 canvas;
the face mesh in ``image`` mode (what ``Reader.read`` and folders use) reads it with its tiles
(:mod:`landmark_emotion.face.tiles`) and without (``small_faces=False``: the face mesh alone).
A face counts as found when a face is found whose centre is within half a face of where it was
pasted; "false" counts the other faces found. Times are the medians per photo.

``--video``: the same faces in clips as a camera would give them: each photo's face W px wide in 1280x720
frames (an HD webcam), drifting a pixel a frame across and half a pixel down, with sensor noise, for
``--frames`` frames; read by the face mesh in ``video`` mode (what the demo, the web page and ``Reader.stream``
use) with its small-face search (:mod:`landmark_emotion.face.crops`) and without. Found: the share of frames,
after the first second, in which the face is found; first: the median frame at which it is first found; ms a
frame: the mean over the clip. Last, the cost where no face is small: the sample clip read both ways, in turns.
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
from landmark_emotion.frames import list_images, open_source
from landmark_emotion.resources import SAMPLE_CLIP, SAMPLE_PHOTO

CANVAS = (750, 1000)
FRAME = (720, 1280)
NOISE = np.random.default_rng(1).normal(0, 2, (8, *FRAME, 3)).astype(np.int16)
"""Sensor noise, one of these a frame in turn (drawing it anew for every frame took longer than reading it)."""
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
    p.add_argument("--video", action="store_true", help="clips read in video mode, instead of photos")
    p.add_argument("--frames", type=int, default=90, help="frames per clip (--video)")
    p.add_argument("--widths", type=int, nargs="+", default=WIDTHS, help="face widths, px")
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
        if args.video:
            return run_video(args, photos, rng)
        print(f"landmarker {tiled.landmarker}; {len(photos)} photos of one face, {args.places} places each\n")
        print("| face width (px) | found, face mesh alone | found, with tiles | false faces, with tiles | ms a photo |")
        print("|---|---|---|---|---|")
        for width in args.widths:
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


def clip(photo: np.ndarray, box: np.ndarray, width: int, frames: int, rng: np.random.Generator):
    """(frames, the face's centre in each) of ``photo`` with its face (``box``) ``width`` px wide, drifting."""
    scale = width / box[2]
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)[: FRAME[0] // 2, : FRAME[1] // 2]
    h, w = small.shape[:2]
    x0, y0 = int(rng.integers(0, FRAME[1] - w - frames)), int(rng.integers(0, FRAME[0] - h - frames // 2))
    out, centres = [], []
    for t in range(frames):
        frame = np.full((*FRAME, 3), 127, np.uint8)
        x, y = x0 + t, y0 + t // 2
        frame[y : y + h, x : x + w] = small
        out.append(np.clip(frame + NOISE[t % len(NOISE)], 0, 255).astype(np.uint8))
        centres.append([x + (box[0] + box[2] / 2) * scale, y + (box[1] + box[3] / 2) * scale])
    return out, np.array(centres)


def read_clip(frames: list[np.ndarray], landmarker: str | None, small_faces: bool) -> tuple[list[np.ndarray], float]:
    """Each frame's face boxes, and the seconds per frame, read by a new video-mode face mesh."""
    with FaceMesh(Mode.VIDEO, 4, landmarker=landmarker, small_faces=small_faces) as mesh:
        start = time.perf_counter()
        boxes = [mesh(frame).boxes() for frame in frames]
        return boxes, (time.perf_counter() - start) / len(frames)


def run_video(args: argparse.Namespace, photos: list, rng: np.random.Generator) -> None:
    print(f"{len(photos)} photos of one face, {args.places} places each, clips of {args.frames} frames, 1280x720\n")
    print("| face width (px) | found, face mesh alone | found, with crops | first found (frame) | false | ms a frame |")
    print("|---|---|---|---|---|---|")
    for width in args.widths:
        found = {True: [], False: []}
        first, false, times = [], 0, []
        for image, box in photos:
            for _ in range(args.places):
                frames, centres = clip(image, box, width, args.frames, rng)
                for small_faces in (False, True):
                    boxes, seconds = read_clip(frames, args.landmarker, small_faces)
                    hits = []
                    for frame_boxes, centre in zip(boxes, centres):
                        mid = frame_boxes[:, :2] + frame_boxes[:, 2:] / 2
                        near = np.linalg.norm(mid - centre, axis=1) < width / 2
                        hits.append(bool(near.any()))
                        false += int((~near).sum()) if small_faces else 0
                    found[small_faces].append(np.mean(hits[30:]))
                    if small_faces:
                        times.append(seconds)
                        first.append(hits.index(True) if any(hits) else args.frames)
        print(
            f"| {width} | {np.mean(found[False]):.0%} | {np.mean(found[True]):.0%} | {np.median(first):.0f} | "
            f"{false} | {1000 * np.mean(times):.1f} |"
        )
    with open_source(SAMPLE_CLIP) as source:
        sample = [frame.image for frame in source]
    costs: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(5):
        for small_faces in (False, True):
            costs[small_faces].append(read_clip(sample * 2, args.landmarker, small_faces)[1])
    with_, without = np.median(costs[True]), np.median(costs[False])
    print(
        f"\nthe sample clip (one face, 16-23% of the frame), 5 runs in turns: {1000 * with_:.2f} ms a frame with the "
        f"small-face search, {1000 * without:.2f} without (ratio {with_ / without:.2f})"
    )


if __name__ == "__main__":
    sys.exit(run_command(main))
