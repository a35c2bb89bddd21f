"""Does a short recording teach the model its user? Fine-tuning as a user runs it, scored as the demo reads.

  python benchmarks/personal.py --table JAFFE.npz --base models/default --k 1 2 --draws 2
  python benchmarks/personal.py --table MUX.npz --base models/default --k 3 --min-labels 3 --draws 2 --ceiling
  python benchmarks/personal.py --table JAFFE.npz --base models/default --k 2 --forgetting --draws 2
  python benchmarks/personal.py --table JAFFE.npz --base models/default --video KA KL KM KR MK
  python benchmarks/personal.py --table JAFFE.npz --base models/default --k 2 --l2 0.3   # another penalty
  python benchmarks/personal.py --table JAFFE.npz --base models/default --k 2 --no-calibrate   # heads not calibrated

The table must say who is who (``groups``) and where each photo is (``paths``, as
``extract_landmarks.py`` writes them); its people must be people the base never saw.

**Protocol.** Every person with at least ``--min-labels`` labels (neutral counts) of which
she has k + 1 photos or more plays the user. k photos of each label she has k of are her
recording (one neutral photo too when she has fewer than k, for calibration only): each
label's photos are linked into a folder and recorded with ``scr/record_dataset.py --source
FOLDER --label L``, then ``scr/train_personal.py --min-samples 1`` fine-tunes ``--base`` on
the sessions, with its defaults. The test is her other photos of the labels she has k + 1
of, read from the table as the demo reads her: calibrated by the neutral the personal
bundle keeps, answered by the bundle. Beside it: the base as shipped (uncalibrated, every
label), and the base calibrated the same way answering the same labels (where the
personal head starts from). Accuracy is each person's, then the mean over people, over
``--draws`` random draws of her recording.

- ``--forgetting``: ``--keep-unrecorded``; her neutral and half of her other labels (drawn)
  are recorded, and the test is her photos of the other half, which the model answers
  among all of its labels without having seen them.
- ``--expressions``: the protocol the issue's muxspace figure (0.741 at k = 3) was measured with
  (``benchmarks/calibration.py --only personal`` before the personal head): every person with 2 or
  more expressions of k + 1 photos (neutral not counted, contempt left out) and 2 neutral photos
  records k photos of each expression and 1 neutral photo; the test is her other photos of those
  expressions, not her neutral ones (the model still answers neutral).
- ``--ceiling``: how far her photos can be told apart at all: 5-fold cross-validation,
  per person, of the same fine-tuning on all her other photos (no recording, in process).
- ``--video PERSON ...``: a 30-second recording of each person: for each of her labels a
  clip of 130 frames at 30 frames/s (half a second from her neutral photo into the first of
  2 photos of that label, held, then into the second, held; the face pans, zooms, tilts and
  has sensor noise throughout), each recorded with ``record_dataset.py --source CLIP`` (every
  frame), then ``scr/train_personal.py`` run as a command and timed (wall clock and CPU,
  TensorFlow's loading included); the test is her photos not in the clips.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from landmark_emotion.cli.run import run_command
from landmark_emotion.commands import record_dataset, train_personal
from landmark_emotion.data.table import LandmarkTable, load_table
from landmark_emotion.model.calibration import NEUTRAL, calibrate
from landmark_emotion.model.emotion_model import EmotionModel
from landmark_emotion.training.personal import FineTuneSettings, train_personal_model

ROOT = Path(__file__).resolve().parent.parent
CLIP_FRAMES, CLIP_SIZE, FPS = 130, (640, 480), 30.0


@dataclass
class Draw:
    """One simulated user: the rows of her recording and of her test, and whether she keeps every label."""

    person: str
    recorded: np.ndarray
    test: np.ndarray
    keep_unrecorded: bool = False
    spare_neutral: tuple[int, ...] = ()
    """Her other neutral photos, in the order tried when the recorded one shows no single face (``--expressions``)."""


def draws_of(
    table: LandmarkTable,
    labels: list[str],
    k: int,
    min_labels: int,
    draws: int,
    forgetting: bool,
    expressions: bool = False,
):
    """Every person's ``draws`` recordings (see the protocol above); the draw's seed depends on her name only."""
    out = []
    for person in sorted(set(table.groups.tolist()) - {""}):
        mine = np.flatnonzero(table.groups == person)
        counts = {label: int(np.sum(table.labels[mine] == label)) for label in labels}
        tested = [label for label in labels if counts[label] >= k + 1]
        if expressions:  # the protocol: expressions tested, one neutral photo recorded
            tested = [label for label in tested if label not in (NEUTRAL, "contempt")]
            if len(tested) < 2 or counts[NEUTRAL] < 2:
                continue
        elif len(tested) < min_labels or (forgetting and (NEUTRAL not in tested or len(tested) < 3)):
            continue
        for draw in range(draws):
            rng = np.random.default_rng([draw, zlib.crc32(person.encode())])
            rows = {label: rng.permutation(mine[table.labels[mine] == label]) for label in labels}
            recorded = [label for label in labels if counts[label] >= k]
            if expressions:
                recorded = list(tested)
            if forgetting:  # neutral and half of the others recorded, the other half tested
                others = rng.permutation([label for label in tested if label != NEUTRAL])
                recorded, tested = [NEUTRAL, *others[: len(others) // 2]], list(others[len(others) // 2 :])
            train = [rows[label][:k] for label in recorded]
            if NEUTRAL not in recorded and counts[NEUTRAL]:
                train.append(rows[NEUTRAL][:1])  # for calibration only
            test = [rows[label][0 if forgetting else k :] for label in tested]
            spare = tuple(rows[NEUTRAL][1:].tolist()) if expressions else ()
            out.append(Draw(person, np.concatenate(train), np.concatenate(test), forgetting, spare))
    return out


def quietly(main, args: list[str]) -> int:
    """A command's ``main`` with its printing kept out of the report."""
    with contextlib.redirect_stdout(io.StringIO()):
        return main(args)


