"""Per-face smoothing: a steady face gives a steady label, a real change still comes through quickly."""

from __future__ import annotations

import numpy as np
import pytest

from landmark_emotion.reading.smoothing import WINDOW, ProbabilitySmoother, TrackSmoothers, ema_alpha
from smoothing_check import label_changes, noisy_sequence, settle_frames


def test_smoothed_labels_change_only_with_the_expression_and_settle_fast():
    rng = np.random.default_rng(0)
    truth, probs = noisy_sequence(rng)
    smoother = ProbabilitySmoother(ema_alpha(WINDOW))
    smoothed = np.array([smoother.update(p)[1] for p in probs])
    raw = probs.argmax(1)
    assert label_changes(raw) > 5 * label_changes(truth)  # the raw classifier really flickers (~75% right per frame)
    assert label_changes(smoothed) <= label_changes(truth) * 1.1
    assert max(settle_frames(truth, smoothed)) <= 10


def test_near_tie_does_not_flip_the_label():
    smoother = ProbabilitySmoother(alpha=1.0, margin=0.1, confirm=2)  # no averaging: only the hysteresis acts
    assert smoother.update([0.52, 0.48])[1] == 0
    assert smoother.update([0.47, 0.53])[1] == 0  # 0.06 ahead: within the margin
    assert smoother.update([0.3, 0.7])[1] == 0  # clearly ahead, but for one frame only
    assert smoother.update([0.6, 0.4])[1] == 0
    assert smoother.update([0.3, 0.7])[1] == 0  # the streak starts again
    assert smoother.update([0.3, 0.7])[1] == 1


def test_one_frame_means_no_smoothing():
    smoothers = TrackSmoothers(frames=1)
    smoothers.update([0], np.array([[0.9, 0.1]]))
    probs, labels = smoothers.update([0], np.array([[0.45, 0.55]]))
    np.testing.assert_allclose(probs, [[0.45, 0.55]])
    assert labels.tolist() == [1]


def test_average_moves_by_alpha():
    smoother = ProbabilitySmoother(alpha=0.25)
    smoother.update([1.0, 0.0])
    probs, _ = smoother.update([0.0, 1.0])
    np.testing.assert_allclose(probs, [0.75, 0.25])


def test_bad_alpha_is_refused():
    with pytest.raises(ValueError, match="alpha"):
        ProbabilitySmoother(alpha=0.0)


def test_tracks_are_smoothed_separately_and_forgotten():
    smoothers = TrackSmoothers(frames=9, confirm=1)
    a, b = np.array([0.9, 0.1], np.float32), np.array([0.1, 0.9], np.float32)
    for _ in range(5):
        probs, labels = smoothers.update([7, 3], np.stack([a, b]))
    np.testing.assert_allclose(probs, [a, b], atol=1e-6)  # constant inputs stay unmixed
    probs, labels = smoothers.update([3, 7], np.stack([b, a]))  # same faces, other order
    assert labels.tolist() == [1, 0]
    smoothers.keep_only([3])
    assert len(smoothers) == 1
    probs, _ = smoothers.update([7], b[None])  # a returning id starts afresh
    np.testing.assert_allclose(probs[0], b)
