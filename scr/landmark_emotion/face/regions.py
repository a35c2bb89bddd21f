"""The face in thirteen regions (brows, lids, nose, cheeks, lips, chin...) and the values of the vector each one holds.

An explanation says which parts of the face moved a reading, so every value the model reads
belongs to at most one region: a landmark's three coordinates, the patch around a landmark,
and a HOG cell of the aligned crop (the region of the canonical face under the cell's centre).
Regions grow from a few seed landmarks (one side and the midline; the other side mirrors
them): every landmark of the canonical face joins the region of its nearest seed, so the 468
points are split whole and each region is a connected patch of the mesh.
"""

from __future__ import annotations

import numpy as np

from landmark_emotion.errors import InputError
from landmark_emotion.face.appearance import CANONICAL_IN_CROP, HOG_CELL, PATCH, PATCH_IDS, hog_cell_centres
from landmark_emotion.face.canonical import CANONICAL_VERTICES, MIRROR_PERMUTATION
from landmark_emotion.face.features import FEATURE_BLOCKS, LANDMARKS

REGION_SEEDS: dict[str, tuple[int, ...]] = {
    "brows": (70, 63, 105, 66, 107, 46, 53, 52, 65, 55),
    "forehead": (10, 151, 9, 8, 108, 109, 67, 69, 104, 103, 54, 21, 68),
    "upper lids": (246, 161, 160, 159, 158, 157, 173, 56, 28, 27, 29, 30, 225, 224, 223, 222, 221),
    "lower lids": (7, 163, 144, 145, 153, 154, 155, 25, 110, 24, 23, 22, 26, 112, 230, 229, 228, 231, 232),
    "eye corners": (33, 130, 226, 113, 35, 143, 124, 156, 139, 34, 162, 127),
    "nose bridge": (168, 6, 197, 195, 122, 196, 193, 245, 188, 174),
    "nose": (5, 4, 1, 19, 94, 2, 45, 44, 129, 48, 64, 98, 97, 102, 49, 79, 240, 75, 218, 237),
    "cheeks": (50, 101, 118, 117, 123, 187, 205, 36, 100, 47, 126, 142, 203, 206, 207, 216, 116),
    "upper lip": (0, 37, 39, 40, 185, 13, 82, 81, 80, 191, 11, 12, 72, 73, 74, 164, 167, 165, 92),
    "mouth corners": (61, 78, 62, 76, 184, 183, 57, 43, 186, 212, 202),
    "lower lip": (17, 84, 181, 91, 146, 14, 87, 178, 88, 95, 15, 16, 85, 86, 180, 179, 90, 89, 77, 96),
    "chin": (152, 175, 199, 200, 18, 171, 208, 32, 140, 201, 194, 83, 106, 182, 148, 176),
    "jaw": (172, 136, 150, 149, 58, 132, 93, 234, 215, 138, 135, 169, 170, 192, 213, 177),
}
"""Seed landmarks of each region, one side of the face and the midline (the outer eye corners take in the temples)."""

REGIONS: tuple[str, ...] = tuple(REGION_SEEDS)
NONE = -1
"""The region of a value that reads no part of the face (a HOG cell below the jaw, in a corner of the crop)."""


def _landmark_regions() -> np.ndarray:
    """Each canonical landmark's region: that of its nearest seed (either side's)."""
    seeds, regions = [], []
    for region, ids in enumerate(REGION_SEEDS.values()):
        for i in ids:
            for point in {i, MIRROR_PERMUTATION[i]}:
                seeds.append(point)
                regions.append(region)
    vertices = np.asarray(CANONICAL_VERTICES)
    distance = np.linalg.norm(vertices[:, None, :] - vertices[seeds][None, :, :], axis=-1)
    return np.asarray(regions)[distance.argmin(axis=1)]


LANDMARK_REGIONS = _landmark_regions()
"""(468,) the region (an index into :data:`REGIONS`) of each face-mesh landmark."""


def _hog_regions() -> np.ndarray:
    """The region under each HOG value's cell: that of the nearest canonical landmark, or NONE past the face."""
    centres = hog_cell_centres()
    distance = np.linalg.norm(centres[:, None, :] - CANONICAL_IN_CROP[None, :, :], axis=-1)
    nearest = distance.argmin(axis=1)
    return np.where(distance.min(axis=1) < 0.75 * HOG_CELL, LANDMARK_REGIONS[nearest], NONE)


def feature_regions(feature_set: str) -> tuple[np.ndarray, np.ndarray]:
    """The region of each value of a ``feature_set`` vector (``NONE`` for none), and whether it is appearance.

    Landmarks: each coordinate is its landmark's; HOG: the cell's; patches: the landmark the patch is around.
    """
    if feature_set not in FEATURE_BLOCKS:
        raise InputError(f"unknown feature set {feature_set!r}; expected one of {', '.join(FEATURE_BLOCKS)}")
    shape = np.repeat(LANDMARK_REGIONS, 3)
    if feature_set == LANDMARKS:
        return shape, np.zeros(len(shape), bool)
    patches = np.repeat(LANDMARK_REGIONS[PATCH_IDS], PATCH * PATCH)
    regions = np.concatenate([shape, _hog_regions(), patches])
    return regions, np.arange(len(regions)) >= len(shape)
