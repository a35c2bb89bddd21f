"""The web page in a real browser, for its tests and benchmark: fake camera clip, web server, headless Chromium.

Chromium plays a ``.y4m`` file as its camera (``--use-file-for-fake-video-capture``)
and grants the camera without asking, so ``getUserMedia`` in the page gets the clip.
Playwright drives the system's Chromium (``apt-get install chromium``); Playwright's
own browser downloads are not needed.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2

from child_processes import heed_all_signals

WEB_COMMAND = ["-m", "landmark_emotion.commands.web"]
"""``scr/web.py``, run from the installed package (or the checkout of an editable install)."""
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
START_SECONDS = 120.0


def chromium_path() -> str | None:
    """The system's Chromium, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def write_y4m(video: Path, out: Path, size: tuple[int, int] = (640, 480), fps: int = 30) -> int:
    """Write ``video`` as the raw YUV 4:2:0 clip Chromium's fake camera plays; returns the number of frames."""
    capture = cv2.VideoCapture(str(video))
    frames = 0
    with open(out, "wb") as f:
        f.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        while True:
            ok, image = capture.read()
            if not ok:
                break
            if (image.shape[1], image.shape[0]) != size:
                image = cv2.resize(image, size)
            f.write(b"FRAME\n" + cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420).tobytes())
            frames += 1
    capture.release()
    if not frames:
        raise ValueError(f"{video}: no frame could be read")
    return frames


class WebServer:
    """``scr/web.py`` (landmark-emotion-web) in a child process on a free port (its URL is the line it prints ready)."""

    def __init__(self, *args: str, log: Path | None = None):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self._log = open(log, "wb") if log else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [sys.executable, *WEB_COMMAND, "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=env,
            preexec_fn=heed_all_signals,
        )
        self.url = self._wait_for_url()

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + START_SECONDS
        assert self.process.stdout is not None
        fd, pending = self.process.stdout.fileno(), b""  # read with a deadline: a server may hang while starting
        while True:
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.startswith(b"emoji mirror: "):
                    return line.split()[2].decode()
            if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                self.stop()
                raise RuntimeError("web server was not ready in time")
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError(f"web server exited with code {self.process.wait()} before it was ready")
            pending += chunk

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far (Linux)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self._log is not subprocess.DEVNULL:
            self._log.close()


@contextmanager
def web_server(*args: str, log: Path | None = None) -> Iterator[WebServer]:
    server = WebServer(*args, log=log)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def chromium(clip: Path, *flags: str) -> Iterator[object]:
    """A headless Chromium (Playwright ``Browser``) whose camera plays ``clip`` (a ``.y4m``), with more ``flags``."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-video-capture={clip}", *flags]
        )
        try:
            yield browser
        finally:
            browser.close()
