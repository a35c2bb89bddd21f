"""The landmark table: raw landmarks of labelled faces, in one ``.npz`` file.

The table keeps what MediaPipe returned (not features), so normalisation can
improve without re-extracting. It is plain arrays plus a JSON string, read with
``allow_pickle=False``: opening a table someone sent never runs code from it.
Writes are atomic (temporary file, then rename): an interrupted run never leaves
a half-written table behind, and never clobbers the previous one.

Data is checked where it enters: :func:`load_table` refuses arrays of the wrong kind
(labels that are not text, landmarks that are not numbers) and skips, counting them in
``table.skipped``, rows no model can use: non-finite landmarks, an image size that is not
a positive number of pixels, a degenerate face (all points equal, or smaller than a pixel).
:func:`merge_tables` also skips rows that repeat an earlier one, so the same face given
twice cannot land on both sides of a train/test split.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from landmark_emotion.errors import LandmarkEmotionError
from landmark_emotion.face.appearance import N_DESCRIPTOR, mirror_descriptors
from landmark_emotion.face.features import LANDMARKS, face_size, face_vectors, mirror
from landmark_emotion.inputs import NPZ_ERRORS, parse_json
from landmark_emotion.labels import canonical_labels
from landmark_emotion.outputs import save_npz

TABLE_FORMAT = "landmark-table-v1"
ARRAYS = ("landmarks", "width", "height", "labels", "paths", "groups", "splits", "descriptors", "augmented")
"""The per-sample arrays of a table, in order; ``splits``, ``descriptors`` and ``augmented`` are optional in a
file (``augmented`` is written only when a row is a copy)."""
MAX_IMAGE_SIDE = 1 << 16
"""Largest image width or height taken as real, in pixels."""
MIN_FACE_SIZE = 1.0
"""Smallest face (RMS radius of its rigid landmarks, in pixels) that is not degenerate."""


class TableError(LandmarkEmotionError, ValueError):
    """A table file that is missing, unreadable, or not a landmark table."""


@dataclass
class LandmarkTable:
    """Labelled landmarks: ``landmarks`` (n, 468, 3) float32 as MediaPipe returns them.

    ``groups`` names the person or source of each sample ("" when unknown), so that
    validation splits can keep one person's photos on one side. ``splits`` is the
    dataset's own split of each sample (``train``, ``valid``, ``test``; "" when none).
    ``descriptors`` (n, d), when present, describe the appearance of each aligned face
    (:mod:`landmark_emotion.face.appearance`; never pixels), stored as float16. ``augmented`` marks the
    degraded copies extraction adds of a training photo (:mod:`landmark_emotion.face.augmentation`): the same
    path as the photo's own row, for training only, never scored.
    """

    landmarks: np.ndarray
    width: np.ndarray
    height: np.ndarray
    labels: np.ndarray
    paths: np.ndarray
    groups: np.ndarray
    meta: dict = field(default_factory=dict)
    splits: np.ndarray | None = None
    descriptors: np.ndarray | None = None
    augmented: np.ndarray | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    """Rows left out when the table was read, by reason (not saved with it)."""

    def __post_init__(self) -> None:
        self.landmarks = np.asarray(self.landmarks, dtype=np.float32)
        if self.landmarks.ndim != 3 or self.landmarks.shape[1:] != (468, 3):
            raise TableError(f"landmarks must have shape (n, 468, 3), got {self.landmarks.shape}")
        n = len(self.landmarks)
        self.width = np.asarray(self.width, dtype=np.int32).reshape(-1)
        self.height = np.asarray(self.height, dtype=np.int32).reshape(-1)
        self.labels = np.asarray(self.labels, dtype=str).reshape(-1)
        self.paths = np.asarray(self.paths, dtype=str).reshape(-1)
        self.groups = np.asarray(self.groups, dtype=str).reshape(-1)
        self.splits = np.full(n, "", dtype="<U5") if self.splits is None else np.asarray(self.splits, str).reshape(-1)
        self.augmented = np.zeros(n, bool) if self.augmented is None else np.asarray(self.augmented, bool).reshape(-1)
        if self.descriptors is not None:
            self.descriptors = np.asarray(self.descriptors, dtype=np.float16)
            if self.descriptors.ndim != 2:
                raise TableError(f"descriptors must have shape (n, d), got {self.descriptors.shape}")
            if self.descriptors.shape[1] != N_DESCRIPTOR:
                raise TableError(
                    f"appearance descriptors have {self.descriptors.shape[1]} columns, but this code's have "
                    f"{N_DESCRIPTOR}: re-extract the table"
                )
        sizes = {name: len(getattr(self, name)) for name in ARRAYS[1:] if getattr(self, name) is not None}
        bad = {name: size for name, size in sizes.items() if size != n}
        if bad:
            raise TableError(
                f"table arrays disagree in length: landmarks has {n} rows but "
                + ", ".join(f"{name} has {size}" for name, size in bad.items())
            )

    def __len__(self) -> int:
        return len(self.landmarks)

    def features(self, feature_set: str = LANDMARKS) -> np.ndarray:
        """Feature vectors of ``feature_set`` (see :func:`~landmark_emotion.face.features.face_vectors`)."""
        if feature_set != LANDMARKS and self.descriptors is None:
            raise TableError(
                f"this table has no appearance descriptors, which features {feature_set!r} need; "
                "re-extract it without --features landmarks"
            )
        return face_vectors(feature_set, self.landmarks, self.width, self.height, self.descriptors)

    def mirrored(self) -> LandmarkTable:
        """The table of the left-right mirrored images (for augmentation): landmarks and descriptors mirrored."""
        descriptors = None if self.descriptors is None else mirror_descriptors(self.descriptors)
        return replace(self, landmarks=mirror(self.landmarks), descriptors=descriptors, meta=dict(self.meta))

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(self.labels.tolist()).items()))

    def photographed(self) -> np.ndarray:
        """Row indices of the faces as photographed, without the augmented copies."""
        return np.flatnonzero(~np.asarray(self.augmented, bool))

    def copies(self) -> np.ndarray:
        """Row indices of the augmented copies."""
        return np.flatnonzero(np.asarray(self.augmented, bool))

    def subset(self, index: np.ndarray) -> LandmarkTable:
        arrays: dict[str, Any] = {
            name: None if getattr(self, name) is None else getattr(self, name)[index] for name in ARRAYS
        }
        return LandmarkTable(**arrays, meta=dict(self.meta))

    @classmethod
    def empty(cls, meta: dict | None = None) -> LandmarkTable:
        none = np.zeros(0)
        return cls(
            np.zeros((0, 468, 3), np.float32),
            none,
            none,
            none.astype(str),
            none.astype(str),
            none.astype(str),
            dict(meta or {}),
        )

    @classmethod
    def concatenate(cls, tables: list[LandmarkTable], meta: dict | None = None) -> LandmarkTable:
        """One table of several; descriptors are kept only if every table has them, of the same length."""
        if not tables:
            return cls.empty(meta)
        widths = {None if t.descriptors is None else t.descriptors.shape[1] for t in tables}
        keep_descriptors = None not in widths and len(widths) == 1
        arrays = {
            name: np.concatenate([getattr(t, name) for t in tables])
            for name in ARRAYS
            if name != "descriptors" or keep_descriptors
        }
        return cls(**arrays, meta=dict(meta if meta is not None else tables[0].meta))


def bad_rows(landmarks: np.ndarray, width: np.ndarray, height: np.ndarray) -> np.ndarray:
    """Why each row cannot be used ("" when it can): the first problem found."""
    landmarks = np.asarray(landmarks, np.float64)
    width, height = np.asarray(width, np.float64).reshape(-1), np.asarray(height, np.float64).reshape(-1)
    reasons = np.full(len(landmarks), "", dtype=object)
    sizes_ok = (
        np.isfinite(width)
        & np.isfinite(height)
        & (np.minimum(width, height) >= 1)
        & (np.maximum(width, height) <= MAX_IMAGE_SIDE)
    )
    finite = np.isfinite(landmarks).all(axis=(1, 2)) if len(landmarks) else np.ones(0, bool)
    usable = sizes_ok & finite
    size = np.zeros(len(landmarks))
    if usable.any():
        size[usable] = face_size(landmarks[usable], width[usable], height[usable])
    reasons[~sizes_ok] = "image size not a positive number of pixels"
    reasons[sizes_ok & ~finite] = "non-finite landmarks"
    reasons[usable & (size < MIN_FACE_SIZE)] = "degenerate face (all points equal or smaller than a pixel)"
    return reasons.astype(str)


def describe_skipped(skipped: dict[str, int]) -> str | None:
    """One line saying which rows were left out and why, or None when none were."""
    if not skipped:
        return None
    return f"skipped {sum(skipped.values())} unusable row(s): " + ", ".join(
        f"{n} {reason}" for reason, n in skipped.items()
    )


def merge_tables(tables: list[LandmarkTable], meta: dict | None = None) -> LandmarkTable:
    """Concatenate tables, skipping (and counting) rows that repeat an earlier row's landmarks and image size."""
    merged = LandmarkTable.concatenate(tables, meta)
    skipped: Counter[str] = Counter()
    for table in tables:
        skipped.update(table.skipped)
    seen: set[bytes] = set()
    keep = []
    for i in range(len(merged)):
        key = hashlib.blake2b(
            merged.landmarks[i].tobytes() + merged.width[i].tobytes() + merged.height[i].tobytes(), digest_size=16
        ).digest()
        if key not in seen:
            seen.add(key)
            keep.append(i)
    if len(keep) < len(merged):
        skipped["duplicate row"] += len(merged) - len(keep)
        merged = merged.subset(np.asarray(keep, dtype=np.intp))
    merged.skipped = dict(skipped)
    return merged


