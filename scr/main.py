"""Live emotion demo: every face's emotion, confidence and emoji on a camera, video or image folder.

Examples:
  python scr/main.py                                   # camera 0; with no camera: the bundled sample clip, headless
  python scr/main.py --source clip.mp4 --no-display --output out.mp4 --log out.jsonl
  python scr/main.py --source photos/ --model models/personal_anna

Keys in the window: q quit, e probability bars, m face mesh, x why (each region of the face coloured by how
much it moved the reading, and what moved, in words), s copy the emoji to the clipboard, n "this is my neutral
face" (about a second of the largest face becomes its reference: calibration).
Without a display (no DISPLAY/WAYLAND_DISPLAY) or with --no-display it runs headless and writes
--output (annotated video) and --log (one JSON line per frame). Ctrl-C stops; what was written is kept.
"""

from __future__ import annotations

from landmark_emotion.cli.startup import quiet_startup

if __name__ == "__main__":
    quiet_startup()  # first: a stop signal while the imports below load ends with one line

import argparse
import sys
from pathlib import Path

from landmark_emotion.apps.demo import FALLBACK_LOG, FALLBACK_OUTPUT, SAMPLE_CLIP, DemoError, open_demo_source, run
from landmark_emotion.apps.recording import has_display
from landmark_emotion.cli.arguments import (
    add_landmarker_options,
    add_read_options,
    command_parser,
    quiet_native_logs,
    read_options,
)
from landmark_emotion.cli.run import fail, run_command
from landmark_emotion.face.landmarker import LandmarkerError
from landmark_emotion.face.mesh import FaceMesh, Mode, mode_for
from landmark_emotion.frames import SourceError
from landmark_emotion.model.bundle import BundleError
from landmark_emotion.model.discovery import find_default_model
from landmark_emotion.model.emotion_model import EmotionModel
from landmark_emotion.model.explanation import ExplanationError
from landmark_emotion.outputs import OutputError, check_outputs, check_writable, existing_inputs
from landmark_emotion.reading.pipeline import pipeline_for
from landmark_emotion.resources import shown
from landmark_emotion.signals import interrupted_code

WHAT_NEXT = (
    "next: landmark-emotion-web shows the same in your browser, on your camera, a photo or a video; "
    "landmark-emotion-record records your own expressions and landmark-emotion-fine-tune fits the model "
    "to your face in seconds (README: The five jobs)"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = command_parser(__doc__)
    p.add_argument(
        "--source",
        help="camera index, video file or image folder (default: camera 0, "
        f"or the sample clip {SAMPLE_CLIP.name} when there is no camera)",
    )
    p.add_argument(
        "--model",
        type=Path,
        help="model bundle folder (default: the newest personal bundle in models/, else models/default; see README)",
    )
    p.add_argument("--no-display", action="store_true", help="run headless even when a display exists")
    p.add_argument("--output", type=Path, help="write the annotated video here (.mp4)")
    p.add_argument("--log", type=Path, help="write one JSON line per frame here (.jsonl)")
    add_read_options(p)
    p.add_argument(
        "--blendshapes",
        action="store_true",
        help="also log each face's 52 blendshape scores (runs the Tasks landmarker)",
    )
    p.add_argument(
        "--explain",
        action="store_true",
        help="explain every face from the start, as the x key does: its mesh coloured by how much each region "
        "moved the reading, what moved in words, and both in the log",
    )
    add_landmarker_options(p)
    return p.parse_args(argv)


def describe_calibration(bundle, mode: str, keys: bool = True) -> str:
    """The line that says how faces will be calibrated (the ``n`` key only where there is a window to press it in)."""
    references = bundle.references
    if mode == "off":
        return "calibration: off"
    if references is None:
        return "calibration: unavailable (the model has no population neutral)"
    if references.person is not None:
        return f"calibration: the personal neutral recorded with this model ({references.person_n} faces)"
    estimated = mode == "auto" and bundle.expression_directions() is not None
    how = ["estimated from each face's frames, its expressions left out"] if estimated else []
    if mode == "auto" and not estimated:
        how.append("not estimated (the model keeps no sample of its training faces to tell expressions by)")
    if keys:
        how.append("press n with a neutral face to take a face's reference")
    return "calibration: " + ("; ".join(how) or "none (headless: there is no n key to take a neutral reference with)")


def check_demo_outputs(
    source: str | None, model_dir: Path, output: Path | None, log: Path | None, sample: bool = False
) -> None:
    """Refuse outputs that would overwrite an input or cannot be written: before the source opens (a camera is a
    resource), and again for the sample clip's outputs when it is read instead (``sample``)."""
    check_outputs(
        {"--source": existing_inputs([source]) + ([SAMPLE_CLIP] if sample else []), "--model": model_dir},
        {"--output": output, "--log": log},
        whole=["--model", "--source"],  # a folder's files are its photos, and the next run's
    )
    for path in filter(None, (output, log)):
        check_writable(path)


def describe_outputs(display: bool, output: Path | None, log: Path | None) -> str | None:
    """The line that says where a headless run writes its results (None with a window)."""
    if display:
        return None
    written = [f"{what} -> {path}" for what, path in (("video", output), ("log", log)) if path]
    return "headless: " + (", ".join(written) or "nothing is written (pass --output and/or --log)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    options = read_options(args)
    quiet_native_logs(args.verbose)
    try:
        model_dir = args.model or find_default_model()
        bundle = EmotionModel.load(model_dir)
        check_demo_outputs(args.source, model_dir, args.output, args.log)  # before the camera is taken
        source, fell_back = open_demo_source(args.source)
    except (BundleError, SourceError, OutputError) as exc:
        return fail(exc)
    with source:
        output, log = args.output, args.log
        if fell_back:
            output, log = output or FALLBACK_OUTPUT, log or FALLBACK_LOG
            try:
                check_demo_outputs(args.source, model_dir, output, log, sample=True)
            except OutputError as exc:
                return fail(exc)
            print(f"{fell_back}: processing the bundled sample clip {SAMPLE_CLIP.name} headless instead")
        kind = bundle.info.get("kind", "base")
        print(f"model: {shown(model_dir)} ({kind}; {', '.join(bundle.classes_)})")
        mode = mode_for(source)  # unrelated photos: detect in each, no smoothing across them
        photos = mode is Mode.IMAGE
        # unrelated photos hold no run of frames of one face to learn its neutral from
        calibration = "neutral" if photos and options.calibrate == "auto" else options.calibrate
        display = not (fell_back or args.no_display) and has_display()
        print(describe_calibration(bundle, calibration, keys=display))
        where = describe_outputs(display, output, log)
        if where:
            print(where)
        landmarker, mismatch = options.landmarker_for(bundle)
        if mismatch:
            print(mismatch)
        try:
            with FaceMesh(mode, options.max_faces, landmarker=landmarker, blendshapes=options.blendshapes) as mesh:
                pipeline = pipeline_for(bundle, mesh, options, photos)
                title = f"emotion demo - {kind} model {model_dir.name}"
                stats = run(source, pipeline, display, output, log, title=title, max_faces=options.max_faces)
        except (DemoError, LandmarkerError, ExplanationError) as exc:
            return fail(exc)
    print(stats.summary())
    readings = stats.readings()
    if readings:
        print(readings)
    for what, path in (("annotated video", output), ("log", log)):
        if path and path.exists():  # a video with no frame is not kept
            print(f"wrote {what}: {path}")
    print(WHAT_NEXT)
    return interrupted_code() if stats.interrupted else 0


if __name__ == "__main__":
    sys.exit(run_command(main))
