"""Argument types and shared flags of the commands: a bad value is refused by argparse before any work starts.

Every numeric flag is parsed by one of the types below, with the accepted range in the message
(``argument --lr: must be a number in (0, 1], got nan``).
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from landmark_emotion.resources import as_run_here

if TYPE_CHECKING:
    from landmark_emotion.reading.options import ReadOptions

MAX_SEED = 2**32 - 1


def int_range(low: int, high: int | None = None) -> Callable[[str], int]:
    """argparse type: a whole number in [low, high] (no upper bound when ``high`` is None)."""
    accepted = f"a whole number from {low} to {high}" if high is not None else f"a whole number of at least {low}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {accepted}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {accepted}, got {value}")
        return value

    parse.__name__ = "integer"  # argparse names the type in its own messages
    return parse


def float_range(low: float, high: float, low_open: bool = False, high_open: bool = False) -> Callable[[str], float]:
    """argparse type: a finite number in the interval from ``low`` to ``high`` (open ends excluded)."""
    accepted = f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {accepted}, got {text!r}") from None
        inside = (low < value if low_open else low <= value) and (value < high if high_open else value <= high)
        if not (math.isfinite(value) and inside):
            raise argparse.ArgumentTypeError(f"must be {accepted}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


positive_int = int_range(1)
"""argparse type: a whole number of at least 1."""

seed = int_range(0, MAX_SEED)
"""argparse type: a random seed NumPy and Keras accept."""

probability = float_range(0.0, 1.0)
"""argparse type: a number in [0, 1]."""

fraction = float_range(0.0, 1.0, low_open=True, high_open=True)
"""argparse type: a number strictly between 0 and 1."""

learning_rate = float_range(0.0, 1.0, low_open=True)
"""argparse type: a learning rate in (0, 1]."""


def label_factors(text: str) -> tuple[tuple[str, float], ...]:
    """argparse type: comma-separated LABEL=FACTOR pairs, each label once and each factor in (0, 100], e.g.
    ``neutral=1.3,contempt=0.5``."""
    from landmark_emotion.labels import UnknownLabelError, canonical_labels

    accepted = "comma-separated LABEL=FACTOR pairs, each label once, factors in (0, 100], like neutral=1.3,contempt=0.5"
    try:
        names, factors = zip(*(part.split("=") for part in text.split(",")))
        pairs = tuple(zip(canonical_labels(names), map(float, factors)))
    except UnknownLabelError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {accepted}, got {text!r}") from None
    if len({label for label, _ in pairs}) < len(pairs) or not all(0 < f <= 100 for _, f in pairs):
        raise argparse.ArgumentTypeError(f"must be {accepted}, got {text!r}")
    return pairs


def number_list(what: str, example: str, max_items: int, low: int, high: int) -> Callable[[str], tuple[int, ...]]:
    """argparse type: 1 to ``max_items`` comma-separated whole numbers, each in [low, high]."""
    accepted = f"1 to {max_items} comma-separated {what} from {low} to {high}, like {example}"

    def parse(text: str) -> tuple[int, ...]:
        try:
            numbers = tuple(int(part) for part in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {accepted}, got {text!r}") from None
        if not 1 <= len(numbers) <= max_items or not all(low <= n <= high for n in numbers):
            raise argparse.ArgumentTypeError(f"must be {accepted}, got {text!r}")
        return numbers

    parse.__name__ = what.replace(" ", "_")
    return parse


def layer_sizes(max_layers: int = 8, max_units: int = 4096) -> Callable[[str], tuple[int, ...]]:
    """argparse type: comma-separated layer sizes like ``256,128``, each in [1, max_units]."""
    return number_list("layer sizes", "256,128", max_layers, 1, max_units)


def command_parser(description: str | None) -> argparse.ArgumentParser:
    """A command's parser, its docstring the description: the examples in it (``python scr/main.py …``) are
    written the way the user runs commands here (``landmark-emotion-demo …`` when installed)."""
    return argparse.ArgumentParser(
        description=as_run_here(description or ""), formatter_class=argparse.RawDescriptionHelpFormatter
    )


def add_verbose_option(parser: argparse.ArgumentParser) -> None:
    """``--verbose``, every command's: whether the native libraries' own log lines show
    (:func:`quiet_native_logs`)."""
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show MediaPipe's and TensorFlow's own log lines (hidden otherwise)",
    )


def add_landmarker_options(parser: argparse.ArgumentParser) -> None:
    """``--landmarker`` and ``--verbose``: which face mesh to run, and whether its log lines show."""
    from landmark_emotion.face.landmarker import LANDMARKER_ENV, LANDMARKERS

    parser.add_argument(
        "--landmarker",
        choices=LANDMARKERS,
        help=f"face landmarker (default: ${LANDMARKER_ENV}, else legacy where mediapipe 0.10.x "
        "is installed, else tasks)",
    )
    add_verbose_option(parser)


def add_seed_option(parser: argparse.ArgumentParser, default: int) -> None:
    """``--seed``: what a command draws at random (splits, samples, initial weights) is drawn the same each run."""
    parser.add_argument(
        "--seed",
        type=seed,
        default=default,
        help="random seed: the same seed, data and flags give the same result (default: %(default)s)",
    )


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    """``--no-progress``: no progress bar (for logs and scripts)."""
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (e.g. when logging to a file)")


def add_read_options(parser: argparse.ArgumentParser) -> None:
    """The flags of :class:`~landmark_emotion.reading.options.ReadOptions` the demo and the web page share
    (``--landmarker`` is :func:`add_landmarker_options`'s); :func:`read_options` makes the options of them."""
    from landmark_emotion.reading.neutral import MODES
    from landmark_emotion.reading.options import MAX_FACES, MAX_SMOOTHING, ReadOptions

    defaults = ReadOptions()
    parser.add_argument(
        "--max-faces",
        type=int_range(1, MAX_FACES),
        default=defaults.max_faces,
        help="faces per frame (default: %(default)s)",
    )
    parser.add_argument(
        "--min-confidence",
        type=probability,
        default=defaults.min_confidence,
        help="below this probability a face shows 'uncertain' (default: %(default)s)",
    )
    parser.add_argument(
        "--smoothing",
        type=int_range(1, MAX_SMOOTHING),
        default=defaults.smoothing,
        help="average each face's probabilities over about this many frames; 1 = off (default: %(default)s)",
    )
    parser.add_argument(
        "--calibrate",
        choices=MODES,
        default=defaults.calibrate,
        help="neutral: calibrate with a personal model's neutral, or one taken on request (the demo's n key, the "
        "page's button); auto: until then, estimate each face's neutral from its own frames; off: never "
        "(default: %(default)s)",
    )


def read_options(args: argparse.Namespace) -> ReadOptions:
    """The :class:`~landmark_emotion.reading.options.ReadOptions` of flags added by :func:`add_read_options`."""
    from landmark_emotion.reading.options import ReadOptions

    return ReadOptions(
        args.max_faces,
        args.min_confidence,
        args.calibrate,
        args.smoothing,
        getattr(args, "landmarker", None),
        getattr(args, "blendshapes", False),
        getattr(args, "explain", False),
    )


def quiet_native_logs(verbose: bool) -> None:
    """Unless ``verbose``, keep the native libraries' log lines off the terminal, in this process and its workers
    (call before TensorFlow or MediaPipe loads).

    TensorFlow is asked not to log (its variable is read when it loads); what MediaPipe and the rest log, from their
    own threads and whenever they do, is dropped by :func:`~landmark_emotion.face.native_logs.hide_native_logs`.
    OpenCV's and FFmpeg's own are kept off by :func:`landmark_emotion.cli.startup.quiet_startup`, before cv2 loads,
    with or without ``verbose``."""
    from landmark_emotion.face.native_logs import hide_native_logs, show_native_logs

    if verbose:
        show_native_logs()
        return
    for var, value in (("TF_CPP_MIN_LOG_LEVEL", "3"), ("GLOG_minloglevel", "2")):
        os.environ.setdefault(var, value)
    hide_native_logs()
