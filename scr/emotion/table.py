"""The landmark table: raw landmarks of labelled faces, in one ``.npz`` file.

The table keeps what MediaPipe returned (not features), so normalisation can
improve without re-extracting. It is plain arrays plus a JSON string, read with
``allow_pickle=False``: opening a table someone sent never runs code from it.
Writes are atomic (temporary file, then rename): an interrupted run never leaves
a half-written table behind, and never clobbers the previous one.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .features import normalize
from .labels import canonical_labels

TABLE_FORMAT = "landmark-table-v1"


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
    n = len(arrays["labels"])
    try:
        labels = canonical_labels(arrays["labels"].tolist())
    except ValueError as exc:
        raise TableError(f"{path}: {exc}") from None
    return LandmarkTable(
        arrays["landmarks"], arrays["width"], arrays["height"], labels,
        arrays.get("paths", np.full(n, "")), arrays.get("groups", np.full(n, "")), meta,
    )
