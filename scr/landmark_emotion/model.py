"""The emotion model as one object, in the scikit-learn manner: load or fit it, ask it, fine-tune it, save it.

    model = EmotionModel.load("models/default")
    model.classes_                                   # ['neutral', 'happy', ...]
    model.predict_proba_landmarks(landmarks, image)  # (n, len(classes_)) probabilities

Everything a model is made of lives here, for scripts, benchmarks and the public API
alike: what :meth:`EmotionModel.fit` adds to a trained network (scores on held-out
people, figures, the replay sample, the population neutral, an optional TFLite export)
and what :meth:`EmotionModel.fine_tune` adds to a personal one. Loading and predicting
never import TensorFlow (the NumPy engine of :mod:`landmark_emotion.inference` predicts);
fitting, fine-tuning and saving do, and import the training code only when called.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .bundle_write import inference_copy, save_bundle
from .calibration import REFERENCE_FILE, References, calibrate
from .features import LANDMARKS, face_vectors, image_vectors
from .inference import Predictor, predictor_from_keras
from .model_bundle import REPLAY_FILE, REQUIRED_FILES, ModelBundle, load_bundle
from .preprocess import Preprocess
from .table import LandmarkTable

if TYPE_CHECKING:
    from .personal import FineTuneSettings, PersonalData
    from .training import Recipe, TrainResult


class EmotionModel:
    """A classifier of facial expressions: feature vectors (or a face's landmarks) -> class probabilities.

    Made by :meth:`load` (a bundle folder), :meth:`fit` (a landmark table) or
    :meth:`fine_tune` (a base model and one person's recordings); :meth:`save` writes it
    as a bundle. Attributes: ``classes_`` (ordered labels), ``feature_set`` (what it
    reads), ``references`` (calibration neutrals, or None), ``info`` and ``metrics``
    (``bundle.json``'s and ``metrics.json``'s content), ``path`` (its bundle, once loaded
    or saved), ``warnings`` (what fitting or fine-tuning had to say) and ``training``
    (the training record of :meth:`fit`: split, history, kept epoch; None otherwise).
    """

    def __init__(self, predictor: Predictor, info: Mapping, metrics: Mapping, references: References | None = None,
                 *, path: str | os.PathLike | None = None, bundle: ModelBundle | None = None, network=None,
                 replay: LandmarkTable | None = None, figures: Mapping[str, object] | None = None,
                 files: Mapping[str, bytes] | None = None, warnings: list[str] | None = None,
                 training: TrainResult | None = None) -> None:
        self._predictor = predictor
        self.classes_: list[str] = list(predictor.labels)
        self.feature_set: str = predictor.feature_set
        self.info, self.metrics = dict(info), dict(metrics)
        self.references = references
        self.path = None if path is None else Path(path)
        self.warnings = list(warnings or [])
        self.training = training
        self._bundle = bundle  # where the network and replay sample are read from when not in memory
        self._network = network
        self._replay = replay
        self._figures = dict(figures or {})
        self._files = dict(files or {})

    def __repr__(self) -> str:
        return (f"EmotionModel({self.info.get('kind', 'base')}, {self.feature_set}, classes_={self.classes_}, "
                f"path={str(self.path) if self.path else None})")

    # ---------------------------------------------------------------- reading and writing bundles

    @classmethod
    def load(cls, path: str | os.PathLike) -> EmotionModel:
        """The model of a bundle folder, verified whole; raises :class:`~landmark_emotion.model_bundle.BundleError`
        for one that is missing, incomplete, changed or of another feature version. No TensorFlow is imported."""
        bundle = load_bundle(path)
        return cls(bundle.predictor(), bundle.info, bundle.metrics, bundle.references, path=bundle.path,
                   bundle=bundle)

    def save(self, path: str | os.PathLike, force: bool = False) -> Path:
        """Write the model as a bundle at ``path`` (refused if it exists, unless ``force``); returns ``path``.

        The bundle is written whole or not at all; the model's figures and other files
        (those of the bundle it was loaded from, or of :meth:`fit`) go with it.
        """
        files = dict(self._files)
        if self._bundle is not None:
            kept = set(self._bundle.info["sha256"]) - {*REQUIRED_FILES, REPLAY_FILE, REFERENCE_FILE}
            files = {name: (self._bundle.path / name).read_bytes() for name in sorted(kept)} | files
        pre = self.preprocess
        path = save_bundle(path, self.keras_model(), pre.mean, pre.scale, self.classes_, self.info, self.metrics,
                           replay=self.replay_table(), force=force, figures=self._figures, files=files,
                           components=pre.components, feature_set=self.feature_set, references=self.references)
        self._bundle = load_bundle(path)
        self.path, self.info = self._bundle.path, self._bundle.info
        return path

    # ---------------------------------------------------------------- predicting

    @property
    def labels(self) -> list[str]:
        """``classes_``, under the name the reader's predictors use."""
        return self.classes_

    @property
    def preprocess(self) -> Preprocess:
        """Feature vectors -> what the network's first layer reads (scaler, and projection if any)."""
        return self._predictor.preprocess

    @property
    def n_features(self) -> int:
        """The length of the feature vectors the model reads."""
        return self._predictor.n_features

    def predictor(self) -> Predictor:
        """The NumPy engine (what :class:`~landmark_emotion.reading.EmotionReader` and evaluation call)."""
        return self._predictor

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """(d,) or (n, d) feature vectors of ``feature_set`` -> (n, len(classes_)) float32 probabilities."""
        return self._predictor.predict_proba(features)

    def predict(self, features: np.ndarray) -> list[str]:
        """The most probable class of each feature vector."""
        return self._predictor.predict(features)

    def features(self, landmarks: np.ndarray, image: np.ndarray | None = None, *,
                 size: tuple[int, int] | None = None) -> np.ndarray:
        """(n, d) feature vectors of faces, through the one feature pipeline (:mod:`landmark_emotion.features`).

        ``landmarks`` are MediaPipe's, (468, 3) or (n, 468, 3), x and y as fractions of the
        image's width and height. ``image`` is that image (BGR); a model that reads
        appearance needs it, a landmarks-only one needs it or its ``size`` (width, height).
        """
        landmarks = np.asarray(landmarks, np.float32)
        if landmarks.shape[-2:] != (468, 3) or landmarks.ndim not in (2, 3):
            raise ValueError(f"expected landmarks of shape (468, 3) or (n, 468, 3), got {landmarks.shape}")
        landmarks = landmarks.reshape(-1, 468, 3)
        if image is not None:
            image = np.asarray(image)
            if image.dtype != np.uint8 or image.ndim not in (2, 3):
                raise ValueError(f"expected an 8-bit image (height, width[, 3]), got {image.dtype} {image.shape}")
            return image_vectors(self.feature_set, image, landmarks)
        if self.feature_set != LANDMARKS:
            raise ValueError(f"this model reads {self.feature_set}: pass the image the landmarks were found in "
                             "(its appearance is described from it)")
        if size is None:
            raise ValueError("landmarks are fractions of the image's width and height: pass the image or its "
                             "size=(width, height)")
        width, height = size
        return face_vectors(LANDMARKS, landmarks, np.full(len(landmarks), width), np.full(len(landmarks), height))

    def predict_proba_landmarks(self, landmarks: np.ndarray, image: np.ndarray | None = None, *,
                                size: tuple[int, int] | None = None, calibrated: bool = True) -> np.ndarray:
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
        return self._bundle.keras_model()

    def replay_table(self) -> LandmarkTable | None:
        """The sample of the base training data kept for fine-tuning without forgetting, or None."""
        if self._replay is None and self._bundle is not None:
            self._replay = self._bundle.replay_table()
        return self._replay

    # ---------------------------------------------------------------- training

    @classmethod
    def fit(cls, table: LandmarkTable, recipe: Recipe | None = None, *, min_class_count: int | None = None,
            val_fraction: float = 0.15, test_fraction: float = 0.15, seed: int = 0, progress: bool = True,
            feature_set: str | None = None, replay_per_class: int | None = None, tflite: bool = False,
            train_args: Mapping | None = None, training_data: Mapping | None = None) -> EmotionModel:
        """A base model trained on ``table`` (:func:`landmark_emotion.training.train`), scored on its held-out part.

        Its ``metrics`` are the test scores (validation's when there is no test part) with
        the training's record, ``info`` says what it was trained on (``train_args`` and
        ``training_data`` (name, source, licence) as the caller knows them), and saving it
        writes the confusion matrix and learning curves, ``replay_per_class`` training samples
        per class for fine-tuning, the population neutral (a warning says when there is
        none) and with ``tflite`` a ``model.tflite`` checked against Keras.
        """
        from .evaluation import confusion_figure, curves_figure, evaluate_predictor
        from .training import MIN_CLASS_COUNT, REPLAY_PER_CLASS, Recipe, population_neutral, replay_sample, train

        recipe = recipe or Recipe()
        result = train(table, recipe, min_class_count=MIN_CLASS_COUNT if min_class_count is None else min_class_count,
                       val_fraction=val_fraction, test_fraction=test_fraction, seed=seed, progress=progress,
                       feature_set=feature_set)
        predictor, split = result.predictor(), result.split
        held_out, rows, people = split.scored()
        scored, trained = result.table.subset(rows), result.table.subset(split.train)
        metrics = evaluate_predictor(predictor, scored)
        validation = evaluate_predictor(predictor, result.table.subset(split.val))
        metrics.update({
            "evaluated_on": f"{held_out} split, {people}",
            "validation": {key: validation[key] for key in ("accuracy", "balanced_accuracy", "macro_f1", "n")},
            "split": split.sizes(),
            "dropped_classes": result.dropped,
            "epochs_run": len(result.fit.history.get("loss", [])),
            "best_epoch": result.fit.best_epoch,
            "train_seconds": round(result.fit.seconds, 1),
            "interrupted": result.fit.interrupted,
            "skipped_rows": table.skipped,
        })
        files = {}
        if tflite:
            from .export import TFLITE_FILE, to_tflite

            check = result.preprocess.transform(scored.features(result.feature_set)[:256])
            files[TFLITE_FILE], metrics["tflite_max_difference"] = to_tflite(result.model, check)
        info = {
            "kind": "base",
            "train_args": {**(train_args or {}), "recipe": asdict(recipe)},
            "train_counts": trained.counts(),
            "landmarker": result.table.meta.get("landmarker"),  # None: trained on both, reads either
            "training_data": {"name": "unknown", "source": result.table.meta.get("data_sources", []),
                              "licence": "unknown", **{k: v for k, v in (training_data or {}).items() if v}},
        }
        figures = {"confusion.png": confusion_figure(metrics, f"{held_out} split ({people})"),
                   "curves.png": curves_figure(result.fit.history, result.fit.best_epoch)}
        replay = replay_sample(trained, REPLAY_PER_CLASS if replay_per_class is None else replay_per_class, seed)
        references = population_neutral(trained, result.feature_set)
        warnings = [] if references is not None else [
            "no neutral faces in the training split: the model cannot be calibrated"]
        return cls(predictor, info, metrics, references, network=result.model, replay=replay if len(replay) else None,
                   figures=figures, files=files, warnings=warnings, training=result)

    def fine_tune(self, data: PersonalData | LandmarkTable | str | os.PathLike,
                  settings: FineTuneSettings | None = None, *, min_samples: int | None = None,
                  progress: bool = True, train_args: Mapping | None = None) -> EmotionModel:
        """A NEW personal model: this one fine-tuned on one person's recordings (:mod:`landmark_emotion.personal`).

        ``data`` is a folder of recorded sessions, their :class:`~landmark_emotion.personal.PersonalData`,
        or a table. Labels this model lacks, fewer than ``min_samples`` samples of a label, or
        sessions without what the model reads raise
        :class:`~landmark_emotion.personal.PersonalDataError`. This model (and its bundle) is not
        changed; the new one keeps its scaler and replay sample, and its user's neutral face when
        one was recorded; it answers neutral and the recorded labels only, unless
        ``settings.keep_unrecorded`` (then all of this model's). Its ``warnings`` say what the user
        may want to know.
        """
        from .personal import (
            MIN_SAMPLES, FineTuneSettings, PersonalData, check_features, check_labels, fine_tune, load_sessions,
        )

        if isinstance(data, (str, os.PathLike)):
            data = load_sessions(data)
        elif isinstance(data, LandmarkTable):
            data = PersonalData(data, [])
        check_labels(data.table.counts(), self.classes_, MIN_SAMPLES if min_samples is None else min_samples)
        check_features(data, self.feature_set)
        result = fine_tune(self, data.table, settings or FineTuneSettings(), progress=progress)
        info = {
            "kind": "personal",
            "base": str(self.path) if self.path else None,
            "train_args": dict(train_args or {}),
            "sessions": [p.name for p in data.files],
            "skipped_sessions": [{"file": p.name, "reason": r} for p, r in data.skipped],
            "frozen_layers": result.frozen,
        }
        pre = self.preprocess
        predictor = predictor_from_keras(result.model, result.labels, pre.mean, pre.scale, pre.components,
                                         self.feature_set)
        replay = self.replay_table()
        if replay is not None:  # only faces of what the new model answers
            replay = replay.subset(np.flatnonzero(np.isin(replay.labels, result.labels)))
        return EmotionModel(predictor, info, result.metrics, result.references, network=result.model,
                            replay=replay if replay is not None and len(replay) else None, warnings=result.warnings)
