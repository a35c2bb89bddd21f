"""Score a model bundle on a labelled landmark table.

  python scr/evaluate.py --model models/default --data datasets/other_people.npz --json scores.json --png confusion.png
  python scr/evaluate.py --model models/default --data datasets/ck.npz --calibrate neutral
  python scr/evaluate.py --data datasets/my_faces.npz          # the shipped base model (models/default)

Prints accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix. Test
labels the model does not know count as errors and are listed; augmented copies of training photos
(extract_landmarks.py --augment) are never scored. The JSON has the keys
accuracy, macro_f1, n, labels, per_class, confusion (rows: true, columns: predicted) and
unknown_labels.

A personal model (train_personal.py) is fitted on its user's faces calibrated by their
recorded neutral, and the demo reads its user so: by default (--calibrate personal) every
face is calibrated by the neutral the bundle keeps, as if all faces of the table were that
user. --calibrate off reads the features as they are (the default for other models).

With --calibrate neutral each face is calibrated by the mean of the other neutral faces of
the same person (the table must know who is who: extract it with --group-pattern); only
faces with such a reference are scored, and the JSON adds scored, skipped and
uncalibrated_accuracy (the same faces, not calibrated).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from landmark_emotion.cli.startup import quiet_startup

if __name__ == "__main__":
    quiet_startup()  # first: a stop signal while the imports below load ends with one line

from landmark_emotion.cli.arguments import add_verbose_option, command_parser, quiet_native_logs
from landmark_emotion.cli.run import fail, run_command
from landmark_emotion.data.table import TableError, describe_skipped, load_table
from landmark_emotion.model.bundle import BundleError
from landmark_emotion.model.calibration import CalibrationError
from landmark_emotion.model.discovery import find_default_model
from landmark_emotion.model.emotion_model import EmotionModel
from landmark_emotion.model.evaluation import (
    EvaluationError,
    confusion_figure,
    evaluate_calibrated,
    evaluate_predictor,
    format_report,
)
from landmark_emotion.outputs import OutputError, check_outputs, check_writable, write_file

FIGURE_FORMATS = ("png", "svg", "pdf", "jpg")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = command_parser(__doc__)
    p.add_argument(
        "--model",
        type=Path,
        help="model bundle folder (default: the base model, models/default, as train_personal.py's --base; a "
        "personal bundle is named: it reads every face as its user)",
    )
    p.add_argument("--data", type=Path, required=True, help="landmark table (.npz)")
    p.add_argument(
        "--split",
        choices=["train", "valid", "test"],
        help="score only the faces of this split of the dataset (a table that records its splits)",
    )
    p.add_argument("--json", type=Path, help="write the scores here")
    p.add_argument("--png", type=Path, help="write the confusion matrix figure here")
    p.add_argument(
        "--calibrate",
        choices=["personal", "neutral", "off"],
        help="personal: by the neutral a personal model keeps (its default); neutral: each face by the other "
        "neutral faces of the same person; off: not at all (the default for other models)",
    )
    add_verbose_option(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_native_logs(args.verbose)
    try:
        if args.png and args.png.suffix.lower()[1:] not in FIGURE_FORMATS:
            raise OutputError(f"--png must end in .{', .'.join(FIGURE_FORMATS)}, got {args.png}")
        args.model = args.model or find_default_model(personal=False)
        outputs = {"--json": args.json, "--png": args.png}
        check_outputs({"--model": args.model, "--data": args.data}, outputs, whole=["--model"])
        for path in filter(None, outputs.values()):
            check_writable(path)
        bundle = EmotionModel.load(args.model)
        table = load_table(args.data)
        skipped_rows = table.skipped
        table = table.subset(table.photographed())  # augmented copies train, they are never scored
        if args.split:
            table = table.subset(np.flatnonzero(table.splits == args.split))
            if not len(table):
                raise EvaluationError(f"{args.data} has no faces of the {args.split!r} split")
        skipped = describe_skipped(skipped_rows)
        if skipped:
            print(f"warning: {args.data}: {skipped}; the scores below are on the other {len(table)}")
        refs = bundle.references
        personal = refs is not None and refs.person is not None
        calibration = args.calibrate or ("personal" if personal else "off")
        if calibration == "neutral":
            if refs is None:
                raise CalibrationError(f"{args.model} has no population neutral to calibrate with; retrain it")
            scores = evaluate_calibrated(bundle.predictor(), table, refs.population)
        elif calibration == "personal":
            if not personal:
                raise CalibrationError(f"{args.model} keeps no user's neutral face; use --calibrate neutral or off")
            print(f"every face calibrated by the neutral face {args.model} keeps, as the demo reads its user")
            scores = evaluate_predictor(bundle.predictor(), table, refs)
        else:
            scores = evaluate_predictor(bundle.predictor(), table)
        metrics = {**scores, "skipped_rows": skipped_rows}
        trained_on = {Path(p).resolve() for p in bundle.info.get("train_args", {}).get("data", [])}
        if args.data.resolve() in trained_on and args.split != "test":
            print(
                f"warning: {args.model} was trained on {args.data}: these scores include training samples "
                f"(its held-out scores are in {args.model / 'metrics.json'})"
            )
        print(f"{args.model} on {args.data}:\n{format_report(metrics)}")
        if calibration == "neutral":
            print(
                f"neutral-calibrated: {metrics['scored']} faces scored, {metrics['skipped']} skipped (no other "
                f"neutral face of the same person); uncalibrated accuracy on the same faces "
                f"{metrics['uncalibrated_accuracy']:.1%}"
            )
        if args.json:
            text = json.dumps(metrics, indent=2) + "\n"
            write_file(args.json, lambda tmp: tmp.write_text(text))
            print(f"wrote {args.json}")
        if args.png:
            figure = confusion_figure(metrics, f"{args.model.name} on {args.data.name}")
            write_file(args.png, lambda tmp: figure.savefig(tmp, dpi=100, format=args.png.suffix[1:] or "png"))
            print(f"wrote {args.png}")
    except (BundleError, TableError, EvaluationError, CalibrationError, OutputError, OSError) as exc:
        return fail(exc)
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
