"""Emoji sprites drawn without fonts, and the overlay that pastes them onto frames."""

from __future__ import annotations

import numpy as np
import pytest

from landmark_emotion.apps.emoji import STYLES, emoji_sprite
from landmark_emotion.apps.overlay import (
    CALIBRATION_TAGS,
    LOWERED,
    RAISED,
    UNMOVED,
    annotate,
    colour_of,
    emoji_size,
    face_tags,
    paste_sprite,
    place_label,
    region_colour,
)
from landmark_emotion.face.landmarker import Detection
from landmark_emotion.face.regions import LANDMARK_REGIONS, REGIONS
from landmark_emotion.labels import CANONICAL_LABELS, EMOJI, UNCERTAIN, UNCERTAIN_EMOJI, emoji_char
from landmark_emotion.model.explanation import Explanation
from landmark_emotion.reading.pipeline import Face

LABELS = [*CANONICAL_LABELS, UNCERTAIN]


@pytest.mark.parametrize("size", [24, 64])
def test_every_label_has_a_round_premultiplied_sprite(size):
    for label in LABELS:
        sprite = emoji_sprite(label, size)
        assert sprite.shape == (size, size, 4) and sprite.dtype == np.uint8
        alpha = sprite[..., 3]
        assert alpha[0, 0] == alpha[-1, -1] == 0 and alpha[size // 2, size // 2] == 255  # a disc
        assert (sprite[..., :3] <= alpha[..., None]).all()  # premultiplied: pastes without overflow


def test_sprites_differ_between_labels_and_are_cached():
    sprites = {label: emoji_sprite(label, 48) for label in LABELS}
    for i, a in enumerate(LABELS):
        for b in LABELS[i + 1 :]:
            assert np.abs(sprites[a].astype(int) - sprites[b].astype(int)).sum() > 1000, (a, b)
    assert emoji_sprite("happy", 48) is sprites["happy"]
    assert not sprites["happy"].flags.writeable
    assert set(STYLES) == set(LABELS)


def test_emoji_characters():
    assert emoji_char("happy") == EMOJI["happy"] and emoji_char(UNCERTAIN) == UNCERTAIN_EMOJI


def test_paste_blends_inside_and_clips_at_the_edges():
    sprite = emoji_sprite("happy", 32)
    frame = np.zeros((40, 50, 3), np.uint8)
    paste_sprite(frame, sprite, 10, 4)
    centre = frame[4 + 16, 10 + 16]
    np.testing.assert_array_equal(centre, sprite[16, 16, :3])  # opaque pixel: the sprite's colour
    assert not frame[:4].any() and not frame[:, :10].any()  # nothing outside its square
    for x, y in [(-20, -20), (40, 30), (-100, 0), (60, 60)]:  # partly or wholly outside: clipped, no error
        paste_sprite(frame, sprite, x, y)
    white = np.full((40, 50, 3), 255, np.uint8)
    paste_sprite(white, sprite, -16, -16)
    assert white[0, 0].tolist() != [255, 255, 255] and white[-1, -1].tolist() == [255, 255, 255]


def test_annotate_draws_box_label_emoji_and_bars():
    face = Face(
        (100, 120, 90, 100), np.zeros((468, 3), np.float32), "happy", 0.8, {"neutral": 0.2, "happy": 0.8}, track=3
    )
    plain = annotate(np.zeros((300, 400, 3), np.uint8), [face], fps=30.0)
    assert plain[120:221, 100].any()  # the box's left edge
    size = emoji_size(90)
    emoji_area = plain[120 - size - 4 : 120 - 4, 100 : 100 + size]
    assert (emoji_area == emoji_sprite("happy", size)[..., :3]).mean() > 0.5  # pasted on black: the sprite itself
    assert plain[:20, :60].any()  # the FPS counter
    bars = annotate(np.zeros((300, 400, 3), np.uint8), [face], fps=30.0, show_bars=True)
    assert not plain[120:150, 196:280].any() and bars[120:150, 196:280].any()


def _drawn(face: Face, shape=(300, 400, 3)) -> np.ndarray:
    return annotate(np.zeros(shape, np.uint8), [face], fps=30.0)


@pytest.mark.parametrize("top", [120, 0], ids=["face lower down", "face at the frame's top"])
def test_the_label_stays_inside_the_frame_and_no_caption_covers_it(top):
    """At the frame's top the emoji and label go inside the frame, over the face, and the caption below the face
    (before, both went below the face, under the "calibrated (personal)" caption)."""
    face = Face((100, top, 90, 100), np.zeros((468, 3), np.float32), "happy", 0.8, {"happy": 0.8}, "personal", 3)
    size = emoji_size(90)
    drawn = _drawn(face)
    label_top = max(top - size - 4, 0)
    emoji_area = drawn[label_top : label_top + size, 100 : 100 + size]
    assert (emoji_area == emoji_sprite("happy", size)[..., :3]).mean() > 0.5  # whole, inside the frame
    label = drawn[label_top : label_top + size, 100 + size + 4 : 100 + size + 60]
    assert (label == (0, 210, 255)).all(axis=-1).mean() > 0.3  # the label's own colour, not a caption's black
    caption = drawn[max(top + 100 + 4, label_top + size + 2) :, 100:200]
    assert (caption.min(axis=-1) > 200).any()  # "neutral: personal", in white, below the label row


def test_faces_side_by_side_each_show_their_whole_label():
    """A group photo: four faces 100 px apart (a label row is wider than that), one at the frame's right edge, and
    one above them whose captions cross their label rows. Before, each label and emoji was drawn over its left
    neighbour's, a caption over any label drawn before it, and at the right edge the label's text over its emoji."""
    shape, size = (300, 640, 3), emoji_size(64)
    row = [("happy", 40), ("sad", 140), ("angry", 240), ("surprise", 340), ("fear", 575)]
    faces = [
        Face((x, 150, 64, 70), np.zeros((468, 3), np.float32), label, 0.9, {label: 0.9}, "auto", i)
        for i, (label, x) in enumerate(row)
    ]
    faces.append(
        Face((150, 10, 64, 70), np.zeros((468, 3), np.float32), UNCERTAIN, 0.9, {}, "auto", 9, unreadable="x" * 60)
    )
    frame = annotate(np.zeros(shape, np.uint8), faces, fps=0.0)
    taken: list[tuple[int, int, int, int]] = []
    spots = [place_label(np.zeros(shape, np.uint8), face, taken) for face in faces]
    for i, a in enumerate(taken):
        assert not any(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3] for b in taken[i + 1 :]), taken
    for face, (left, top), (_, _, right, _) in zip(faces, spots, taken):
        emoji = frame[top : top + size, left : left + size]
        assert (emoji == emoji_sprite(face.label, size)[..., :3]).all(axis=-1).mean() > 0.9, face.label  # uncovered
        text = frame[top : top + size, left + size + 4 : right]
        assert (text == colour_of(face.label)).all(axis=-1).mean() > 0.3, face.label  # its label, in its colour


