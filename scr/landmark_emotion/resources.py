"""Where the files a command needs at run time are, whether the package is installed or run from a checkout.

The workspace (``models/``, ``personal_data/``, ``datasets/``) is the checkout when running from
one, else the working directory. The sample photo and the demo's sample clip are the checkout's
``datasets/samples/``, else the installed package's ``landmark_emotion/samples/``; the bundles
shipped in the package are ``landmark_emotion/shipped/`` (installed from the checkout's ``models/``).
Which model a command uses is :mod:`landmark_emotion.model.discovery`'s to say.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
_ROOT = PACKAGE.parents[1]
CHECKOUT = _ROOT if PACKAGE.parent.name == "scr" and (_ROOT / "pyproject.toml").is_file() else None
"""The repository this code runs from (``scr/landmark_emotion`` inside it), or None when the package is installed."""

SHIPPED_MODELS = PACKAGE / "shipped"
"""The installed package's copy of ``models/`` (the default bundle; absent in a checkout)."""

SAMPLES = CHECKOUT / "datasets" / "samples" if CHECKOUT else PACKAGE / "samples"
SAMPLE_PHOTO = SAMPLES / "astronaut.jpg"
"""NASA's public-domain portrait of astronaut Eileen Collins (as scikit-image ships it): the sample photo."""
SAMPLE_CLIP = SAMPLES / "astronaut.mp4"
"""The demo's clip when there is no camera (the sample photo, panned and zoomed)."""


def workspace() -> Path:
    """Where commands read and write the user's files by default (``models/``, ``personal_data/``, ``datasets/``):
    the checkout when running from one, else the working directory (an installed package's folder is no place
    for them)."""
    return CHECKOUT or Path.cwd()


COMMANDS = {
    "extract_landmarks": "landmark-emotion-extract",
    "train_model": "landmark-emotion-train",
    "evaluate": "landmark-emotion-evaluate",
    "record_dataset": "landmark-emotion-record",
    "train_personal": "landmark-emotion-fine-tune",
    "main": "landmark-emotion-demo",
    "web": "landmark-emotion-web",
}
"""Each script in ``scr/`` and the console command it is installed as (pyproject.toml's ``[project.scripts]``)."""


def command(script: str) -> str:
    """How to run ``scr/<script>.py`` here, the way the user ran this process: the script from a checkout
    (``python scr/train_personal.py``), else its installed command (``landmark-emotion-fine-tune``)."""
    invoked = Path(getattr(sys, "argv", [""])[0] or "").name
    if CHECKOUT and invoked not in COMMANDS.values():
        return f"python scr/{script}.py"
    return COMMANDS[script]


def as_run_here(text: str) -> str:
    """``text`` with every ``python scr/<script>.py`` written as :func:`command` gives it (a command's help)."""
    return re.sub(rf"python scr/({'|'.join(COMMANDS)})\.py", lambda match: command(match[1]), text)


def shown(path: str | os.PathLike) -> str:
    """A path as a user reads it: relative to the working directory when inside it; a bundle shipped in the
    package as ``default, shipped with landmark-emotion``, not its site-packages path."""
    path = Path(path)
    if SHIPPED_MODELS in path.resolve().parents:
        return f"{path.name}, shipped with landmark-emotion"
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