def record_photos(
    table: LandmarkTable, rows: np.ndarray, sessions: Path, work: Path, spare_neutral: tuple[int, ...] = ()
) -> None:
    """``record_dataset.py --source FOLDER --label L`` for each label's photos, as a user records photos of herself.

    A single neutral photo in which the recorder finds no single face (a press photo with others in it) is
    replaced by the next of ``spare_neutral``, as a user would take another."""
    for label in sorted(set(table.labels[rows].tolist())):
        mine = rows[table.labels[rows] == label]
        spares = list(spare_neutral) if label == NEUTRAL and len(mine) == 1 else []
        while not record_label(table, mine, label, sessions, work / f"photos_{label}_{len(spares)}"):
            if not spares:
                sys.exit(f"error: record_dataset.py found no single face in the {label} photo {table.paths[mine[0]]}")
            mine = np.asarray([spares.pop(0)])


def record_label(table: LandmarkTable, rows: np.ndarray, label: str, sessions: Path, folder: Path) -> bool:
    """One ``record_dataset.py`` run on the photos of one label; whether it recorded them."""
    folder.mkdir()
    for i, row in enumerate(rows):
        source = Path(table.paths[row])
        if not source.is_file():
            sys.exit(f"error: {source} (a photo of the table) is not there; the protocol records the photos")
        (folder / f"{i}{source.suffix}").symlink_to(source)
    args = ["--label", label, "--source", str(folder), "--out-dir", str(sessions), "--no-progress"]
    with contextlib.redirect_stderr(io.StringIO()):  # a photo without a single face is no news: another is tried
        return quietly(record_dataset.main, args) == 0


