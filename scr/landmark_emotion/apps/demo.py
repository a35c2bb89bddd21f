"""The live demo's loop: frames in; annotated window, video and per-frame JSON log out; keys to steer it.

With a display it shows a window and reacts to keys; without one (or with
``--no-display``) it does the same processing headless and writes what was asked
for. Work nobody will see is skipped: frames are only drawn on when shown or
written, and video is only encoded with an output path.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import IO

import cv2
import numpy as np
from threadpoolctl import threadpool_limits

from landmark_emotion.apps.clipboard import Clipboard
from landmark_emotion.apps.overlay import annotate
from landmark_emotion.errors import LandmarkEmotionError
from landmark_emotion.frames import FrameSource, ImageFolderSource, SourceError, open_source, opencv_name
from landmark_emotion.model.calibration import CalibrationError
from landmark_emotion.model.explanation import ExplanationError
from landmark_emotion.reading.neutral import capture_started
from landmark_emotion.reading.options import at_face_limit
from landmark_emotion.reading.pipeline import Face, Pipeline
from landmark_emotion.reading.pipelining import ahead
from landmark_emotion.resources import SAMPLE_CLIP
from landmark_emotion.signals import raise_if_interrupted

FALLBACK_OUTPUT = Path("demo_output") / "annotated.mp4"
FALLBACK_LOG = Path("demo_output") / "log.jsonl"
HELP = "q quit  e bars  m mesh  x why  s copy emoji  n neutral face"
STATUS_SECONDS = 3.0
SKIPPED_NAMED = 5
"""At most this many skipped files are named in the closing summary; the rest are counted."""
READ_TRACKS_SAID = 3
"""The faces of a video the closing line says what they read (those seen in most frames)."""
EXPLAINING = "why: each region coloured by how much it moved the reading (warm: raised it, cool: lowered it)"


class DemoError(LandmarkEmotionError, RuntimeError):
    """An output that cannot be written, or a source that cannot be used."""


class Action(Enum):
    QUIT = "quit"
    TOGGLE_BARS = "bars"
    TOGGLE_MESH = "mesh"
    COPY_EMOJI = "copy"
    NEUTRAL = "neutral"
    EXPLAIN = "explain"


KEYS: dict[int, Action] = {
    ord("q"): Action.QUIT,
    27: Action.QUIT,  # Esc
    ord("e"): Action.TOGGLE_BARS,
    ord("m"): Action.TOGGLE_MESH,
    ord("s"): Action.COPY_EMOJI,
    ord("n"): Action.NEUTRAL,
    ord("x"): Action.EXPLAIN,
}


def action_for_key(key: int) -> Action | None:
    """The action of a ``cv2.waitKey`` code (-1 when no key was pressed)."""
    return KEYS.get(key & 0xFF) if key >= 0 else None


@dataclass
class ViewState:
    """What the window shows and whether the loop goes on; changed by :func:`apply_action` (keys) and by
    :func:`run` (a neutral capture lost with its face)."""

    show_bars: bool = False
    show_mesh: bool = False
    running: bool = True
    status: str = HELP
    status_until: float = float("inf")

    def say(self, message: str, now: float) -> None:
        """Show ``message`` on the status line for a while, and print it (a headless run has only the console)."""
        self.status, self.status_until = message, now + STATUS_SECONDS
        print(message)

    def status_at(self, now: float) -> str:
        return self.status if now < self.status_until else HELP


def main_face(faces: list[Face]) -> Face | None:
    """The largest face: the one nearest the camera is the one whose emoji ``s`` copies."""
    return max(faces, key=lambda f: f.box[2] * f.box[3], default=None)


def apply_action(
    action: Action,
    state: ViewState,
    faces: list[Face],
    clipboard: Clipboard,
    now: float,
    pipeline: Pipeline | None = None,
) -> None:
    """Carry out a key's action; what the user should know goes to the status line and the console."""
    message = None
    if action is Action.QUIT:
        state.running = False
    elif action is Action.TOGGLE_BARS:
        state.show_bars = not state.show_bars
    elif action is Action.TOGGLE_MESH:
        state.show_mesh = not state.show_mesh
    elif action is Action.COPY_EMOJI:
        face = main_face(faces)
        message = clipboard.copy(face.emoji) if face else "no face: nothing to copy"
    elif action is Action.NEUTRAL and pipeline is not None:
        try:
            track = pipeline.start_neutral_capture()
            message = capture_started(track)
        except CalibrationError as exc:
            message = str(exc)
    elif action is Action.EXPLAIN and pipeline is not None:
        try:
            pipeline.explain_faces(not pipeline.explains)
            message = EXPLAINING if pipeline.explains else "explanations off"
        except ExplanationError as exc:
            message = str(exc)
    if message:
        state.say(message, now)


