"""Where the files a command needs at run time are, whether the package is installed or run from a checkout.

The workspace (``models/``, ``personal_data/``, ``datasets/``) is the checkout when running from
one, else the working directory. The sample photo and the demo's sample clip are the checkout's
``datasets/samples/``, else the installed package's ``landmark_emotion/samples/``; the bundles
shipped in the package are ``landmark_emotion/shipped/`` (installed from the checkout's ``models/``).
Which model a command uses is :mod:`landmark_emotion.model.discovery`'s to say.
"""

from __future__ import annotations

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
