"""Record labelled landmarks of one person's face into session files.

A session is one run for one label. It is stored in the landmark-table format
(:func:`landmark_emotion.data.table.save_table`): the 468 landmarks per captured frame and
metadata, never the image itself. Every session gets a new file whose name
holds its start time and label; a name that is already taken is never
overwritten, so recording again can only add data.

The same loop serves a camera, a video file and an image folder
(:func:`landmark_emotion.frames.open_source`). Frames with no face or with several faces
are skipped and counted: a sample of someone else, or a guess between two
faces, would teach the model the wrong face.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from landmark_emotion.apps.overlay import draw_mesh
from landmark_emotion.data.table import LandmarkTable, save_table
from landmark_emotion.errors import LandmarkEmotionError
from landmark_emotion.face.appearance import APPEARANCE_VERSION, N_DESCRIPTOR, describe
from landmark_emotion.face.features import FEATURE_VERSION
from landmark_emotion.face.landmarker import Detection, Detector, mediapipe_version
from landmark_emotion.face.mesh import FaceMesh, Mode, mode_for
from landmark_emotion.frames import Frame, FrameSource
from landmark_emotion.labels import canonical_label
from landmark_emotion.model.calibration import NEUTRAL
from landmark_emotion.signals import held_signals

KEY_CAPTURE, KEY_AUTO, KEY_NEXT, KEY_QUIT, KEY_ESC = ord(" "), ord("a"), ord("n"), ord("q"), 27


class RecordingError(LandmarkEmotionError, ValueError):
    """Bad recording arguments (e.g. several labels without a camera and a display)."""


class SessionNotSavedError(LandmarkEmotionError, OSError):
    """A session that could not be written to its folder (a full disk): the message says where it was kept instead,
    or that it could not be kept anywhere."""


RESCUE_PREFIX = "landmark-emotion-unsaved-"
"""A session that cannot be written where asked is written to a new folder of this name in the temporary folder."""


def has_display() -> bool:
    """Whether a preview window can open (X11/Wayland on Linux; always on Windows and macOS)."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def neutral_first(labels: list[str]) -> list[str]:
    """The labels of a multi-label recording with neutral first (added if missing).

    The neutral face is the user's calibration reference (:mod:`landmark_emotion.model.calibration`), and
    a face at rest is easiest to make before any other expression.
    """
    return [NEUTRAL, *(label for label in labels if label != NEUTRAL)]


@dataclass(frozen=True)
class Captured:
    """One kept face: its landmarks, appearance descriptor (None when not kept), image size and name."""

    landmarks: np.ndarray
    descriptor: np.ndarray | None
    width: int
    height: int
    name: str


@dataclass
class Session:
    """The landmarks captured for one label in one run, and the count of what was skipped."""

    label: str
    source: str
    static: bool
    appearance: bool = True
    """Also keep each face's appearance descriptor (never the picture), for hybrid models."""
    started: datetime = field(default_factory=lambda: datetime.now().astimezone())
    captured: list[Captured] = field(default_factory=list)
    """One entry per kept face, appended in one step: a stop signal between two lists left them unequal."""
    frames_read: int = 0
    no_face: int = 0
    several_faces: int = 0
    unreadable: int = 0
    interrupted: bool = False
    landmarker: str | None = None  # None: a detector the caller passed in

    def __post_init__(self) -> None:
        self.label = canonical_label(self.label)

    def __len__(self) -> int:
        return len(self.captured)

    @property
    def names(self) -> list[str]:
        return [face.name for face in self.captured]

    def offer(self, faces: Detection, frame: Frame) -> bool:
        """Keep the face if there is exactly one; otherwise count why not. True if kept."""
        if len(faces) != 1:
            if len(faces):
                self.several_faces += 1
            else:
                self.no_face += 1
            return False
        landmarks = faces.landmarks[0]
        descriptor = describe(frame.image, landmarks) if self.appearance else None
        name = frame.name if self.static else f"{frame.name}#{frame.index}"
        self.captured.append(Captured(landmarks, descriptor, faces.width, faces.height, name))
        return True

    def table(self) -> LandmarkTable:
        n, faces = len(self), self.captured
        landmarks = np.stack([face.landmarks for face in faces]) if n else np.zeros((0, 468, 3), np.float32)
        descriptors = None
        if self.appearance:
            kept = [face.descriptor for face in faces if face.descriptor is not None]
            descriptors = np.stack(kept) if n else np.zeros((0, N_DESCRIPTOR), np.float32)
        return LandmarkTable(
            landmarks,
            np.asarray([face.width for face in faces]),
            np.asarray([face.height for face in faces]),
            np.array([self.label] * n),
            np.array(self.names),
            np.array([self.group] * n),
            {
                "kind": "personal-session",
                "source": self.source,
                "label": self.label,
                "created": self.started.isoformat(timespec="seconds"),
                "saved": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "mediapipe_version": mediapipe_version(),
                "feature_version": FEATURE_VERSION,
                "landmarker": self.landmarker,
                "appearance_version": APPEARANCE_VERSION if self.appearance else None,
                "static_detection": self.static,
                "frames_read": self.frames_read,
                "skipped_counts": {
                    "no_face": self.no_face,
                    "several_faces": self.several_faces,
                    "unreadable": self.unreadable,
                },
                "interrupted": self.interrupted,
            },
            descriptors=descriptors,
        )

    @property
    def group(self) -> str:
        """Samples of one session share a group, so splits can keep a session on one side."""
        return f"{self.started:%Y-%m-%dT%H-%M-%S}_{self.label}"

    def summary(self) -> str:
        return (
            f"{self.label}: {len(self)} captured from {self.frames_read} frames "
            f"({self.no_face} without a face, {self.several_faces} with several faces"
            + (f", {self.unreadable} unreadable files" if self.unreadable else "")
            + ")"
            + (", interrupted" if self.interrupted else "")
        )


