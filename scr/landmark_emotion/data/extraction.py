"""Labelled images -> a landmark table, in parallel with joblib.

Images are sent to workers in chunks, and each chunk is read by one face mesh its
worker opens and closes (:class:`landmark_emotion.face.mesh.FaceMesh`): nothing outlives
the chunk. A chunk is sized to take its worker about :data:`CHUNK_SECONDS` (:class:`Chunks`,
from the time the last one took): opening and closing a graph (12-17 ms) is then under 1% of
the work, and a run stopped at any moment keeps every chunk done, losing at most the
chunks being read (the first chunks are small, so even a run stopped in its first seconds
keeps faces). The pickling cost per image is a few kilobytes of landmarks. Any joblib
backend works: ``loky`` on one machine, ``dask`` on a cluster once its joblib backend is
registered.
"""

from __future__ import annotations

import math
import os
import random
import signal
import threading
import time
import zlib
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import cv2
import numpy as np
from joblib import Parallel, delayed, parallel_config
from tqdm import tqdm

from landmark_emotion.data.sources import DatasetError, LabeledImage
from landmark_emotion.data.table import LandmarkTable
from landmark_emotion.face.features import FEATURE_VERSION
from landmark_emotion.frames import read_image
from landmark_emotion.labels import ordered

NO_FACE = "no face found"
UNREADABLE = "unreadable image"


