"""Work one frame ahead: the landmarks of the next frame are found while this one is classified.

MediaPipe's graph and OpenCV's decoder do their work outside Python's GIL, so on a
machine with two cores a worker thread that decodes frame N+1 and runs the face mesh
on it overlaps with the Python work on frame N (features, classifier, tracking, log,
drawing). The demo's loop runs this way (``benchmarks/realtime.py`` measures the gain);
each frame's results are those of that frame, in order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_END = object()
_POLL_SECONDS = 0.05


class _Failed:
    """An exception of the worker, to be raised in the consumer at the item it happened."""

    def __init__(self, exc: BaseException):
        self.exc = exc


@contextmanager
def ahead(items: Iterable[T], fn: Callable[[T], R], depth: int = 1) -> Iterator[Iterator[tuple[T, R]]]:
    """``(item, fn(item))`` for each of ``items`` in order, the next ones taken and computed on a worker thread.

    At most ``depth`` results wait to be taken (and one more is being computed).
    Leaving the block, at the end, early or by an exception, stops the worker and
    waits for its call in progress, so that what ``items`` and ``fn`` use can be
    closed right after it. An exception of the worker is raised in the caller, in
    place of the item it happened at.
    """
    results: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: object) -> None:
        while not stop.is_set():
            try:
                results.put(entry, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                continue

    def work() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                put((item, fn(item)))
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Failed(exc))
            return
        put(_END)

    def taken() -> Iterator[tuple[T, R]]:
        while True:
            entry = results.get()
            if entry is _END:
                return
            if isinstance(entry, _Failed):
                raise entry.exc
            yield entry

    worker = threading.Thread(target=work, name="work-ahead", daemon=True)
    worker.start()
    try:
        yield taken()
    finally:
        stop.set()
        worker.join()