def save_session(session: Session, out_dir: str | os.PathLike) -> Path:
    """Write the session to a new file ``<start time>_<label>[_N].npz`` in ``out_dir``.

    The table is written to a temporary file and then hard-linked to the first free
    name: linking fails instead of replacing, so even two recorders started in the
    same second never overwrite each other's (or any earlier) session.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = save_table(session.table(), out_dir / f".{session.group}.{os.getpid()}.partial.npz")
    try:
        for attempt in range(1, 10_000):
            path = out_dir / (f"{session.group}.npz" if attempt == 1 else f"{session.group}_{attempt}.npz")
            try:
                os.link(tmp, path)
            except FileExistsError:
                continue
            except OSError:  # a filesystem without hard links: check, then rename
                if path.exists():
                    continue
                os.replace(tmp, path)
            return path
        raise FileExistsError(f"no free session name for {session.group} in {out_dir}")
    finally:
        tmp.unlink(missing_ok=True)


def record_stream(
    frames: Iterable[Frame],
    session: Session,
    detector: Detector,
    samples: int | None = None,
    every: int = 1,
    progress: bool = True,
) -> Session:
    """Capture every ``every``-th frame that has exactly one face, until ``samples`` are kept.

    Ctrl-C (or the end of the frames) stops the loop; what was captured stays in
    ``session`` for the caller to save.
    """
    bar = tqdm(total=samples, unit="face", desc=f"recording {session.label}", disable=not progress)
    try:
        for frame in frames:
            session.frames_read += 1
            if frame.index % every == 0 and session.offer(detector(frame.image), frame):
                bar.update(1)
                if samples is not None and len(session) >= samples:
                    break
    except KeyboardInterrupt:
        session.interrupted = True
    finally:
        bar.close()
    return session


def _put_lines(image: np.ndarray, lines: list[str]) -> None:
    """White text with a dark outline (readable on any background), sized to the frame's width."""
    scale = float(np.clip(image.shape[1] / 1000, 0.4, 0.8))
    for i, text in enumerate(lines):
        org = (8, int((i + 1) * 36 * scale))
        cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 4, cv2.LINE_AA)
        cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


def _face_hint(faces: Detection) -> str:
    return "" if len(faces) == 1 else ("no face" if not len(faces) else "several faces: only you, please")