class FpsMeter:
    """Frames per second over the last few frames (an EMA of the time between frames)."""

    def __init__(self, frames: float = 20.0):
        self.alpha = 2.0 / (frames + 1.0)
        self.interval = 0.0
        self._last: float | None = None

    def tick(self, now: float) -> float:
        if self._last is not None:
            dt = now - self._last
            self.interval = dt if self.interval == 0.0 else self.interval + self.alpha * (dt - self.interval)
        self._last = now
        return 1.0 / self.interval if self.interval > 0 else 0.0


class VideoOutput:
    """An MP4 writer opened on the first frame (its size is known only then); later frames are fitted to it."""

    def __init__(self, path: Path, fps: float):
        if opencv_name(path) is None:
            raise DemoError(f"cannot write video {path}: its name is not valid UTF-8, which OpenCV needs")
        self.path, self.fps = path, fps
        self._writer: cv2.VideoWriter | None = None
        self.size: tuple[int, int] | None = None
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        if self._writer is None:
            self.size = (image.shape[1], image.shape[0])
            self._writer = cv2.VideoWriter(os.fspath(self.path), cv2.VideoWriter.fourcc(*"mp4v"), self.fps, self.size)
            if not self._writer.isOpened():
                raise DemoError(f"cannot write video {self.path}; does its folder exist and end in .mp4?")
        if (image.shape[1], image.shape[0]) != self.size:  # photos of a folder differ in size
            image = cv2.resize(image, self.size)
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        """Finish the file; with no frame written (a writer OpenCV could not open, a stop before the first frame),
        remove the empty file the start-up check made: it is no video."""
        if self._writer is not None:
            self._writer.release()
        if not self.frames:
            with contextlib.suppress(OSError):
                if self.path.stat().st_size == 0:
                    self.path.unlink()

    def check(self) -> None:
        """Raise :class:`DemoError` unless the closed video reads back with every frame written.

        OpenCV's writer says nothing when a write fails: on a full disk the file lacks its index
        and no player opens it, while the demo would say it wrote it.
        """
        if not self.frames:
            return
        capture = cv2.VideoCapture(os.fspath(self.path))
        frames = capture.get(cv2.CAP_PROP_FRAME_COUNT) if capture.isOpened() else 0
        capture.release()
        if frames < self.frames:
            raise DemoError(f"could not write video {self.path} completely: it does not read back (is the disk full?)")


def frame_record(index: int, t: float, faces: list[Face], file: str | None = None) -> dict:
    """The JSON log line of one frame: {"frame", "t", ["file",] "faces": [{"id", "box", "label", ...}]}; ``file``
    names the photo of a folder the frame is (a name that is not valid UTF-8 with its bytes escaped, ``\\xff``:
    the log is UTF-8)."""
    record: dict = {"frame": index, "t": round(t, 4)}
    if file is not None:
        record["file"] = os.fsencode(file).decode("utf-8", "backslashreplace")
    return record | {"faces": [face.to_json() for face in faces]}


@dataclass
class RunStats:
    frames: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    photos: bool = False
    """A folder of photos: unrelated pictures, counted as photos and faces, not frames and tracked faces."""
    skipped: list[str] = field(default_factory=list)
    """The folder's files that are no image OpenCV can read: said, not silently left out."""
    max_faces: int | None = None
    full: int = 0
    """Frames with ``max_faces`` faces read, the most it reads: a group may have more, which are not said."""
    labels: dict[int | None, Counter[str]] = field(default_factory=dict)
    """What was read: per face track in a video, its labels frame by frame; in a folder, under None, every face's."""

    def count(self, faces: list[Face]) -> None:
        """Add one frame's (or photo's) faces to :attr:`labels`."""
        for face in faces:
            self.labels.setdefault(None if self.photos else face.track, Counter())[face.label] += 1

    @property
    def detections(self) -> int:
        """Faces read, summed over frames (or photos)."""
        return sum(counts.total() for counts in self.labels.values())

    @property
    def tracks(self) -> set[int]:
        """The face tracks of a video that were read (none in a folder: its photos are unrelated)."""
        return {track for track in self.labels if track is not None}

    def readings(self) -> str | None:
        """What was read, in one line for the end of a run (a headless run that writes no file shows nothing else of
        it), or None when no face was read: a video's faces seen longest, each with its three commonest labels over
        its frames; a folder's labels over all its faces."""
        if not self.labels:
            return None
        if self.photos:
            return "read: " + ", ".join(f"{label} {n}" for label, n in self.labels[None].most_common())
        tracks = sorted(self.labels.items(), key=lambda item: -item[1].total())
        said = [
            f"face {track}: "
            + ", ".join(f"{label} {n}" for label, n in counts.most_common(3))
            + f" of {counts.total()} frames"
            for track, counts in tracks[:READ_TRACKS_SAID]
        ]
        more = len(tracks) - READ_TRACKS_SAID
        return "read: " + "; ".join(said) + (f"; and {more} more face(s) (each frame's: --log)" if more > 0 else "")

    def summary(self) -> str:
        rate = self.frames / self.seconds if self.seconds > 0 else 0.0
        if self.photos:
            counts = f"{self.frames} photo(s) read, {self.detections} face(s) found, {rate:.0f} photos/s"
        else:
            counts = (
                f"{self.frames} frames processed, {len(self.tracks)} face(s) seen ({self.detections} detections), "
                f"{rate:.0f} frames/s"
            )
        if self.skipped:
            names = ", ".join(self.skipped[:SKIPPED_NAMED]) + (
                f" and {len(self.skipped) - SKIPPED_NAMED} more" if len(self.skipped) > SKIPPED_NAMED else ""
            )
            counts += f"; skipped {len(self.skipped)} file(s) that are no image it can read: {names}"
        if self.frames and not self.detections:
            counts += (
                f"; no face was found in any {'photo' if self.photos else 'frame'}: a face is found from about 40 px "
                "wide, facing the camera, in enough light"
            )
        if self.full:
            counts += (
                f"; {self.full} {'photo' if self.photos else 'frame'}(s) had {self.max_faces} faces, the most "
                f"--max-faces reads: with more people in view, raise it"
            )
        return counts + (" — interrupted" if self.interrupted else "")


