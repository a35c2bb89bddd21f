"""The emoji mirror as a local web page: a Starlette app, one WebSocket and one reader per browser tab.

The page (``web_static/``: plain HTML and JavaScript, no CDN, no build step) sends
camera frames as JPEG over its WebSocket and draws the answers. Each tab gets its own
:class:`TabSession`: its own face meshes, tracker, smoothers and neutral
reference, built by the demo's :func:`~landmark_emotion.reading.pipeline.pipeline_for`, and freed when
the socket closes. The page sends a frame only once the answer to the previous one
is back, so nothing queues and latency cannot grow.

Protocol (one socket per tab)
  binary, page -> server: one byte ``F`` (a video frame) or ``P`` (a photo), then a JPEG/PNG/WebP image.
  text, page -> server:   ``{"type": "bundle", "id": ID}`` (an id the server listed), ``{"type": "neutral"}``
                          or ``{"type": "explain", "on": true|false}``.
  server -> page:         ``hello`` (session id, bundles, labels), ``faces`` (per face: box, label,
                          confidence, emoji, probabilities; while explaining its ``explanation`` and
                          mesh ``points``; a ``notice`` when a neutral capture was lost with its face),
                          ``bundle``, ``neutral``, ``explain`` (the regions and the mesh's edges in each)
                          or ``error`` (a message).
A message over :data:`MAX_MESSAGE` bytes closes that socket with code 1009 and the
reason, however it is split into frames; every other bad message gets an ``error`` and the socket stays open. A tab
beyond ``max_tabs`` open at once is closed at once with code 1013 ("try again later")
and the reason: each tab holds its own graphs (about 55 MB and 6 threads), and a page
opened in a loop must not exhaust the server.
Only the page itself may use the server (:class:`Guard`): a request must name this machine in its
``Host``, and a socket opened by a page must come from this server's own page (its ``Origin``); others
are refused (HTTP 403, or close code 1008 with the reason).
Frames live in memory only; nothing the page sends is written to disk.
"""

from __future__ import annotations

import io
import ipaddress
import itertools
import signal
import socket
import time
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import uvicorn
from anyio import to_thread
from PIL import Image
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from landmark_emotion.apps.overlay import region_edges
from landmark_emotion.errors import LandmarkEmotionError
from landmark_emotion.face.landmarker import import_mediapipe
from landmark_emotion.face.mesh import FaceMesh, Mode
from landmark_emotion.face.regions import REGIONS
from landmark_emotion.inputs import parse_json, read_json
from landmark_emotion.model.bundle import INFO_FILE, BundleError
from landmark_emotion.model.calibration import CalibrationError
from landmark_emotion.model.emotion_model import EmotionModel
from landmark_emotion.model.explanation import ExplanationError
from landmark_emotion.reading.neutral import capture_started
from landmark_emotion.reading.options import ReadOptions, at_face_limit
from landmark_emotion.reading.pipeline import Face, pipeline_for
from landmark_emotion.signals import heeded

STATIC = Path(__file__).with_name("web_static")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MAX_MESSAGE = 8 * 2**20  # a dropped photo is scaled down in the page first; a camera frame is ~50 kB
MAX_TABS = 8  # a 2-core machine reads 3 tabs at a few frames a second each: 8 is room, not a target
MAX_PIXELS = 4096 * 4096  # checked from the image header, before decoding
FRAME, PHOTO = b"F"[0], b"P"[0]


class WebError(LandmarkEmotionError, ValueError):
    """A bad message from a page: told to that page, and the socket stays open."""