def record_preview(
    frames: Iterable[Frame],
    sessions: list[Session],
    detector: Detector,
    samples: int,
    every: int | None = None,
    get_ready: float = 2.0,
    window: str = "record expressions",
) -> list[Session]:
    """Walk through ``sessions`` (one per label) with a live preview window.

    SPACE captures the current frame, ``a`` toggles capturing every ``every``-th
    frame automatically (on from the start if ``every`` is given), ``n`` moves on to
    the next label, ``q``/Esc or closing the window stops. A label is done after
    ``samples`` captures; the next one starts after ``get_ready`` seconds, so the
    previous expression is not recorded under the new label. Ctrl-C stops like
    ``q``; nothing captured is lost.
    """
    auto, current, ready_at = every is not None, 0, 0.0
    every = every or 5
    try:
        for frame in frames:
            session = sessions[current]
            session.frames_read += 1
            faces = detector(frame.image)
            ready = frame.t >= ready_at
            view = frame.image.copy()
            for landmarks in faces.landmarks:
                draw_mesh(view, landmarks, (80, 220, 80) if len(faces) == 1 else (60, 60, 230))
            view = np.ascontiguousarray(view[:, ::-1])  # a mirror view is what people expect of a selfie
            _put_lines(
                view,
                [
                    f"{'Make' if ready else 'Get ready:'} a {session.label.upper()} face   {len(session)}/{samples}",
                    f"SPACE capture | a auto: {'on' if auto else 'off'} | n next | q quit",
                    _face_hint(faces),
                ],
            )
            cv2.imshow(window, view)
            key = cv2.waitKey(1) & 0xFF
            if key in (KEY_QUIT, KEY_ESC) or cv2.getWindowProperty(window, cv2.WND_PROP_VISIBLE) < 1:
                break
            if key == KEY_AUTO:
                auto = not auto
            if ready and (key == KEY_CAPTURE or (auto and frame.index % every == 0)):
                session.offer(faces, frame)
            if key == KEY_NEXT or len(session) >= samples:
                current += 1
                ready_at = frame.t + get_ready
                if current == len(sessions):
                    break
    except KeyboardInterrupt:
        sessions[min(current, len(sessions) - 1)].interrupted = True
    finally:
        cv2.destroyAllWindows()
    return sessions


def record(
    source: FrameSource | Iterable[Frame],
    source_name: str,
    labels: list[str],
    out_dir: str | os.PathLike,
    samples: int | None,
    every: int | None = None,
    preview: bool = False,
    progress: bool = True,
    detector: Detector | None = None,
    appearance: bool = True,
    landmarker: str | None = None,
    verbose: bool = False,
) -> list[tuple[Session, Path | None]]:
    """Record one session per label from ``source`` and save each non-empty one to a new file.

    Without ``preview`` only one label can be recorded (a file has no "next label"
    moment). Sessions are saved even when the loop ends with an exception, so a
    crash mid-recording keeps what was captured; a stop signal during the saving
    waits for it. A session that cannot be written (disk full) is saved in the temporary
    folder instead and does not keep the others from being saved;
    :class:`SessionNotSavedError` says where it went, after them. Without a ``detector``,
    a face mesh of the source's mode (:func:`landmark_emotion.face.mesh.mode_for`) is opened for
    this recording and closed after it. Returns each session with its file (None when
    nothing was captured).
    """
    if not labels:
        raise RecordingError("no label given")
    if len(labels) > 1 and not preview:
        raise RecordingError(
            "several labels need a camera and a display (the preview says when to switch); "
            "record a file or folder with one --label"
        )
    if preview and not samples:
        raise RecordingError("the preview needs a number of samples per label (--samples N)")
    mode = mode_for(source)
    sessions = [Session(label, source_name, mode is Mode.IMAGE, appearance) for label in labels]
    try:
        with contextlib.ExitStack() as owned:
            if detector is None:  # 2 faces, so a second face is noticed and skipped
                detector = owned.enter_context(FaceMesh(mode, 2, landmarker=landmarker, verbose=verbose))
                for session in sessions:
                    session.landmarker = detector.landmarker
            if preview:
                assert samples, "checked above: the preview needs a number of samples"
                record_preview(source, sessions, detector, samples, every)
            else:
                record_stream(source, sessions[0], detector, samples, every or 1, progress)
    finally:
        sessions[0].unreadable = len(getattr(source, "skipped", []))  # only a folder has unreadable files
        saved, problems = [], []
        with held_signals() as arrived:
            for session in sessions:
                try:
                    saved.append((session, save_session(session, out_dir) if len(session) else None))
                except OSError as exc:
                    problems.append(_rescue(session, out_dir, exc))
                    saved.append((session, None))
        if arrived:
            sessions[-1].interrupted = True
        if problems:
            raise SessionNotSavedError("; ".join(problems))
    return saved


def _rescue(session: Session, out_dir: str | os.PathLike, error: OSError) -> str:
    """Save a session that could not be written to ``out_dir`` in a new temporary folder; say what happened.

    What was recorded cannot be recorded again: when its folder is full (or gone), the
    session goes where there may still be room, and the message says where to move it from.
    """
    what = f"{error.strerror or error} in {out_dir}"
    spare = None
    try:
        spare = tempfile.mkdtemp(prefix=RESCUE_PREFIX)
        kept = save_session(session, spare)
    except OSError as again:
        if spare is not None:
            with contextlib.suppress(OSError):
                os.rmdir(spare)
        return (
            f"{what}: the {len(session)} {session.label} samples could not be saved anywhere "
            f"(nor in the temporary folder: {again.strerror or again})"
        )
    return f"{what}: the {len(session)} {session.label} samples were saved to {kept} instead; move it into {out_dir}"
