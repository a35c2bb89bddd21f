"""The web page: bundle listing and image checks, the socket protocol against a running server, and the page
itself in headless Chromium with the sample clip as its camera.

One server (``scr/web.py`` in a child process) serves the whole module; it lists two
bundles, the shipped default and a copy marked personal, so tabs can differ in what they use.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import http.client
import http.server
import io
import json
import shutil
import signal
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
from PIL import Image

from child_processes import run_script
from landmark_emotion.apps.web import (
    MAX_MESSAGE,
    BundleCatalog,
    Guard,
    WebError,
    decode_image,
    find_bundles,
    host_warning,
)
from one_photo import four_in_a_row
from web_check import WebServer, chromium, chromium_path, web_server, write_y4m

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "models" / "default"
CLIP = ROOT / "datasets" / "samples" / "astronaut.mp4"
MAX_TABS = 4  # the test server's --max-tabs: room for the three-tab test
PHOTO = Path(__file__).resolve().parent.parent / "datasets" / "samples" / "astronaut.jpg"
EVIL = "evil.example"  # a site of someone else's; the test browser resolves it to 127.0.0.1, as DNS rebinding would

needs_chromium = pytest.mark.skipif(
    chromium_path() is None, reason="chromium is not installed (apt-get install chromium); .ci/run installs it"
)


def jpeg(path: Path = PHOTO) -> bytes:
    return path.read_bytes()


# --- without a server ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """models/default and models/mine (a copy), plus things that are no bundle."""
    root = tmp_path_factory.mktemp("web") / "models"
    shutil.copytree(DEFAULT, root / "default")
    shutil.copytree(DEFAULT, root / "mine")
    shutil.copytree(DEFAULT, root / ".mine-old")
    (root / "broken").mkdir()
    (root / "broken" / "bundle.json").write_text("{not json")
    return root


def test_find_bundles_lists_bundle_folders_by_id(models, tmp_path):
    personal = tmp_path / "personal_data" / "anna"
    personal.mkdir(parents=True)
    info = json.loads((DEFAULT / "bundle.json").read_text())
    (personal / "bundle.json").write_text(json.dumps({**info, "kind": "personal"}))
    found = find_bundles([models, personal.parent, tmp_path / "absent"])
    assert sorted(found) == ["models/default", "models/mine", "personal_data/anna"]
    assert found["personal_data/anna"].kind == "personal"
    assert found["models/default"].to_json() == {
        "id": "models/default",
        "kind": "base",
        "labels": list(found["models/default"].labels),
    }
    with pytest.raises(WebError, match="incomplete"):  # listed, but loading it still checks it
        BundleCatalog(found, "models/default").bundle("personal_data/anna")


@pytest.mark.parametrize("asked", ["../../etc/passwd", str(DEFAULT), "models/broken", None, 3])
def test_catalog_refuses_anything_it_did_not_list(models, asked):
    catalog = BundleCatalog(find_bundles([models]), "models/default")
    with pytest.raises(WebError, match="unknown bundle"):
        catalog.bundle(asked)
    with pytest.raises(WebError) as refused:  # told back to the page, but not megabytes of it
        catalog.bundle("x" * 1_000_000)
    assert len(str(refused.value)) < 200
    assert catalog.bundle("models/mine").classes_ == catalog.bundle("models/default").classes_


def test_a_bundle_that_does_not_load_is_an_error_message_to_its_tab(tmp_path):
    root = tmp_path / "models"
    shutil.copytree(DEFAULT, root / "default")
    shutil.copytree(DEFAULT, root / "deep")
    (root / "deep" / "metrics.json").write_text("[" * 100_000 + "]" * 100_000)  # a RecursionError to json
    catalog = BundleCatalog(find_bundles([root]), "models/default")
    with pytest.raises(WebError, match="unreadable bundle.json or metrics.json"):
        catalog.bundle("models/deep")


def test_decode_image_reads_jpeg_and_refuses_the_rest():
    assert decode_image(jpeg()).shape == (512, 512, 3)
    with pytest.raises(WebError, match="not an image"):
        decode_image(b"\xff\xd8 this is not a jpeg")
    with pytest.raises(WebError, match="not an image"):
        decode_image(b"")
    big = io.BytesIO()
    Image.new("L", (5000, 5000)).save(big, "PNG")  # 25 megapixels in a few kB: refused from its header
    with pytest.raises(WebError, match="too large"):
        decode_image(big.getvalue())


def test_host_warning_only_off_loopback():
    assert host_warning("127.0.0.1") is None and host_warning("::1") is None and host_warning("localhost") is None
    assert all("warning" in host_warning(host) for host in ("0.0.0.0", "192.168.1.5", "::", "example.org"))


@contextlib.contextmanager
def taken_port(host: str = "127.0.0.1") -> Iterator[str]:
    """A port something else holds meanwhile: a command given it must not report it busy before its bad input."""
    with socket.create_server((host, 0)) as taken:
        yield str(taken.getsockname()[1])


def test_guard_answers_this_machine_and_its_own_page_only():
    from starlette.datastructures import Headers

    def refusal(guard: Guard, host: str, origin: str | None = None) -> str | None:
        return guard.refusal(Headers({"host": host} | ({"origin": origin} if origin is not None else {})))

    local = Guard("127.0.0.1")
    for host, origin in (
        ("127.0.0.1:8765", None),  # a script: no Origin
        ("127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("localhost:8765", "http://localhost:8765"),
        ("[::1]:8765", "http://[::1]:8765"),
        ("127.0.0.1", "http://127.0.0.1"),  # port 80, said or not
    ):
        assert refusal(local, host, origin) is None, (host, origin)
    for host, origin, why in (
        ("127.0.0.1:8765", "http://evil.example", "Origin"),
        ("127.0.0.1:8765", "http://localhost:8765", "Origin"),  # another origin, though the same machine
        ("127.0.0.1:8765", "http://127.0.0.1:8766", "Origin"),
        ("127.0.0.1:8765", "https://127.0.0.1:8765", "Origin"),
        ("127.0.0.1:8765", "null", "Origin"),
        ("evil.example:8765", "http://evil.example:8765", "Host"),  # DNS rebinding: same origin, foreign name
        ("evil.example:8765", None, "Host"),
        ("192.168.1.5:8765", None, "Host"),
        ("", None, "Host"),
        ("127.0.0.1:99999", None, "Host"),
        ("user@127.0.0.1:8765", None, "Host"),
    ):
        assert why in (refusal(local, host, origin) or ""), (host, origin)
    everywhere = Guard("0.0.0.0")  # served on every address: any address of it, or its name, but no other name
    assert refusal(everywhere, "192.168.1.5:8765", "http://192.168.1.5:8765") is None
    assert refusal(everywhere, "evil.example:8765") is not None
    assert refusal(Guard("192.168.1.5"), "192.168.1.5:8765") is None
    assert refusal(Guard("192.168.1.5"), "10.0.0.1:8765") is not None
    assert refusal(Guard("::1"), "[0:0::1]:8765", "http://[0:0::1]:8765") is None


@pytest.mark.slow
def test_script_warns_before_serving_off_loopback_and_fails_in_one_line_on_a_bad_model(tmp_path):
    with taken_port("0.0.0.0") as port:
        result = run_script("web.py", "--host", "0.0.0.0", "--port", port, "--model", str(tmp_path / "missing"))
    assert result.stdout.startswith("warning: serving on 0.0.0.0")
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "missing" in result.stderr and "in use" not in result.stderr


@pytest.mark.slow
def test_script_refuses_a_model_outside_the_listed_folders(models, tmp_path):
    shutil.copytree(models / "default", tmp_path / "elsewhere")
    with taken_port() as port:
        result = run_script(
            "web.py", "--port", port, "--models-dir", str(models), "--model", str(tmp_path / "elsewhere")
        )
    assert result.returncode == 2
    assert "is not under" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_ends_the_server_cleanly(signum, models, tmp_path):
    """Closing the terminal (SIGHUP) ends the server as Ctrl-C and kill do: no traceback, "stopped", exit 0."""
    log = tmp_path / "stderr.log"
    server = WebServer("--models-dir", str(models), "--model", str(models / "default"), log=log)
    server.process.send_signal(signum)
    out, _ = server.process.communicate(timeout=60)
    server.stop()
    assert server.process.returncode == 0 and out.endswith("emoji mirror: stopped\n"), out
    assert log.read_text() == ""


@pytest.mark.slow
def test_busy_port_is_one_error_line():
    with taken_port() as port:
        result = run_script("web.py", "--port", port)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "Traceback" not in result.stderr


def test_the_command_refuses_a_model_outside_the_listed_folders_before_serving(models, tmp_path, monkeypatch, capsys):
    """web.py's main in this process, for the fast tier (the tests above run it as a command, and are slow)."""
    from landmark_emotion.commands import web

    shutil.copytree(models / "default", tmp_path / "elsewhere")
    sockets = []
    bind = web.bind
    monkeypatch.setattr(web, "bind", lambda host, port: sockets.append(bind(host, port)) or sockets[-1])
    try:
        code = web.main(["--port", "0", "--models-dir", str(models), "--model", str(tmp_path / "elsewhere")])
    finally:
        for sock in sockets:
            sock.close()
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and sockets == []  # the model is checked before the port is taken
    assert err.startswith("error: ") and "is not under" in err and err.count("\n") == 1