def fine_tune(base: Path, sessions: Path, out: Path, keep_unrecorded: bool, options: list[str]) -> EmotionModel:
    """``train_personal.py`` with its defaults (``--min-samples 1``: a photo is a sample) but ``options``, and the
    bundle it wrote."""
    args = ["--base", str(base), "--data-dir", str(sessions), "--out", str(out), "--min-samples", "1", "--no-progress"]
    args += (["--keep-unrecorded"] if keep_unrecorded else []) + options
    if quietly(train_personal.main, args) != 0:
        sys.exit(f"error: train_personal.py {' '.join(args)} failed")
    return EmotionModel.load(out)


def tuning_options(args: argparse.Namespace) -> list[str]:
    """The ``train_personal.py`` options a run varies from its defaults."""
    return ([] if args.l2 is None else ["--l2", str(args.l2)]) + (["--no-calibrate"] if args.no_calibrate else [])


def as_the_demo_reads(model: EmotionModel, features: np.ndarray) -> np.ndarray:
    """The labels ``model`` gives these feature vectors, calibrated by its user's neutral when it keeps one."""
    refs = model.references
    if refs is not None and refs.person is not None:
        features = calibrate(features, refs.person, refs.population)
    return np.asarray(model.classes_)[model.predict_proba(features).argmax(axis=1)]


def score(base: EmotionModel, personal: EmotionModel, test: LandmarkTable) -> dict[str, float]:
    """Accuracy on her test photos: the base as shipped, the base calibrated and answering what ``personal``
    answers, and ``personal`` as the demo reads her."""
    x, truth = test.features(base.feature_set), test.labels
    refs = personal.references
    columns = [base.classes_.index(label) for label in personal.classes_]
    calibrated = x if refs is None or refs.person is None else calibrate(x, refs.person, refs.population)
    restricted = np.asarray(personal.classes_)[base.predict_proba(calibrated)[:, columns].argmax(axis=1)]
    return {
        "shipped": float(np.mean(np.asarray(base.predict(x)) == truth)),
        "calibrated": float(np.mean(restricted == truth)),
        "personal": float(np.mean(as_the_demo_reads(personal, x) == truth)),
    }


def run_photos(args: argparse.Namespace, base: EmotionModel, table: LandmarkTable) -> None:
    for k in args.k:
        draws = draws_of(table, base.classes_, k, args.min_labels, args.draws, args.forgetting, args.expressions)
        if not draws:
            need = "2 expressions" if args.expressions else f"{args.min_labels} labels"
            sys.exit(f"error: nobody in {args.table} has {need} with {k + 1}+ photos")
        per_person: dict[str, list[dict]] = {}
        for draw in draws:
            with tempfile.TemporaryDirectory() as work:
                record_photos(table, draw.recorded, Path(work) / "sessions", Path(work), draw.spare_neutral)
                sessions, out = Path(work) / "sessions", Path(work) / "model"
                personal = fine_tune(args.base, sessions, out, draw.keep_unrecorded, tuning_options(args))
            scores = score(base, personal, table.subset(draw.test))
            scores["seconds"] = personal.metrics["seconds"]
            per_person.setdefault(draw.person, []).append(scores)
            print(
                f"  k={k} {draw.person:24s} recorded {len(draw.recorded):2d}, test {len(draw.test):3d}: shipped "
                f"{scores['shipped']:.3f}, calibrated {scores['calibrated']:.3f}, personal {scores['personal']:.3f}",
                flush=True,
            )
        keys = ("shipped", "calibrated", "personal", "seconds")
        means = {key: np.mean([np.mean([s[key] for s in runs]) for runs in per_person.values()]) for key in keys}
        what = "her unrecorded labels, among all" if args.forgetting else "her other photos"
        start = "uncalibrated" if args.no_calibrate else "calibrated to her neutral"
        print(
            f"\n| k | people × draws | test photos ({what}) | base as shipped (uncalibrated, every label) | "
            f"base {start}, her labels | personal model, as the demo reads | s per fit |\n"
            "|---|---|---|---|---|---|---|\n"
            f"| {k} | {len(per_person)} × {args.draws} | {sum(len(d.test) for d in draws)} | {means['shipped']:.3f} "
            f"| {means['calibrated']:.3f} | **{means['personal']:.3f}** | {means['seconds']:.2f} |\n",
            flush=True,
        )


