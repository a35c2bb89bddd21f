"""The emotion model as one object, in the scikit-learn manner: load it, ask it, save it.

    model = EmotionModel.load("models/default")
    model.classes_                                   # ['neutral', 'happy', ...]
    model.predict_proba_landmarks(landmarks, image)  # (n, len(classes_)) probabilities

One object for scripts, benchmarks and the public API alike. Training makes one
(:func:`landmark_emotion.training.base.train_base_model`,
:func:`landmark_emotion.training.personal.train_personal_model`); loading and predicting
never import TensorFlow (the NumPy engine of :mod:`landmark_emotion.model.inference`
predicts); saving does, to write the Keras network beside it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from landmark_emotion.data.table import LandmarkTable
from landmark_emotion.errors import InputError
from landmark_emotion.face.features import LANDMARKS, face_vectors, image_vectors
from landmark_emotion.model.bundle import REPLAY_FILE, REQUIRED_FILES, ModelBundle, load_bundle
from landmark_emotion.model.bundle_write import inference_copy, save_bundle
from landmark_emotion.model.calibration import REFERENCE_FILE, References, calibrate, expression_directions
from landmark_emotion.model.inference import Predictor, Step, steps_from_keras
from landmark_emotion.model.preprocess import Preprocess


class EmotionModel:
    """A classifier of facial expressions: feature vectors (or a face's landmarks) -> class probabilities.

    Made by :meth:`load` (a bundle folder) or by training (a landmark table, or a base model
    and one person's recordings: :mod:`landmark_emotion.training.base`); :meth:`save` writes it
    as a bundle. Attributes: ``classes_`` (ordered labels), ``feature_set`` (what it
    reads), ``references`` (calibration neutrals, or None), ``info`` and ``metrics``
    (``bundle.json``'s and ``metrics.json``'s content), ``path`` (its bundle, once loaded
    or saved) and ``warnings`` (what training had to say).
    """

    def __init__(
        self,
        predictor: Predictor,
        info: Mapping,
        metrics: Mapping,
        references: References | None = None,
        *,
        path: str | os.PathLike | None = None,
        bundle: ModelBundle | None = None,
        network=None,
        replay: LandmarkTable | None = None,
        figures: Mapping[str, object] | None = None,
        files: Mapping[str, bytes] | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        self._predictor = predictor
        self.classes_: list[str] = list(predictor.labels)
        self.feature_set: str = predictor.feature_set
        self.info, self.metrics = dict(info), dict(metrics)
        self.references = references
        self.path = None if path is None else Path(path)
        self.warnings = list(warnings or [])
        self._bundle = bundle  # where the network and replay sample are read from when not in memory
        self._network = network
        self._replay = replay
        self._figures = dict(figures or {})
        self._files = dict(files or {})
        self._directions: tuple[np.ndarray | None] | None = None

    def __repr__(self) -> str:
        return (
            f"EmotionModel({self.info.get('kind', 'base')}, {self.feature_set}, classes_={self.classes_}, "
            f"path={str(self.path) if self.path else None})"
        )

    # ---------------------------------------------------------------- reading and writing bundles

    @classmethod
    def load(cls, path: str | os.PathLike) -> EmotionModel:
        """The model of a bundle folder, verified whole; raises :class:`~landmark_emotion.model.bundle.BundleError`
        for one that is missing, incomplete, changed or of another feature version. No TensorFlow is imported."""
        bundle = load_bundle(path)
        return cls(bundle.predictor(), bundle.info, bundle.metrics, bundle.references, path=bundle.path, bundle=bundle)

    def save(self, path: str | os.PathLike, force: bool = False) -> Path:
        """Write the model as a bundle at ``path`` (refused if it exists, unless ``force``); returns ``path``.

        The bundle is written whole or not at all; the model's figures and other files
        (those of the bundle it was loaded from, or of its training) go with it.
        """
        files = dict(self._files)
        if self._bundle is not None:
            kept = set(self._bundle.info["sha256"]) - {*REQUIRED_FILES, REPLAY_FILE, REFERENCE_FILE}
            files = {name: (self._bundle.path / name).read_bytes() for name in sorted(kept)} | files
        pre = self.preprocess
        path = save_bundle(
            path,
            self.keras_model(),
            pre.mean,
            pre.scale,
            self.classes_,
            self.info,
            self.metrics,
            replay=self.replay_table(),
            force=force,
            figures=self._figures,
            files=files,
            components=pre.components,
            feature_set=self.feature_set,
            references=self.references,
        )
        self._bundle = load_bundle(path)
        self.path, self.info = self._bundle.path, self._bundle.info
        return path

    # ---------------------------------------------------------------- predicting

    @property
    def preprocess(self) -> Preprocess:
        """Feature vectors -> what the network's first layer reads (scaler, and projection if any)."""
        return self._predictor.preprocess

    @property
    def n_features(self) -> int:
        """The length of the feature vectors the model reads."""
        return self._predictor.n_features

    def predictor(self) -> Predictor:
        """The NumPy engine (what :class:`~landmark_emotion.reading.pipeline.EmotionReader` and evaluation call)."""
        return self._predictor

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """(d,) or (n, d) feature vectors of ``feature_set`` -> (n, len(classes_)) float32 probabilities.

        The vectors are read as they are, not calibrated: a personal model, fitted on its user's
        calibrated faces, wants ``calibrate(x, references.person, references.population)``, which
        :meth:`predict_proba_landmarks` (and the demo) apply.
        """
        return self._predictor.predict_proba(features)

    def predict(self, features: np.ndarray) -> list[str]:
        """The most probable class of each feature vector."""
        return self._predictor.predict(features)

    def features(
        self, landmarks: np.ndarray, image: np.ndarray | None = None, *, size: tuple[int, int] | None = None
    ) -> np.ndarray:
        """(n, d) feature vectors of faces, through the one feature pipeline (:mod:`landmark_emotion.face.features`).

        ``landmarks`` are MediaPipe's, (468, 3) or (n, 468, 3), x and y as fractions of the
        image's width and height. ``image`` is that image (BGR); a model that reads
        appearance needs it, a landmarks-only one needs it or its ``size`` (width, height).
        """
        try:
            landmarks = np.asarray(landmarks, np.float32)
        except (TypeError, ValueError):
            raise InputError(f"expected landmarks that are numbers, got {type(landmarks).__name__}") from None
        if landmarks.shape[-2:] != (468, 3) or landmarks.ndim not in (2, 3):
            raise InputError(f"expected landmarks of shape (468, 3) or (n, 468, 3), got {landmarks.shape}")
        if not np.isfinite(landmarks).all():
            raise InputError("landmarks must be finite numbers (NaN or infinity found)")
        landmarks = landmarks.reshape(-1, 468, 3)
        if image is not None:
            image = np.asarray(image)
            if image.dtype != np.uint8 or image.ndim not in (2, 3):
                raise InputError(f"expected an 8-bit image (height, width[, 3]), got {image.dtype} {image.shape}")
            return image_vectors(self.feature_set, image, landmarks)
        if self.feature_set != LANDMARKS:
            raise InputError(
                f"this model reads {self.feature_set}: pass the image the landmarks were found in "
                "(its appearance is described from it)"
            )
        if size is None:
            raise InputError(
                "landmarks are fractions of the image's width and height: pass the image or its size=(width, height)"
            )
        try:
            width, height = (float(side) for side in size)
        except (TypeError, ValueError):
            raise InputError(f"size must be (width, height) in pixels, got {size!r}") from None
        if not (np.isfinite(width) and np.isfinite(height) and width >= 1 and height >= 1):
            raise InputError(f"size must be (width, height), each at least 1 pixel, got {size!r}")
        return face_vectors(LANDMARKS, landmarks, np.full(len(landmarks), width), np.full(len(landmarks), height))

    def predict_proba_landmarks(
        self,
        landmarks: np.ndarray,
        image: np.ndarray | None = None,
        *,
        size: tuple[int, int] | None = None,
        calibrated: bool = True,
    ) -> np.ndarray:
        """(n, len(classes_)) probabilities of faces given by their landmarks (see :meth:`features`).

        A personal model that keeps its user's neutral face reads faces calibrated to it
        (as it was trained and as the demo reads them), unless ``calibrated`` is False.
        """
        x = self.features(landmarks, image, size=size)
        refs = self.references
        if calibrated and refs is not None and refs.person is not None:
            x = calibrate(x, refs.person, refs.population)
        return self.predict_proba(x)

    # ---------------------------------------------------------------- the network and the replay sample

    def keras_model(self):
        """A fresh copy of the Keras network (imports TensorFlow); changing it leaves the model as it is."""
        if self._network is not None:
            return inference_copy(self._network)
        assert self._bundle is not None, "a model is made with its network or loaded from a bundle"
        return self._bundle.keras_model()

    def expression_directions(self) -> np.ndarray | None:
        """(len(classes_), n_features): what each expression adds to a neutral face, measured on the model's replay
        sample (:func:`~landmark_emotion.model.calibration.expression_directions`); None without one. Read once
        (the sample is read through the bundle, whose checksums were verified at load)."""
        if self._directions is None:
            replay = self.replay_table()
            directions = None
            if replay is not None and len(replay):
                directions = expression_directions(replay.features(self.feature_set), replay.labels, self.classes_)
            self._directions = (directions,)
        return self._directions[0]

    def network_steps(self) -> list[Step]:
        """The network as engine steps, before the preprocessing is folded in (from ``forward.npz`` when the model
        was loaded: no TensorFlow)."""
        if self._bundle is not None:
            return list(self._bundle.steps)
        return steps_from_keras(self._network)

    def replay_table(self) -> LandmarkTable | None:
        """The sample of the base training data kept for fine-tuning without forgetting, or None."""
        if self._replay is None and self._bundle is not None:
            self._replay = self._bundle.replay_table()
        return self._replay