# --- the socket protocol, against a running server ---------------------------------------------


@pytest.fixture(scope="module")
def server(models):
    with web_server(
        "--models-dir",
        str(models),
        "--personal-dir",
        str(models.parent / "personal"),
        "--model",
        str(models / "default"),
        "--max-tabs",
        str(MAX_TABS),
    ) as running:
        yield running


def get_json(server, path: str) -> dict:
    with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=30) as response:
        return json.load(response)


def wait_for_tabs(server, count: int, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        tabs = get_json(server, "/api/tabs")
        if tabs["tabs"] == count or time.monotonic() > deadline:
            return tabs
        time.sleep(0.2)


async def _exchange(ws, message) -> dict:
    await ws.send(message)
    return json.loads(await ws.recv())


@pytest.mark.slow
def test_bad_messages_get_clear_errors_and_the_server_goes_on(server, models):
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    url = server.url.replace("http://", "ws://") + "ws"

    async def scenario() -> dict:
        seen = {}
        async with connect(url, max_size=None) as good, connect(url, max_size=None) as bad:
            hello = json.loads(await good.recv())
            json.loads(await bad.recv())
            assert hello["bundles"] == [
                {"id": b, "kind": k, "labels": hello["labels"]}
                for b, k in (("models/default", "base"), ("models/mine", "base"))
            ]
            seen["garbage"] = await _exchange(bad, b"F" + b"\x00not an image" * 10)
            seen["no kind"] = await _exchange(bad, b"X" + jpeg())
            seen["text"] = await _exchange(bad, "hello?")
            seen["type"] = await _exchange(bad, json.dumps({"type": "rm -rf"}))
            seen["deep"] = await _exchange(bad, "[" * 100_000 + "]" * 100_000)  # a RecursionError to json
            seen["path"] = await _exchange(bad, json.dumps({"type": "bundle", "id": str(models / "default")}))
            seen["escape"] = await _exchange(bad, json.dumps({"type": "bundle", "id": "models/../../etc"}))
            seen["still reads"] = await _exchange(bad, b"P" + jpeg())
            try:
                await bad.send(b"F" + bytes(50 * 2**20))
                seen["huge"] = await asyncio.wait_for(bad.recv(), 30)
            except ConnectionClosed as closed:
                seen["huge"] = closed.rcvd
            seen["other tab"] = await _exchange(good, b"P" + jpeg())
        async with connect(url, max_size=None) as late:
            json.loads(await late.recv())
            seen["new tab"] = await _exchange(late, b"P" + jpeg())
        return seen

    seen = asyncio.run(scenario())
    for what, expected in (
        ("garbage", "not an image"),
        ("no kind", "starts with F"),
        ("text", "must be JSON"),
        ("type", "unknown message type"),
        ("deep", "must be JSON"),
        ("path", "unknown bundle"),
        ("escape", "unknown bundle"),
    ):
        assert seen[what]["type"] == "error" and expected in seen[what]["message"], (what, seen[what])
    for what in ("still reads", "other tab", "new tab"):
        assert seen[what]["type"] == "faces" and len(seen[what]["faces"]) == 1, what
    assert seen["huge"].code == 1009, seen["huge"]  # "message too big", with the limit in the reason
    assert str(MAX_MESSAGE) in seen["huge"].reason
    assert server.alive()
    assert wait_for_tabs(server, 0)["tabs"] == 0  # every closed socket freed its session


@pytest.mark.parametrize(
    "size, fragments",
    [(MAX_MESSAGE + 10, 1), (MAX_MESSAGE + 10, 3), (50 * 2**20, 2), (50 * 2**20, 40)],
    ids=["just-over", "just-over-in-3-fragments", "50MB-in-2-fragments", "50MB-in-40-fragments"],
)
def test_a_message_over_the_limit_is_closed_with_1009_and_the_reason(size, fragments, server):
    """However it arrives: the server used to close the socket while the rest still came in, and the reset that
    brought lost the close frame on its way (the page saw 1006, no reason)."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    url = server.url.replace("http://", "ws://") + "ws"
    message = b"F" + bytes(size - 1)
    step = -(-len(message) // fragments)

    async def scenario() -> object:
        async with connect(url, max_size=None) as ws:
            json.loads(await ws.recv())
            try:
                if fragments == 1:
                    await ws.send(message)
                else:
                    await ws.send([message[i : i + step] for i in range(0, len(message), step)])
                return await asyncio.wait_for(ws.recv(), 30)
            except ConnectionClosed as closed:
                return closed.rcvd

    closed = asyncio.run(scenario())
    assert closed is not None and closed.code == 1009 and str(MAX_MESSAGE) in closed.reason, closed
    assert wait_for_tabs(server, 0)["tabs"] == 0 and server.alive()


@pytest.mark.slow
def test_a_tab_beyond_the_limit_is_told_so_and_gets_in_once_one_closes(server):
    """A page opened in a loop must not exhaust the server: each tab holds its own graphs."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    url = server.url.replace("http://", "ws://") + "ws"
    assert wait_for_tabs(server, 0)["tabs"] == 0

    async def scenario() -> tuple[object, dict]:
        tabs = [await connect(url, max_size=None) for _ in range(MAX_TABS)]
        for ws in tabs:
            assert json.loads(await ws.recv())["type"] == "hello"
        async with connect(url, max_size=None) as extra:
            try:
                refused = await asyncio.wait_for(extra.recv(), 30)
            except ConnectionClosed as closed:
                refused = closed.rcvd
        await tabs.pop().close()
        async with connect(url, max_size=None) as late:
            json.loads(await late.recv())
            answer = await _exchange(late, b"P" + jpeg())
        for ws in tabs:
            await ws.close()
        return refused, answer

    refused, answer = asyncio.run(scenario())
    assert refused.code == 1013 and f"reads {MAX_TABS} tabs" in refused.reason, refused
    assert answer["type"] == "faces" and len(answer["faces"]) == 1
    assert wait_for_tabs(server, 0)["tabs"] == 0


def test_sockets_of_other_sites_and_requests_for_other_hosts_are_refused_and_take_no_tab(server):
    """A page on another site must not take the tabs nor read the bundle names (cross-site WebSocket hijacking), and
    a site whose name resolves to this machine must not read the page's answers (DNS rebinding)."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    url = server.url.replace("http://", "ws://") + "ws"
    port = urllib.parse.urlsplit(server.url).port
    assert wait_for_tabs(server, 0)["tabs"] == 0

    async def refused(url: str, **kwargs) -> tuple[object, object]:
        """(the close frame, None) of a refused socket; (None, its first message) of one that was answered."""
        async with connect(url, max_size=None, **kwargs) as ws:
            try:
                return None, await asyncio.wait_for(ws.recv(), 30)
            except ConnectionClosed as closed:
                return closed.rcvd, None

    async def scenario() -> tuple[list, dict]:
        seen = [await refused(url, origin=f"http://{EVIL}") for _ in range(MAX_TABS + 2)]
        seen.append(await refused(url, origin="null"))
        # the Host a browser sends for http://evil.example:PORT/ once evil.example resolves to 127.0.0.1
        seen.append(await refused(f"ws://{EVIL}:{port}/ws", host="127.0.0.1", port=port))
        seen.append(
            await refused(f"ws://{EVIL}:{port}/ws", host="127.0.0.1", port=port, origin=f"http://{EVIL}:{port}")
        )
        async with connect(url, max_size=None, origin=server.url.rstrip("/")) as own:  # the page's own socket
            return seen, json.loads(await own.recv())

    seen, hello = asyncio.run(scenario())
    for close, answer in seen:
        assert answer is None  # no hello: no bundle names
        assert close.code == 1008 and close.reason.startswith("refused: "), close
    assert "Origin" in seen[0][0].reason and "Host" in seen[-1][0].reason
    assert hello["type"] == "hello"

    for path in ("/api/tabs", "/api/bundles", "/", "/app.js"):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.putrequest("GET", path, skip_host=True)
        connection.putheader("Host", f"{EVIL}:{port}")
        connection.endheaders()
        response = connection.getresponse()
        body = response.read().decode()
        connection.close()
        assert response.status == 403 and "not addressed to this machine" in body and "models/" not in body, path
    assert get_json(server, "/api/tabs")["tabs"] == 0
    assert server.alive()


@pytest.mark.slow
def test_a_neutral_capture_lost_with_its_face_comes_with_a_notice(server, tmp_path):
    from websockets.asyncio.client import connect

    url = server.url.replace("http://", "ws://") + "ws"
    wall = tmp_path / "wall.png"
    Image.new("RGB", (640, 480), (128, 128, 128)).save(wall)

    async def scenario() -> tuple[dict, list[dict]]:
        async with connect(url, max_size=None) as ws:
            json.loads(await ws.recv())
            await _exchange(ws, b"F" + jpeg())
            started = await _exchange(ws, json.dumps({"type": "neutral"}))
            return started, [await _exchange(ws, b"F" + jpeg(wall)) for _ in range(20)]

    started, answers = asyncio.run(scenario())
    assert started["type"] == "neutral"
    notices = [(i, a["notice"]) for i, a in enumerate(answers) if "notice" in a]
    assert len(notices) == 1 and notices[0][1].startswith(f"face {started['track']} left the view"), notices
    assert all(a["faces"] == [] for a in answers)


def test_a_photo_with_as_many_faces_as_the_page_reads_says_there_may_be_more(server, tmp_path):
    from websockets.asyncio.client import connect

    group = tmp_path / "group.png"
    cv2.imwrite(str(group), four_in_a_row(cv2.imread(str(PHOTO))))

    async def scenario() -> list[dict]:
        async with connect(server.url.replace("http://", "ws://") + "ws", max_size=None) as ws:
            json.loads(await ws.recv())
            return [await _exchange(ws, b"P" + jpeg(path)) for path in (group, PHOTO)]

    four, one = asyncio.run(scenario())
    assert len(four["faces"]) == 4 and four["notice"].startswith("this photo has 4 faces read, the most this page")
    assert len(one["faces"]) == 1 and "notice" not in one


@pytest.mark.slow
def test_a_neutral_taken_mid_smile_comes_with_a_notice(server):
    from websockets.asyncio.client import connect

    url = server.url.replace("http://", "ws://") + "ws"

    async def scenario() -> tuple[dict, list[dict]]:
        async with connect(url, max_size=None) as ws:
            json.loads(await ws.recv())
            await _exchange(ws, b"F" + jpeg())
            started = await _exchange(ws, json.dumps({"type": "neutral"}))
            return started, [await _exchange(ws, b"F" + jpeg()) for _ in range(35)]  # she smiles throughout

    started, answers = asyncio.run(scenario())
    notices = [a["notice"] for a in answers if "notice" in a]
    taken = f"face {started['track']}: the neutral reference taken reads happy"
    assert len(notices) == 1 and notices[0].startswith(taken), notices
    assert answers[-1]["faces"][0]["calibration"] == "captured"  # kept: the page said so, the user decides


@pytest.mark.slow
def test_the_why_toggle_explains_every_face_of_the_tab_with_its_mesh(server):
    from websockets.asyncio.client import connect

    async def scenario() -> dict:
        seen = {}
        async with connect(server.url.replace("http://", "ws://") + "ws", max_size=None) as tab:
            json.loads(await tab.recv())
            seen["plain"] = await _exchange(tab, b"P" + jpeg())
            seen["on"] = await _exchange(tab, json.dumps({"type": "explain", "on": True}))
            seen["explained"] = await _exchange(tab, b"P" + jpeg())
            seen["other bundle"] = await _exchange(tab, json.dumps({"type": "bundle", "id": "models/mine"}))
            seen["still explained"] = await _exchange(tab, b"P" + jpeg())
            seen["bad"] = await _exchange(tab, json.dumps({"type": "explain", "on": "yes"}))
            seen["off"] = await _exchange(tab, json.dumps({"type": "explain", "on": False}))
            seen["plain again"] = await _exchange(tab, b"P" + jpeg())
        return seen

    seen = asyncio.run(scenario())
    on = seen["on"]
    assert on["type"] == "explain" and on["on"] is True and len(on["regions"]) == len(on["edges"]) == 13
    assert sum(map(len, on["edges"])) > 1000 and all(len(pair) == 2 for edges in on["edges"] for pair in edges)
    for what in ("explained", "still explained"):
        [face] = seen[what]["faces"]
        assert face["explanation"]["label"] == face["label"] and set(face["explanation"]["regions"]) == set(
            on["regions"]
        ), what
        assert len(face["points"]) == 468 and face["explanation"]["words"], what
        x, y, w, h = face["box"]
        assert all(x - 1 <= px <= x + w + 1 and y - 1 <= py <= y + h + 1 for px, py in face["points"]), what
    assert seen["other bundle"]["explain"] is True
    assert seen["bad"]["type"] == "error" and "true or false" in seen["bad"]["message"]
    assert seen["off"] == {"type": "explain", "on": False, "regions": on["regions"], "edges": []}
    for what in ("plain", "plain again"):
        assert {"explanation", "points"}.isdisjoint(seen[what]["faces"][0]), what


# --- the page in a real browser ----------------------------------------------------------------


@pytest.fixture(scope="module")
def camera_clip(tmp_path_factory) -> Path:
    clip = tmp_path_factory.mktemp("camera") / "astronaut.y4m"
    assert write_y4m(CLIP, clip) == 150
    return clip


@pytest.fixture(scope="module")
def browser(camera_clip):
    if chromium_path() is None:
        pytest.skip("chromium is not installed (apt-get install chromium); .ci/run installs it")
    with chromium(camera_clip, f"--host-resolver-rules=MAP {EVIL} 127.0.0.1") as running:
        yield running


def wait_answers(page, count: int, kind: str = "frame", timeout: float = 60_000) -> None:
    page.wait_for_function(f"mirror.answers.filter(a => a.kind === {kind!r}).length >= {count}", timeout=timeout)


def drop_file(page, path: Path, mime: str) -> None:
    """Drop a file on the page as a user dragging it from their desktop would."""
    page.evaluate(
        """([b64, name, mime]) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const data = new DataTransfer();
        data.items.add(new File([bytes], name, {type: mime}));
        document.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}))
    }""",
        [base64.b64encode(path.read_bytes()).decode(), path.name, mime],
    )


def assert_drawn_as_a_mirror(page, mirrored: bool) -> None:
    """The picture last drawn, and each face's box on it: left and right swapped for the camera only."""
    drawn = page.evaluate("mirror.drawn")
    assert drawn["mirrored"] is mirrored and len(drawn["boxes"]) == len(drawn["read"]) == 1, drawn
    (x, _, w, _), scale = drawn["read"][0], drawn["scale"]  # the box the server read, in the frame it was sent
    assert drawn["boxes"][0][0] == pytest.approx(drawn["width"] - (x + w) * scale if mirrored else x * scale)