@dataclass
class ExtractionReport:
    """What happened to every image, for the summary and the table's metadata."""

    images: int = 0
    faces: int = 0
    copies: int = 0
    """Augmented copies of the faces found."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0

    def count(self, reason: str) -> int:
        return sum(1 for _, r in self.skipped if r == reason)

    def summary(self) -> str:
        rate = self.images / self.seconds if self.seconds else 0.0
        return (
            f"{self.images} images read, {self.faces} faces found, {self.count(NO_FACE)} without a face, "
            f"{self.count(UNREADABLE)} unreadable"
            + (f", {self.copies} augmented copies" if self.copies else "")
            + f" ({self.seconds:.1f} s, {rate:.0f} images/s)"
            + (" — interrupted, partial table" if self.interrupted else "")
        )


MIN_SIDE = 128
"""Images smaller than this (e.g. AffectNet's 96x96 crops) are enlarged before Face Mesh: see :func:`prepare`."""


def prepare(image: np.ndarray, min_side: int = MIN_SIDE) -> np.ndarray:
    """Enlarge a tiny face crop by a whole factor (bicubic) until its short side reaches ``min_side``.

    Face Mesh's detector misses or misplaces faces that fill a very small picture
    edge to edge; measured on AffectNet's 96x96 crops by ``benchmarks/affectnet.py``.
    """
    factor = -(-min_side // max(1, min(image.shape[:2])))
    if factor <= 1:
        return image
    return cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)


Copy = tuple[np.ndarray, np.ndarray]
"""An augmented copy of a face: its (jittered) landmarks and the appearance descriptor of the degraded photo."""
Row = tuple[np.ndarray | None, np.ndarray | None, int, int, str, list[Copy]]

AUGMENTED_SPLITS = ("train", "")
"""The splits whose photos get augmented copies: a dataset's train split, and photos of a table without splits
(training then keeps a copy only while its photo is in the training part)."""


def copy_rng(seed: int, path: str, landmarker: str | None) -> np.random.Generator:
    """The generator of one photo's copies: the same photo, seed and landmarker give the same copies whatever the
    workers and chunks, and the two landmarkers' tables degrade a photo differently. The path is taken as the file
    system's bytes: a name that is not valid UTF-8 has copies too."""
    return np.random.default_rng([seed, zlib.crc32(os.fsencode(path)), zlib.crc32((landmarker or "").encode())])


_watched_parent: int | None = None


def follow_parent(parent: int, interval: float = 0.5) -> None:
    """In a local worker process of ``parent``: leave Ctrl-C to the parent, and exit as soon as it is gone.

    Ctrl-C reaches every process of the terminal; the parent stops the run and its
    workers, so a worker ignores it instead of printing its own traceback. loky's workers
    also outlive a parent killed with -9 and keep the cores busy; these exit. A worker on
    another machine (dask) has another parent and is left to its own scheduler.
    """
    global _watched_parent
    if _watched_parent == parent or os.getppid() != parent:
        return
    _watched_parent = parent
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def landmarks_of_files(
    paths: Sequence[str],
    appearance: bool = True,
    min_side: int = MIN_SIDE,
    parent: int | None = None,
    landmarker: str | None = None,
    copies: Sequence[int] = (),
    seed: int = 0,
) -> list[Row]:
    """Per image file: (landmarks of its first face or None, its appearance descriptor, width, height, failure,
    its augmented copies).

    Images are decoded by content (a ``.png`` holding JPEG data reads fine). ``parent`` is the
    extracting process's id: a worker started by it exits when it dies (:func:`follow_parent`).
    ``copies[i]`` degraded copies of the i-th photo's face (:func:`~landmark_emotion.face.augmentation.degrade`)
    are described like the face itself (none when ``copies`` is empty).
    """
    from landmark_emotion.face.appearance import describe
    from landmark_emotion.face.augmentation import degrade
    from landmark_emotion.face.mesh import FaceMesh, Mode

    if parent is not None:
        follow_parent(parent)
    out: list[Row] = []
    with FaceMesh(Mode.IMAGE, 1, landmarker=landmarker, small_faces=False) as mesh:
        for path, n_copies in zip(paths, copies or [0] * len(paths)):
            image = read_image(path)
            if image is None:
                out.append((None, None, 0, 0, UNREADABLE, []))
                continue
            image = prepare(image, min_side)
            faces = mesh(image)
            if len(faces):
                landmarks = faces.landmarks[0]
                descriptor = describe(image, landmarks) if appearance else None
                made: list[Copy] = []
                if n_copies:
                    rng = copy_rng(seed, path, landmarker)
                    made = [
                        (lm, describe(im, lm)) for im, lm in (degrade(image, landmarks, rng) for _ in range(n_copies))
                    ]
                out.append((landmarks, descriptor, faces.width, faces.height, "", made))
            else:
                out.append((None, None, faces.width, faces.height, NO_FACE, []))
    return out


def read_chunk(paths: Sequence[str], *args) -> tuple[list[Row], float]:
    """A worker's task: :func:`landmarks_of_files` of one chunk, and the seconds it took (to size the next ones)."""
    start = time.perf_counter()
    rows = landmarks_of_files(paths, *args)
    return rows, time.perf_counter() - start


CHUNK_SECONDS = 2.0
"""About how long a chunk takes its worker: what an interruption can lose per worker, and 100 times the cost of
the face mesh opened for it."""
FIRST_CHUNK = 8
"""Images in each worker's first chunks, before any chunk has been timed."""


class Chunks:
    """``items`` in chunks for the workers, each sized to take about :data:`CHUNK_SECONDS` at the speed of the
    last chunk done, never more than ``max_size`` images or than would leave a worker idle.

    Iterate to send them (joblib takes chunks as workers free up, from its own threads);
    :meth:`finished` takes each result's chunk back, in the order sent.
    """

    def __init__(self, items: Sequence[LabeledImage], workers: int, max_size: int):
        self.items = items
        self.max_size = max(1, min(max_size, math.ceil(len(items) / max(1, workers))))
        self.seconds_per_image: float | None = None
        self._sent: deque[Sequence[LabeledImage]] = deque()

    def size(self) -> int:
        """The length of the next chunk."""
        if self.seconds_per_image is None:
            return min(FIRST_CHUNK, self.max_size)
        return int(min(self.max_size, max(FIRST_CHUNK, CHUNK_SECONDS / max(self.seconds_per_image, 1e-6))))

    def __iter__(self) -> Iterator[Sequence[LabeledImage]]:
        start = 0
        while start < len(self.items):
            chunk = self.items[start : start + self.size()]
            self._sent.append(chunk)
            start += len(chunk)
            yield chunk

    def finished(self, seconds: float) -> Sequence[LabeledImage]:
        """The chunk whose result came in (in ``seconds`` of its worker's time): the next ones are sized by it."""
        chunk = self._sent.popleft()
        self.seconds_per_image = seconds / len(chunk)
        return chunk


def preselect(items: Sequence[LabeledImage], max_per_class: int | None, seed: int = 0) -> list[LabeledImage]:
    """Shuffle each class (seeded) and keep a margin over ``max_per_class`` for images without a face."""
    by_label: dict[str, list[LabeledImage]] = defaultdict(list)
    for item in items:
        by_label[item.label].append(item)
    rng = random.Random(seed)
    selected = []
    for label in ordered(by_label):
        group = sorted(by_label[label], key=lambda i: i.path)
        rng.shuffle(group)
        if max_per_class is not None:
            group = group[: math.ceil(max_per_class * 1.1) + 10]
        selected.extend(group)
    return selected


def cap_per_class(table: LandmarkTable, max_per_class: int | None) -> LandmarkTable:
    """Keep the first ``max_per_class`` photos of each label (rows are already shuffled per class), each with the
    augmented copies that follow it."""
    if max_per_class is None:
        return table
    seen: dict[str, int] = defaultdict(int)
    keep = []
    photo_kept = False
    copies = set(table.copies().tolist())
    for i, label in enumerate(table.labels):
        if i not in copies:
            photo_kept = seen[label] < max_per_class
            seen[label] += photo_kept
        if photo_kept:
            keep.append(i)
    return table.subset(np.asarray(keep, dtype=np.intp))


def extract_table(
    items: Sequence[LabeledImage],
    workers: int = 1,
    backend: str = "loky",
    chunk_size: int = 256,
    progress: bool = True,
    meta: dict | None = None,
    appearance: bool = True,
    min_side: int = MIN_SIDE,
    landmarker: str | None = None,
    augment: int = 0,
    seed: int = 0,
) -> tuple[LandmarkTable, ExtractionReport]:
    """Run face mesh over ``items`` and collect a table; Ctrl-C stops early and keeps the chunks done.

    With ``appearance`` each face's appearance descriptor is stored beside its landmarks. ``augment`` degraded
    copies of every training photo's face (:data:`AUGMENTED_SPLITS`; seeded by ``seed``) follow its row, marked
    ``augmented``.
    ``chunk_size`` caps the images per chunk (:class:`Chunks`).
    """
    from landmark_emotion.face.appearance import APPEARANCE_VERSION
    from landmark_emotion.face.landmarker import default_landmarker, mediapipe_version

    if augment and not appearance:
        raise DatasetError("augmented copies differ from their photo in appearance only: they need appearance")
    landmarker = landmarker or default_landmarker()
    report = ExtractionReport()
    chunks = Chunks(items, workers, chunk_size)
    rows: list[tuple[LabeledImage, np.ndarray, np.ndarray | None, int, int, bool]] = []
    start = time.perf_counter()
    bar = tqdm(total=len(items), unit="img", desc="extracting", disable=not progress)
    try:
        with parallel_config(backend=backend):  # joblib registers its dask backend here, not in Parallel()
            parallel = Parallel(n_jobs=workers, return_as="generator")
        results = parallel(
            delayed(read_chunk)(
                [item.path for item in chunk],
                appearance,
                min_side,
                os.getpid(),
                landmarker,
                [augment if item.split in AUGMENTED_SPLITS else 0 for item in chunk],
                seed,
            )
            for chunk in chunks
        )
        for result, seconds in results:
            chunk = chunks.finished(seconds)
            for item, (landmarks, descriptor, width, height, reason, copies) in zip(chunk, result):
                report.images += 1
                if landmarks is None:
                    report.skipped.append((item.path, reason))
                    continue
                rows.append((item, landmarks, descriptor, width, height, False))
                rows += [(item, copy, copy_descriptor, width, height, True) for copy, copy_descriptor in copies]
            bar.update(len(chunk))
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        bar.close()
        report.seconds = time.perf_counter() - start
    report.copies = sum(1 for r in rows if r[5])
    report.faces = len(rows) - report.copies
    descriptors = None
    if appearance:
        from landmark_emotion.face.appearance import N_DESCRIPTOR

        descriptors = (
            np.stack([r[2] for r in rows if r[2] is not None]) if rows else np.zeros((0, N_DESCRIPTOR), np.float32)
        )
    table = LandmarkTable(
        np.stack([r[1] for r in rows]) if rows else np.zeros((0, 468, 3), np.float32),
        np.array([r[3] for r in rows]),
        np.array([r[4] for r in rows]),
        np.array([r[0].label for r in rows]),
        np.array([r[0].path for r in rows]),
        np.array([r[0].group for r in rows]),
        splits=np.array([r[0].split for r in rows]),
        descriptors=descriptors,
        augmented=np.array([r[5] for r in rows], bool),
    )
    table.meta = dict(
        meta or {},
        label_set=ordered(set(table.labels.tolist())),
        skipped=[{"path": p, "reason": r} for p, r in report.skipped],
        images_read=report.images,
        faces_found=report.faces,
        interrupted=report.interrupted,
        mediapipe_version=mediapipe_version(),
        landmarker=landmarker,
        feature_version=FEATURE_VERSION,
        appearance_version=APPEARANCE_VERSION if appearance else None,
        min_side=min_side,
        augmented_copies=augment,
        augment_seed=seed,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    return table, report