def test_the_caption_tells_estimating_from_auto():
    faces = {
        how: Face((100, 120, 90, 100), np.zeros((468, 3), np.float32), "happy", 0.8, {"happy": 0.8}, how, 3)
        for how in ("estimating", "auto")
    }
    assert [face_tags(face) for face in faces.values()] == [["neutral: estimating"], ["neutral: auto"]]
    drawn = {how: _drawn(face) for how, face in faces.items()}
    assert not np.array_equal(drawn["estimating"][224:250], drawn["auto"][224:250])  # the captions differ on screen
    assert set(CALIBRATION_TAGS) == {"capturing", "captured", "personal", "estimating", "auto"}
    unreadable = Face(
        (100, 120, 90, 100), np.zeros((468, 3), np.float32), "uncertain", 0.9, {}, "auto", unreadable="why"
    )
    assert face_tags(unreadable) == ["why", "neutral: auto"]


def test_a_region_is_grey_when_it_did_not_move_the_reading_warm_when_it_raised_it_cool_when_it_lowered_it():
    assert region_colour(0.0, 0.5) == UNMOVED
    assert region_colour(0.5, 0.5) == region_colour(0.9, 0.5) == RAISED
    assert region_colour(-0.5, 0.5) == LOWERED
    assert region_colour(0.25, 0.5) == (75, 95, 182)  # half way from grey to warm


def test_an_explained_face_is_its_mesh_coloured_by_region_with_what_moved_written_below(astronaut, astronaut_faces):
    landmarks = astronaut_faces.landmarks[0]
    effects = dict.fromkeys(REGIONS, 0.0) | {"brows": 0.6, "cheeks": -0.6}
    explanation = Explanation("surprise", 0.7, 0.1, "captured", effects, ("brows raised",))
    x, y, w, h = (int(v) for v in Detection(landmarks[None], 512, 512).boxes()[0])
    face = Face((x, y, w, h), landmarks, "surprise", 0.7, {"surprise": 0.7}, explanation=explanation)
    frame = annotate(np.zeros((512, 512, 3), np.uint8), [face], fps=30.0)
    pixels = landmarks[:, :2] * 512

    def inside(colour, region: str) -> bool:
        """Pixels of about ``colour`` are drawn, all of them around the region's landmarks."""
        ys, xs = np.nonzero(np.all(np.abs(frame.astype(int) - colour) < 40, axis=2))
        near = pixels[LANDMARK_REGIONS == REGIONS.index(region)]
        low, high = near.min(axis=0) - 3, near.max(axis=0) + 3
        return len(xs) > 20 and bool(np.all((low[0] <= xs) & (xs <= high[0]) & (low[1] <= ys) & (ys <= high[1])))

    assert inside(RAISED, "brows") and inside(LOWERED, "cheeks")
    assert frame[y + h + 4 : y + h + 40, x : x + 80].any()  # the words and the regions, below the face
