"""Image -> face-mesh landmarks: MediaPipe's graphs, their logs hidden, released once, never left to the collector.

Two landmarkers stand behind it, both giving the same 468 points to the feature
pipeline (``benchmarks/landmarkers.py`` measures how alike they are):
  - ``legacy``: MediaPipe's Face Mesh solution, in mediapipe 0.10.x only (Python <= 3.12).
    Tracking runs about three times faster than the Tasks graph, so it is the default where it installs.
  - ``tasks``: the Tasks ``FaceLandmarker`` with the ``face_landmarker.task`` file shipped beside this
    module (478 points, of which the first 468 are Face Mesh's; optionally 52 blendshapes).
    It is the only one in later mediapipe releases (Python 3.13, numpy 2).
Importing MediaPipe happens when a graph opens, through :func:`import_mediapipe`, which keeps it
from importing TensorFlow (3 s and a gigabyte that reading landmarks never uses). What callers
own is :class:`landmark_emotion.face.mesh.FaceMesh`, built on the graphs made here.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import sys
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Protocol

import cv2
import numpy as np

from landmark_emotion.errors import InputError, LandmarkEmotionError
from landmark_emotion.face.native_logs import hide_native_logs
from landmark_emotion.signals import deferred_signals, raise_if_interrupted

N_LANDMARKS = 468
TASK_FILE = Path(__file__).resolve().parent / "face_landmarker.task"
LANDMARKERS = ("legacy", "tasks")
LANDMARKER_ENV = "LANDMARK_EMOTION_LANDMARKER"
OLD_LANDMARKER_ENV = "EMOTION_LANDMARKER"
"""The variable's earlier name, still read when the new one is not set."""
BLENDSHAPES = (
    "_neutral",
    "browDownLeft",
    "browDownRight",
    "browInnerUp",
    "browOuterUpLeft",
    "browOuterUpRight",
    "cheekPuff",
    "cheekSquintLeft",
    "cheekSquintRight",
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "eyeLookDownLeft",
    "eyeLookDownRight",
    "eyeLookInLeft",
    "eyeLookInRight",
    "eyeLookOutLeft",
    "eyeLookOutRight",
    "eyeLookUpLeft",
    "eyeLookUpRight",
    "eyeSquintLeft",
    "eyeSquintRight",
    "eyeWideLeft",
    "eyeWideRight",
    "jawForward",
    "jawLeft",
    "jawOpen",
    "jawRight",
    "mouthClose",
    "mouthDimpleLeft",
    "mouthDimpleRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthFunnel",
    "mouthLeft",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthPucker",
    "mouthRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "noseSneerLeft",
    "noseSneerRight",
)


@dataclass(frozen=True)
class Detection:
    """What a landmarker found in one image: the landmarks of its faces, as MediaPipe returns them.

    ``landmarks`` is (n_faces, 468, 3) float32: x scaled by the image width, y by
    its height, z roughly by the width. ``width`` and ``height`` are the image's.
    ``blendshapes`` is (n_faces, 52) scores in :data:`BLENDSHAPES` order, or None
    when the face mesh was not asked for them.
    """

    landmarks: np.ndarray
    width: int
    height: int
    blendshapes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.landmarks)

    def boxes(self) -> np.ndarray:
        """Pixel boxes (x, y, w, h) around each face's landmarks, as int32 (n, 4)."""
        if not len(self):
            return np.zeros((0, 4), np.int32)
        xy = self.landmarks[:, :, :2] * np.array([self.width, self.height], np.float32)
        lo, hi = xy.min(axis=1), xy.max(axis=1)
        return np.concatenate([lo, hi - lo], axis=1).round().astype(np.int32)


class Detector(Protocol):
    """Anything that gives the :class:`Detection` of a BGR image: a face mesh, a face search, one graph."""

    def __call__(self, image_bgr: np.ndarray) -> Detection: ...


class Graph(Detector, Protocol):
    """One MediaPipe graph of one configuration: image -> faces, then closed by its owner."""

    def close(self) -> None: ...


GraphFactory = Callable[[bool, int], Graph]  # (tracking, max_faces) -> a new graph


class LandmarkerError(LandmarkEmotionError, RuntimeError):
    """A landmarker that cannot run here (not installed, unknown name, missing model file)."""


def mediapipe_version() -> str:
    """The installed mediapipe's version, for the metadata of what it extracted (without importing it)."""
    try:
        return metadata.version("mediapipe")
    except metadata.PackageNotFoundError:
        return "unknown"