def _open_for_writing(path: Path, what: str) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    except OSError as exc:
        raise DemoError(f"cannot write {what} {path} ({exc.strerror})") from None
    return path


def run(
    source: FrameSource,
    pipeline: Pipeline,
    display: bool = False,
    output: Path | None = None,
    log: Path | None = None,
    title: str = "emotion demo",
    clipboard: Clipboard | None = None,
    max_faces: int | None = None,
) -> RunStats:
    """Process every frame of ``source`` until it ends, ``q`` or Ctrl-C; files written so far are kept.

    The face mesh of the next frame runs on a worker thread while this frame is read,
    drawn and logged (:mod:`landmark_emotion.reading.pipelining`).
    """
    video = VideoOutput(_open_for_writing(output, "video"), source.fps) if output else None
    log_file: IO[str] | None = _open_for_writing(log, "log").open("w", encoding="utf-8") if log else None
    clipboard = clipboard or Clipboard.detect()
    photos = isinstance(source, ImageFolderSource)  # the log names each photo
    state, fps, stats = ViewState(), FpsMeter(), RunStats(photos=photos, max_faces=max_faces)
    draw = display or video is not None
    if display:
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error:
            raise DemoError("cannot open a window here; run with --no-display (and --output/--log)") from None
    # one face's products are small: BLAS threads only wait on each other and on Face Mesh's (1.5 -> 0.1 ms)
    blas = threadpool_limits(limits=1, user_api="blas")
    start = time.perf_counter()
    try:
        with ahead(source, lambda frame: pipeline.detector(frame.image)) as found:
            for frame, detection in found:
                raise_if_interrupted()
                faces = pipeline.read(frame.image, detection)
                stats.frames += 1
                stats.count(faces)
                stats.full += int(max_faces is not None and at_face_limit(len(faces), max_faces))
                now = time.perf_counter()
                for notice in pipeline.notices:
                    state.say(notice, now)
                rate = fps.tick(now)
                if log_file:
                    record = frame_record(frame.index, frame.t, faces, frame.name if photos else None)
                    log_file.write(json.dumps(record, ensure_ascii=False) + "\n")
                if draw:
                    image = annotate(
                        frame.image,
                        faces,
                        rate,
                        state.status_at(now) if display else "",
                        state.show_mesh,
                        state.show_bars,
                    )
                    if video:
                        video.write(image)
                if display:
                    cv2.imshow(title, image)
                    # a video or folder is shown at its own pace, not the CPU's; a camera sets its own
                    due = 0.0 if source.live else start + frame.t - time.perf_counter()
                    action = action_for_key(cv2.waitKey(max(1, int(due * 1000))))
                    if action:
                        apply_action(action, state, faces, clipboard, time.perf_counter(), pipeline)
                    if not state.running or cv2.getWindowProperty(title, cv2.WND_PROP_VISIBLE) < 1:
                        break
    except KeyboardInterrupt:
        stats.interrupted = True
    finally:
        stats.seconds = time.perf_counter() - start
        if isinstance(source, ImageFolderSource):
            stats.skipped = [path.relative_to(source.folder).as_posix() for path in source.skipped]
        blas.restore_original_limits()
        if video:
            video.close()
        if log_file:
            log_file.close()
        if display:
            cv2.destroyWindow(title)
    if video:
        video.check()
    return stats


def open_demo_source(source: str | None) -> tuple[FrameSource, str | None]:
    """The source asked for; with none, camera 0 or else the bundled sample clip, with the reason it fell back.

    Only the implicit default falls back: a source the user named that does not open is an error.
    """
    if source is not None:
        return open_source(source), None
    try:
        return open_source("0"), None
    except SourceError as exc:
        reason = str(exc).split(";")[0]
        if not SAMPLE_CLIP.is_file():
            raise SourceError(
                f"{reason}, and the sample clip {SAMPLE_CLIP} is missing; try --source path/to/video.mp4"
            ) from None
        return open_source(SAMPLE_CLIP), reason