def main_py_labels(tmp_path: Path) -> list[str]:
    """main.py's label of each face of the sample clip, frame by frame."""
    log = tmp_path / "log.jsonl"
    args = ["--source", str(CLIP), "--no-display", "--model", str(DEFAULT), "--log", str(log)]
    result = run_script("main.py", *args, timeout=300)
    assert result.returncode == 0, result.stderr
    return [face["label"] for line in log.read_text().splitlines() for face in json.loads(line)["faces"]]


@pytest.mark.browser
@needs_chromium
def test_page_reads_the_camera_as_main_py_does_and_reads_a_dropped_photo(server, browser, tmp_path):
    # the page's first 60 answers are about its camera's first 2 s: main.py's labels of the clip's first 100 frames
    # (3.3 s of 5) are what they are compared with (the model need not read the whole clip alike)
    expected = collections.Counter(main_py_labels(tmp_path)[:100])
    page = browser.new_page()
    try:
        page.goto(server.url)
        wait_answers(page, 60)
        answers = page.evaluate("mirror.answers")
        shown = collections.Counter(face["label"] for a in answers for face in a["faces"])
        # one face in every answered frame, and the label main.py gives the clip most often is the page's too
        assert all(len(a["faces"]) == 1 for a in answers[5:]), answers
        top, count = expected.most_common(1)[0]
        assert shown.most_common(1)[0][0] == top, (shown, expected)
        assert abs(shown[top] / sum(shown.values()) - count / sum(expected.values())) < 0.2, (shown, expected)
        # what the page shows for the face: box on the canvas, label, confidence, emoji and one bar per label
        card = page.locator("#faces .face").first
        assert card.get_attribute("data-label") == top
        assert card.locator(".bar").count() == len(page.evaluate("mirror.labels"))
        assert page.locator("#copy").is_enabled()
        assert page.evaluate("mirror.errors") == []
        assert page.locator("#empty").is_hidden() and page.locator("#notice").is_hidden()
        assert_drawn_as_a_mirror(page, True)  # the camera, as a mirror shows you

        drop_file(page, PHOTO, "image/jpeg")
        wait_answers(page, 1, kind="photo")
        photo = [a for a in page.evaluate("mirror.answers") if a["kind"] == "photo"][0]
        assert [face["label"] for face in photo["faces"]] == [top]
        assert_drawn_as_a_mirror(page, False)  # a photo as it is: its text reads the right way
        page.screenshot(path=str(tmp_path / "web.png"))
        assert (tmp_path / "web.png").stat().st_size > 10_000

        upside_down = tmp_path / "upside_down.jpg"  # a face it cannot read says so on the page
        cv2.imwrite(str(upside_down), cv2.rotate(cv2.imread(str(PHOTO)), cv2.ROTATE_180))
        drop_file(page, upside_down, "image/jpeg")
        wait_answers(page, 2, kind="photo")
        turned = [a for a in page.evaluate("mirror.answers") if a["kind"] == "photo"][1]
        assert [face["label"] for face in turned["faces"]] == ["uncertain"]
        page.wait_for_function("document.querySelector('#faces .face .calibration').textContent.includes('upside')")
        assert page.locator("#faces .face .confidence").first.inner_text() == ""  # no percentage it cannot back

        group = tmp_path / "group.png"  # four faces side by side: each label whole, none over another
        cv2.imwrite(str(group), four_in_a_row(cv2.imread(str(PHOTO))))
        drop_file(page, group, "image/png")
        wait_answers(page, 3, kind="photo")
        drawn = page.evaluate("mirror.drawn")
        labels = drawn["labels"]
        assert len(labels) == len(drawn["boxes"]) == 4, drawn
        for i, (x, y, w, h) in enumerate(labels):
            assert 0 <= x and x + w <= drawn["width"] + 0.5 and y >= 0, labels
            later = labels[i + 1 :]
            assert not any(x < u + p and u < x + w and y < v + q and v < y + h for u, v, p, q in later), labels
    finally:
        page.close()