def save_table(table: LandmarkTable, path: str | os.PathLike) -> Path:
    """Write ``table`` to ``path`` atomically; the parent folder is created if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(table.meta, format=TABLE_FORMAT, n=len(table), counts=table.counts())
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            arrays = {name: getattr(table, name) for name in ARRAYS if getattr(table, name) is not None}
            if not len(table.copies()):  # optional: a table without copies (a recording, say) is as it was
                arrays.pop("augmented", None)
            save_npz(f, {**arrays, "meta": np.array(json.dumps(meta, sort_keys=True))})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    table.meta = meta
    return path


def load_table(path: str | os.PathLike) -> LandmarkTable:
    """Read a table written by :func:`save_table`, refusing anything else with a clear message."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"no table at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = {"landmarks", "width", "height", "labels", "meta"} - set(data.files)
            if missing:
                raise TableError(f"{path} is not a landmark table (missing {', '.join(sorted(missing))})")
            arrays = {name: data[name] for name in data.files}
        meta = parse_json(str(arrays["meta"]))
    except TableError:
        raise
    except NPZ_ERRORS as exc:
        raise TableError(f"{path} is not a readable .npz landmark table ({exc})") from None
    kinds = {
        "landmarks": "fiu",
        "width": "fiu",
        "height": "fiu",
        "labels": "U",
        "paths": "U",
        "groups": "U",
        "splits": "U",
        "descriptors": "f",
        "augmented": "b",
    }
    wrong = [
        f"{name} ({arrays[name].dtype})"
        for name, kind in kinds.items()
        if name in arrays and arrays[name].dtype.kind not in kind
    ]
    if wrong or not isinstance(meta, dict):
        raise TableError(f"{path} is not a landmark table: wrong type of " + (", ".join(wrong) or "metadata"))
    n = len(arrays["landmarks"])
    if arrays["landmarks"].shape[1:] != (468, 3):
        raise TableError(f"{path}: landmarks must have shape (n, 468, 3), got {arrays['landmarks'].shape}")
    bad = {
        name: arrays[name].shape
        for name in ("width", "height", "labels", "paths", "groups", "splits", "augmented")
        if name in arrays and arrays[name].shape != (n,)
    }
    if "descriptors" in arrays and (arrays["descriptors"].ndim != 2 or len(arrays["descriptors"]) != n):
        bad["descriptors"] = arrays["descriptors"].shape
    if bad:
        raise TableError(
            f"{path}: table arrays disagree in length: landmarks has {n} rows but "
            + ", ".join(f"{name} has {shape[0] if len(shape) == 1 else shape}" for name, shape in bad.items())
        )
    try:
        labels = np.asarray(canonical_labels(arrays["labels"].tolist()), dtype=str)
    except ValueError as exc:
        raise TableError(f"{path}: {exc}") from None
    reasons = bad_rows(arrays["landmarks"], arrays["width"], arrays["height"])
    if "descriptors" in arrays:
        broken = ~np.isfinite(arrays["descriptors"]).all(axis=1)
        reasons[(reasons == "") & broken] = "non-finite appearance descriptor"
    good = np.flatnonzero(reasons == "")
    try:
        table = LandmarkTable(
            arrays["landmarks"][good],
            arrays["width"][good],
            arrays["height"][good],
            labels[good],
            arrays.get("paths", np.full(n, ""))[good],
            arrays.get("groups", np.full(n, ""))[good],
            meta,
            splits=arrays["splits"][good] if "splits" in arrays else None,
            descriptors=arrays["descriptors"][good] if "descriptors" in arrays else None,
            augmented=arrays["augmented"][good] if "augmented" in arrays else None,
        )
    except TableError as exc:
        raise TableError(f"{path}: {exc}") from None
    table.skipped = dict(Counter(reasons[reasons != ""].tolist()))
    return table
