"""Extract face-mesh landmarks from a labelled image set into a balanced landmark table.

Examples:
  python scr/extract_landmarks.py                          # AffectNet from Kaggle (kagglehub)
  python scr/extract_landmarks.py --data-dir my_faces/     # class sub-folders: happy/, sad/, ...
  python scr/extract_landmarks.py --csv legend.csv --image-root images/ --groups filename
  python scr/extract_landmarks.py --data-dir CK+/ --group-pattern '^(S\\d+)_' --out datasets/ck.npz
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from landmark_emotion.cli.startup import quiet_startup

if __name__ == "__main__":
    quiet_startup()  # first: a stop signal while the imports below load ends with one line

from landmark_emotion.cli.arguments import (
    add_landmarker_options,
    add_progress_option,
    add_seed_option,
    command_parser,
    int_range,
    positive_int,
    quiet_native_logs,
)
from landmark_emotion.cli.run import fail, run_command
from landmark_emotion.data.extraction import MIN_SIDE, cap_per_class, extract_table, preselect
from landmark_emotion.data.sources import (
    AFFECTNET_HANDLE,
    GROUP_RULES,
    DatasetError,
    download_affectnet,
    from_csv,
    from_data_dir,
    group_from_pattern,
)
from landmark_emotion.data.table import TableError, save_table
from landmark_emotion.face.features import FEATURE_SETS, HYBRID, LANDMARKS
from landmark_emotion.face.landmarker import LandmarkerError
from landmark_emotion.labels import UnknownLabelError, canonical_labels
from landmark_emotion.outputs import OutputError, check_outputs, check_writable, refuse_existing
from landmark_emotion.resources import workspace
from landmark_emotion.signals import Interrupted, held_signals, interrupted_code

DEFAULT_OUT = workspace() / "datasets" / "affectnet_landmarks.npz"
BACKENDS = ("loky", "dask")  # dask is tested on a local cluster (tests/test_cluster.py); nothing else is
"""joblib backends that work with MediaPipe. Not offered: "threading" (MediaPipe crashes with a segfault when
threads share its graph) and "multiprocessing" (its workers fail to run MediaPipe); loky starts fresh processes."""
MAX_LOCAL_WORKERS = 2 * (os.cpu_count() or 1)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = command_parser(__doc__)
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--data-dir",
        type=Path,
        help="folder of class sub-folders, or a YOLO-format set (data.yaml, <split>/images, "
        "<split>/labels); train/valid/test splits are recorded in the table",
    )
    src.add_argument("--csv", type=Path, help="CSV of image,label rows instead of class folders")
    src.add_argument("--kaggle-handle", default=AFFECTNET_HANDLE, help="Kaggle dataset (default: %(default)s)")
    p.add_argument("--image-root", type=Path, help="with --csv: folder the image paths are relative to")
    p.add_argument("--image-column", help="with --csv: column of image paths (default: guessed)")
    p.add_argument("--label-column", help="with --csv: column of labels (default: guessed)")
    p.add_argument("--group-column", help="with --csv: column naming each image's person or source")
    p.add_argument(
        "--groups",
        choices=sorted(GROUP_RULES),
        default="none",
        help="how to tell each image's person, for person-disjoint validation: 'filename' "
        "(George_W_Bush_0003.jpg -> George_W_Bush), 'folder' (parent folder), 'none'",
    )
    p.add_argument(
        "--group-pattern",
        metavar="REGEX",
        help="the person is the first capture group of REGEX searched in each file name, for any "
        "source, e.g. '^(S\\d+)_' for CK+ (S005_001_00000011.png -> S005); overrides --groups",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output table (.npz, default: %(default)s)")
    p.add_argument("--force", action="store_true", help="replace an existing output table")
    p.add_argument("--max-per-class", type=positive_int, help="keep at most N faces per class (random, seeded)")
    p.add_argument("--classes", help="comma-separated classes to keep, e.g. happy,sad,angry,neutral")
    p.add_argument(
        "--features",
        choices=list(FEATURE_SETS),
        default=HYBRID,
        help="what to store per face: landmarks and the appearance descriptor of the aligned face "
        "(default), or landmarks only (no appearance data kept)",
    )
    p.add_argument(
        "--min-side",
        type=int_range(0, 4096),
        default=MIN_SIDE,
        help="enlarge images whose short side is below this many pixels before Face Mesh; "
        "0 = never (default: %(default)s)",
    )
    p.add_argument(
        "--augment",
        type=int_range(0, 100),
        default=0,
        metavar="N",
        help="also store N degraded copies of each training photo's face (lower resolution, blur, contrast, "
        "gamma, noise, JPEG, the crop's alignment jittered), marked as augmented: they train, never score "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--workers", type=int_range(1, 4096), default=os.cpu_count() or 1, help="parallel workers (default: all cores)"
    )
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="loky",
        help="joblib backend; dask runs on a cluster (see docs/commands.md)",
    )
    p.add_argument("--scheduler", help="with --backend dask: scheduler address, e.g. tcp://host:8786")
    add_seed_option(p, 0)
    add_progress_option(p)
    add_landmarker_options(p)
    return p.parse_args(argv)


def check_arguments(args: argparse.Namespace) -> None:
    """Fail before hours of work, not after: workers this machine can run; an output that is new (or forced),
    not an input, and writable."""
    out = args.out
    if out.suffix != ".npz":
        raise DatasetError(f"--out must end in .npz, got {out}")
    refuse_existing(out, args.force, DatasetError, flag=None)
    if args.augment and args.features == LANDMARKS:
        raise DatasetError("--augment changes the appearance of the faces: it needs --features " + HYBRID)
    if args.backend == "loky" and args.workers > MAX_LOCAL_WORKERS:
        raise DatasetError(
            f"--workers must be from 1 to {MAX_LOCAL_WORKERS} with --backend loky (two per core of "
            f"this machine), got {args.workers}; dask can run more on a cluster"
        )
    check_outputs({"--data-dir": args.data_dir, "--csv": args.csv, "--image-root": args.image_root}, {"--out": out})
    check_writable(out)


def register_backend(backend: str, scheduler: str | None) -> None:
    """Make joblib's cluster backend available; it is an optional dependency (the ``cluster`` extra)."""
    if backend != "dask":
        return
    try:
        from dask.distributed import Client
    except ImportError:
        raise DatasetError('--backend dask needs: pip install "landmark-emotion[cluster]"') from None
    Client(scheduler) if scheduler else Client()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_native_logs(args.verbose)
    try:
        group_rule = group_from_pattern(args.group_pattern) if args.group_pattern else GROUP_RULES[args.groups]
        check_arguments(args)
        keep = set(canonical_labels(args.classes.split(","))) if args.classes else None
        skipped: list[tuple[str, str]] = []
        if args.csv:
            items, skipped = from_csv(
                args.csv, args.image_root, args.image_column, args.label_column, args.group_column, group_rule
            )
            source = f"csv:{args.csv}"
        else:
            root = args.data_dir or download_affectnet(args.kaggle_handle)
            items, skipped = from_data_dir(root, group_rule)
            source = str(args.data_dir) if args.data_dir else f"kaggle:{args.kaggle_handle}"
        if keep is not None:
            items = [i for i in items if i.label in keep]
            if not items:
                raise DatasetError(f"no images of the classes {', '.join(sorted(keep))}")
        register_backend(args.backend, args.scheduler)
        selected = preselect(items, args.max_per_class, args.seed)
        print(
            f"{len(items)} labelled images from {source}; extracting {len(selected)} "
            f"with {args.workers} {args.backend} worker(s)"
        )
        table, report = extract_table(
            selected,
            args.workers,
            args.backend,
            progress=not args.no_progress,
            meta={"source": source, "max_per_class": args.max_per_class},
            appearance=args.features != LANDMARKS,
            min_side=args.min_side,
            landmarker=args.landmarker,
            augment=args.augment,
            seed=args.seed,
        )
        report.skipped[:0] = skipped
        table.meta["skipped"] = [{"path": p, "reason": r} for p, r in report.skipped]
        print(report.summary())
        if not len(table):
            if report.interrupted:
                raise Interrupted(interrupted_code() - 128)  # stopped before any face: one line, nothing written
            raise DatasetError("no faces found in any image; nothing written")
        table = cap_per_class(table, args.max_per_class)
        with held_signals() as stopped:  # a stop while saving waits for the save: the faces found are kept
            save_table(table, args.out)
    except (DatasetError, UnknownLabelError, TableError, OutputError, LandmarkerError, OSError) as exc:
        return fail(exc)
    for path, reason in report.skipped[:20]:
        print(f"  skipped {path}: {reason}")
    if len(report.skipped) > 20:
        print(f"  ... and {len(report.skipped) - 20} more (listed in the table's metadata)")
    photos, copies = table.subset(table.photographed()), len(table.copies())
    counts = ", ".join(f"{k} {v}" for k, v in photos.counts().items())
    print(f"wrote {args.out}: {len(photos)} faces ({counts})" + (f" and {copies} augmented copies" if copies else ""))
    return interrupted_code() if report.interrupted or stopped else 0


if __name__ == "__main__":
    sys.exit(run_command(main))
