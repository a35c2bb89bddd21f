"""Face tracks: ids follow faces, not their position in Face Mesh's list."""

from __future__ import annotations

import numpy as np
import pytest

from landmark_emotion.reading.tracking import FaceTracker, iou


def test_iou():
    boxes = np.array([[0, 0, 10, 10]])
    others = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5]])
    np.testing.assert_allclose(iou(boxes, others), [[1.0, 50 / 150, 0.0]])


def test_ids_follow_faces_when_they_swap_order_in_the_list():
    tracker = FaceTracker()
    left, right = np.array([10, 50, 100, 120]), np.array([300, 60, 90, 110])
    first = tracker.update(np.stack([left, right]))
    assert len(set(first)) == 2
    moved = tracker.update(np.stack([right + 4, left - 3]))  # detector now lists the right face first
    assert moved == [first[1], first[0]]
    assert tracker.update(np.stack([left, right])) == first


def test_new_face_gets_a_new_id_and_a_lost_one_keeps_its_id_for_a_while():
    tracker = FaceTracker(max_missing=2)
    face, other = np.array([10, 10, 50, 50]), np.array([200, 10, 50, 50])
    (a,) = tracker.update(face[None])
    a2, b = tracker.update(np.stack([face, other]))
    assert a2 == a and b != a
    tracker.update(np.zeros((0, 4)))
    tracker.update(np.zeros((0, 4)))
    assert set(tracker.ids) == {a, b}  # missed twice: still remembered
    assert tracker.update(face[None]) == [a]
    tracker.update(face[None])
    tracker.update(face[None])
    assert tracker.ids == [a]  # the other one was gone three frames: forgotten


@pytest.mark.parametrize("shift", [0, 15])
def test_two_close_faces_are_not_merged(shift):
    tracker = FaceTracker()
    boxes = np.array([[0, 0, 40, 40], [30, 0, 40, 40]])
    ids = tracker.update(boxes)
    assert tracker.update(boxes + [shift, 0, 0, 0]) == ids and len(set(ids)) == 2


def test_a_face_that_jumped_less_than_its_size_keeps_its_id():
    """A reader of a few frames a second: no overlap left between two frames, but the nearest free track."""
    tracker = FaceTracker()
    (a,) = tracker.update(np.array([[100, 100, 100, 100]]))
    assert tracker.update(np.array([[190, 120, 100, 100]])) == [a]  # moved 0.92 of its size: overlap 0.05
    (far,) = tracker.update(np.array([[400, 120, 100, 100]]))  # 2.1 sizes away: somebody else
    assert far != a


def test_a_newcomer_beside_a_followed_face_gets_its_own_id():
    """The nearest-centre step only pairs what overlap left free: a followed face is never handed over."""
    tracker = FaceTracker()
    (a,) = tracker.update(np.array([[100, 100, 100, 100]]))
    b_left, b_right = np.array([104, 100, 100, 100]), np.array([180, 100, 100, 100])
    assert tracker.update(np.stack([b_right, b_left])) == [a + 1, a]
    assert tracker.update(np.stack([b_left + 2, b_right + 2])) == [a, a + 1]
