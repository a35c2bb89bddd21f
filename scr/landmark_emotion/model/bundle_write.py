"""Writing a bundle (:mod:`landmark_emotion.model.bundle`): all of it or nothing, never over one silently.

A bundle is built in a temporary folder next to its place and swapped in whole
(:mod:`landmark_emotion.outputs`), so a kill at any instant leaves the old bundle or the new
one. Before anything is written the NumPy forward pass is checked against Keras, so
every bundle on disk can be read without TensorFlow.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from landmark_emotion.data.table import LandmarkTable, save_table
from landmark_emotion.face.features import FEATURE_SETS, LANDMARKS
from landmark_emotion.model.bundle import (
    FORWARD_FILE,
    METRICS_FILE,
    MODEL_FILE,
    REPLAY_FILE,
    REQUIRED_FILES,
    SCALER_FILE,
    BundleError,
    ModelBundle,
    check_label_list,
    check_scaler,
    json_default,
    load_bundle,
    write_info,
)
from landmark_emotion.model.calibration import REFERENCE_FILE, References
from landmark_emotion.model.inference import EngineError, Predictor, check_agreement, steps_from_keras, write_forward
from landmark_emotion.outputs import (
    recover_before_writing,
    refuse_existing,
    replace_folder,
    save_npz,
    temporary_folder,
)


def add_to_bundle(path: str | os.PathLike, files: Mapping[str, bytes]) -> Path:
    """Add or replace extra files of a bundle (e.g. a calibration), keeping it verified whole.

    The bundle is checked, copied with the new files and its checksums, and swapped in
    atomically: a kill at any instant leaves the old or the new bundle.
    """
    path = Path(path)
    recover_before_writing(path)
    bundle = load_bundle(path)
    _check_extra_names(files)
    tmp = temporary_folder(path)
    try:
        for entry in path.iterdir():
            shutil.copy2(entry, tmp / entry.name)
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        write_info(tmp, bundle.info)
        _make_ordinary(tmp)
        replace_folder(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _check_extra_names(names: Iterable[str]) -> None:
    """Extra files are plain names, other than those of the files every bundle has."""
    bad = [name for name in names if Path(name).name != name or name in (*REQUIRED_FILES, REPLAY_FILE)]
    if bad:
        raise BundleError(f"extra bundle file name(s) {', '.join(bad)} are reserved or not plain file names")


def save_bundle(
    path: str | os.PathLike,
    keras_model,
    scaler_mean: np.ndarray,
    scaler_scale: np.ndarray,
    labels: Sequence[str],
    info: Mapping,
    metrics: Mapping,
    replay: LandmarkTable | None = None,
    force: bool = False,
    figures: Mapping[str, Any] | None = None,
    files: Mapping[str, bytes] | None = None,
    components: np.ndarray | None = None,
    feature_set: str = LANDMARKS,
    references: References | None = None,
) -> Path:
    """Write a bundle to ``path``: into a temporary folder next to it, then renamed into place.

    An existing ``path`` is refused unless ``force`` (then it is replaced only once the new
    bundle is complete), so a trained model is never overwritten silently or half-way.
    ``figures`` maps file names (``confusion.png``) to matplotlib figures, ``files`` other
    file names to their bytes (e.g. ``model.tflite``). ``components`` is the projection of
    :mod:`landmark_emotion.model.preprocess`, if any; ``references`` the neutral references for calibration.
    ``info`` is completed with labels, feature set and version, kind, creation time and file
    checksums.
    """
    path = Path(path)
    recover_before_writing(path)
    refuse_existing(path, force, BundleError)
    labels = check_label_list(labels)
    mean, scale, components = check_scaler(scaler_mean, scaler_scale, components, feature_set)
    if list(info.get("labels", labels)) != labels:
        raise BundleError(f"info lists labels {list(info['labels'])} but the model's labels are {labels}")
    extra = [*(figures or {}), *(files or {})]
    _check_extra_names(extra)
    try:  # the engine's word on the network, said of this bundle
        steps = steps_from_keras(keras_model)
        predictor = Predictor(labels, mean, scale, steps, components, feature_set)
        inputs = predictor.preprocess.n_outputs
        if steps[0].weight.shape[0] != inputs or steps[-1].bias.shape != (len(labels),):
            raise EngineError(f"the network must map {inputs} inputs to {len(labels)} labels ({', '.join(labels)})")
        if not all(np.all(np.isfinite(s.weight)) and np.all(np.isfinite(s.bias)) for s in steps):
            raise EngineError("the network has non-finite weights (NaN or infinity); nothing written")
        check_agreement(keras_model, predictor)
    except ValueError as exc:
        raise BundleError(str(exc)) from None
    if references is not None and (
        references.feature_version != FEATURE_SETS[feature_set][0] or np.shape(references.population) != mean.shape
    ):
        raise BundleError(
            f"the neutral reference was computed on {len(references.population)} features "
            f"{references.feature_version!r}, the model takes {len(mean)} "
            f"{FEATURE_SETS[feature_set][0]!r}"
        )
    files = {**(files or {}), **({REFERENCE_FILE: references.to_bytes()} if references is not None else {})}

    tmp = temporary_folder(path)
    try:
        inference_copy(keras_model).save(tmp / MODEL_FILE)
        write_forward(tmp / FORWARD_FILE, steps)
        save_npz(tmp / SCALER_FILE, predictor.preprocess.arrays())
        if replay is not None:
            save_table(replay, tmp / REPLAY_FILE)
        for name, figure in (figures or {}).items():
            figure.savefig(tmp / name, dpi=100)
        for name, data in (files or {}).items():
            (tmp / name).write_bytes(data)
        (tmp / METRICS_FILE).write_text(json.dumps(dict(metrics), indent=2, default=json_default) + "\n")
        write_info(
            tmp,
            {
                "kind": "base",
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "base": None,
                **info,
                "labels": labels,
                "feature_set": feature_set,
                "feature_version": FEATURE_SETS[feature_set][0],
            },
        )
        _make_ordinary(tmp)
        refuse_existing(path, force, BundleError)  # someone may have made it while this one was written
        replace_folder(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def add_references(path: str | os.PathLike, references: References) -> ModelBundle:
    """Give an existing bundle (e.g. one trained before calibration existed) its neutral references.

    Nothing else changes; the bundle stays verified whole (:func:`add_to_bundle`) and is
    loaded again, so one that does not load afterwards is never reported as done.
    """
    path = Path(path)
    recover_before_writing(path)
    bundle = load_bundle(path)
    if references.feature_version != bundle.feature_version or np.shape(references.population) != (bundle.n_features,):
        raise BundleError(
            f"the neutral reference was computed on {len(references.population)} features "
            f"{references.feature_version!r}, the model {path} takes {bundle.n_features} "
            f"{bundle.feature_version!r}"
        )
    add_to_bundle(path, {REFERENCE_FILE: references.to_bytes()})
    return load_bundle(path)


def inference_copy(model):
    """The network without optimizer state, which would triple the file and is of no use to a loader."""
    copy = type(model).from_config(model.get_config())  # clone_model would copy the optimizer too
    copy.set_weights(model.get_weights())
    return copy


def _make_ordinary(folder: Path) -> None:
    """Give the folder and its files the permissions of ordinary ones (mkdtemp and mkstemp make them private)."""
    mask = os.umask(0)
    os.umask(mask)
    folder.chmod(0o777 & ~mask)
    for file in folder.iterdir():
        file.chmod(0o666 & ~mask)
