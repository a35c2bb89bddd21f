"""Which model bundle a command uses when it is not told: the newest personal one, else ``default/``.

Model bundles are looked for in one order (:func:`model_places`); the first place that holds a
personal bundle or a ``default/`` one wins (a missing or empty folder does not stop the search):

1. the folder the caller names (a command's ``--models-dir``), and then nowhere else;
2. ``$LANDMARK_EMOTION_MODELS``, a folder of bundles;
3. the workspace's ``models/``: the checkout's when running from one (``python scr/main.py``
   or an editable install), else ``./models`` in the working directory (where the
   installed commands write their bundles);
4. the bundles shipped inside the installed package (``landmark_emotion/shipped/``,
   installed from the checkout's ``models/default``).
"""

from __future__ import annotations

import os
from pathlib import Path

from landmark_emotion.inputs import read_json
from landmark_emotion.model.bundle import INFO_FILE, BundleError
from landmark_emotion.resources import SHIPPED_MODELS, workspace

MODELS_ENV = "LANDMARK_EMOTION_MODELS"
"""Environment variable: a folder of model bundles to use instead of the workspace's or the shipped ones."""


class ModelNotFoundError(BundleError):
    """No model bundle in any of the places looked."""


def model_places(models_dir: str | os.PathLike | None = None) -> list[Path]:
    """The folders of bundles looked in, in order (see the module's docstring); only ``models_dir`` if given."""
    if models_dir is not None:
        return [Path(models_dir)]
    places = [Path(os.environ[MODELS_ENV])] if os.environ.get(MODELS_ENV) else []
    places += [workspace() / "models", SHIPPED_MODELS]
    return list(dict.fromkeys(places))


def find_default_model(models_dir: str | os.PathLike | None = None, personal: bool = True) -> Path:
    """The bundle a command uses when not told: the newest personal bundle (by creation time) of the first place
    that has one or a ``default/`` bundle (see :func:`model_places`), else that place's ``default/``.

    With ``models_dir`` only that folder is looked in, and ``models_dir/default`` is the answer when it holds no
    personal bundle (whether it is usable is :func:`~landmark_emotion.model.bundle.load_bundle`'s to say).
    A folder whose bundle.json cannot be read is not a candidate. ``personal=False`` looks for ``default/``
    only (the base a personal bundle is fine-tuned from).
    """
    places = model_places(models_dir)
    for place in places:  # read only: an interrupted replace is its writer's to recover (outputs.recover)
        bundles = _personal_bundles(place) if personal else []
        if bundles:
            return max(bundles)[2]
        if models_dir is not None or (place / "default" / INFO_FILE).is_file():
            return place / "default"
    raise ModelNotFoundError(
        f"no model bundle found: looked for a default/ or personal bundle in {_listed(places)}; "
        f"pass --model DIR or set {MODELS_ENV} to a folder of bundles"
    )


def _personal_bundles(place: Path) -> list[tuple[str, float, Path]]:
    personal = []
    for info_path in place.glob(f"*/{INFO_FILE}"):
        if info_path.parent.name.startswith("."):
            continue  # a bundle still being written, or an old one being replaced
        try:
            info = read_json(info_path)  # a regular file only: a FIFO named bundle.json would hang the choice
        except (OSError, ValueError):
            continue
        if isinstance(info, dict) and info.get("kind") == "personal":
            personal.append((str(info.get("created", "")), info_path.stat().st_mtime, info_path.parent))
    return personal


def _listed(places: list[Path]) -> str:
    return ", ".join(f"{place}{'' if place.is_dir() else ' (missing)'}" for place in places)
