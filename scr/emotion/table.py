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
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .features import face_size, normalize
from .labels import canonical_labels

TABLE_FORMAT = "landmark-table-v1"
MAX_IMAGE_SIDE = 1 << 16
"""Largest image width or height taken as real, in pixels."""
MIN_FACE_SIZE = 1.0
"""Smallest face (RMS radius of its rigid landmarks, in pixels) that is not degenerate."""


class TableError(ValueError):
    """A table file that is missing, unreadable, or not a landmark table."""


@dataclass
class LandmarkTable:
    """Labelled landmarks: ``landmarks`` (n, 468, 3) float32 as MediaPipe returns them.

    ``groups`` names the person or source of each sample ("" when unknown), so that
    validation splits can keep one person's photos on one side.
    """

    landmarks: np.ndarray
    width: np.ndarray
    height: np.ndarray
    labels: np.ndarray
    paths: np.ndarray
    groups: np.ndarray
    meta: dict = field(default_factory=dict)
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
        sizes = {name: len(getattr(self, name)) for name in ("width", "height", "labels", "paths", "groups")}
        bad = {name: size for name, size in sizes.items() if size != n}
        if bad:
            raise TableError(
                f"table arrays disagree in length: landmarks has {n} rows but "
                + ", ".join(f"{name} has {size}" for name, size in bad.items())
            )

    def __len__(self) -> int:
        return len(self.landmarks)

    def features(self) -> np.ndarray:
        """Normalized feature vectors (n, 1404), computed with the current feature version."""
        return normalize(self.landmarks, self.width, self.height)

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(self.labels.tolist()).items()))

    def subset(self, index: np.ndarray) -> "LandmarkTable":
        return LandmarkTable(
            self.landmarks[index], self.width[index], self.height[index], self.labels[index],
            self.paths[index], self.groups[index], dict(self.meta),
        )

    @classmethod
    def empty(cls, meta: dict | None = None) -> "LandmarkTable":
        return cls(np.zeros((0, 468, 3), np.float32), [], [], [], [], [], dict(meta or {}))

    @classmethod
    def concatenate(cls, tables: list["LandmarkTable"], meta: dict | None = None) -> "LandmarkTable":
        if not tables:
            return cls.empty(meta)
        return cls(
            *(np.concatenate([getattr(t, name) for t in tables])
              for name in ("landmarks", "width", "height", "labels", "paths", "groups")),
            dict(meta if meta is not None else tables[0].meta),
        )


def bad_rows(landmarks: np.ndarray, width: np.ndarray, height: np.ndarray) -> np.ndarray:
    """Why each row cannot be used ("" when it can): the first problem found."""
    landmarks = np.asarray(landmarks, np.float64)
    width, height = np.asarray(width, np.float64).reshape(-1), np.asarray(height, np.float64).reshape(-1)
    reasons = np.full(len(landmarks), "", dtype=object)
    sizes_ok = np.isfinite(width) & np.isfinite(height) & (np.minimum(width, height) >= 1) \
        & (np.maximum(width, height) <= MAX_IMAGE_SIDE)
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
    return (f"skipped {sum(skipped.values())} unusable row(s): "
            + ", ".join(f"{n} {reason}" for reason, n in skipped.items()))


def merge_tables(tables: list[LandmarkTable], meta: dict | None = None) -> LandmarkTable:
    """Concatenate tables, skipping (and counting) rows that repeat an earlier row's landmarks and image size."""
    merged = LandmarkTable.concatenate(tables, meta)
    skipped: Counter[str] = Counter()
    for table in tables:
        skipped.update(table.skipped)
    seen: set[bytes] = set()
    keep = []
    for i in range(len(merged)):
        key = hashlib.blake2b(merged.landmarks[i].tobytes() + merged.width[i].tobytes()
                              + merged.height[i].tobytes(), digest_size=16).digest()
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
            np.savez_compressed(
                f, landmarks=table.landmarks, width=table.width, height=table.height,
                labels=table.labels, paths=table.paths, groups=table.groups,
                meta=np.array(json.dumps(meta, sort_keys=True)),
            )
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
        meta = json.loads(str(arrays["meta"]))
    except TableError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise TableError(f"{path} is not a readable .npz landmark table ({exc})") from None
    kinds = {"landmarks": "fiu", "width": "fiu", "height": "fiu", "labels": "U", "paths": "U", "groups": "U"}
    wrong = [f"{name} ({arrays[name].dtype})" for name, kind in kinds.items()
             if name in arrays and arrays[name].dtype.kind not in kind]
    if wrong or not isinstance(meta, dict):
        raise TableError(f"{path} is not a landmark table: wrong type of " + (", ".join(wrong) or "metadata"))
    n = len(arrays["landmarks"])
    if arrays["landmarks"].shape[1:] != (468, 3):
        raise TableError(f"{path}: landmarks must have shape (n, 468, 3), got {arrays['landmarks'].shape}")
    bad = {name: arrays[name].shape for name in ("width", "height", "labels", "paths", "groups")
           if name in arrays and arrays[name].shape != (n,)}
    if bad:
        raise TableError(f"{path}: table arrays disagree in length: landmarks has {n} rows but " + ", ".join(
            f"{name} has {shape[0] if len(shape) == 1 else shape}" for name, shape in bad.items()))
    try:
        labels = np.asarray(canonical_labels(arrays["labels"].tolist()), dtype=str)
    except ValueError as exc:
        raise TableError(f"{path}: {exc}") from None
    reasons = bad_rows(arrays["landmarks"], arrays["width"], arrays["height"])
    good = np.flatnonzero(reasons == "")
    table = LandmarkTable(
        arrays["landmarks"][good], arrays["width"][good], arrays["height"][good], labels[good],
        arrays.get("paths", np.full(n, ""))[good], arrays.get("groups", np.full(n, ""))[good], meta,
    )
    table.skipped = dict(Counter(reasons[reasons != ""].tolist()))
    return table