@needs_chromium
@pytest.mark.parametrize("width, height", [(1280, 800), (390, 844)], ids=["laptop", "phone"])
def test_the_first_screen_says_what_the_page_does_and_what_to_do(server, browser, width, height):
    page = browser.new_page(viewport={"width": width, "height": height})
    try:
        page.goto(server.url)
        intro = page.locator("#intro")
        text = intro.text_content()
        assert "facial expression" in text and "on this computer" in text and "never stored" in text
        assert "Allow the camera" in text and "drop a photo or a video file" in text
        wait_answers(page, 3)
        on_screen = [page.locator(selector).bounding_box() for selector in ("#intro", "#view", "#neutral")]
        assert all(box["y"] + box["height"] <= height for box in on_screen[::2]), on_screen  # no scrolling to them
        assert on_screen[1]["y"] < height / 2  # and the picture starts in the first screen
        picture = on_screen[1]["width"]
        faces = page.locator("#faces").bounding_box()
        if width > 800:  # the picture and the faces side by side use the window's width
            assert picture > 0.6 * width and picture + faces["width"] > 0.85 * width, (picture, faces)
        else:
            assert picture > 0.9 * width
    finally:
        page.close()


CAMERA_REFUSED = {
    "blocked": (
        "navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('denied', 'NotAllowedError'))",
        "The camera is blocked for this page. Allow it",
        True,
    ),
    "none": (
        "navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('none', 'NotFoundError'))",
        "No camera was found.",
        True,
    ),
    "insecure": (
        "Object.defineProperty(navigator, 'mediaDevices', {value: undefined})",
        "only to secure pages: open http://127.0.0.1:",
        False,
    ),
}


