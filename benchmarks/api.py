"""The Python API's start-up and speed: import time, a fresh process's first face, and per-photo latency.

  PYTHONPATH=scr python benchmarks/api.py [--runs 5] [--repeat 50]    # or with the package installed

Each of ``--runs`` fresh processes imports ``landmark_emotion``, gets :class:`Reader`, makes
one with the default model and reads the sample photo; the medians are reported for each
step, with the process's wall time as its parent saw it (interpreter start-up included).
Then, in this process, one reader reads the photo ``--repeat`` times after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import cv2

from landmark_emotion.cli.run import run_command

FRESH = """
import json, time
started = time.perf_counter()
import landmark_emotion
landmark_emotion.Reader
imported = time.perf_counter()
with landmark_emotion.Reader() as reader:
    made = time.perf_counter()
    faces = reader.read(landmark_emotion.sample_image())
    read = time.perf_counter()
import sys
print(json.dumps({"import": imported - started, "model": made - imported, "first read": read - made,
                  "first face": read - started, "faces": len(faces), "label": faces[0].label if faces else None,
                  "tensorflow imported": "tensorflow" in sys.modules}))
"""


def fresh_process() -> dict:
    """One fresh interpreter's timings (seconds), plus its wall time from here."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", FRESH], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process wall"] = time.perf_counter() - started
    return result


def per_photo_ms(repeat: int) -> float:
    """Median time of ``Reader.read`` on the sample photo (as an array), after 5 warm-up reads."""
    import landmark_emotion

    image = cv2.imread(str(landmark_emotion.sample_image()))
    with landmark_emotion.Reader() as reader:
        for _ in range(5):
            reader.read(image)
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            reader.read(image)
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=5, help="fresh processes (default: %(default)s)")
    p.add_argument("--repeat", type=int, default=50, help="timed reads after the warm-up (default: %(default)s)")
    args = p.parse_args(argv)
    runs = [fresh_process() for _ in range(args.runs)]
    print(f"fresh process, median of {args.runs} (sample photo: {runs[0]['faces']} face, {runs[0]['label']}):")
    for key in ("import", "model", "first read", "first face", "process wall"):
        print(f"  {key:<13} {statistics.median(r[key] for r in runs) * 1e3:8.1f} ms")
    print(f"  TensorFlow imported by the first read: {any(r['tensorflow imported'] for r in runs)}")
    print(f"per photo after warm-up, median of {args.repeat}: {per_photo_ms(args.repeat):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
