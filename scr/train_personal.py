"""Fine-tune a base model on your recorded sessions into a new model bundle.

Examples:
  python scr/train_personal.py                                       # models/default + personal_data -> models/personal
  python scr/train_personal.py --base models/default --data-dir personal_data --out models/personal_anna
  python scr/train_personal.py --out models/personal --force --keep-unrecorded

The base model's network and scaler are kept; a small personal correction of its output is
learnt from your samples (at most --per-label of each expression, the ones that differ most)
and built into the network, in about a second. With a recorded neutral face your features are
calibrated to it, and the bundle keeps it so the demo calibrates you the same way. The
personal model answers neutral and the expressions you recorded (--keep-unrecorded keeps the
base's others too). The new bundle loads like any other (the demo picks the newest personal
bundle under models/).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from landmark_emotion.cli.startup import quiet_startup

if __name__ == "__main__":
    quiet_startup()  # first: a stop signal while the imports below load ends with one line

from landmark_emotion.cli.arguments import float_range, int_range
from landmark_emotion.cli.run import fail, run_command, say_recovered
from landmark_emotion.data.table import describe_skipped
from landmark_emotion.model.bundle import BundleError
from landmark_emotion.model.discovery import find_default_model
from landmark_emotion.model.emotion_model import EmotionModel
from landmark_emotion.outputs import OutputError, check_outputs, check_writable_folder, refuse_existing
from landmark_emotion.resources import workspace
from landmark_emotion.signals import held_signals, interrupted_code
from landmark_emotion.training.personal import (
    MIN_SAMPLES,
    FineTuneError,
    FineTuneSettings,
    PersonalDataError,
    load_sessions,
    train_personal_model,
)

ROOT = workspace()
DEFAULTS = FineTuneSettings()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", type=Path, help="base bundle (default: models/default, else the shipped one; see README)")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=ROOT / "personal_data",
        help="folder of recorded sessions (default: %(default)s)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=ROOT / "models" / "personal",
        help="new bundle folder; must not exist unless --force (default: %(default)s)",
    )
    p.add_argument("--force", action="store_true", help="replace an existing --out bundle")
    p.add_argument(
        "--min-samples",
        type=int_range(1, 10**6),
        default=MIN_SAMPLES,
        help="refuse labels with fewer samples; 1 is a valid, if weak, recording (default: %(default)s)",
    )
    p.add_argument(
        "--per-label",
        type=int_range(1, 10**6),
        default=DEFAULTS.per_label,
        help="learn from at most this many samples of each expression, those that differ most (default: %(default)s)",
    )
    p.add_argument(
        "--l2",
        type=float_range(0, 1000, low_open=True),
        default=DEFAULTS.l2,
        help="how strongly the personal model is held to the base (default: %(default)s, chosen on benchmarks)",
    )
    p.add_argument(
        "--no-calibrate",
        action="store_true",
        help="fine-tune on uncalibrated features even when a neutral face was recorded",
    )
    p.add_argument(
        "--keep-unrecorded",
        action="store_true",
        help="keep reading the base model's expressions you did not record (default: the personal "
        "model answers neutral and what you recorded)",
    )
    p.add_argument("--no-mirror", action="store_true", help="do not add mirror images of your samples")
    p.add_argument("--no-progress", action="store_true", help="no progress bar while fitting")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        args.base = args.base or find_default_model(personal=False)
        say_recovered(args.out)
        refuse_existing(args.out, args.force, BundleError)
        check_outputs(
            {"--base": args.base, "--data-dir": args.data_dir}, {"--out": args.out}, whole=["--base", "--data-dir"]
        )
        check_writable_folder(args.out)
        base = EmotionModel.load(args.base)
        data = load_sessions(args.data_dir)
        for path, reason in data.skipped:
            print(f"skipped {path.name}: {reason}")
        if describe_skipped(data.table.skipped):
            print(describe_skipped(data.table.skipped))
        counts = data.table.counts()
        print(
            f"{len(data.table)} samples from {len(data.files)} session(s) in {args.data_dir}: "
            + ", ".join(f"{label} {n}" for label, n in counts.items())
        )
        settings = FineTuneSettings(
            args.l2, args.per_label, not args.no_mirror, not args.no_calibrate, args.keep_unrecorded
        )
        model = train_personal_model(
            base, data, settings, min_samples=args.min_samples, progress=not args.no_progress, train_args=vars(args)
        )
        for warning in model.warnings:
            print(f"warning: {warning}")
        metrics = model.metrics
        if metrics["unrecorded_dropped"]:
            print(
                f"answers {', '.join(model.classes_)}; not {', '.join(metrics['unrecorded_dropped'])}, which you "
                "did not record (--keep-unrecorded keeps them)"
            )
        if metrics["calibrated"] and model.references is not None:
            print(f"calibrated to your neutral face ({model.references.person_n} samples)")
        head = metrics["personal_head"]
        used = [f"{label} {n} of {head['frames_recorded'][label]}" for label, n in head["frames_selected"].items()]
        print(
            f"{metrics['schedule']}: learnt from "
            + ", ".join(used)
            + f" samples{' (and their mirror images)' if head['mirror'] else ''}, {metrics['seconds']:.1f} s"
        )
        with held_signals() as stopped:  # a stop while saving waits for the save: the model is kept
            out = model.save(args.out, force=args.force)
    except (BundleError, PersonalDataError, FineTuneError, OutputError, OSError, KeyboardInterrupt) as exc:
        return fail(exc)
    print(f"wrote {out}")
    return interrupted_code() if stopped else 0


if __name__ == "__main__":
    sys.exit(run_command(main))
