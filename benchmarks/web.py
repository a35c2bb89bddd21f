"""How fast the web page reads a 30 frames/s camera: headless Chromium, the sample clip as its 640x480 camera.

  python benchmarks/web.py [--seconds 20] [--tabs 1] [--screenshot docs/web.png] [--json web.json]

Reports frames/s answered (per tab), the round trip of each frame as the page sees it
(JPEG encode in the browser, socket, decode, reading, answer; p50/p95), the reader's
own time per frame on the server, the server process's CPU time per answered frame,
and the socket alone (a frame-sized message the server answers without reading it).
The machine's load average is printed too: the 2 cores here are shared.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from landmark_emotion.cli.run import run_command

ROOT = Path(__file__).resolve().parent.parent

sys.path.insert(0, str(ROOT / "tests"))  # the tests' fake camera, server and browser
from web_check import chromium, web_server, write_y4m

CLIP = ROOT / "datasets" / "samples" / "astronaut.mp4"

# A second socket in the page sends frame-sized messages of an unknown kind: the server answers each with an
# error at once, so this is the stack's own round trip (browser, WebSocket, uvicorn, Starlette), no reading.
SOCKET_ONLY = """async ([n, size]) => {
    const ws = new WebSocket(location.origin.replace('http', 'ws') + '/ws');
    await new Promise((resolve) => { ws.onmessage = resolve; });
    const payload = new Uint8Array(size); payload[0] = 88;  // 'X'
    const times = [];
    for (let i = 0; i < n; i++) {
        const t = performance.now();
        const answered = new Promise((resolve) => { ws.onmessage = resolve; });
        ws.send(payload);
        await answered;
        times.push(performance.now() - t);
    }
    ws.close();
    return times;
}"""


def _stat(pid: int) -> tuple[int, float]:
    """(parent pid, CPU seconds) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def browser_cpu_seconds(server_pid: int) -> float:
    """CPU time of every process this one started, but the server: Playwright's driver and Chromium's."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = _stat(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
    ours, grown = {os.getpid()}, True
    while grown:
        new = {pid for pid, (parent, _) in stats.items() if parent in ours and pid != server_pid} - ours
        ours |= new
        grown = bool(new)
    return sum(stats[pid][1] for pid in ours - {os.getpid()})


def percentiles(values: list[float]) -> dict:
    a = np.asarray(values, float)
    return {
        "p50": round(float(np.percentile(a, 50)), 1),
        "p95": round(float(np.percentile(a, 95)), 1),
        "n": int(a.size),
    }


def measure(seconds: float, tabs: int, screenshot: Path | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "camera.y4m"
        write_y4m(CLIP, clip)
        with web_server() as server, chromium(clip) as browser:
            pages = [browser.new_page(viewport={"width": 1000, "height": 620}) for _ in range(tabs)]
            for page in pages:
                page.goto(server.url)
            for page in pages:
                page.wait_for_function("mirror.answers.filter(a => a.kind === 'frame').length >= 30", timeout=120_000)
            load = os.getloadavg()[0]
            starts = [page.evaluate("mirror.answers.length") for page in pages]
            pid = server.process.pid
            cpu0, browser0, t0 = server.cpu_seconds(), browser_cpu_seconds(pid), time.perf_counter()
            time.sleep(seconds)
            cpu1, browser1, elapsed = server.cpu_seconds(), browser_cpu_seconds(pid), time.perf_counter() - t0
            answers = [
                a
                for page, start in zip(pages, starts)
                for a in page.evaluate(f"mirror.answers.slice({start})")
                if a["kind"] == "frame"
            ]
            if screenshot:  # 128 colours: a small file to commit
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                shot = Image.open(io.BytesIO(pages[0].screenshot())).convert("RGB").quantize(128)
                shot.save(screenshot, optimize=True)
            for page in pages:  # no camera reading from here on: the server only answers the socket-alone messages
                page.goto(server.url + "api/bundles")
            cpu2 = server.cpu_seconds()
            socket_only = pages[0].evaluate(SOCKET_ONLY, [200, 40_000])
            socket_cpu = server.cpu_seconds() - cpu2
    return {
        "tabs": tabs,
        "seconds": round(elapsed, 1),
        "load_average": round(load, 2),
        "frames_per_second_per_tab": round(len(answers) / elapsed / tabs, 1),
        "round_trip_ms": percentiles([a["rtt"] for a in answers]),
        "reader_ms": percentiles([a["ms"] for a in answers]),
        "browser_encode_ms": percentiles([a["encode"] for a in answers]),
        "frame_age_at_answer_ms": percentiles([a["age"] for a in answers]),
        "server_cpu_ms_per_frame": round(1000 * (cpu1 - cpu0) / max(1, len(answers)), 1),
        "browser_cpu_ms_per_frame": round(1000 * (browser1 - browser0) / max(1, len(answers)), 1),
        "socket_only_round_trip_ms": percentiles(socket_only),
        "socket_only_server_cpu_ms": round(1000 * socket_cpu / len(socket_only), 2),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=20.0, help="measuring time after warm-up (default: 20)")
    p.add_argument("--tabs", type=int, default=1, help="tabs reading the camera at once (default: 1)")
    p.add_argument("--screenshot", type=Path, help="save a screenshot of the (first) page here")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    result = measure(args.seconds, args.tabs, args.screenshot)
    rt, reader, sock = result["round_trip_ms"], result["reader_ms"], result["socket_only_round_trip_ms"]
    print(f"{args.tabs} tab(s), {result['seconds']} s, load average {result['load_average']}")
    print(f"  answered: {result['frames_per_second_per_tab']} frames/s per tab (camera: 30)")
    print(f"  round trip: p50 {rt['p50']} ms, p95 {rt['p95']} ms over {rt['n']} frames")
    print(f"  reader on the server: p50 {reader['p50']} ms, p95 {reader['p95']} ms")
    encode = result["browser_encode_ms"]
    print(
        f"  JPEG encoding in the browser (overlaps the previous round trip): p50 {encode['p50']} ms, "
        f"p95 {encode['p95']} ms"
    )
    age = result["frame_age_at_answer_ms"]
    print(
        f"  frame age when its answer is back (grab, encode, wait, round trip): p50 {age['p50']} ms, "
        f"p95 {age['p95']} ms"
    )
    print(
        f"  CPU per answered frame: server {result['server_cpu_ms_per_frame']} ms, "
        f"browser {result['browser_cpu_ms_per_frame']} ms"
    )
    print(
        f"  socket alone (40 kB message, no reading): p50 {sock['p50']} ms, p95 {sock['p95']} ms, "
        f"server CPU {result['socket_only_server_cpu_ms']} ms per message"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