def import_mediapipe() -> ModuleType:
    """``mediapipe``, imported without TensorFlow even where TensorFlow is installed.

    MediaPipe imports TensorFlow only if it finds it (to open model files through
    ``tf.io`` and for its documentation tools) and falls back to plain files without
    it; left to itself it spends ~3 s and ~1 GB loading a library that landmarks
    never use. TensorFlow is hidden while mediapipe loads, unless something has
    imported it already (training), and stays importable afterwards.

    A stop signal waits until the import is done (half a second): the code it would land in
    swallows it or re-raises it as another error (pybind11's module initialisation as
    ImportError, matplotlib's rc parsing as ValueError), and the command would report a
    missing mediapipe, or a traceback, instead of stopping.
    """
    with deferred_signals():
        if "mediapipe" in sys.modules or "tensorflow" in sys.modules:
            return importlib.import_module("mediapipe")
        sys.modules["tensorflow"] = None  # type: ignore[assignment]  # "import tensorflow" raises ModuleNotFoundError
        try:
            return importlib.import_module("mediapipe")
        finally:
            if sys.modules.get("tensorflow", False) is None:
                del sys.modules["tensorflow"]


def legacy_installed() -> bool:
    return mediapipe_version().startswith("0.")


def default_landmarker() -> str:
    """``$LANDMARK_EMOTION_LANDMARKER`` (or its earlier name ``$EMOTION_LANDMARKER``) if set, else ``legacy`` where
    mediapipe 0.10.x provides it, else ``tasks``."""
    chosen = (os.environ.get(LANDMARKER_ENV) or os.environ.get(OLD_LANDMARKER_ENV, "")).strip().lower()
    if chosen:
        return chosen
    return "legacy" if legacy_installed() else "tasks"


def landmarker_for_model(trained_on: str | None, asked: str | None = None) -> tuple[str, str | None]:
    """The landmarker to read a model with, and a warning when it is not the one the model was trained on.

    A model reads best the landmarks it was trained on (a landmarker swap cost 4 to 15 accuracy points
    on AffectNet, ``benchmarks/landmarkers.py``), so without ``asked`` the model's own is used where installed.
    """
    if asked:
        name = asked
    elif trained_on in LANDMARKERS and (trained_on != "legacy" or legacy_installed()):
        name = trained_on
    else:
        name = default_landmarker()
    if trained_on and trained_on != name:
        return name, (
            f"warning: this model was trained on {trained_on} landmarks and reads {name} ones here; "
            "expect lower accuracy"
        )
    return name, None


def _checked(image_bgr: np.ndarray) -> np.ndarray:
    """The RGB copy MediaPipe wants (~0.2 ms; a reversed-stride view would cost ~2 ms in its copy)."""
    if image_bgr is None or image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
        raise InputError("expected a BGR image of shape (height, width, 3)")
    return cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)


class NativeGraph:
    """What both landmarkers share: the native graph is released once, and never left to the collector.

    Python runs bytecodes between a graph opening and its owner storing it (in a ``with``,
    a field), and a stop signal can land there: the owner never gets it. Left to the collector
    it would be closed at interpreter shutdown, printing a traceback. So every open graph is
    known here, and one dropped unclosed is released at once (``__del__``) or before shutdown
    (``atexit``).
    """

    _open = False

    @contextlib.contextmanager
    def _opening(self) -> Iterator[None]:
        """Open the native graph in the body: known at once, and closed at once if a stop signal came meanwhile
        (its threads would go on starting, and log, while the command prints its error line)."""
        try:
            with deferred_signals():
                yield
                self._open = True
                _OPEN_GRAPHS.add(self)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._open:
            self._open = False
            _OPEN_GRAPHS.discard(self)
            self._release()

    def _release(self) -> None:
        raise NotImplementedError

    def __del__(self) -> None:
        if self._open:
            self.close()


_OPEN_GRAPHS: weakref.WeakSet[NativeGraph] = weakref.WeakSet()


@atexit.register
def _close_open_graphs() -> None:
    """Release, while MediaPipe is still loaded, the graphs nobody closed."""
    for graph in list(_OPEN_GRAPHS):
        graph.close()


