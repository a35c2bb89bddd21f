"""Feature vectors -> network inputs: standardisation, then (optionally) whitened PCA per block of features.

A hybrid vector joins blocks of very different size and kind (1,404 landmark
coordinates, 1,764 HOG values, 1,152 patch samples). Standardised and fed as they
are, the largest block drowns the others and the network overfits thousands of
correlated inputs. Reduced block by block to whitened principal components, each
block speaks with a number of voices chosen for it, on the same scale.

The whole map is affine, ``z = ((x - mean) / scale) @ components``, kept as three
plain arrays in the bundle (``scaler.npz``), with ``components`` left out when
there is no PCA (the StandardScaler alone, as bundles always had).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from landmark_emotion.errors import InputError

SAMPLES_PER_COMPONENT = 10
"""A block is reduced only from this many samples per component; a smaller table keeps it whole, standardised:
whitened directions estimated from a handful of samples are noise, amplified to the scale of the signal."""


@dataclass
class Preprocess:
    """The fitted map from feature vectors to network inputs."""

    mean: np.ndarray
    scale: np.ndarray
    components: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, np.float64).reshape(-1)
        self.scale = np.asarray(self.scale, np.float64).reshape(-1)
        if self.components is not None:
            self.components = np.asarray(self.components, np.float32)
        self._mean32 = self.mean.astype(np.float32)
        self._inv_scale32 = (1.0 / self.scale).astype(np.float32)

    @property
    def n_features(self) -> int:
        return len(self.mean)

    @property
    def n_outputs(self) -> int:
        return self.n_features if self.components is None else self.components.shape[1]

    def transform(self, x: np.ndarray) -> np.ndarray:
        """(n, n_features) -> (n, n_outputs) float32."""
        z = (np.asarray(x, np.float32) - self._mean32) * self._inv_scale32
        return z if self.components is None else z @ self.components

    def typical_features(self, n: int = 16, seed: int = 0) -> np.ndarray:
        """(n, n_features) float32 random feature vectors at the scale of the training data: what checks of a
        network (finite outputs, NumPy against Keras) feed it."""
        normal = np.random.default_rng(seed).normal(size=(n, self.n_features))
        return (self.mean + self.scale * normal).astype(np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        """What ``scaler.npz`` holds."""
        arrays = {"mean": self.mean, "scale": self.scale}
        if self.components is not None:
            arrays["components"] = self.components
        return arrays


def fit_preprocess(
    x: np.ndarray, blocks: Sequence[int], components: Sequence[int] | None = None, seed: int = 0
) -> Preprocess:
    """Standardise ``x``; with ``components`` (one count per block, 0 = keep the block whole, standardised),
    reduce each block of columns (sizes ``blocks``) to that many whitened principal components (when ``x`` has
    :data:`SAMPLES_PER_COMPONENT` samples per component)."""
    from scipy.linalg import block_diag
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(x, np.float64)
    if sum(blocks) != x.shape[1]:
        raise InputError(f"blocks {list(blocks)} do not add up to the {x.shape[1]} features")
    scaler = StandardScaler().fit(x)
    if not components or not any(components):
        return Preprocess(scaler.mean_, scaler.scale_)
    if len(components) != len(blocks):
        raise InputError(f"need one component count per feature block ({len(blocks)}), got {list(components)}")
    z = scaler.transform(x)
    blocks_out = []
    row = 0
    for k, size in zip(components, blocks):
        if 0 < k < size and len(x) >= SAMPLES_PER_COMPONENT * k:
            pca = PCA(k, whiten=True, svd_solver="randomized", random_state=seed).fit(z[:, row : row + size])
            block = pca.components_.T / np.sqrt(np.maximum(pca.explained_variance_, 1e-12))
            # PCA centres on its own mean: zero here, since z is already standardised
        else:
            block = np.eye(size)
        blocks_out.append(block)
        row += size
    return Preprocess(scaler.mean_, scaler.scale_, block_diag(*blocks_out).astype(np.float32))
