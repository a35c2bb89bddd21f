"""Held expressions, live: does the reading of an expression held for seconds stay right, or fade away?

  python benchmarks/live_hold.py make  --out VIDEOS [--jaffe JAFFE/] [--ck CK+/] [--mux MUX/]
  python benchmarks/live_hold.py cache --videos VIDEOS --cache CACHE         # the face mesh, once per frame
  python benchmarks/live_hold.py run   --cache CACHE [--videos VIDEOS] [--model DIR] [--modes auto off captured]

``make`` turns photos of real people into what a webcam shows of someone posing: per person, a
lead-in of their neutral face (1.5 s), then each of their expressions held 5 s with 1 s of their
neutral face after it, at 30 frames/s. Every photo is placed by its eyes at the same spot of a
400x300 frame, and every frame gets a small smooth drift of place, scale, roll and brightness plus
sensor noise, so no two frames are alike. Sources, each given by its folder (none is in the
repository; JAFFE and CK+ are research-only: the videos made from them stay outside it):

  --jaffe  JAFFE as <label>/<person>.<...>.tiff          every woman, one photo per expression
  --ck     CK+ as <class>/S<person>_*.png                 people with a neutral frame and >= 3 expressions
  --mux    muxspace/facial_expressions (data/legend.csv, images/): people with a neutral photo and >= 2 others

The demo's sample clip (she smiles throughout) is always a source too: as shipped (5 s), played
forward-backward-forward (15 s) and forward-backward for a minute, "happy" on every frame.

``cache`` reads every frame once through the demo's own face mesh (``FaceMesh`` in video mode,
as ``Reader.stream`` opens it) and stores each frame's landmarks and feature vectors; ``run``
replays the rest of the demo's pipeline on them (:func:`~landmark_emotion.reading.pipeline.pipeline_for`:
tracking, calibration, the classifier, smoothing, the "uncertain" threshold), only the feature
vectors answered from the cache, for each calibration mode:

  auto      the default (``--calibrate auto``): each face's neutral estimated from its own frames
  off       never calibrated
  captured  ``n`` pressed on the first frame: 30 frames of the neutral lead-in become the reference

Scores per source, on the frames of held expressions (a frame without a face, or "uncertain",
counts wrong): accuracy; the fade (accuracy over the first 1.5 s of each hold minus the last
1.5 s: positive when readings fade); the time to the first correct label in a hold (median and
mean over the holds read right at all, and the share never read right); the accuracy on the
neutral rests between holds (the lead-in is left out: a capture is taken there), and on the held and
rest frames together (what a person sees over the video: a mode that reads a held expression right
only because the face already reads so at rest gains held frames and loses rests); then the
held-frame accuracy of each expression (where a mode gains or loses).

The cache holds every frame's full feature vectors, so another model of the same feature version
(``--model``, or a new ``models/default``) is replayed on the same cache; a model of another
feature version needs ``cache`` again. ``run --videos`` checks the replay against a real stream.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from landmark_emotion.cli.run import run_command

NEUTRAL = "neutral"
ALIASES = {
    "anger": "angry",
    "happiness": "happy",
    "sadness": "sad",
    "surprised": "surprise",
    "disgusted": "disgust",
    "fearful": "fear",
}
SOURCES = ("jaffe", "ck", "mux")
MIN_EXPRESSIONS = {"jaffe": 1, "ck": 3, "mux": 2}
NOT_A_PERSON = {"facial-expressions"}  # muxspace's stock photos: many people under one name
LEFT_EYE, RIGHT_EYE = (33, 133), (263, 362)  # Face Mesh eye corners (outer, inner)
FADE_SECONDS = 1.5
MODES = ("auto", "off", "captured")


def label_of(name: str) -> str:
    name = name.strip().lower()
    return ALIASES.get(name, name)


# ---------------------------------------------------------------- make: who has which photos


def people_jaffe(root: Path) -> dict[str, dict[str, list[Path]]]:
    people: dict[str, dict[str, list[Path]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(root.glob("*/*.tiff")):
        people[path.name.split(".")[0]][label_of(path.parent.name)].append(path)
    return people


def people_ck(root: Path) -> dict[str, dict[str, list[Path]]]:
    people: dict[str, dict[str, list[Path]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(root.glob("*/S*_*.png")):
        people[path.name.split("_")[0]][label_of(path.parent.name)].append(path)
    return people


def people_mux(root: Path) -> dict[str, dict[str, list[Path]]]:
    people: dict[str, dict[str, list[Path]]] = defaultdict(lambda: defaultdict(list))
    with open(root / "data" / "legend.csv", newline="") as f:
        for row in csv.DictReader(f):
            stem = Path(row["image"]).stem
            person = re.sub(r"[_\-\s]*\d+[a-z]?$", "", stem) or stem  # LFW-style names, as --groups filename
            path = root / "images" / row["image"]
            if person not in NOT_A_PERSON and path.exists():
                people[person][label_of(row["emotion"])].append(path)
    return people


PEOPLE = {"jaffe": people_jaffe, "ck": people_ck, "mux": people_mux}


# ---------------------------------------------------------------- make: a photo placed as a webcam frame


def eyes(mesh, image: np.ndarray) -> np.ndarray | None:
    """(2, 2) pixel centres of the left and right eye of the largest face, or None without a face."""
    faces = mesh(image)
    if not len(faces):
        return None
    largest = int(np.argmax(np.prod(faces.boxes()[:, 2:], axis=1)))
    xy = faces.landmarks[largest, :, :2] * np.array([faces.width, faces.height], np.float32)
    return np.stack([xy[list(LEFT_EYE)].mean(0), xy[list(RIGHT_EYE)].mean(0)])


def placement(eye_xy: np.ndarray, size: tuple[int, int], eye_distance: float) -> np.ndarray:
    """The 2x3 similarity that puts the eyes level, ``eye_distance`` apart, centred a little above mid-frame."""
    width, height = size
    (lx, ly), (rx, ry) = eye_xy
    angle = np.degrees(np.arctan2(ry - ly, rx - lx))
    scale = eye_distance / max(np.hypot(rx - lx, ry - ly), 1e-6)
    m = cv2.getRotationMatrix2D((float((lx + rx) / 2), float((ly + ry) / 2)), angle, scale)
    m[:, 2] += np.array([width / 2, height * 0.42]) - np.array([(lx + rx) / 2, (ly + ry) / 2])
    return m


class Jitter:
    """Smooth random drift (AR(1)) of shift, scale, roll and brightness."""

    SIGMA = {"dx": 2.5, "dy": 2.0, "log_scale": 0.015, "angle": 1.0, "gain": 0.03, "offset": 3.0}

    def __init__(self, rng: np.random.Generator, keep: float = 0.9):
        self.rng, self.keep = rng, keep
        self.state = {k: 0.0 for k in self.SIGMA}

    def step(self) -> dict[str, float]:
        innovation = np.sqrt(1 - self.keep**2)
        for key, sigma in self.SIGMA.items():
            self.state[key] = self.keep * self.state[key] + innovation * sigma * self.rng.standard_normal()
        return dict(self.state)


NOISE_FRAMES = 32


class Noise:
    """Sensor noise (sigma 2 grey levels): a bank of frames drawn once, one picked per frame (drawing each is slow)."""

    def __init__(self, rng: np.random.Generator, shape: tuple[int, ...]):
        self.rng = rng
        self.bank = np.round(rng.normal(0, 2.0, (NOISE_FRAMES, *shape))).astype(np.int16)

    def __call__(self) -> np.ndarray:
        return self.bank[self.rng.integers(NOISE_FRAMES)]


def render(photo: np.ndarray, place: np.ndarray, size: tuple[int, int], j: dict[str, float], noise: Noise, grey: float):
    width, height = size
    jit = cv2.getRotationMatrix2D((width / 2, height * 0.45), j["angle"], float(np.exp(j["log_scale"])))
    jit[:, 2] += (j["dx"], j["dy"])
    m = jit @ np.vstack([place, [0, 0, 1]])
    frame = cv2.warpAffine(photo, m, size, flags=cv2.INTER_LINEAR, borderValue=(grey,) * 3)
    frame = cv2.convertScaleAbs(frame, alpha=1 + j["gain"], beta=j["offset"]).astype(np.int16) + noise()
    return np.clip(frame, 0, 255).astype(np.uint8)


def choose(mesh, paths: list[Path], rng: np.random.Generator, tries: int = 4):
    """A photo of ``paths`` (seeded order) in which the face mesh finds a face: (path, image, eyes) or None."""
    for i in rng.permutation(len(paths))[:tries]:
        image = cv2.imread(str(paths[i]), cv2.IMREAD_COLOR)
        found = None if image is None else eyes(mesh, image)
        if found is not None:
            return paths[i], image, found
    return None


def plan(mesh, photos: dict[str, list[Path]], rng: np.random.Generator, min_expressions: int):
    """The neutral photo and one photo per expression (seeded order), or None when the person falls short."""
    neutral = choose(mesh, photos.get(NEUTRAL, []), rng)
    if neutral is None:
        return None
    expressions = []
    for label in rng.permutation(sorted(k for k in photos if k != NEUTRAL)):
        picked = choose(mesh, photos[label], rng)
        if picked is not None:
            expressions.append((str(label), picked))
    return (neutral, expressions) if len(expressions) >= min_expressions else None


def write_video(path: Path, neutral, expressions, args, rng: np.random.Generator) -> dict:
    """One person's video and its truth: segments, and per frame the label and the hold (-1 in neutral rests)."""
    size, fps = (args.width, args.width * 3 // 4), args.fps
    lead, hold, rest = round(args.lead * fps), round(args.hold * fps), round(args.rest * fps)
    segments = [(NEUTRAL, neutral, lead, -1)]
    for i, (label, photo) in enumerate(expressions):
        segments += [(label, photo, hold, i), (NEUTRAL, neutral, rest, -1)]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise SystemExit(f"error: cannot write {path}")
    jitter, noise = Jitter(rng), Noise(rng, (size[1], size[0], 3))
    labels, holds, described, start = [], [], [], 0
    try:
        for label, (_photo, image, eye_xy), frames, index in segments:
            place = placement(eye_xy, size, args.eye_distance * args.width / 400)
            grey = float(np.median(image))
            for _ in range(frames):
                writer.write(render(image, place, size, jitter.step(), noise, grey))
            labels += [label] * frames
            holds += [index] * frames
            described.append({"label": label, "hold": index, "start": start, "end": start + frames})
            start += frames
    finally:
        writer.release()
    return {"video": path.name, "fps": fps, "frames": len(labels), "segments": described, "labels": labels}


def sample_videos(out: Path) -> None:
    """The demo's sample clip as a source: as shipped, forward-backward-forward, and a minute of it."""
    from landmark_emotion.frames import open_source
    from landmark_emotion.resources import SAMPLE_CLIP

    out.mkdir(parents=True, exist_ok=True)
    with open_source(SAMPLE_CLIP) as source:
        frames, fps = [frame.image for frame in source], source.fps
    clips = {
        "clip": frames,
        "clip_fbf_15s": frames + frames[::-1] + frames,
        "clip_60s": (frames + frames[::-1]) * 6,
    }
    manifest = []
    for name, clip in clips.items():
        writer = cv2.VideoWriter(str(out / f"{name}.mp4"), cv2.VideoWriter.fourcc(*"mp4v"), fps, clip[0].shape[1::-1])
        for image in clip:
            writer.write(image)
        writer.release()
        segment = {"label": "happy", "hold": 0, "start": 0, "end": len(clip)}
        truth = {"video": f"{name}.mp4", "fps": fps, "frames": len(clip), "segments": [segment]}
        (out / f"{name}.json").write_text(json.dumps(truth | {"labels": ["happy"] * len(clip), "person": name}))
        manifest.append({"person": name, "video": f"{name}.mp4", "frames": len(clip)})
    (out / "manifest.json").write_text(json.dumps({"source": "sample", "videos": manifest}, indent=1))


def make(args) -> None:
    from landmark_emotion.face.mesh import FaceMesh, Mode

    sample_videos(args.out / "sample")
    with FaceMesh(Mode.IMAGE, max_faces=2) as mesh:
        for source in SOURCES:
            root = getattr(args, source)
            if root is None:
                continue
            out = args.out / source
            out.mkdir(parents=True, exist_ok=True)
            people, manifest = PEOPLE[source](root), []
            for person in sorted(people):
                photos = people[person]
                if NEUTRAL not in photos or sum(k != NEUTRAL for k in photos) < MIN_EXPRESSIONS[source]:
                    continue
                rng = np.random.default_rng([args.seed, SOURCES.index(source), len(manifest)])
                chosen = plan(mesh, photos, rng, MIN_EXPRESSIONS[source])
                if chosen is None:
                    print(f"{source}/{person}: skipped (no face found in enough photos)")
                    continue
                info = write_video(out / f"{person}.mp4", *chosen, args, rng)
                (out / f"{person}.json").write_text(json.dumps(info | {"source": source, "person": person}))
                manifest.append({"person": person, "video": info["video"], "frames": info["frames"]})
                if args.max_people and len(manifest) >= args.max_people:
                    break
            (out / "manifest.json").write_text(json.dumps({"source": source, "videos": manifest}, indent=1))
            frames = sum(v["frames"] for v in manifest)
            print(f"{source}: {len(manifest)} people, {frames} frames ({frames / args.fps / 60:.1f} min)", flush=True)


# ---------------------------------------------------------------- cache: the face mesh once per frame


def cache_video(video: Path, out: Path, landmarker: str | None) -> None:
    """Each frame's faces (landmarks) and full feature vectors (landmarks + appearance), as the demo's stream
    computes them: any model's features are a slice of these (see :func:`replay`)."""
    from landmark_emotion.face.features import HYBRID, image_vectors
    from landmark_emotion.face.mesh import FaceMesh, Mode
    from landmark_emotion.frames import open_source

    counts, landmarks, vectors, size = [], [], [], (0, 0)
    with FaceMesh(Mode.VIDEO, 4, landmarker=landmarker) as mesh, open_source(str(video)) as source:
        for frame in source:
            faces = mesh(frame.image)
            size = (faces.width, faces.height)
            counts.append(len(faces))
            if len(faces):
                landmarks.append(faces.landmarks)
                vectors.append(image_vectors(HYBRID, frame.image, faces.landmarks))
    np.savez(
        out,
        counts=np.asarray(counts, np.int32),
        width=size[0],
        height=size[1],
        landmarks=np.concatenate(landmarks) if landmarks else np.zeros((0, 468, 3), np.float32),
        vectors=np.concatenate(vectors) if vectors else np.zeros((0, 0), np.float32),
    )


def cache(args) -> None:
    for manifest in sorted(args.videos.glob("*/manifest.json")):
        out = args.cache / manifest.parent.name
        out.mkdir(parents=True, exist_ok=True)
        t0, n = time.time(), 0
        for entry in json.loads(manifest.read_text())["videos"]:
            stem = Path(entry["video"]).stem
            if not (out / f"{stem}.npz").exists():
                cache_video(manifest.parent / entry["video"], out / f"{stem}.npz", args.landmarker)
                n += entry["frames"]
            (out / f"{stem}.json").write_text((manifest.parent / f"{stem}.json").read_text())
        print(f"{manifest.parent.name}: {n} frames read in {time.time() - t0:.0f} s", flush=True)


# ---------------------------------------------------------------- run: the demo's pipeline replayed on the cache


class Cached:
    """One cached video: per frame its faces' landmarks and feature vectors, and its truth."""

    def __init__(self, path: Path):
        with np.load(path) as data:
            self.counts, self.landmarks, self.vectors = data["counts"], data["landmarks"], data["vectors"]
            self.width, self.height = int(data["width"]), int(data["height"])
        self.starts = np.concatenate([[0], np.cumsum(self.counts)])
        self.truth = json.loads(path.with_suffix(".json").read_text())

    def __len__(self) -> int:
        return len(self.counts)

    def frame(self, i: int) -> slice:
        return slice(self.starts[i], self.starts[i + 1])


def replay(cached: Cached, model, mode: str) -> list[str]:
    """The label of the largest face in each frame ('' without one), as ``Reader(calibrate=...).stream`` reads the
    video: the demo's pipeline, with only the feature vectors (and appearance descriptors) taken from the cache."""
    from landmark_emotion.face.features import LANDMARKS, N_FEATURES
    from landmark_emotion.face.landmarker import Detection
    from landmark_emotion.reading.options import ReadOptions
    from landmark_emotion.reading.pipeline import pipeline_for

    options = ReadOptions(calibrate="auto" if mode == "captured" else mode)  # captured: n pressed, the rest default
    pipeline = pipeline_for(model, lambda image: None, options)
    width = N_FEATURES if model.feature_set == LANDMARKS else cached.vectors.shape[1]
    now: dict[str, slice] = {}
    pipeline.describe = (
        lambda image, landmarks: (  # type: ignore[method-assign]
            cached.vectors[now["frame"], :width],
            cached.vectors[now["frame"], N_FEATURES:],
        )
    )
    labels, pressed = [], mode != "captured"
    blank = np.zeros((1, 1, 3), np.uint8)
    for i in range(len(cached)):
        now["frame"] = cached.frame(i)
        faces = pipeline.read(blank, Detection(cached.landmarks[now["frame"]], cached.width, cached.height))
        labels.append(max(faces, key=lambda f: f.box[2] * f.box[3]).label if faces else "")
        if faces and not pressed:
            pipeline.start_neutral_capture()  # n, on the first frame with a face: the lead-in is neutral
            pressed = True
    return labels


def score(labels: list[str], truth: dict) -> dict:
    """Counts for the scores of one video, summed over videos by :func:`summary`."""
    fps, gold = truth["fps"], np.asarray(truth["labels"])
    right = np.asarray(labels) == gold
    edge = round(FADE_SECONDS * fps)
    s: dict = {k: 0 for k in ("held", "held_right", "first", "last", "edges", "holds", "never", "rest", "rest_right")}
    s["ttc"], s["by_label"] = [], defaultdict(lambda: [0, 0])
    for seg in truth["segments"]:
        a, b = seg["start"], seg["end"]
        if seg["hold"] < 0:
            if a > 0:  # the rests between holds, not the lead-in
                s["rest"] += b - a
                s["rest_right"] += int(right[a:b].sum())
            continue
        r = right[a:b]
        s["holds"] += 1
        s["held"] += len(r)
        s["held_right"] += int(r.sum())
        s["by_label"][gold[a]][0] += len(r)
        s["by_label"][gold[a]][1] += int(r.sum())
        s["first"] += int(r[:edge].sum())
        s["last"] += int(r[-edge:].sum())
        s["edges"] += edge
        hit = np.flatnonzero(r)
        if len(hit):
            s["ttc"].append(hit[0] / fps)
        else:
            s["never"] += 1
    return s


def summary(scores: list[dict]) -> dict:
    total = {k: sum(s[k] for s in scores) for k in scores[0] if k not in ("ttc", "by_label")}
    ttc = [t for s in scores for t in s["ttc"]]
    by_label: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for s in scores:
        for label, (held, right) in s["by_label"].items():
            by_label[label][0] += held
            by_label[label][1] += right
    return {
        "videos": len(scores),
        "holds": total["holds"],
        "accuracy": total["held_right"] / max(total["held"], 1),
        "fade": (total["first"] - total["last"]) / max(total["edges"], 1),
        "ttc_median": float(np.median(ttc)) if ttc else float("nan"),
        "ttc_mean": float(np.mean(ttc)) if ttc else float("nan"),
        "never": total["never"] / max(total["holds"], 1),
        "rest_accuracy": total["rest_right"] / total["rest"] if total["rest"] else float("nan"),
        "all_accuracy": (total["held_right"] + total["rest_right"]) / max(total["held"] + total["rest"], 1),
        "by_label": {label: right / held for label, (held, right) in sorted(by_label.items())},
    }


def check_replay(folder: Path, video: Path, model, modes: list[str]) -> str:
    """A real ``Reader(...).stream()`` of the sample clip against its replay: the cache must change nothing."""
    from landmark_emotion.api import Reader

    cached = Cached(folder / "clip.npz")
    same = total = 0
    for mode in modes:
        replayed = replay(cached, model, mode)
        with Reader(model, calibrate="auto" if mode == "captured" else mode) as reader:
            stream = reader.stream(video)
            for i, frame in enumerate(stream):
                face = max(frame.faces, key=lambda f: f.box[2] * f.box[3]) if frame.faces else None
                same += int((face.label if face else "") == replayed[i])
                total += 1
                if mode == "captured" and i == 0:
                    stream.capture_neutral()
    return f"replay check (the sample clip, real stream against replay, {', '.join(modes)}): {same} of {total} frames"


def run(args) -> None:
    from landmark_emotion.api import load_model

    model = load_model(args.model)
    folders = sorted(p for p in args.cache.iterdir() if p.is_dir())
    results: dict[str, dict[str, dict]] = {}
    for mode in args.modes:
        t0 = time.time()
        for folder in folders:
            videos = [Cached(p) for p in sorted(folder.glob("*.npz"))]
            scored = [(c.truth["person"], score(replay(c, model, mode), c.truth)) for c in videos]
            if folder.name == "sample":  # each clip on its own
                for person, s in scored:
                    results.setdefault(f"sample: {person}", {})[mode] = summary([s])
            else:
                results.setdefault(folder.name, {})[mode] = summary([s for _, s in scored])
        print(f"{mode}: replayed in {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    print(f"model: {model.path}\n")
    print(
        "| source | mode | held-frame accuracy | fade (pts) | first right, median / mean s | never right | rest acc. "
        "| held + rest |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for source, modes in results.items():
        for mode, r in modes.items():
            if source.startswith("sample"):
                print(f"| {source} | {mode} | {r['accuracy']:.3f} | | | | | |")
                continue
            print(
                f"| {source} ({r['videos']} people, {r['holds']} holds) | {mode} | {r['accuracy']:.3f} | "
                f"{100 * r['fade']:+.1f} | {r['ttc_median']:.2f} / {r['ttc_mean']:.2f} | {r['never']:.2f} | "
                f"{r['rest_accuracy']:.3f} | {r['all_accuracy']:.3f} |"
            )
    print("\nheld-frame accuracy by expression:\n")
    for source, modes in results.items():
        if not source.startswith("sample"):
            for mode, r in modes.items():
                print(f"{source} {mode}: " + ", ".join(f"{k} {v:.3f}" for k, v in r["by_label"].items()))
    if args.videos:
        print("\n" + check_replay(args.cache / "sample", args.videos / "sample" / "clip.mp4", model, args.modes))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make", help="videos of held expressions from photos of people")
    m.add_argument("--out", type=Path, required=True)
    for source in SOURCES:
        m.add_argument(f"--{source}", type=Path, help=f"the {source} folder (see above)")
    m.add_argument("--fps", type=int, default=30)
    m.add_argument("--hold", type=float, default=5.0, help="seconds each expression is held")
    m.add_argument("--rest", type=float, default=1.0, help="seconds of neutral after each hold")
    m.add_argument("--lead", type=float, default=1.5, help="seconds of neutral before the first hold")
    m.add_argument("--width", type=int, default=400, help="frame width (height: 3/4 of it)")
    m.add_argument("--eye-distance", type=float, default=64.0, help="eye distance in pixels at width 400")
    m.add_argument("--max-people", type=int, default=0, help="at most this many people per source (0: all)")
    m.add_argument("--seed", type=int, default=0)
    c = sub.add_parser("cache", help="the face mesh and features of every frame, once")
    c.add_argument("--videos", type=Path, required=True)
    c.add_argument("--cache", type=Path, required=True)
    c.add_argument("--landmarker", choices=("legacy", "tasks"), help="default: the demo's")
    r = sub.add_parser("run", help="replay the demo's pipeline per calibration mode and score it")
    r.add_argument("--cache", type=Path, required=True)
    r.add_argument("--model", type=Path, help="model folder (default: the demo's)")
    r.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    r.add_argument("--json", type=Path, help="also write the scores here")
    r.add_argument("--videos", type=Path, help="the videos: check the replay against a real stream of the sample clip")
    args = p.parse_args(argv)
    {"make": make, "cache": cache, "run": run}[args.command](args)


if __name__ == "__main__":
    sys.exit(run_command(main))