class LegacyGraph(NativeGraph):
    """MediaPipe 0.10.x Face Mesh solution (468 points)."""

    def __init__(self, tracking: bool, max_faces: int, min_confidence: float = 0.5):
        try:
            import_mediapipe()
            from mediapipe.python.solutions import face_mesh
        except ImportError:
            raise LandmarkerError(
                "the legacy Face Mesh needs mediapipe 0.10.x (Python <= 3.12); "
                f"set {LANDMARKER_ENV}=tasks to use the Tasks face landmarker"
            ) from None
        with self._opening():
            self._mesh = face_mesh.FaceMesh(
                static_image_mode=not tracking,
                max_num_faces=max_faces,
                refine_landmarks=False,
                min_detection_confidence=min_confidence,
                min_tracking_confidence=min_confidence,
            )

    def __call__(self, image_bgr: np.ndarray) -> Detection:
        rgb = _checked(image_bgr)
        found = self._mesh.process(rgb).multi_face_landmarks or []
        landmarks = np.array([[(p.x, p.y, p.z) for p in face.landmark] for face in found], dtype=np.float32).reshape(
            len(found), N_LANDMARKS, 3
        )
        return Detection(landmarks, rgb.shape[1], rgb.shape[0])

    def _release(self) -> None:
        self._mesh.close()


class TasksGraph(NativeGraph):
    """MediaPipe Tasks ``FaceLandmarker`` (478 points, the first 468 kept; optional blendshapes).

    Tracking uses its VIDEO running mode, which needs increasing timestamps: frames are
    stamped 33 ms apart (30 frames/s), whatever their real pace.
    """

    FRAME_MS = 33

    def __init__(
        self,
        tracking: bool,
        max_faces: int,
        min_confidence: float = 0.5,
        blendshapes: bool = False,
        task_file: Path = TASK_FILE,
    ):
        if not task_file.is_file():
            raise LandmarkerError(f"the face landmarker model {task_file} is missing; restore it from the repository")
        mp = import_mediapipe()
        from mediapipe.tasks.python import BaseOptions, vision

        self._image = partial(mp.Image, image_format=mp.ImageFormat.SRGB)
        self._blendshapes = blendshapes
        self._tracking = tracking
        self._t = 0
        with self._opening():
            self._landmarker = vision.FaceLandmarker.create_from_options(
                vision.FaceLandmarkerOptions(
                    base_options=BaseOptions(model_asset_path=str(task_file)),
                    running_mode=vision.RunningMode.VIDEO if tracking else vision.RunningMode.IMAGE,
                    num_faces=max_faces,
                    min_face_detection_confidence=min_confidence,
                    min_face_presence_confidence=min_confidence,
                    min_tracking_confidence=min_confidence,
                    output_face_blendshapes=blendshapes,
                )
            )

    def __call__(self, image_bgr: np.ndarray) -> Detection:
        rgb = _checked(image_bgr)
        with deferred_signals():  # a stop signal inside mp.Image() would leave a half-made one that errs when freed
            image = self._image(data=rgb)
            if self._tracking:
                self._t += self.FRAME_MS
                result = self._landmarker.detect_for_video(image, self._t)
            else:
                result = self._landmarker.detect(image)
        found = result.face_landmarks
        landmarks = np.array(
            [[(p.x, p.y, p.z) for p in face[:N_LANDMARKS]] for face in found], dtype=np.float32
        ).reshape(len(found), N_LANDMARKS, 3)
        scores = None
        if self._blendshapes:
            scores = np.array([[c.score for c in face] for face in result.face_blendshapes], dtype=np.float32).reshape(
                len(found), len(BLENDSHAPES)
            )
        return Detection(landmarks, rgb.shape[1], rgb.shape[0], scores)

    def _release(self) -> None:
        self._landmarker.close()


def graph_factory(
    landmarker: str | None = None, min_confidence: float = 0.5, blendshapes: bool = False
) -> GraphFactory:
    """A function (tracking, max_faces) -> new graph of the chosen landmarker; blendshapes imply ``tasks``.

    Their native log lines are hidden (:func:`~landmark_emotion.face.native_logs.hide_native_logs`) unless
    ``--verbose`` asked for them."""
    name = "tasks" if blendshapes else (landmarker or default_landmarker())
    if name not in LANDMARKERS:
        raise LandmarkerError(f"unknown landmarker {name!r}; choose one of {', '.join(LANDMARKERS)}")

    def make(tracking: bool, max_faces: int) -> Graph:
        hide_native_logs()
        if name == "legacy":
            graph: Graph = LegacyGraph(tracking, max_faces, min_confidence)
        else:
            graph = TasksGraph(tracking, max_faces, min_confidence, blendshapes)
        try:
            raise_if_interrupted()  # a Ctrl-C while the graph opened was caught inside MediaPipe
        except BaseException:
            graph.close()
            raise
        return graph

    make.landmarker = name  # type: ignore[attr-defined]
    return make