@needs_chromium
@pytest.mark.parametrize("case", CAMERA_REFUSED)
def test_a_camera_the_page_cannot_have_is_explained_in_words(server, browser, case):
    """A refused permission said "no camera (NotAllowedError)", and went away after 6 s."""
    script, words, retry = CAMERA_REFUSED[case]
    page = browser.new_page()
    try:
        page.add_init_script(script)
        page.goto(server.url)
        page.wait_for_function("mirror.errors.some(e => e.startsWith('camera: '))")
        page.wait_for_timeout(6500)  # it stays, as long as there is no camera
        notice = page.locator("#notice-text")
        assert notice.is_visible() and words in notice.text_content()
        assert "drop a photo or a video file" in notice.text_content() and "Error" not in notice.text_content()
        assert page.locator("#retry").is_visible() is retry
        drop_file(page, PHOTO, "image/jpeg")  # what the page offers instead
        wait_answers(page, 1, kind="photo")
        assert page.locator("#notice").is_hidden() and page.locator("#faces .face").count() == 1
    finally:
        page.close()


WARM_PIXELS = """([x, y, w, h]) => {
    const data = document.getElementById("view").getContext("2d").getImageData(x, y, w, h).data;
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {  // the colour of the region that raised the label most
      const [r, g, b] = data.slice(i, i + 3);
      if (Math.abs(r - 255) <= 20 && Math.abs(g - 80) <= 25 && Math.abs(b - 40) <= 25) count++;
    }
    return count;
}"""


