"""The canonical emotion label set, its aliases, and the emoji for each label.

Datasets spell their classes in many ways (``anger``, ``Angry``, ``happiness``...);
everything downstream sees only the canonical names below, so two tables or a
table and a model agree on what a label means.
"""

from __future__ import annotations

from collections.abc import Iterable

from landmark_emotion.errors import LandmarkEmotionError

CANONICAL_LABELS: tuple[str, ...] = (
    "neutral",
    "happy",
    "sad",
    "surprise",
    "fear",
    "disgust",
    "angry",
    "contempt",
)

ALIASES: dict[str, str] = {
    "anger": "angry",
    "happiness": "happy",
    "sadness": "sad",
    "surprised": "surprise",
    "fearful": "fear",
    "disgusted": "disgust",
    "calm": "neutral",
}

EMOJI: dict[str, str] = {
    "neutral": "\U0001f610",
    "happy": "\U0001f604",
    "sad": "\U0001f622",
    "surprise": "\U0001f632",
    "fear": "\U0001f628",
    "disgust": "\U0001f922",
    "angry": "\U0001f620",
    "contempt": "\U0001f612",
}


UNCERTAIN = "uncertain"
"""What a face is labelled when no label's probability reaches the reader's threshold."""
UNCERTAIN_EMOJI = "\U0001f914"  # thinking face


def emoji_char(label: str) -> str:
    """The Unicode emoji of a label (for logs and the clipboard)."""
    return UNCERTAIN_EMOJI if label == UNCERTAIN else EMOJI.get(label, UNCERTAIN_EMOJI)


class UnknownLabelError(LandmarkEmotionError, ValueError):
    """A class name that is neither canonical nor a known alias."""


def canonical_label(name: str) -> str:
    """Map a dataset's class name to the canonical one, case-insensitively."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in CANONICAL_LABELS:
        raise UnknownLabelError(
            f"unknown emotion label {name!r}; expected one of "
            f"{', '.join(CANONICAL_LABELS)} (or an alias: {', '.join(sorted(ALIASES))})"
        )
    return key


def canonical_labels(names: Iterable[str]) -> list[str]:
    """Canonicalize several names, reporting every unknown one at once."""
    out, unknown = [], []
    for name in names:
        try:
            out.append(canonical_label(name))
        except UnknownLabelError:
            unknown.append(name)
    if unknown:
        raise UnknownLabelError(
            f"unknown emotion label(s) {', '.join(repr(u) for u in sorted(set(unknown)))}; "
            f"expected one of {', '.join(CANONICAL_LABELS)}"
        )
    return out


def ordered(labels: Iterable[str]) -> list[str]:
    """Sort labels in canonical order, so every model lists classes the same way."""
    present = set(labels)
    return [label for label in CANONICAL_LABELS if label in present]
