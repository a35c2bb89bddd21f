"""What moved in a face, in words: "brows raised, mouth open", from its landmarks against its neutral reference.

Each movement is one measure of the aligned landmarks (a mean height, a gap, a width) taken
on the face and on its neutral reference; the words are those of the movements that changed
most, measured in what counts as a clear change of each (millimetres on a typical face), at
most one per region. They say what the face did, not what the model concluded: the same
face gets the same words whatever it is read as.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from landmark_emotion.face.canonical import MIRROR_PERMUTATION
from landmark_emotion.face.features import CANONICAL_RADIUS_CM
from landmark_emotion.face.regions import REGION_SEEDS

MM = 0.1 / CANONICAL_RADIUS_CM
"""One millimetre of the canonical face in the units of aligned landmarks."""

X, Y = 0, 1


def _both(*ids: int) -> tuple[int, ...]:
    """Landmarks of one side and their mirror images (midline points once)."""
    return tuple(dict.fromkeys((*ids, *(MIRROR_PERMUTATION[i] for i in ids))))


@dataclass(frozen=True)
class Movement:
    """A measure of the face: ``sum(weight * coordinate)`` over ``terms``, beyond ``clear`` (in mm) it shows.

    ``up``/``down`` are its words when it grows or shrinks (None: not worth saying);
    ``either_way`` measures its size whatever the sign (an asymmetry).
    """

    region: str
    up: str | None
    down: str | None
    clear: float
    terms: tuple[tuple[int, int, float], ...]
    either_way: bool = False


def _mean(ids: tuple[int, ...], axis: int, sign: float = 1.0) -> tuple[tuple[int, int, float], ...]:
    return tuple((i, axis, sign / len(ids)) for i in ids)


def _gap(first: tuple[int, ...], second: tuple[int, ...], axis: int) -> tuple[tuple[int, int, float], ...]:
    """``second`` minus ``first`` along ``axis`` (mean of each): grows as they part."""
    return _mean(second, axis) + _mean(first, axis, -1.0)


MOVEMENTS: tuple[Movement, ...] = (
    # y grows downwards: a height is minus the mean y
    Movement("brows", "brows raised", "brows lowered", 3.0, _mean(_both(*REGION_SEEDS["brows"]), Y, -1)),
    Movement("brows", None, "brows drawn together", 2.5, _gap((107, 55, 65), (336, 285, 295), X)),
    Movement("upper lids", "eyes wide open", "eyes narrowed", 1.5, _gap((159, 386), (145, 374), Y)),
    Movement("lower lids", "lower lids raised", None, 1.5, _mean(_both(145, 144, 153), Y, -1)),
    Movement("nose", "nose wrinkled", None, 1.25, _mean(_both(129, 48, 64, 98), Y, -1)),
    Movement("cheeks", "cheeks raised", None, 0.75, _mean(_both(50, 101, 118, 205), Y, -1)),
    Movement("upper lip", "upper lip raised", None, 2.0, _mean(_both(0, 37, 39), Y, -1)),
    Movement("lower lip", "mouth open", "lips pressed together", 3.0, _gap((13, 82, 312), (14, 87, 317), Y)),
    Movement("mouth corners", "mouth corners up", "mouth corners down", 2.5, _mean((61, 291), Y, -1)),
    Movement("mouth corners", "mouth stretched wide", "lips pursed", 3.5, _gap((61,), (291,), X)),
    Movement("mouth corners", "one mouth corner up", None, 2.5, _gap((61,), (291,), Y), either_way=True),
    Movement("chin", "jaw dropped", "chin raised", 4.0, _mean((152, 175, 199), Y)),
)
"""What the words can say; every region named is one of :data:`~landmark_emotion.face.regions.REGIONS`."""


def _weights() -> np.ndarray:
    """(movements, 1404): each movement as weights of the flattened landmarks, in clear changes per unit."""
    weights = np.zeros((len(MOVEMENTS), 468, 3))
    for row, movement in enumerate(MOVEMENTS):
        for point, axis, weight in movement.terms:
            weights[row, point, axis] += weight / (movement.clear * MM)
    return weights.reshape(len(MOVEMENTS), -1)


_WEIGHTS = _weights()
_EITHER_WAY = np.array([m.either_way for m in MOVEMENTS])


def movement_sizes(displacement: np.ndarray) -> np.ndarray:
    """Each movement of :data:`MOVEMENTS` in clear changes: 1 is one clear change up, -1 one down.

    ``displacement`` is the face's aligned landmarks minus its neutral reference's: (468, 3) or (1404,).
    """
    sizes = _WEIGHTS @ np.asarray(displacement, np.float64).reshape(-1)
    return np.where(_EITHER_WAY, np.abs(sizes), sizes)


def describe_movements(displacement: np.ndarray, most: int = 3) -> list[str]:
    """The words of the ``most`` largest clear movements, one per region, largest first ([] for a face at rest)."""
    sizes = movement_sizes(displacement)
    words: list[str] = []
    regions: set[str] = set()
    for row in np.argsort(-np.abs(sizes), kind="stable"):
        movement, size = MOVEMENTS[row], sizes[row]
        if abs(size) < 1.0 or len(words) == most:
            break
        word = movement.up if size > 0 else movement.down
        if word and movement.region not in regions:
            words.append(word)
            regions.add(movement.region)
    return words
