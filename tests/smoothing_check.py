"""How steady smoothed labels are, for the smoothing tests and ``benchmarks/realtime.py``.

A classifier's output on a face that holds each expression for a while, with noise
(:func:`noisy_sequence`), and what the labels do with it: how often they change
(:func:`label_changes`) and how many frames a real change takes to settle
(:func:`settle_frames`).
"""

from __future__ import annotations

import numpy as np


def noisy_sequence(
    rng: np.random.Generator, k: int = 7, hold: int = 30, segments: int = 12, noise: float = 0.8
) -> tuple[np.ndarray, np.ndarray]:
    """A classifier's output on a face holding each of ``segments`` expressions for ``hold`` frames.

    Per frame: softmax of a bump of 1.6 on the true class plus Gaussian noise (``noise``
    0.8: the frame's best class is right ~75% of the time; 1.0: ~60%). Returns the true
    class per frame and the (frames, k) probabilities.
    """
    truth = [0]
    for _ in range(segments - 1):
        truth.append(int(rng.choice([c for c in range(k) if c != truth[-1]])))
    labels = np.repeat(truth, hold)
    logits = rng.normal(0, noise, (len(labels), k))
    logits[np.arange(len(labels)), labels] += 1.6
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return labels, probs.astype(np.float32)


def label_changes(labels: np.ndarray) -> int:
    return int(np.count_nonzero(np.diff(labels)))


def settle_frames(truth: np.ndarray, labels: np.ndarray, window: int = 30) -> list[int]:
    """For each change of ``truth``: frames until ``labels`` shows the new class and keeps it (window if never)."""
    out = []
    for start in np.flatnonzero(np.diff(truth)) + 1:
        held = labels[start : start + window] == truth[start]
        settle = int(np.argmax(held)) if held.any() else window
        out.append(settle if held[settle:].all() else window)
    return out
