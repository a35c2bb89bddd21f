"""Faces the model cannot read (upside down, turned far): fit the readability unit, and measure how often it fires.

  python benchmarks/unreadable.py --mux-table TABLE [--affectnet-table AFFECTNET.npz] \
         [--affectnet-test YOLO_format/test/images]
  python benchmarks/unreadable.py --mux-table TABLE --write scr/landmark_emotion/face/readability.npz

The unit (:mod:`landmark_emotion.face.readability`) is one logistic unit on the appearance
descriptor. It is fitted on muxspace/facial_expressions (Apache-2.0; ``TABLE`` as extracted in
docs/benchmarks.md, its ``paths`` pointing at the photos): upright faces (the table's
descriptors) against the photos of the same people turned 150, 180 and 210 degrees and read by
the face mesh, which fits an upright face onto them. A fifth of the people (by name) are kept out:
the threshold lets the unit fire on ``--rate`` of their upright faces (0, the default: on none). Then, with the unit:
its fire rate on the AffectNet test faces (upright; a table's ``test`` split, extracted with
appearance), on AffectNet test photos turned 0 to 180 degrees (faces found by the mesh / flagged),
and the sample photo upright and upside down. ``--write`` stores the unit (then set its SHA-256,
printed, as ``UNIT_SHA256``).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np

from landmark_emotion.cli.run import run_command
from landmark_emotion.data.table import load_table
from landmark_emotion.face.appearance import N_DESCRIPTOR, describe
from landmark_emotion.face.mesh import FaceMesh, Mode
from landmark_emotion.face.readability import Readability, load_readability
from landmark_emotion.resources import SAMPLE_PHOTO

TURNS = (150, 180, 210)


def turned(image: np.ndarray, angle: float) -> np.ndarray:
    """``image`` turned by ``angle`` degrees about its centre, on a canvas large enough to keep all of it."""
    if angle % 360 == 180:
        return cv2.rotate(image, cv2.ROTATE_180)
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    side = int(np.ceil(np.hypot(h, w)))
    m[:, 2] += (side - w) / 2, (side - h) / 2
    return cv2.warpAffine(image, m, (side, side), borderMode=cv2.BORDER_REPLICATE)


def descriptors_of(mesh: FaceMesh, images) -> np.ndarray:
    """The appearance descriptor of the largest face the mesh finds in each image (images without one: none)."""
    out = []
    for image in images:
        found = mesh(image)
        if len(found):
            largest = int(np.argmax(np.prod(found.boxes()[:, 2:], axis=1)))
            out.append(describe(image, found.landmarks[largest : largest + 1])[0])
    return np.asarray(out, np.float64).reshape(-1, N_DESCRIPTOR)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 400, lr: float = 0.5):
    """(weight, bias) on raw descriptors of a class-balanced, L2-regularised logistic unit (gradient descent)."""
    mean, scale = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / scale
    w, b = np.zeros(z.shape[1]), 0.0
    balance = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    for _ in range(steps):
        g = (1 / (1 + np.exp(-(z @ w + b))) - y) * balance
        w -= lr * (z.T @ g / len(y) + l2 * w)
        b -= lr * g.mean()
    return w / scale, float(b - (mean / scale) @ w)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mux-table", type=Path, required=True)
    p.add_argument("--affectnet-table", type=Path, help="AffectNet table with a 'test' split and descriptors")
    p.add_argument("--affectnet-test", type=Path, help="AffectNet test photos (YOLO_format/test/images)")
    p.add_argument("--photos", type=int, default=1500, help="muxspace photos turned for the unit's negatives")
    p.add_argument("--rate", type=float, default=0.0, help="fire rate allowed on upright kept-out faces (0: none)")
    p.add_argument("--write", type=Path, help="store the unit here")
    args = p.parse_args(argv)

    rng = np.random.default_rng(0)
    table = load_table(args.mux_table)
    people = np.array([zlib.crc32(g.encode()) % 5 for g in table.groups])  # a fifth of the people kept out
    upright = np.asarray(table.descriptors, np.float64)
    train = np.flatnonzero(people != 0)
    with FaceMesh(Mode.IMAGE, max_faces=1) as mesh:
        chosen = rng.choice(train, min(args.photos, len(train)), replace=False)
        images = (cv2.imread(str(table.paths[i])) for i in chosen)
        bad = descriptors_of(mesh, (turned(image, a) for image in images if image is not None for a in TURNS))
        print(f"unreadable examples: {len(bad)} faces found in {len(chosen) * len(TURNS)} turned muxspace photos")
        good = upright[train]
        weight, bias = fit_logistic(np.concatenate([good, bad]), np.r_[np.zeros(len(good)), np.ones(len(bad))])
        kept = upright[people == 0]
        threshold = float(np.quantile(kept @ weight + bias, 1 - args.rate))
        unit = Readability(weight, bias, threshold)
        print(f"threshold {threshold:.3f}: fires on {np.mean(unit.unreadable(kept)):.2%} of {len(kept)} kept-out faces")
        if args.write:
            content = unit.to_bytes()
            args.write.write_bytes(content)
            unit = load_readability(args.write, hashlib.sha256(content).hexdigest())
            print(f"wrote {args.write}, sha256 {hashlib.sha256(content).hexdigest()}")
        if args.affectnet_table:
            affectnet = load_table(args.affectnet_table)
            test = np.asarray(affectnet.descriptors, np.float64)[np.asarray(affectnet.splits) == "test"]
            print(f"AffectNet test, upright: fires on {np.mean(unit.unreadable(test)):.2%} of {len(test)} faces")
        if args.affectnet_test:
            paths = sorted(args.affectnet_test.glob("*.jpg"))
            paths = [paths[i] for i in rng.choice(len(paths), min(200, len(paths)), replace=False)]
            print("| turned | faces found | flagged |\n|---|---|---|")
            for angle in (0, 45, 90, 135, 150, 180):
                d = descriptors_of(mesh, (turned(cv2.imread(str(path)), angle) for path in paths))
                flagged = int(np.sum(unit.unreadable(d))) if len(d) else 0
                print(f"| {angle}° | {len(d)} of {len(paths)} | {flagged} ({flagged / max(len(d), 1):.0%}) |")
        photo = cv2.imread(str(SAMPLE_PHOTO))
        for name, image in (("upright", photo), ("upside down", turned(photo, 180))):
            score = unit.scores(descriptors_of(mesh, [image]))[0]
            print(f"sample photo {name}: score {score:+.2f} ({'flagged' if score > unit.threshold else 'not flagged'})")


if __name__ == "__main__":
    sys.exit(run_command(main))
