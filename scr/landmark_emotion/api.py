"""The library from Python: photos, videos and cameras in, each face's emotion out.

    import landmark_emotion

    with landmark_emotion.Reader() as reader:            # the default model, or Reader("models/mine")
        for face in reader.read(landmark_emotion.sample_image()):   # a path, or a BGR uint8 array
            print(face.label, round(face.confidence, 2))

As with MediaPipe's solutions, a :class:`Reader` owns the face-mesh graphs it opens: close it
with :meth:`Reader.close` or a ``with`` block. It is the demo's own pipeline
(:func:`~landmark_emotion.reading.pipeline.pipeline_for` over a :class:`~landmark_emotion.face.mesh.FaceMesh`),
so a photo or a clip reads here as it does there.
Importing this module imports neither MediaPipe nor TensorFlow: graphs open on first use,
TensorFlow only for :func:`fine_tune`. Every error raised on purpose is a
:class:`~landmark_emotion.errors.LandmarkEmotionError` with a one-sentence message; a photo
without a face is no error (no faces: an empty list).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import threading
import warnings
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from landmark_emotion.errors import ClosedError, InputError
from landmark_emotion.face.features import image_vectors
from landmark_emotion.face.mesh import FaceMesh, Mode, mode_for
from landmark_emotion.frames import FrameSource, ImageFolderSource, open_source, read_image
from landmark_emotion.model.bundle_write import add_references
from landmark_emotion.model.calibration import CalibrationError, References, neutral_mean
from landmark_emotion.model.discovery import find_default_model
from landmark_emotion.model.emotion_model import EmotionModel
from landmark_emotion.model.explanation import require_neutral
from landmark_emotion.reading.neutral import CAPTURE_FRAMES
from landmark_emotion.reading.options import ReadOptions
from landmark_emotion.reading.pipeline import Face, Pipeline, pipeline_for
from landmark_emotion.reading.smoothing import WINDOW
from landmark_emotion.resources import SAMPLE_PHOTO

Image = np.ndarray | str | os.PathLike
"""A photo: a uint8 array (height, width, 3) in BGR order as OpenCV gives it (RGB with ``rgb=True``;
(height, width) grayscale and 4-channel arrays are accepted too), or the path of an image file."""


def sample_image() -> Path:
    """The photo shipped with the package (NASA's public-domain portrait of Eileen Collins), to try things on."""
    return SAMPLE_PHOTO


class FrameFaces(NamedTuple):
    """One frame of a stream: its index, its time in seconds (None for frames passed as arrays), the BGR image,
    its faces, and for a folder's photo its path in the folder (which photo it is: a file that is no image is
    left out, see :attr:`Stream.skipped`)."""

    index: int  # type: ignore[assignment]  # the public name; it hides tuple.index, which nobody calls on a frame
    t: float | None
    image: np.ndarray
    faces: list[Face]
    file: str | None = None


def _as_bgr(image: Image, rgb: bool = False) -> np.ndarray:
    """``image`` as the (height, width, 3) uint8 BGR array the pipeline reads, or :class:`InputError` saying why not.

    A path is decoded by OpenCV (``rgb`` does not apply: a file says its own order).
    """
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.exists():
            raise InputError(f"no such image file: {path}")
        if path.is_dir():
            raise InputError(f"{path} is a folder, not an image; read the photos in it with stream({str(path)!r})")
        decoded = read_image(path)
        if decoded is None:
            raise InputError(f"{path} is not an image OpenCV can read (for a video file, use stream())")
        return decoded
    if not isinstance(image, np.ndarray):
        raise InputError(
            f"expected an image: a NumPy array of shape (height, width, 3) or a file path, got {type(image).__name__}"
        )
    if image.dtype != np.uint8:
        hint = "; for floats in [0, 1] pass (image * 255).astype(np.uint8)" if image.dtype.kind == "f" else ""
        raise InputError(f"expected a uint8 image (values 0-255, as cv2.imread gives), got dtype {image.dtype}{hint}")
    channels = 1 if image.ndim == 2 else image.shape[-1]
    if image.ndim not in (2, 3) or channels not in (1, 3, 4):
        raise InputError(
            f"expected an image of shape (height, width, 3), (height, width, 4) or (height, width), got {image.shape}"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise InputError(f"the image is empty (shape {image.shape})")
    if channels == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if channels == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2BGR if rgb else cv2.COLOR_BGRA2BGR)
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if rgb else image


def _untracked(face: Face) -> Face:
    """A face of a photo: no track id (photos are unrelated; the pipeline numbers faces all the same)."""
    return dataclasses.replace(face, track=None)


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise InputError(message)


class Reader:
    """Reads the emotions of the faces in photos (:meth:`read`) and in videos, cameras and folders (:meth:`stream`).

    ``model`` is a model from :func:`load_model`, the path of a model folder, or None for
    :func:`load_model`'s default. The keyword arguments are the
    :class:`~landmark_emotion.reading.options.ReadOptions` (the demo's flags): ``max_faces``,
    ``min_confidence`` (below it a face is ``"uncertain"``), ``calibrate`` (``"neutral"``: relative
    to the model's personal neutral or the one given to :meth:`set_neutral`; ``"auto"``: streams
    also estimate each face's neutral from its own frames; ``"off"``), ``smoothing`` (frames; 1:
    off), ``landmarker`` (``"legacy"`` or ``"tasks"``; None: the model's own where installed),
    ``blendshapes`` (MediaPipe's 52 scores per face; runs the Tasks landmarker) and ``explain`` (every face
    carries its ``explanation``: which regions moved the reading, and what moved; ``face.explain()`` gives it
    for any face, on demand).

    Threads may share a reader: its calls take turns, for its photos share one face-mesh
    graph, and MediaPipe's graphs are not thread-safe (shared freely, they crashed the
    process). To read in parallel, give each thread its own reader (each stream has its
    own graph already).
    """

    def __init__(
        self,
        model: EmotionModel | str | os.PathLike | None = None,
        *,
        max_faces: int = 4,
        min_confidence: float = 0.4,
        calibrate: str = "auto",
        smoothing: float = WINDOW,
        landmarker: str | None = None,
        blendshapes: bool = False,
        explain: bool = False,
    ) -> None:
        self.options = ReadOptions(max_faces, min_confidence, calibrate, smoothing, landmarker, blendshapes, explain)
        """What this reader was asked to do (checked: a bad value raised :class:`InputError` here)."""
        self._loaded = _as_model(model)
        self.model = self._loaded
        """The model faces are read with (with the neutral of :meth:`set_neutral`, once set)."""
        if explain:
            require_neutral(None if self.model.references is None else self.model.references.population)
        self.landmarker, mismatch = self.options.landmarker_for(self.model)
        """The landmarker faces are found with: the one asked for, else the model's own where installed."""
        if mismatch:
            warnings.warn(mismatch.removeprefix("warning: "), stacklevel=2)
        self._mesh: FaceMesh | None = None
        self._photos: Pipeline | None = None
        self._streams: weakref.WeakSet[Stream] = weakref.WeakSet()
        self._closed = False
        self._lock = threading.RLock()

    @property
    def labels(self) -> list[str]:
        """The model's labels, in the order of its probabilities."""
        return list(self.model.classes_)

    def read(self, image: Image, *, rgb: bool = False) -> list[Face]:
        """The faces in one photo, in MediaPipe's order; a photo without a face gives ``[]``.

        ``image`` is a uint8 array in BGR order (RGB with ``rgb=True``) or an image file's path (see :data:`Image`).
        """
        bgr = _as_bgr(image, rgb)
        with self._lock:
            return [_untracked(face) for face in self._photo_pipeline()(bgr)]

    def stream(self, source: str | int | os.PathLike | Iterable[np.ndarray], *, rgb: bool = False) -> Stream:
        """The frames of a video file, a camera (its index), a folder of images, or any iterable of image arrays,
        each with its faces, tracked from frame to frame (see :class:`Stream`)."""
        with self._lock:
            self._check_open()
            stream = Stream(self, source, rgb)
            self._streams.add(stream)
            return stream

    def set_neutral(self, images: Image | list[Image] | tuple[Image, ...], *, rgb: bool = False) -> None:
        """Read faces relative to this neutral face from now on: the largest face of ``images`` (a photo, or a
        list of photos of the same person at rest; their mean is the reference).

        Calibration moves that person's features so their neutral lands on everyone's:
        it helps most for a face the model reads as sad or angry at rest. It applies to
        every later :meth:`read` and new :meth:`stream`; :meth:`save_neutral` keeps it in a
        model folder. Raises :class:`CalibrationError` when calibration is off, the model
        has no population neutral, or a photo has no face.
        """
        references = self._loaded.references
        if self.options.calibrate == "off":
            raise CalibrationError("calibration is off (calibrate='off'); make the reader with calibrate='neutral'")
        if references is None:
            raise CalibrationError(
                "this model has no population neutral (trained without neutral faces, or before "
                "calibration existed), so it cannot be calibrated"
            )
        photos = list(images) if isinstance(images, (list, tuple)) else [images]
        vectors = []
        for i, image in enumerate(photos):
            bgr = _as_bgr(image, rgb)
            with self._lock:
                detection = self._photo_mesh()(bgr)
            if not len(detection):
                name = image if isinstance(image, (str, os.PathLike)) else f"image {i}"
                raise CalibrationError(f"no face in {name}; a neutral reference needs a face at rest")
            largest = int(np.argmax(np.prod(detection.boxes()[:, 2:], axis=1)))
            landmarks = detection.landmarks[largest : largest + 1]
            vectors.append(image_vectors(self.model.feature_set, bgr, landmarks)[0])
        if not vectors:
            raise CalibrationError("no image given; a neutral reference needs at least one")
        self._use(_with_references(self._loaded, references.with_person(neutral_mean(np.stack(vectors)), len(vectors))))

    def clear_neutral(self) -> None:
        """Forget the neutral of :meth:`set_neutral`: back to the model's own references."""
        self._use(self._loaded)

    def save_neutral(self, path: str | os.PathLike) -> Path:
        """Store the neutral of :meth:`set_neutral` in the model folder ``path`` (its ``neutral.npz``), so that
        loading that model later reads this person calibrated. The folder stays verified whole."""
        if self.model is self._loaded:
            raise CalibrationError("no neutral set; call set_neutral() with a photo of the face at rest first")
        if self.model.references is not None:
            add_references(path, self.model.references)
        return Path(path)

    def close(self) -> None:
        """Close the face-mesh graphs (and any open stream); the reader cannot be used afterwards."""
        with self._lock:
            for stream in list(self._streams):
                stream.close()
            if self._mesh is not None:
                self._mesh.close()
                self._mesh = None
            self._photos = None
            self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("this Reader is closed; make a new one")

    def _photo_mesh(self) -> FaceMesh:
        self._check_open()
        if self._mesh is None:
            self._mesh = self._open_mesh(Mode.IMAGE)
        return self._mesh

    def _photo_pipeline(self) -> Pipeline:
        if self._photos is None:
            self._photos = self._pipeline(self._photo_mesh())
        return self._photos

    def _open_mesh(self, mode: Mode) -> FaceMesh:
        return FaceMesh(mode, self.options.max_faces, landmarker=self.landmarker, blendshapes=self.options.blendshapes)

    def _pipeline(self, mesh: FaceMesh) -> Pipeline:
        """The demo's pipeline over ``mesh``: unrelated photos in ``image`` mode, tracked frames in ``video`` mode."""
        return pipeline_for(self.model, mesh, self.options, photos=mesh.mode is Mode.IMAGE)

    def _use(self, model: EmotionModel) -> None:
        with self._lock:
            self.model, self._photos = model, None  # the photo pipeline is rebuilt with it on the next read


class Stream:
    """The frames of one source, each with its faces: ``for frame in reader.stream("clip.mp4"): frame.faces``.

    Faces keep their ``track`` id while they stay in view, and each track's
    probabilities are smoothed over its recent frames (a folder of photos is read as
    unrelated photos: no tracking (``track`` is None) or smoothing across them). A stream can be iterated
    once; it closes its source and graph when the frames end, on :meth:`close`, when its
    ``with`` block or its reader closes (a stream closed from another thread ends after the
    frame being read).
    """

    def __init__(self, reader: Reader, source: str | int | os.PathLike | Iterable[np.ndarray], rgb: bool = False):
        self._source: FrameSource | None = None
        self._mesh: FaceMesh | None = None
        self._lock = threading.Lock()
        self._skipped: list[Path] = []
        self.labels = reader.labels
        if isinstance(source, (str, int, os.PathLike)) and not isinstance(source, bool):
            self._source = open_source(source if isinstance(source, int) else os.fspath(source))
            mode = mode_for(self._source)
            folder = self._source if isinstance(self._source, ImageFolderSource) else None
            if folder is not None:
                self._skipped = folder.skipped  # the list it fills as it reads: kept after the stream closes
            self._frames: Iterator[tuple[int, float | None, np.ndarray, str | None]] | None = (
                (frame.index, frame.t, frame.image, frame.name if folder else None) for frame in self._source
            )
        elif isinstance(source, Iterable) and not isinstance(source, (np.ndarray, bytes)):
            mode = Mode.VIDEO
            self._frames = ((i, None, _as_bgr(image, rgb), None) for i, image in enumerate(source))
        else:
            raise InputError(
                f"expected a video file, a camera index, a folder of images or an iterable of image "
                f"arrays, got {type(source).__name__}; for one photo use read()"
            )
        try:
            self._mesh = reader._open_mesh(mode)
        except BaseException:
            self.close()
            raise
        self._pipeline = reader._pipeline(self._mesh)
        self._tracked = mode is Mode.VIDEO

    def __iter__(self) -> Iterator[FrameFaces]:
        frames, self._frames = self._frames, None
        if frames is None:
            raise ClosedError("this stream is closed or was already read; open a new one")
        try:
            for index, t, image, file in frames:
                with self._lock:
                    if self._mesh is None:  # closed meanwhile, by another thread
                        return
                    faces = self._pipeline(image)
                yield FrameFaces(
                    index, t, image, faces if self._tracked else [_untracked(face) for face in faces], file
                )
        finally:
            self.close()

    @property
    def notices(self) -> list[str]:
        """What the last frame read tells the user: a neutral capture lost with its face, or one taken while the face
        read as an expression (the demo prints these; the page shows them)."""
        return self._pipeline.notices

    @property
    def skipped(self) -> list[Path]:
        """The files of a folder read so far that are no image OpenCV can read (left out, not silently lost)."""
        return list(self._skipped)

    def capture_neutral(self, track: int | None = None, frames: int = CAPTURE_FRAMES) -> int:
        """ "This is my neutral face": the next ``frames`` frames of a face (``track``, or the largest face of the
        last frame) become its reference while it stays in view. Returns its track."""
        with self._lock:
            return self._pipeline.start_neutral_capture(track, frames)

    def close(self) -> None:
        with self._lock:
            self._frames = None
            if self._mesh is not None:
                self._mesh.close()
                self._mesh = None
            if self._source is not None:
                self._source.close()
                self._source = None

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- the model: the only code here that knows its type


def load_model(path: str | os.PathLike | None = None) -> EmotionModel:
    """The model in the folder ``path`` (a base or personal model), verified whole; with None, the model the demo
    uses: the newest personal model, else the default, of the first place that has one
    (:func:`~landmark_emotion.model.discovery.find_default_model`: ``$LANDMARK_EMOTION_MODELS``, the
    workspace's ``models/``, the model shipped in the package).

    Raises :class:`~landmark_emotion.model.bundle.BundleError` for a folder that is not a
    complete, intact model of this version.
    """
    if path is None:
        path = find_default_model()
    elif not isinstance(path, (str, os.PathLike)):
        raise InputError(f"expected the path of a model folder, got {type(path).__name__}")
    return EmotionModel.load(path)


def _as_model(model: EmotionModel | str | os.PathLike | None) -> EmotionModel:
    return model if isinstance(model, EmotionModel) else load_model(model)


def _with_references(model: EmotionModel, references: References) -> EmotionModel:
    """The same model with other neutral references (the folder on disk is not touched)."""
    twin = copy.copy(model)
    twin.references = references
    return twin


def fine_tune(
    model: EmotionModel | str | os.PathLike | None,
    sessions: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    force: bool = False,
    min_samples: int = 5,
    progress: bool = False,
    **options,
) -> EmotionModel:
    """A personal model: ``model`` fine-tuned on the sessions recorded into the folder ``sessions``
    (``scr/record_dataset.py``), returned, and written to the folder ``out`` if given; ``model`` is not changed.

    As ``scr/train_personal.py`` does it (:func:`~landmark_emotion.training.personal.train_personal_model`):
    ``options`` are its settings (:class:`~landmark_emotion.training.personal.FineTuneSettings`: ``l2``,
    ``per_label``, ``keep_unrecorded``...). A recorded neutral face calibrates the new model, which
    answers neutral and the recorded expressions (all of ``model``'s with ``keep_unrecorded=True``).
    ``out`` must not exist unless ``force``; labels with fewer than ``min_samples`` samples
    are refused. What the user should know (no neutral recorded, sessions skipped) comes as
    warnings. Needs TensorFlow.
    """
    from landmark_emotion.outputs import check_outputs, check_writable_folder, recover_before_writing, refuse_existing
    from landmark_emotion.training.personal import FineTuneSettings, train_personal_model

    for name, value in (("sessions", sessions), ("out", out)):
        _require(
            isinstance(value, (str, os.PathLike)) or (name == "out" and value is None),
            f"{name} must be the path of a folder, got {type(value).__name__}",
        )
    names = [field.name for field in dataclasses.fields(FineTuneSettings)]
    unknown = sorted(set(options) - set(names))
    _require(not unknown, f"unknown fine-tuning option(s) {', '.join(unknown)}; expected some of {', '.join(names)}")
    base = _as_model(model)
    if out is not None:
        recover_before_writing(out)
        refuse_existing(out, force, InputError, flag="out", force_flag="force=True")
        check_outputs({"model": base.path, "sessions": sessions}, {"out": out}, whole=["model", "sessions"])
        check_writable_folder(out)
    settings = FineTuneSettings(**options)
    tuned = train_personal_model(
        base, sessions, settings, min_samples=min_samples, progress=progress, train_args=dataclasses.asdict(settings)
    )
    for skipped in tuned.info["skipped_sessions"]:
        warnings.warn(f"skipped session {skipped['file']}: {skipped['reason']}", stacklevel=2)
    for warning in tuned.warnings:
        warnings.warn(warning, stacklevel=2)
    if out is not None:
        tuned.save(out, force=force)
    return tuned