@pytest.mark.browser
@needs_chromium
def test_the_why_toggle_draws_each_faces_mesh_coloured_by_region_and_lists_what_moved(server, browser, tmp_path):
    page = browser.new_page()
    try:
        page.goto(server.url)
        wait_answers(page, 5)
        drawn_box = "mirror.drawn.boxes[0].map(Math.round)"  # where the face is drawn: the camera is mirrored
        before = page.evaluate(WARM_PIXELS, page.evaluate(drawn_box))
        assert page.locator("#faces .face .why").is_hidden()
        page.click("#explain")
        page.wait_for_function("mirror.answers.slice(-3).every((a) => a.faces.length === 1 && a.faces[0].words)")
        warm = page.evaluate(WARM_PIXELS, page.evaluate(drawn_box))
        assert warm > 30 and before < 5, (before, warm)  # the mesh, its mouth corners warm, drawn on the face
        why = page.locator("#faces .face .why")
        assert why.is_visible() and "mouth" in why.inner_text() and "happy: mouth corners +" in why.inner_text()
        page.screenshot(path=str(tmp_path / "why.png"))
        page.click("#explain")
        page.wait_for_function("mirror.answers.slice(-3).every((a) => a.faces.length === 1 && !a.faces[0].words)")
        assert why.is_hidden() and page.evaluate("mirror.errors") == []
    finally:
        page.close()


