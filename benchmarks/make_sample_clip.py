"""Make the demo's sample clip, datasets/samples/astronaut.mp4, from datasets/samples/astronaut.jpg.

  python benchmarks/make_sample_clip.py [--out datasets/samples/astronaut.mp4] [--seconds 5]

The photo is NASA's (public domain), so the clip can ship with the repository and the
demo has a real face to show on a machine without a camera. The face pans, zooms and
tilts a little, as a face in front of a webcam would, so face tracking, smoothing and
the overlay are exercised on moving input. Deterministic: the same command writes the
same frames.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import cv2
import numpy as np

from landmark_emotion.cli.run import run_command

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / "datasets" / "samples" / "astronaut.jpg"
SIZE = (640, 480)
FPS = 30.0
FACE_CENTRE = (250.0, 130.0)  # roughly the middle of the astronaut's face in the 512x512 photo


def camera_path(t: float, seconds: float) -> tuple[float, float, float, float]:
    """Face position (x, y in the frame), zoom and tilt (degrees) at time t: smooth, looping motion."""
    phase = 2 * math.pi * t / seconds
    x = SIZE[0] / 2 + 110 * math.sin(phase)
    y = SIZE[1] / 2 - 20 + 35 * math.sin(2 * phase)
    zoom = 1.25 + 0.35 * math.sin(phase + math.pi / 3)
    tilt = 9.0 * math.sin(3 * phase)
    return x, y, zoom, tilt


def frame_at(photo: np.ndarray, t: float, seconds: float) -> np.ndarray:
    x, y, zoom, tilt = camera_path(t, seconds)
    matrix = cv2.getRotationMatrix2D(FACE_CENTRE, tilt, zoom)
    matrix[:, 2] += (x - FACE_CENTRE[0], y - FACE_CENTRE[1])
    return cv2.warpAffine(
        photo, matrix, SIZE, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(60, 50, 40)
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=ROOT / "datasets" / "samples" / "astronaut.mp4")
    p.add_argument("--seconds", type=float, default=5.0)
    args = p.parse_args(argv)
    photo = cv2.imread(str(PHOTO), cv2.IMREAD_COLOR)
    if photo is None:
        sys.exit(f"error: cannot read {PHOTO}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(args.out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    if not writer.isOpened():
        sys.exit(f"error: cannot write {args.out}")
    n = round(args.seconds * FPS)
    for i in range(n):
        writer.write(frame_at(photo, i / FPS, args.seconds))
    writer.release()
    print(f"wrote {args.out}: {n} frames, {SIZE[0]}x{SIZE[1]} at {FPS:.0f} fps, {args.out.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    sys.exit(run_command(main))
