"""``--backend dask``: extraction on a Dask cluster gives the same table as the default backend.

The cluster is a local one started here (a scheduler and two worker processes); the
command gets its address as a user passes a real cluster's. Its workers import this
package from the environment, as a cluster's workers must (see README, "On a cluster").
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from distributed import LocalCluster

from landmark_emotion.data.table import load_table

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # a Dask cluster of its own, and two extractions in child processes


@pytest.fixture(scope="module")
def photos(tmp_path_factory, astronaut) -> Path:
    """Class folders of variants of the photo, one without a face."""
    root = tmp_path_factory.mktemp("photos")
    variants = {
        "happy": [astronaut, cv2.resize(astronaut, (300, 300)), np.ascontiguousarray(astronaut[:, ::-1])],
        "sad": [astronaut[20:400, 60:440], np.full((256, 256, 3), 255, np.uint8)],
        "angry": [cv2.resize(astronaut, (96, 96)), cv2.resize(astronaut, (350, 350))],
    }
    for label, images in variants.items():
        (root / label).mkdir()
        for i, image in enumerate(images):
            cv2.imwrite(str(root / label / f"{label}_{i}.jpg"), image)
    return root


def extract(photos: Path, out: Path, *args: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scr" / "extract_landmarks.py"),
            "--data-dir",
            str(photos),
            "--out",
            str(out),
            "--workers",
            "2",
            "--no-progress",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr


def test_dask_backend_gives_the_default_backends_table(photos, tmp_path):
    extract(photos, tmp_path / "loky.npz")
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        extract(photos, tmp_path / "dask.npz", "--backend", "dask", "--scheduler", cluster.scheduler_address)
        ran = list(cluster.scheduler.task_prefixes)
    assert any("read_chunk" in name for name in ran), ran  # the cluster did the work, not local processes
    loky, dask = load_table(tmp_path / "loky.npz"), load_table(tmp_path / "dask.npz")
    assert len(loky) == 6 and loky.counts() == {"happy": 3, "sad": 1, "angry": 2}
    for field in ("landmarks", "descriptors", "labels", "paths", "groups", "splits", "width", "height"):
        np.testing.assert_array_equal(getattr(dask, field), getattr(loky, field), err_msg=field)
    assert dask.meta["skipped"] == loky.meta["skipped"] and len(loky.meta["skipped"]) == 1