def run_ceiling(args: argparse.Namespace, base: EmotionModel, table: LandmarkTable) -> None:
    """5-fold cross-validation per person of the fine-tuning on all her other photos of the protocol's labels
    (with ``--expressions``, her neutral photos are learnt from but not scored)."""
    from sklearn.model_selection import StratifiedKFold

    k = max(args.k)
    draws = draws_of(table, base.classes_, k, args.min_labels, 1, False, args.expressions)
    people = sorted({draw.person for draw in draws})
    accuracies = []
    for person in people:
        mine = np.flatnonzero(table.groups == person)
        labels = [label for label in base.classes_ if np.sum(table.labels[mine] == label) >= 5]
        rows = mine[np.isin(table.labels[mine], labels)]
        if len(labels) < 2:
            continue
        hits = []
        for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(rows, table.labels[rows]):
            model = train_personal_model(
                base, table.subset(rows[train]), FineTuneSettings(per_label=10**6), min_samples=1, progress=False
            )
            read = as_the_demo_reads(model, table.subset(rows[test]).features(base.feature_set))
            scored = table.labels[rows[test]] != NEUTRAL if args.expressions else slice(None)
            hits.append((read == table.labels[rows[test]])[scored])
        accuracies.append(float(np.mean(np.concatenate(hits))))
        print(f"  ceiling {person:24s} {', '.join(labels)}: {accuracies[-1]:.3f}", flush=True)
    print(f"\nceiling (5-fold, all her photos of labels with 5+): mean {np.mean(accuracies):.3f} over {len(people)}\n")


