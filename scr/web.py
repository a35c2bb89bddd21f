"""The emoji mirror in a browser: a local web page that reads the emotions of the faces on your camera.

Examples:
  python scr/web.py                          # http://127.0.0.1:8765/ ; open it and allow the camera
  python scr/web.py --port 9000 --model models/personal_anna
  python scr/web.py --host 0.0.0.0           # reachable from other machines (prints a warning)

Each browser tab gets its own reader (tracking, smoothing, neutral reference), freed when the tab closes.
Photos and video files can be dropped on the page. Frames are read in memory and never written to disk.
The page offers the bundles found under models/ and personal_data/, and nothing else.
"""

from __future__ import annotations

import os

from landmark_emotion.cli.startup import quiet_startup

if __name__ == "__main__":
    quiet_startup()  # first: a stop signal while the imports below load ends with one line

# OPENBLAS_NUM_THREADS: the classifier is a few small matrix products per frame. OpenBLAS's second thread
# gains nothing on them and busy-waits after each one: with camera frames 33 ms apart the server used 20.2 ms
# of CPU per frame with 2 threads, 7.7 ms with 1 (`OPENBLAS_NUM_THREADS=2 python benchmarks/web.py`).
for _var, _value in (("TF_CPP_MIN_LOG_LEVEL", "3"), ("GLOG_minloglevel", "2"), ("OPENBLAS_NUM_THREADS", "1")):
    os.environ.setdefault(_var, _value)

import argparse
import sys
from pathlib import Path

from landmark_emotion.apps.web import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    MAX_TABS,
    bind,
    create_app,
    host_warning,
    page_url,
    serve,
)
from landmark_emotion.cli.arguments import add_read_options, int_range, positive_int, read_options
from landmark_emotion.cli.run import fail, run_command
from landmark_emotion.model.bundle import BundleError
from landmark_emotion.model.discovery import find_default_model
from landmark_emotion.resources import workspace


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--host", default=DEFAULT_HOST, help="address to listen on (default: %(default)s, this machine only)"
    )
    p.add_argument(
        "--port", type=int_range(0, 65535), default=DEFAULT_PORT, help="port (default: %(default)s; 0 = any free one)"
    )
    p.add_argument(
        "--model",
        type=Path,
        help="bundle a new tab starts with (default: the newest personal bundle in models/, else models/default)",
    )
    p.add_argument(
        "--models-dir",
        type=Path,
        help="where to look for bundles (default: where the default model "
        "is found: models/, else the shipped bundles; see README)",
    )
    p.add_argument(
        "--personal-dir", type=Path, default=workspace() / "personal_data", help="where else to look for bundles"
    )
    p.add_argument(
        "--max-tabs",
        type=positive_int,
        default=MAX_TABS,
        help="browser tabs read at once; one more waits for a free one (default: %(default)s)",
    )
    add_read_options(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    warning = host_warning(args.host)
    if warning:
        print(warning, flush=True)
    try:
        default = find_default_model(args.models_dir)
        models_dir, model = default.parent, args.model or default
        sock = bind(args.host, args.port)
        url = page_url(sock)
        app = create_app(
            [models_dir, args.personal_dir],
            model,
            read_options(args),
            on_ready=lambda: print(f"emoji mirror: {url}  (open it in a browser; Ctrl-C stops)", flush=True),
            max_tabs=args.max_tabs,
            host=args.host,
        )
        serve(app, sock)
    except (BundleError, OSError) as exc:
        return fail(exc)
    except KeyboardInterrupt:  # Ctrl-C or a stop signal: the usual way to end a server, not an error
        pass
    print("emoji mirror: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
