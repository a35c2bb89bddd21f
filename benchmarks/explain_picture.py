"""The README's picture of an explanation: the sample photo as the demo draws it explained, and its regions' shares.

  python benchmarks/explain_picture.py docs/explain.png [--model models/default]

The photo is read twice its size (the face's mesh then has room for its colours), drawn
as the demo's ``x`` key draws it, cropped around the face, and set beside a bar per region:
how much lower the label's probability is with that region at the neutral reference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

import landmark_emotion
from landmark_emotion.apps.overlay import FONT, annotate, region_colour
from landmark_emotion.cli.run import run_command
from landmark_emotion.face.regions import REGIONS

ROOT = Path(__file__).resolve().parent.parent
ROW, BAR, NAME = 26, 220, 150
HEIGHT = 44 + len(REGIONS) * ROW + 8


def bars(explanation) -> np.ndarray:
    """A panel with one bar per region, largest first, coloured as the mesh colours that region."""
    panel = np.full((HEIGHT, NAME + BAR + 80, 3), 32, np.uint8)
    scale = max(0.05, *map(abs, explanation.regions.values()))
    title = f"why {explanation.label}: drop with the region at neutral"
    cv2.putText(panel, title, (10, 26), FONT, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    for row, (region, effect) in enumerate(explanation.regions.items()):
        top = 44 + row * ROW
        cv2.putText(panel, region, (10, top + 17), FONT, 0.5, (230, 230, 230), 1, cv2.LINE_AA)
        length = int(BAR * min(abs(effect), 1.0))
        cv2.rectangle(panel, (NAME, top + 4), (NAME + max(length, 1), top + 20), region_colour(effect, scale), -1)
        cv2.putText(panel, f"{effect:+.0%}", (NAME + BAR + 8, top + 17), FONT, 0.5, (230, 230, 230), 1, cv2.LINE_AA)
    return panel


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path, help="the PNG to write")
    p.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    args = p.parse_args(argv)
    photo = cv2.imread(str(landmark_emotion.sample_image()), cv2.IMREAD_COLOR)
    photo = cv2.resize(photo, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    with landmark_emotion.Reader(args.model, explain=True) as reader:
        [face] = reader.read(photo)
    annotate(photo, [face], fps=0.0)
    x, y, w, h = face.box
    top = max(y - 90, 0)
    picture = np.hstack([photo[top : top + HEIGHT, max(x - 40, 0) : x + w + 250], bars(face.explain())])
    if not cv2.imwrite(str(args.out), picture, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise SystemExit(f"error: cannot write {args.out}")
    print(f"wrote {args.out}: {face.label}, top region {face.explain().top}, words: {', '.join(face.explain().words)}")


if __name__ == "__main__":
    sys.exit(run_command(main))