def write_webm(path: Path, frames: int = 60) -> None:
    """The first ``frames`` of the sample clip as VP8 WebM, a format every Chromium plays."""
    capture = cv2.VideoCapture(str(CLIP))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"VP80"), 30, (640, 480))
    for _ in range(frames):
        ok, image = capture.read()
        assert ok
        writer.write(image)
    writer.release()
    capture.release()


@pytest.mark.browser
@needs_chromium
def test_a_dropped_video_is_read_like_the_camera(server, browser, tmp_path):
    video = tmp_path / "clip.webm"
    write_webm(video)
    page = browser.new_page()
    try:
        page.goto(server.url)
        wait_answers(page, 5)
        drop_file(page, video, "video/webm")
        page.wait_for_function("document.querySelector('#video').src.startsWith('blob:')")
        assert page.evaluate("document.querySelector('#video').srcObject") is None  # the camera is stopped
        assert page.locator("#camera").is_visible()
        wait_answers(page, page.evaluate("mirror.answers.length") + 20)
        latest = page.evaluate("mirror.answers.slice(-10)")
        assert all(len(a["faces"]) == 1 for a in latest), latest
        assert page.evaluate("mirror.errors") == []
    finally:
        page.close()


@pytest.mark.browser
@needs_chromium
def test_three_tabs_keep_their_own_state_and_closing_one_frees_it(server, browser, tmp_path):
    pages = [browser.new_page() for _ in range(3)]
    try:
        for page in pages:
            page.goto(server.url)
        for page in pages:
            wait_answers(page, 10)
        sessions = [page.evaluate("mirror.session") for page in pages]
        assert len(set(sessions)) == 3
        pages[0].select_option("#bundle", "models/mine")  # the chooser changes this tab's bundle only
        pages[0].wait_for_function("document.querySelector('#status').textContent.includes('models/mine')")
        frames_before = {s["id"]: s["frames"] for s in get_json(server, "/api/tabs")["sessions"]}
        for page in pages:
            wait_answers(page, page.evaluate("mirror.answers.length") + 5)
        tabs = {s["id"]: s for s in get_json(server, "/api/tabs")["sessions"]}
        assert sorted(tabs) == sorted(sessions)
        assert [tabs[s]["bundle"] for s in sessions] == ["models/mine", "models/default", "models/default"]
        for s in sessions:  # each tab's own reader: its own frame count, its own tracker numbering from 0
            assert tabs[s]["frames"] > frames_before[s]
            assert tabs[s]["tracks"][0] == 0
        assert pages[1].locator("#neutral").is_enabled()  # the neutral reference of tab 1 only
        pages[1].click("#neutral")
        pages[1].wait_for_function("document.querySelector('#status').textContent.includes('hold a neutral face')")
        pages[1].wait_for_function(
            "mirror.answers.slice(-1)[0].faces.some(f => f.calibration === 'captured')", timeout=60_000
        )
        # the card says so, and the line that asked to hold still says it is done: it does not stay
        pages[1].wait_for_function("document.querySelector('#status').textContent.includes('reference taken')")
        assert pages[1].locator("#faces .calibration").first.text_content() == "calibrated to this face's neutral"
        for page in (pages[0], pages[2]):
            seen = {f["calibration"] for a in page.evaluate("mirror.answers") for f in a["faces"]}
            assert not seen & {"capturing", "captured"}, seen
        blank = tmp_path / "wall.png"  # a photo with no face, in one tab only
        Image.new("RGB", (640, 480), (128, 128, 128)).save(blank)
        drop_file(pages[2], blank, "image/png")
        wait_answers(pages[2], 1, kind="photo")
        assert [a["faces"] for a in pages[2].evaluate("mirror.answers") if a["kind"] == "photo"] == [[]]
        assert pages[2].locator("#faces .face").count() == 0
        for page in pages[:2]:  # the other tabs still see their face
            wait_answers(page, page.evaluate("mirror.answers.length") + 5)
            assert all(len(a["faces"]) == 1 for a in page.evaluate("mirror.answers.slice(-5)"))
        pages[1].close()
        tabs = wait_for_tabs(server, 2)
        assert sorted(t["id"] for t in tabs["sessions"]) == sorted([sessions[0], sessions[2]])
        wait_answers(pages[0], pages[0].evaluate("mirror.answers.length") + 5)
    finally:
        for page in pages:
            if not page.is_closed():
                page.close()
    assert wait_for_tabs(server, 0)["tabs"] == 0


