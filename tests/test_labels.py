import pytest

from landmark_emotion.labels import (
    CANONICAL_LABELS,
    EMOJI,
    UnknownLabelError,
    canonical_label,
    canonical_labels,
    ordered,
)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("anger", "angry"),
        ("Happiness", "happy"),
        ("SADNESS", "sad"),
        ("surprised", "surprise"),
        ("Fearful", "fear"),
        ("disgusted", "disgust"),
        ("calm", "neutral"),
        (" Neutral ", "neutral"),
        ("contempt", "contempt"),
    ],
)
def test_aliases_map_case_insensitively(name, expected):
    assert canonical_label(name) == expected


def test_unknown_label_names_itself_and_the_valid_set():
    with pytest.raises(UnknownLabelError, match="'bored'.*neutral, happy"):
        canonical_label("bored")


def test_all_unknown_labels_reported_at_once():
    with pytest.raises(UnknownLabelError) as info:
        canonical_labels(["happy", "bored", "sleepy", "bored"])
    assert "'bored'" in str(info.value) and "'sleepy'" in str(info.value)


def test_canonical_order_and_emoji_cover_every_label():
    assert ordered(["sad", "happy", "neutral"]) == ["neutral", "happy", "sad"]
    assert set(EMOJI) == set(CANONICAL_LABELS)