def host_warning(host: str) -> str | None:
    """The warning line for a host that is not loopback (None for loopback)."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        loopback = False
    if loopback:
        return None
    return (
        f"warning: serving on {host}: anyone who can reach this address can use the page and "
        "send it frames; there is no login and no TLS"
    )


WILDCARDS = ("0.0.0.0", "::", "")
"""``--host`` values that serve on every address of the machine."""


def _host_and_port(netloc: str) -> tuple[str, int] | None:
    """``"[::1]:8765"`` -> ``("::1", 8765)``, the port defaulting to HTTP's; None when malformed."""
    try:
        parts = urllib.parse.urlsplit(f"//{netloc}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.username is not None or parts.path:
        return None
    return parts.hostname, port or 80


class Guard:
    """Which requests the server answers: those addressed to this machine, and sockets of its own page.

    A browser lets any page it shows open a WebSocket to any address, and sends the page's
    ``Origin`` with it: without this check a page on another site could take up every tab
    and read the bundle names (cross-site WebSocket hijacking). The ``Host`` of a request
    must be a loopback name or address or ``--host`` (when serving on every address: any
    address, or this machine's name), so a site whose name is made to resolve to 127.0.0.1
    cannot read the page's answers either (DNS rebinding). Clients that are not browsers
    send no ``Origin`` and are answered (they can only run on a machine that can reach
    the server anyway).
    """

    def __init__(self, host: str = DEFAULT_HOST):
        self.host = host.strip("[]").lower()
        try:
            self.host = str(ipaddress.ip_address(self.host))  # one spelling of an address
        except ValueError:
            pass  # a name
        self.everywhere = self.host in WILDCARDS
        self.names = {"localhost", self.host}
        if self.everywhere:
            self.names |= {socket.gethostname().lower(), socket.getfqdn().lower()}

    def host_allowed(self, name: str) -> bool:
        """Whether ``name`` (a Host header's, without the port) is this machine as the server was started."""
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return name.lower() in self.names
        return address.is_loopback or self.everywhere or str(address) == self.host

    def refusal(self, headers: Headers) -> str | None:
        """Why a request with these headers is refused (short: it is a WebSocket close reason), or None."""
        host = _host_and_port(headers.get("host", ""))
        if host is None or not self.host_allowed(host[0]):
            return "refused: the request is not addressed to this machine (Host)"
        origin = headers.get("origin")
        if origin is not None:
            scheme, _, netloc = origin.partition("://")
            if scheme != "http" or _host_and_port(netloc) != host:  # the page is served over HTTP (no TLS)
                return "refused: only this server's own page may use it (Origin)"
        return None


class GuardMiddleware:
    """Refuse what :class:`Guard` refuses: HTTP with 403, a WebSocket with close code 1008 and the reason."""

    def __init__(self, app: ASGIApp, guard: Guard):
        self.app, self.guard = app, guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = self.guard.refusal(Headers(scope=scope)) if scope["type"] in ("http", "websocket") else None
        if problem is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await PlainTextResponse(problem + "\n", status_code=403)(scope, receive, send)
        else:  # accepted only to be closed: a page hears the reason, which a refused handshake would not carry
            websocket = WebSocket(scope, receive, send)
            await websocket.accept()
            await websocket.close(1008, problem)


@dataclass(frozen=True)
class BundleChoice:
    """A bundle the page may pick, by ``id``; the page never sees or sends a path."""

    id: str
    path: Path
    kind: str
    labels: tuple[str, ...]

    def to_json(self) -> dict:
        return {"id": self.id, "kind": self.kind, "labels": list(self.labels)}


def find_bundles(roots: Iterable[Path]) -> dict[str, BundleChoice]:
    """Every bundle folder (one with a readable ``bundle.json``) under ``roots``, keyed by ``root/relative``."""
    found: dict[str, BundleChoice] = {}
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for info_path in sorted(root.rglob(INFO_FILE)):
            folder = info_path.parent
            if any(part.startswith(".") for part in folder.relative_to(root).parts):
                continue  # a bundle still being written, or an old one being replaced
            try:
                info = read_json(info_path)  # a regular file only: a FIFO named bundle.json would hang start-up
                labels = tuple(str(label) for label in info["labels"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            bundle_id = "/".join((root.name, *folder.relative_to(root).parts))
            found[bundle_id] = BundleChoice(bundle_id, folder, str(info.get("kind", "base")), labels)
    return found


class BundleCatalog:
    """The bundles the server listed, each loaded once and shared by the tabs (a bundle holds no per-tab state)."""

    def __init__(self, choices: dict[str, BundleChoice], default: str):
        if default not in choices:
            raise BundleError(
                f"default bundle {default!r} is not among the bundles found: {', '.join(choices) or 'none'}"
            )
        self.choices, self.default = choices, default
        self._loaded: dict[str, EmotionModel] = {}

    def bundle(self, bundle_id: object) -> EmotionModel:
        if not isinstance(bundle_id, str) or bundle_id not in self.choices:
            shown = repr(bundle_id)  # as the page sent it, up to a point: it may be megabytes
            shown = shown if len(shown) <= 80 else f"{shown[:77]}..."
            raise WebError(f"unknown bundle {shown}: choose one of {', '.join(self.choices)}")
        if bundle_id not in self._loaded:
            try:
                self._loaded[bundle_id] = EmotionModel.load(self.choices[bundle_id].path)
            except BundleError as exc:
                raise WebError(str(exc)) from None
        return self._loaded[bundle_id]

    def to_json(self) -> list[dict]:
        return [choice.to_json() for choice in self.choices.values()]


def decode_image(data: bytes) -> np.ndarray:
    """A BGR image from JPEG/PNG/WebP bytes; its size is checked from the header before any pixel is decoded."""
    try:
        with Image.open(io.BytesIO(data)) as header:
            width, height = header.size
    except (OSError, ValueError, Image.DecompressionBombError):
        raise WebError("not an image: send a JPEG, PNG or WebP") from None
    if width * height > MAX_PIXELS:
        raise WebError(f"image of {width}x{height} pixels is too large (at most {MAX_PIXELS} pixels)")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise WebError("the image could not be decoded")
    return image


class TabSession:
    """One browser tab's reading state: its own face meshes, tracker, smoothers and neutral reference."""

    def __init__(self, session_id: int, catalog: BundleCatalog, options: ReadOptions):
        self.id, self.catalog, self.options = session_id, catalog, options
        self._meshes: dict[tuple[Mode, str], FaceMesh] = {}
        self.frames = 0
        self.tracks: set[int] = set()
        self.explaining = False
        self.use_bundle(catalog.default)

    def _mesh(self, mode: Mode, landmarker: str) -> FaceMesh:
        """This tab's own face mesh of a mode and landmarker: tracking state must not be shared between tabs."""
        if (mode, landmarker) not in self._meshes:
            self._meshes[mode, landmarker] = FaceMesh(
                mode, self.options.max_faces, landmarker=landmarker, blendshapes=self.options.blendshapes
            )
        return self._meshes[mode, landmarker]

    def use_bundle(self, bundle_id: object) -> dict:
        bundle = self.catalog.bundle(bundle_id)
        landmarker, _ = self.options.landmarker_for(bundle)  # the model's own, as in the demo
        self.video = pipeline_for(bundle, self._mesh(Mode.VIDEO, landmarker), self.options)
        self.photo = pipeline_for(bundle, self._mesh(Mode.IMAGE, landmarker), self.options, photos=True)
        self.bundle = str(bundle_id)
        self.calibrates = self.options.calibrate != "off" and bundle.references is not None
        try:
            self.explain(self.explaining)
        except WebError:
            self.explaining = False  # this model cannot be explained: the page's toggle goes off
        return {
            "type": "bundle",
            "id": self.bundle,
            "labels": self.video.labels,
            "neutral": self.calibrates,
            "explain": self.explaining,
        }

    def explain(self, on: object) -> dict:
        """The page's **Why** toggle: explain every face of this tab (the demo's ``x`` key) or stop."""
        if not isinstance(on, bool):
            raise WebError(f"'on' must be true or false, got {on!r}")
        try:
            for pipeline in (self.video, self.photo):
                pipeline.explain_faces(on)
        except ExplanationError as exc:
            raise WebError(str(exc)) from None
        self.explaining = on
        edges = [pairs.tolist() for pairs in region_edges()] if on else []
        return {"type": "explain", "on": on, "regions": list(REGIONS), "edges": edges}

    def set_neutral(self) -> dict:
        """The neutral-reference button: what the demo's ``n`` key does, on this tab's video reader."""
        try:
            track = self.video.start_neutral_capture()
        except CalibrationError as exc:
            raise WebError(str(exc)) from None
        return {"type": "neutral", "track": track, "message": capture_started(track)}

    def read(self, message: bytes) -> dict:
        """Answer one binary message: the faces in the frame or photo it carries."""
        if not message or message[0] not in (FRAME, PHOTO):
            raise WebError("a binary message starts with F (video frame) or P (photo), then the image")
        image = decode_image(message[1:])
        pipeline = self.video if message[0] == FRAME else self.photo
        start = time.perf_counter()
        faces = pipeline(image)
        self.frames += 1
        self.tracks.update(face.track for face in faces if face.track is not None)
        answer = {
            "type": "faces",
            "kind": "frame" if message[0] == FRAME else "photo",
            "width": image.shape[1],
            "height": image.shape[0],
            "ms": round(1000 * (time.perf_counter() - start), 2),
            "faces": [self._entry(face, image.shape[1], image.shape[0]) for face in faces],
        }
        notices = list(pipeline.notices)
        if message[0] == PHOTO and at_face_limit(len(faces), self.options.max_faces):
            notices.append(
                f"this photo has {len(faces)} faces read, the most this page reads: there may be more "
                "(start the page with a higher --max-faces)"
            )
        if notices:
            answer["notice"] = "; ".join(notices)
        return answer

    def _entry(self, face: Face, width: int, height: int) -> dict:
        """A face as the page gets it: its log entry, and its mesh's points in pixels while it is explained."""
        entry = face.to_json()
        if face.explanation is not None:
            entry["points"] = np.round(face.landmarks[:, :2] * (width, height), 1).tolist()
        return entry

    def command(self, text: str) -> dict:
        """Answer one text message (JSON with a ``type``)."""
        try:
            message = parse_json(text)
        except ValueError:
            raise WebError('a text message must be JSON, e.g. {"type": "neutral"}') from None
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "bundle":
            return self.use_bundle(message.get("id"))
        if kind == "neutral":
            return self.set_neutral()
        if kind == "explain":
            return self.explain(message.get("on"))
        raise WebError(f"unknown message type {kind!r}: expected 'bundle', 'neutral' or 'explain'")

    def describe(self) -> dict:
        return {"id": self.id, "bundle": self.bundle, "frames": self.frames, "tracks": sorted(self.tracks)}

    def close(self) -> None:
        for mesh in self._meshes.values():
            mesh.close()
        self._meshes.clear()


def create_app(
    bundle_roots: Sequence[Path],
    default_bundle: Path,
    options: ReadOptions = ReadOptions(),
    on_ready: Callable[[], None] = lambda: None,
    max_tabs: int = MAX_TABS,
    host: str = DEFAULT_HOST,
) -> Starlette:
    """The web app; ``default_bundle`` must be one of the bundles found under ``bundle_roots``.

    ``on_ready`` runs once the server can answer (MediaPipe imported), e.g. to print the URL.
    At most ``max_tabs`` tabs are read at once; the page of one more retries every second.
    ``host`` is the address the server listens on: requests must name it or loopback (:class:`Guard`).
    """
    choices = find_bundles(bundle_roots)
    default = next((c.id for c in choices.values() if c.path.resolve() == Path(default_bundle).resolve()), None)
    if default is None:
        EmotionModel.load(default_bundle)  # says what is wrong with it, if anything
        raise BundleError(
            f"{default_bundle} is not under {' or '.join(map(str, bundle_roots))}: the page offers "
            "only bundles found there (see --models-dir, --personal-dir)"
        )
    catalog = BundleCatalog(choices, default)
    catalog.bundle(default)  # a broken default bundle fails at start, not in the first tab
    sessions: dict[int, TabSession] = {}
    numbers = itertools.count(1)
    taken = 0  # tabs admitted, counted before their session opens: tabs that connect together are all counted

    async def bundles(request: Request) -> JSONResponse:
        return JSONResponse({"bundles": catalog.to_json(), "default": catalog.default})

    async def tabs(request: Request) -> JSONResponse:
        return JSONResponse({"tabs": len(sessions), "sessions": [s.describe() for s in sessions.values()]})

    async def tab(websocket: WebSocket) -> None:
        nonlocal taken
        await websocket.accept()
        if taken >= max_tabs:
            await websocket.close(1013, f"this server reads {max_tabs} tabs at once; close one (this tab retries)")
            return
        taken += 1
        try:
            await read_tab(websocket)
        finally:
            taken -= 1

    async def read_tab(websocket: WebSocket) -> None:
        session = await to_thread.run_sync(TabSession, next(numbers), catalog, options)
        sessions[session.id] = session
        try:
            await websocket.send_json(
                {
                    "type": "hello",
                    "session": session.id,
                    "bundles": catalog.to_json(),
                    "bundle": session.bundle,
                    "labels": session.video.labels,
                    "neutral": session.calibrates,
                    "max_message": MAX_MESSAGE,
                }
            )
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                try:
                    if message.get("bytes") is not None:
                        answer = await to_thread.run_sync(session.read, message["bytes"])
                    else:
                        answer = await to_thread.run_sync(session.command, message.get("text") or "")
                except LandmarkEmotionError as exc:  # a bad message, a bundle that does not load: said, the tab goes on
                    answer = {"type": "error", "message": str(exc)}
                await websocket.send_json(answer)
        except (WebSocketDisconnect, OSError):
            pass  # the tab went away, possibly while its answer was being sent
        finally:
            del sessions[session.id]
            session.close()

    @asynccontextmanager
    async def lifespan(app: Starlette):
        # import MediaPipe (seconds) before the first tab, not in it
        await to_thread.run_sync(import_mediapipe)
        on_ready()
        yield

    routes = [
        Route("/api/bundles", bundles),
        Route("/api/tabs", tabs),
        WebSocketRoute("/ws", tab),
        Mount("/", StaticFiles(directory=STATIC, html=True)),
    ]
    return Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(GuardMiddleware, guard=Guard(host))])


def bind(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> socket.socket:
    """The listening socket, bound before anything else runs: a busy port is an ``OSError`` up front."""
    return socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)


def page_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


CLOSE_SECONDS = 10.0
"""How long a socket closed for a message over the limit waits for the page to close its side."""


class _ClosingProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, except that a message over the limit ends with a close frame the page receives.

    uvicorn sends the close frame (1009, and the limit in the reason) and closes the socket at
    once, while the page is still sending the rest of the message: a socket closed with unread
    data is reset, and the reset can destroy the close frame on its way (the page saw 1006,
    with no reason). Here the server stops sending (a half-close) and reads and discards
    what still arrives, until the page closes its side or the close timeout.
    """

    def handle_parser_exception(self) -> None:
        if self.close_sent:
            return  # the rest of the message, discarded
        close = self.conn.close_sent
        assert close is not None, "the protocol failed the connection: it sent a close frame"
        self.queue.put_nowait({"type": "websocket.disconnect", "code": close.code, "reason": close.reason})
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.transport.write_eof()
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(CLOSE_SECONDS, self.transport.close)  # uvicorn waits for it

    async def send(self, message: Any) -> None:
        if self.close_sent and message["type"] == "websocket.send":
            raise ClientDisconnected  # the answer to the frame before: the tab is gone, as when the page leaves
        await super().send(message)


def serve(app: Starlette, sock: socket.socket) -> None:
    """Serve ``app`` on ``sock`` until Ctrl-C, SIGTERM or SIGHUP.

    uvicorn enforces :data:`MAX_MESSAGE` while reading, so an oversized message is never held whole in memory.
    uvicorn ends gracefully on SIGINT and SIGTERM only; closing the terminal (SIGHUP) is made to do the same
    (it raised in the middle of its event loop: a traceback, then exit 0).
    """
    config = uvicorn.Config(app, ws=_ClosingProtocol, ws_max_size=MAX_MESSAGE, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    others = [signum for signum in heeded() if signum not in (signal.SIGINT, signal.SIGTERM)]  # SIGHUP, on POSIX
    previous = {signum: signal.signal(signum, server.handle_exit) for signum in others}
    try:
        server.run(sockets=[sock])
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