@pytest.mark.browser
@needs_chromium
def test_the_page_reports_a_bad_bundle_id_and_keeps_reading(server, browser):
    page = browser.new_page()
    try:
        page.goto(server.url)
        wait_answers(page, 5)
        page.evaluate("""() => {
            const option = new Option('planted', '/etc/passwd');
            document.querySelector('#bundle').append(option);
        }""")
        page.select_option("#bundle", "/etc/passwd")
        page.wait_for_function("mirror.errors.length > 0")
        assert "unknown bundle '/etc/passwd'" in page.evaluate("mirror.errors")[0]
        wait_answers(page, page.evaluate("mirror.answers.length") + 5)
    finally:
        page.close()


EVIL_PAGE = """<!doctype html><script>
window.seen = {messages: [], close: null};
const ws = new WebSocket("WS_URL");
ws.onmessage = (event) => window.seen.messages.push(event.data);
ws.onclose = (event) => { window.seen.close = {code: event.code, reason: event.reason}; };
</script>"""


@contextlib.contextmanager
def other_site(page: str):
    """A web server of someone else's on this machine (another port: another origin), serving ``page``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page.encode())

        def log_message(self, *args) -> None:
            pass

    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield site.server_address[1]
    finally:
        site.shutdown()
        site.server_close()
        thread.join()


@pytest.mark.browser
@needs_chromium
def test_a_page_of_another_site_cannot_use_the_server_in_a_browser(server, browser):
    ws_url = server.url.replace("http://", "ws://") + "ws"
    port = urllib.parse.urlsplit(server.url).port
    page = browser.new_page()
    try:
        with other_site(EVIL_PAGE.replace("WS_URL", ws_url)) as site_port:
            page.goto(f"http://{EVIL}:{site_port}/")  # resolved to 127.0.0.1: the browser lets it reach the server
            page.wait_for_function("window.seen.close !== null || window.seen.messages.length > 0", timeout=30_000)
            seen = page.evaluate("window.seen")
        assert seen["messages"] == [], seen  # no hello, no bundle names
        assert seen["close"]["code"] == 1008 and "own page" in seen["close"]["reason"], seen
        # DNS rebinding: the server's own page under another site's name is not served, nor its API
        response = page.goto(f"http://{EVIL}:{port}/api/bundles")
        assert response is not None and response.status == 403
        assert "models/" not in page.content()
        page.goto(server.url)  # the page itself, as the user opens it, is served and reads
        wait_answers(page, 3)
        assert page.evaluate("mirror.closes") == []
    finally:
        page.close()
