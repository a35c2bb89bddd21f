"""One frame reader for cameras, video files and image folders."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from landmark_emotion.frames import ImageFolderSource, SourceError, VideoFileSource, open_source


def _write_video(path, frames: int, size=(64, 48)) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, size)
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), i * 10, np.uint8))
    writer.release()


def test_video_file_yields_every_frame_with_timestamps(tmp_path):
    _write_video(tmp_path / "v.mp4", 7)
    with open_source(tmp_path / "v.mp4") as source:
        assert isinstance(source, VideoFileSource) and not source.live
        frames = list(source)
    assert [f.index for f in frames] == list(range(7))
    assert frames[3].t == pytest.approx(0.3) and frames[0].image.shape == (48, 64, 3)


def test_folder_yields_images_in_order_and_skips_unreadable(tmp_path):
    (tmp_path / "sub").mkdir()
    cv2.imwrite(str(tmp_path / "b.png"), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "sub" / "a.jpg"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "broken.jpg").write_bytes(b"nope")
    source = open_source(str(tmp_path))
    assert isinstance(source, ImageFolderSource)
    assert [f.name for f in source] == ["b.png", "sub/a.jpg"]  # relative to the folder: sub/a.jpg is no other a.jpg
    assert [p.name for p in source.skipped] == ["broken.jpg"]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda t: "7", "no camera at index 7; try --source"),
        (lambda t: str(t / "missing.mp4"), "no such camera, video or folder"),
        (lambda t: str(t), "no images in"),
        (lambda t: (t / "x.mp4").write_bytes(b"junk") and str(t / "x.mp4"), "cannot read video"),
    ],
    ids=["no-camera", "missing", "empty-folder", "corrupt-video"],
)
def test_bad_sources_raise_a_hint(tmp_path, make, message):
    with pytest.raises(SourceError, match=message):
        open_source(make(tmp_path))