def clip_frame(image: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
    """A photo as a webcam frame ``t`` shows it: placed in 640x480, panning, zooming, tilting, with sensor noise."""
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 2 * math.sin(t / 9.7), 1.6 * (1 + 0.03 * math.sin(t / 15.4)))
    matrix[0, 2] += CLIP_SIZE[0] / 2 - w / 2 + 8 * math.sin(t / 11.6)
    matrix[1, 2] += CLIP_SIZE[1] / 2 - h / 2 + 6 * math.cos(t / 14.2)
    frame = cv2.warpAffine(image, matrix, CLIP_SIZE, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    return np.clip(frame + rng.normal(0, 2, frame.shape), 0, 255).astype(np.uint8)


def write_clip(path: Path, neutral: np.ndarray, first: np.ndarray, second: np.ndarray, rng) -> None:
    """130 frames: 15 from her neutral photo into ``first``, 50 held, 10 into ``second``, 55 held."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, CLIP_SIZE)
    for t in range(CLIP_FRAMES):
        if t < 15:
            image = cv2.addWeighted(neutral, 1 - t / 15, first, t / 15, 0)
        elif t < 65:
            image = first
        elif t < 75:
            image = cv2.addWeighted(first, 1 - (t - 65) / 10, second, (t - 65) / 10, 0)
        else:
            image = second
        writer.write(clip_frame(image, t, rng))
    writer.release()


def run_video(args: argparse.Namespace, base: EmotionModel, table: LandmarkTable) -> None:
    rows_out = []
    for person in args.video:
        rng = np.random.default_rng(zlib.crc32(person.encode()))
        mine = np.flatnonzero(table.groups == person)
        labels = [label for label in base.classes_ if np.sum(table.labels[mine] == label) >= 2]
        chosen = {label: rng.permutation(mine[table.labels[mine] == label])[:2] for label in labels}
        if NEUTRAL not in chosen:
            sys.exit(f"error: {person} has fewer than 2 neutral photos")
        with tempfile.TemporaryDirectory() as work:
            work_path = Path(work)
            sessions, out = work_path / "sessions", work_path / "model"
            neutral = cv2.imread(table.paths[chosen[NEUTRAL][0]])
            for label, (a, b) in chosen.items():
                clip = work_path / f"{label}.mp4"
                write_clip(clip, neutral, cv2.imread(table.paths[a]), cv2.imread(table.paths[b]), rng)
                record = ["--label", label, "--source", str(clip), "--out-dir", str(sessions), "--no-progress"]
                if quietly(record_dataset.main, record) != 0:
                    sys.exit(f"error: record_dataset.py {' '.join(record)} failed")
            command = [sys.executable, str(ROOT / "scr" / "train_personal.py"), "--base", str(args.base)]
            command += ["--data-dir", str(sessions), "--out", str(out), "--no-progress"]
            before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True)
            wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode != 0:
                sys.exit(f"error: {' '.join(command)}: {done.stderr.strip()}")
            personal = EmotionModel.load(out)
        used = np.concatenate(list(chosen.values()))
        test = table.subset(np.setdiff1d(mine[np.isin(table.labels[mine], labels)], used))
        head = personal.metrics["personal_head"]
        row = {
            "person": person,
            "frames": sum(head["frames_recorded"].values()) + sum(head["onset_skipped"].values()),
            "onset": sum(head["onset_skipped"].values()),
            "selected": sum(head["frames_selected"].values()),
            "test": len(test),
            **score(base, personal, test),
            "fit": personal.metrics["seconds"],
            "wall": wall,
            "cpu": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        }
        rows_out.append(row)
        print(f"  {row}", flush=True)
    print(
        "\n| person | frames recorded | onset left out | learnt from | test photos | base calibrated | personal | "
        "fine-tuning s (in the command) | command s, wall | command s, CPU |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    for r in rows_out:
        print(
            f"| {r['person']} | {r['frames']} | {r['onset']} | {r['selected']} | {r['test']} | {r['calibrated']:.3f} "
            f"| {r['personal']:.3f} | {r['fit']:.2f} | {r['wall']:.1f} | {r['cpu']:.1f} |"
        )
    means = {key: np.mean([r[key] for r in rows_out]) for key in ("calibrated", "personal", "fit", "wall", "cpu")}
    print(
        f"| mean | | | | | {means['calibrated']:.3f} | {means['personal']:.3f} | {means['fit']:.2f} | "
        f"{means['wall']:.1f} | {means['cpu']:.1f} |"
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", type=Path, required=True, help="landmark table with people (groups) and photo paths")
    p.add_argument("--base", type=Path, default=ROOT / "models" / "default")
    p.add_argument("--k", type=int, nargs="+", default=[1, 2], help="photos recorded per label")
    p.add_argument("--min-labels", type=int, default=2, help="labels (neutral counts) with k + 1 photos a person needs")
    p.add_argument("--draws", type=int, default=1, help="random draws of each person's recording")
    protocol = p.add_mutually_exclusive_group()
    protocol.add_argument("--forgetting", action="store_true", help="keep-unrecorded; test on her unrecorded labels")
    protocol.add_argument("--expressions", action="store_true", help="the issue's protocol: her expressions tested")
    p.add_argument("--ceiling", action="store_true", help="also 5-fold cross-validation with all her photos")
    p.add_argument("--video", nargs="+", metavar="PERSON", help="instead: a 30-second recording of each, timed")
    p.add_argument("--l2", type=float, help="train_personal.py --l2 (default: its own), to see where it matters")
    p.add_argument("--no-calibrate", action="store_true", help="train_personal.py --no-calibrate: uncalibrated heads")
    args = p.parse_args(argv)
    base = EmotionModel.load(args.base)
    table = load_table(args.table)
    table = table.subset(np.flatnonzero(np.isin(table.labels, base.classes_)))
    print(
        f"base {args.base} ({', '.join(base.classes_)}); {args.table}: {len(table)} photos of "
        f"{len(set(table.groups.tolist()))} people; {FineTuneSettings().schedule}"
    )
    if args.video:
        run_video(args, base, table)
        return
    run_photos(args, base, table)
    if args.ceiling:
        run_ceiling(args, base, table)


if __name__ == "__main__":
    sys.exit(run_command(main))
