"""Record your own expressions as face-mesh landmarks (never images), one new session file per label.

Examples:
  python scr/record_dataset.py --label happy                       # camera 0, preview: SPACE captures, q stops
  python scr/record_dataset.py --labels happy,sad,surprise --every 5   # neutral first, then each label in turn
  python scr/record_dataset.py --label sad --source me_sad.mp4     # every frame with one face, up to --samples
  python scr/record_dataset.py --label happy --source photos/happy/ --samples 40

Without a display (no DISPLAY/WAYLAND_DISPLAY), or from a video file or folder, every
--every-th frame with exactly one face is recorded until --samples. Ctrl-C stops and
saves what was captured. Files are named <start time>_<label>.npz and never overwritten.
With --labels the walk starts with neutral (added if not listed): your neutral face is the
reference the fine-tuned model and the demo calibrate your expressions against.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from landmark_emotion.cli.startup import quiet_startup

if __name__ == "__main__":
    quiet_startup()  # first: a stop signal while the imports below load ends with one line

from landmark_emotion.apps.recording import RecordingError, has_display, neutral_first, record
from landmark_emotion.cli.arguments import (
    add_landmarker_options,
    add_progress_option,
    command_parser,
    positive_int,
    quiet_native_logs,
)
from landmark_emotion.cli.run import fail, run_command
from landmark_emotion.face.features import FEATURE_SETS, HYBRID, LANDMARKS
from landmark_emotion.face.landmarker import LandmarkerError
from landmark_emotion.frames import SourceError, open_source
from landmark_emotion.labels import UnknownLabelError, canonical_labels
from landmark_emotion.outputs import OutputError, check_writable
from landmark_emotion.resources import workspace
from landmark_emotion.signals import interrupted_code

DEFAULT_OUT = workspace() / "personal_data"
CAMERA_SAMPLES = 50


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = command_parser(__doc__)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--label", help="the expression you will make, e.g. happy")
    which.add_argument(
        "--labels",
        help="with a camera and a display: several, in turn, neutral first (added if missing), e.g. happy,sad,surprise",
    )
    p.add_argument("--source", default="0", help="camera index, video file or image folder (default: %(default)s)")
    p.add_argument("--out-dir", type=Path, default=DEFAULT_OUT, help="session folder (default: %(default)s)")
    p.add_argument(
        "--samples",
        type=positive_int,
        help=f"faces to record per label (default: {CAMERA_SAMPLES} from a camera, "
        "every usable frame of a file or folder)",
    )
    p.add_argument(
        "--every",
        type=positive_int,
        help="keep every K-th frame; in the preview, capture automatically every K frames "
        "(default: every frame headless, SPACE only in the preview)",
    )
    p.add_argument("--no-preview", action="store_true", help="record headless even with a camera and a display")
    p.add_argument(
        "--features",
        choices=list(FEATURE_SETS),
        default=HYBRID,
        help="what to store per face: landmarks and the appearance descriptor of the aligned face "
        "(default; what hybrid models fine-tune on), or landmarks only",
    )
    add_progress_option(p)
    add_landmarker_options(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_native_logs(args.verbose)
    try:
        labels = canonical_labels((args.labels or args.label).split(","))
        if args.labels:
            labels = neutral_first(labels)
            print(f"labels in turn: {', '.join(labels)}")
        check_writable(args.out_dir, into=True)  # before recording, not after: never capture what cannot be kept
        with open_source(args.source) as source:
            preview = source.live and has_display() and not args.no_preview
            samples = args.samples or (CAMERA_SAMPLES if source.live else None)
            name = f"camera:{args.source}" if source.live else str(Path(args.source).resolve())
            results = record(
                source,
                name,
                labels,
                args.out_dir,
                samples,
                args.every,
                preview,
                progress=not args.no_progress,
                appearance=args.features != LANDMARKS,
                landmarker=args.landmarker,
            )
    except (SourceError, RecordingError, UnknownLabelError, OutputError, LandmarkerError, OSError) as exc:
        return fail(exc)
    interrupted = False
    for session, path in results:
        interrupted |= session.interrupted
        print(f"{session.summary()} -> {path or 'nothing written'}")
    if not any(path for _, path in results):
        print("error: no frame with exactly one face was captured; nothing written", file=sys.stderr)
        return interrupted_code() if interrupted else 1
    return interrupted_code() if interrupted else 0


if __name__ == "__main__":
    sys.exit(run_command(main))
