"""Neutral calibration: the math, the references a bundle keeps, per-track references in the reader,
evaluation by person, and the file-name rule that says who is who."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from landmark_emotion.apps.recording import neutral_first
from landmark_emotion.commands import evaluate
from landmark_emotion.data.sources import DatasetError, from_class_folders, group_from_pattern
from landmark_emotion.data.table import LandmarkTable, save_table
from landmark_emotion.face.features import FEATURE_VERSION, N_FEATURES, mirror, normalize
from landmark_emotion.face.landmarker import Detection
from landmark_emotion.model.bundle import BundleError, load_bundle
from landmark_emotion.model.bundle_write import add_to_bundle, save_bundle
from landmark_emotion.model.calibration import (
    REFERENCE_FILE,
    CalibrationError,
    References,
    calibrate,
    neutral_mean,
    person_references,
)
from landmark_emotion.model.emotion_model import EmotionModel
from landmark_emotion.reading.neutral import (
    ESTIMATING_FRAMES,
    Expressions,
    RestingExpression,
    RunningNeutral,
    TrackReferences,
    capture_expressive,
    capture_unfinished,
)
from landmark_emotion.reading.pipeline import Pipeline
from landmark_emotion.training.base import population_neutral
from synthetic_faces import SIZE, make_table

ROOT = Path(__file__).resolve().parent.parent
LABELS = ["neutral", "happy", "surprise"]


def test_calibration_moves_a_persons_neutral_onto_the_populations():
    rng = np.random.default_rng(0)
    population, person = rng.normal(size=5), rng.normal(size=5)
    faces = person + rng.normal(size=(4, 5))
    out = calibrate(faces, person, population)
    assert out.dtype == np.float32 and out.shape == (4, 5)
    np.testing.assert_allclose(out, faces - person + population, atol=1e-5)
    np.testing.assert_allclose(calibrate(person, person, population), population, atol=1e-6)
    per_face = rng.normal(size=(4, 5))  # one reference per row
    np.testing.assert_allclose(calibrate(faces, per_face, population), faces - per_face + population, atol=1e-5)
    np.testing.assert_allclose(neutral_mean(faces), faces.mean(axis=0), atol=1e-6)
    with pytest.raises(CalibrationError, match="at least one neutral face"):
        neutral_mean(np.zeros((0, 5)))


def test_each_face_is_calibrated_by_the_other_neutral_faces_of_its_person():
    x = np.arange(7, dtype=np.float64)[:, None] * np.ones((7, 2))
    labels = np.array(["neutral", "neutral", "happy", "neutral", "happy", "neutral", "sad"])
    groups = np.array(["a", "a", "a", "b", "b", "c", "c"])
    refs, has = person_references(x, labels, groups)
    assert has.tolist() == [True, True, True, False, True, False, True]  # b's and c's only neutral: none other
    assert refs[0, 0] == 1 and refs[1, 0] == 0 and refs[2, 0] == 0.5  # a face is never its own reference
    assert refs[4, 0] == 3 and refs[6, 0] == 5
    with pytest.raises(CalibrationError, match="does not say who is in each photo.*--group-pattern"):
        person_references(x, labels, np.array(["a", "a", "", "b", "b", "c", "c"]))


def test_running_neutral_starts_at_the_population_and_follows_a_resting_face():
    population, rest = np.zeros(3), np.array([1.0, -2.0, 0.5])
    running = RunningNeutral(population, prior=10, window=100)
    first = running.update(rest)
    assert np.all(np.abs(first) < np.abs(rest) / 5)  # one frame barely moves it
    rng = np.random.default_rng(0)
    frames = [rest + rng.normal(0, 0.05, 3) + (3.0 if i % 10 == 0 else 0.0) for i in range(1000)]  # some laughs
    for frame in frames:
        estimate = running.update(frame)
    np.testing.assert_allclose(estimate, rest, atol=0.1)
    plain = np.mean(frames[-100:], axis=0)  # a plain mean of as many frames is pulled up by the laughs
    assert np.abs(estimate - rest).max() < np.abs(plain - rest).max() / 2


def test_the_auto_neutral_does_not_learn_a_held_expression():
    """A face at rest for 2 s, then smiling for 20 s: fed frames with the expression read in them taken out, the
    estimate stays on the face at rest; fed the frames themselves (as before), it became the smile."""
    population, rest = np.zeros(4), np.array([1.0, -1.0, 0.5, 0.0])
    smile = np.array([0.0, 0.0, 0.0, 2.0])
    directions = np.stack([np.zeros(4), smile])  # neutral, happy

    def read(x):  # a model that reads the smile when the last feature is up
        happy = np.clip((x[:, 3] - rest[3]) / smile[3], 0, 1)
        return np.stack([1 - happy, happy], axis=1)

    refs = References(population.astype(np.float32), FEATURE_VERSION, 10)
    rng = np.random.default_rng(0)
    frames = [rest + rng.normal(0, 0.02, 4) + (smile if i >= 60 else 0) for i in range(660)]
    for follow in (True, False):
        tracks = TrackReferences(refs, "auto", Expressions(read, directions if follow else 0 * directions, 0))
        calibrated = [tracks.apply([0], frame[None].astype(np.float32))[0][0] for frame in frames]
        if follow:
            np.testing.assert_allclose(tracks.neutral(0)[1], rest, atol=0.1)
            assert np.all(np.abs(calibrated[-1] - (population + smile)) < 0.15)  # still read as the smile
        else:
            assert tracks.neutral(0)[1][3] > smile[3] / 2  # more than half of the smile became its neutral


def test_a_face_that_looks_sad_at_rest_is_read_neutral_at_rest_and_one_that_smiles_throughout_stays_happy():
    """The resting look: what the model reads in a face's most neutral frames is part of that face's neutral."""
    sad_look = RestingExpression(neutral=0)
    looks = [sad_look.update(np.array([0.4, 0.6]) if i % 5 else np.array([0.05, 0.95])) for i in range(100)]
    assert looks[0] is None and looks[-1] is not None  # nothing before a second of frames
    np.testing.assert_allclose(looks[-1], [0.0, 0.6])  # its rest reads 60% sad: that look is its own
    smiling = RestingExpression(neutral=0)
    assert [smiling.update(np.array([0.01, 0.99])) for _ in range(100)][-1] is None  # never at rest: no look


def references(n: int = N_FEATURES, version: str = FEATURE_VERSION, person: bool = False) -> References:
    rng = np.random.default_rng(1)
    refs = References(rng.normal(size=n).astype(np.float32), version, 40)
    return refs.with_person(rng.normal(size=n), 7) if person else refs


def tiny_model():
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((N_FEATURES,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(len(LABELS), activation="softmax"),
        ]
    )


@pytest.fixture(scope="module")
def model():
    return tiny_model()


def save(path: Path, model, refs: References | None) -> Path:
    return save_bundle(path, model, np.zeros(N_FEATURES), np.ones(N_FEATURES), LABELS, {}, {}, references=refs)


@pytest.mark.parametrize("person", [False, True], ids=["base", "personal"])
def test_bundle_round_trip_keeps_the_references(tmp_path, model, person):
    refs = references(person=person)
    bundle = load_bundle(save(tmp_path / "b", model, refs))
    assert bundle.n_features == N_FEATURES
    np.testing.assert_array_equal(bundle.references.population, refs.population)
    assert bundle.references.population_n == 40 and bundle.references.feature_version == FEATURE_VERSION
    if person:
        np.testing.assert_array_equal(bundle.references.person, refs.person)
        assert bundle.references.person_n == 7
    else:
        assert bundle.references.person is None
    with np.load(tmp_path / "b" / REFERENCE_FILE, allow_pickle=False) as data:  # plain arrays, no pickles
        assert {"meta", "population"} <= set(data.files)
    assert REFERENCE_FILE in json.loads((tmp_path / "b" / "bundle.json").read_text())["sha256"]


def test_bundle_without_references_loads_and_reads_uncalibrated(tmp_path, model):
    bundle = load_bundle(save(tmp_path / "b", model, None))
    assert bundle.references is None and not (tmp_path / "b" / REFERENCE_FILE).exists()
    tracks = TrackReferences(bundle.references, "auto")
    x = np.ones((1, N_FEATURES), np.float32)
    out, how = tracks.apply([0], x)
    assert how == ["off"] and np.array_equal(out, x)
    with pytest.raises(CalibrationError, match="no population neutral"):
        tracks.start_capture(0)


@pytest.mark.parametrize(
    "refs, message",
    [
        (References(np.zeros(N_FEATURES, np.float32), "procrustes-v0", 5), "computed on features 'procrustes-v0'"),
        (References(np.zeros(12, np.float32), FEATURE_VERSION, 5), "has shape (12,), but the model takes 1404"),
    ],
    ids=["version", "length"],
)
def test_a_reference_of_other_features_is_refused_in_one_line(tmp_path, model, refs, message):
    path = add_to_bundle(save(tmp_path / "b", model, None), {REFERENCE_FILE: refs.to_bytes()})  # e.g. from another
    with pytest.raises(BundleError, match="neutral reference") as error:
        load_bundle(path)
    assert message in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(BundleError, match="computed on 12 features|procrustes-v0"):
        save(tmp_path / "c", model, refs)


def test_a_changed_reference_file_is_refused(tmp_path, model):
    path = save(tmp_path / "b", model, references())
    (path / REFERENCE_FILE).write_bytes(references(person=True).to_bytes())
    with pytest.raises(BundleError, match="neutral.npz is corrupt or was changed"):
        load_bundle(path)


def test_population_neutral_is_the_mean_of_the_training_neutral_faces():
    table = make_table({"neutral": 6, "happy": 6}, people=2)
    refs = population_neutral(table)
    neutral = table.subset(np.flatnonzero(table.labels == "neutral"))
    assert refs.population_n == 6 and refs.feature_version == FEATURE_VERSION
    expected = np.concatenate([neutral.features(), normalize(mirror(neutral.landmarks), SIZE, SIZE)]).mean(axis=0)
    np.testing.assert_allclose(refs.population, expected, atol=1e-5)  # mirror images too, as in training
    assert population_neutral(table.subset(np.flatnonzero(table.labels == "happy"))) is None


class Fixed:
    """A detector that finds the same faces in every frame (or none)."""

    def __init__(self, landmarks: np.ndarray):
        self.landmarks = landmarks

    def __call__(self, image):
        return Detection(self.landmarks, 480, 480)


class Recorder:
    labels = LABELS

    def __init__(self):
        self.seen: list[np.ndarray] = []

    def predict_proba(self, features):
        self.seen.append(np.array(features))
        return np.full((len(features), len(LABELS)), 1 / 3, np.float32)


def test_reader_takes_the_largest_faces_reference_on_request():
    table = make_table({"neutral": 2}, people=2)
    small = table.landmarks[1].copy()
    small[:, :2] = (small[:, :2] - small[:, :2].mean(0)) * 0.5 + [0.8, 0.8]  # a smaller face, far from the first
    big = table.landmarks[0]
    refs = references()
    detector, predictor = Fixed(np.stack([big, small])), Recorder()
    reader = Pipeline(detector, predictor, references=refs)
    image = np.zeros((480, 480, 3), np.uint8)
    with pytest.raises(CalibrationError, match="no face in view"):
        reader.start_neutral_capture()  # nothing read yet
    first = reader(image)
    assert [f.calibration for f in first] == ["none", "none"]
    track = reader.start_neutral_capture(frames=3)
    assert track == first[0].track  # the larger face
    hows = [[f.calibration for f in reader(image)] for _ in range(4)]
    assert hows == [["capturing", "none"]] * 3 + [["captured", "none"]]
    raw = predictor.seen[0][0]
    np.testing.assert_allclose(predictor.seen[-1][0], refs.population, atol=1e-4)  # its neutral lands on everyone's
    np.testing.assert_allclose(predictor.seen[-1][1], predictor.seen[0][1])  # the other face is untouched
    assert not np.allclose(raw, refs.population)
    with pytest.raises(CalibrationError, match="no face with track 99"):
        reader.start_neutral_capture(99)
    reader.clear_neutral()
    assert [f.calibration for f in reader(image)] == ["none", "none"]
    detector.landmarks = np.zeros((0, 468, 3), np.float32)
    assert reader(image) == []  # one missed detection: the faces are still in view (a web test's flake)
    assert reader.start_neutral_capture(frames=3) == track
    reader.clear_neutral()
    for _ in range(reader.tracker.max_missing):
        assert reader(image) == []  # gone long enough for the tracker to drop them
    with pytest.raises(CalibrationError, match="no face in view"):
        reader.start_neutral_capture()


def test_a_capture_lost_with_its_face_is_reported_once_and_a_finished_one_never():
    face = make_table({"neutral": 1}, people=1).landmarks
    image = np.zeros((480, 480, 3), np.uint8)
    detector = Fixed(face)
    reader = Pipeline(detector, Recorder(), references=references())
    track = reader(image)[0].track
    reader.start_neutral_capture(frames=5)
    reader(image)
    detector.landmarks = np.zeros((0, 468, 3), np.float32)  # the face leaves before its 5 frames
    lost = []
    for _ in range(reader.tracker.max_missing + 2):
        assert reader(image) == []
        lost.append(reader.unfinished)
    assert lost == [[]] * reader.tracker.max_missing + [[track], []]  # when the tracker gives the face up
    assert (
        capture_unfinished(track) == f"face {track} left the view before its neutral reference was taken; "
        "face the camera and try again"
    )
    detector.landmarks = face
    track = reader(image)[0].track
    reader.start_neutral_capture(frames=1)
    assert [reader(image)[0].calibration for _ in range(2)] == ["capturing", "captured"]
    detector.landmarks = np.zeros((0, 468, 3), np.float32)
    for _ in range(reader.tracker.max_missing + 2):
        assert reader(image) == [] and reader.unfinished == []  # a reference taken is no capture lost


class Reading(Recorder):
    """Reads every face as ``probabilities`` (a smile, or a face at rest)."""

    def __init__(self, probabilities: list[float]):
        super().__init__()
        self.probabilities = np.asarray(probabilities, np.float32)

    def predict_proba(self, features):
        self.seen.append(np.array(features))
        return np.tile(self.probabilities, (len(features), 1))


@pytest.mark.parametrize(
    "probabilities, person, told",
    [([0.03, 0.95, 0.02], False, True), ([0.6, 0.3, 0.1], False, False), ([0.03, 0.95, 0.02], True, True)],
    ids=["smiling", "at rest", "smiling, personal model"],
)
def test_a_neutral_taken_mid_expression_is_told_once_and_kept(probabilities, person, told):
    """The sample clip's smile taken as her neutral read every later smile as neutral, and nothing said so. (A
    personal model's faces are read against its own neutral until the capture: the check reads it so too.)"""
    face = make_table({"neutral": 1}, people=1).landmarks
    image = np.zeros((480, 480, 3), np.uint8)
    predictor = Reading(probabilities)
    refs = references(person=person)
    reader = Pipeline(Fixed(face), predictor, references=refs)
    track = reader(image)[0].track
    reader.start_neutral_capture(frames=2)
    seen = []
    for _ in range(4):
        calibration = reader(image)[0].calibration
        seen.append((calibration, reader.notices))
    notice = capture_expressive(track, "happy", 0.95)
    assert seen == [("capturing", []), ("capturing", [notice] if told else []), ("captured", []), ("captured", [])]
    taken = neutral_mean(np.stack([reader.describe(image, face)[0][0]] * 2))
    checked = calibrate(taken, refs.person, refs.population) if person else taken
    calls = [len(x) for x in predictor.seen]  # per frame one read; the frame that takes it, the check first
    assert calls == [1, 1, 1, 1, 1, 1] and np.allclose(predictor.seen[2][0], checked, atol=1e-4)
    assert notice == (
        f"face {track}: the neutral reference taken reads happy (95%); if the face was not at rest, take it again"
    )


def test_reader_modes_personal_auto_and_off():
    face = make_table({"neutral": 1}, people=1).landmarks
    image = np.zeros((480, 480, 3), np.uint8)
    personal = Pipeline(Fixed(face), Recorder(), references=references(person=True))
    assert personal(image)[0].calibration == "personal"
    assert personal.start_neutral_capture(frames=1) == 0
    assert [personal(image)[0].calibration for _ in range(2)] == ["capturing", "captured"]  # `n` overrides it
    directions = np.zeros((len(LABELS), N_FEATURES), np.float32)
    auto = Pipeline(Fixed(face), Recorder(), references=references(), calibrate="auto", directions=directions)
    assert [auto(image)[0].calibration for _ in range(ESTIMATING_FRAMES + 1)][-2:] == ["estimating", "auto"]
    assert auto.references.neutral(0)[0] == "auto"  # the reference the face was read against, and its source
    unmeasured = Pipeline(Fixed(face), Recorder(), references=references(), calibrate="auto")
    assert unmeasured(image)[0].calibration == "none"  # no expressions measured (no replay sample): no estimate
    off = Pipeline(Fixed(face), Recorder(), references=references(person=True), calibrate="off")
    assert off(image)[0].calibration == "off" and off(image)[0].to_json()["calibration"] == "off"
    with pytest.raises(CalibrationError, match="calibration is off"):
        off.start_neutral_capture()
    with pytest.raises(CalibrationError, match="must be one of neutral, auto, off"):
        Pipeline(Fixed(face), Recorder(), references=references(), calibrate="sometimes")


def test_group_pattern_names_the_person_from_the_file_name(tmp_path):
    rule = group_from_pattern(r"^(S\d+)_")
    assert rule(Path("CK+/happy/S005_001_00000011.png")) == "S005" and rule(Path("x/other.png")) == ""
    for folder, _name in (
        ("happy", "S005_001_00000011.png"),
        ("neutral", "S005_001_00000001.png"),
        ("neutral", "S010_002_00000001.png"),
        (".ipynb_checkpoints", "S005_001_00000011.png"),
    ):
        (tmp_path / "happy" / folder if folder.startswith(".") else tmp_path / folder).mkdir(
            parents=True, exist_ok=True
        )
    (tmp_path / "happy" / "S005_001_00000011.png").write_bytes(b"")
    (tmp_path / "happy" / ".ipynb_checkpoints" / "S005_001_00000011.png").write_bytes(b"")  # a notebook's copy
    (tmp_path / "neutral" / "S005_001_00000001.png").write_bytes(b"")
    (tmp_path / "neutral" / "S010_002_00000001.png").write_bytes(b"")
    items = from_class_folders(tmp_path, rule)
    assert sorted((i.label, i.group) for i in items) == [("happy", "S005"), ("neutral", "S005"), ("neutral", "S010")]
    with pytest.raises(DatasetError, match="no capture group"):
        group_from_pattern(r"^S\d+_")
    with pytest.raises(DatasetError, match="not a regular expression"):
        group_from_pattern(r"^(S\d+")


def test_records_start_with_neutral():
    assert neutral_first(["happy", "sad"]) == ["neutral", "happy", "sad"]
    assert neutral_first(["happy", "neutral", "sad"]) == ["neutral", "happy", "sad"]


@pytest.fixture(scope="module")
def evaluated(trained_base, tmp_path_factory):
    """A base bundle trained on synthetic people, and a test table of other people with their neutral faces.

    The bundle is conftest's ``trained_base`` (train_model.py, trained once a session), linked in: read only."""
    folder = tmp_path_factory.mktemp("eval")
    code, base = trained_base
    assert code == 0
    (folder / "base").symlink_to(base, target_is_directory=True)
    test = make_table({"neutral": 12, "happy": 8, "surprise": 8}, people=4, seed=5)
    save_table(test, folder / "test.npz")
    test.groups = np.full(len(test), "")
    save_table(test, folder / "anonymous.npz")
    return folder


def test_train_model_stores_the_population_neutral(evaluated):
    bundle = load_bundle(evaluated / "base")
    assert bundle.references is not None and bundle.references.person is None
    assert bundle.references.population_n > 0


def test_evaluate_calibrates_each_face_by_its_persons_other_neutral_faces(evaluated, capsys):
    out = evaluated / "scores.json"
    code = evaluate.main(
        [
            "--model",
            str(evaluated / "base"),
            "--data",
            str(evaluated / "test.npz"),
            "--calibrate",
            "neutral",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    scores = json.loads(out.read_text())
    assert scores["scored"] == 28 and scores["skipped"] == 0 and scores["n"] == 28
    assert 0 <= scores["uncalibrated_accuracy"] <= 1 and 0 <= scores["accuracy"] <= 1
    assert "28 faces scored, 0 skipped" in capsys.readouterr().out


def test_evaluate_calibration_needs_people(evaluated):
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scr" / "evaluate.py"),
            "--model",
            str(evaluated / "base"),
            "--data",
            str(evaluated / "anonymous.npz"),
            "--calibrate",
            "neutral",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: the table does not say who is in each photo")


def test_a_bundle_trained_before_calibration_gets_its_population_neutral(tmp_path, model, capsys):
    from landmark_emotion.commands import train_model

    path = save(tmp_path / "old", model, None)
    table = make_table({"neutral": 4, "happy": 4}, people=2)
    copies = table.subset(np.flatnonzero(table.labels == "neutral"))  # augmented copies: never the neutral
    copies.landmarks += np.random.default_rng(0).normal(0, 0.01, copies.landmarks.shape).astype(np.float32)
    copies.augmented[:] = True
    save_table(LandmarkTable.concatenate([table, copies]), tmp_path / "t.npz")
    assert train_model.main(["--data", str(tmp_path / "t.npz"), "--out", str(path), "--add-neutral"]) == 0
    assert "added the population neutral of 4 neutral faces" in capsys.readouterr().out
    bundle = load_bundle(path)  # checksums agree
    np.testing.assert_allclose(bundle.references.population, population_neutral(table).population)
    save_table(table.subset(np.flatnonzero(table.labels == "happy")), tmp_path / "happy.npz")
    assert train_model.main(["--data", str(tmp_path / "happy.npz"), "--out", str(path), "--add-neutral"]) == 2
    assert capsys.readouterr().err.startswith("error: no neutral faces in")


def test_the_frame_shows_how_a_face_is_calibrated():
    from landmark_emotion.apps.overlay import annotate
    from landmark_emotion.reading.pipeline import Face

    def drawn(calibration: str) -> np.ndarray:
        frame = np.zeros((300, 300, 3), np.uint8)
        probabilities = dict(zip(LABELS, [0.2, 0.7, 0.1]))
        face = Face((100, 80, 90, 100), np.zeros((468, 3), np.float32), "happy", 0.7, probabilities, calibration, 0)
        annotate(frame, [face], fps=0.0)
        return frame[185:215]  # below the box

    assert not drawn("none").any() and not drawn("off").any()
    assert drawn("captured").any() and not np.array_equal(drawn("captured"), drawn("capturing"))


def test_few_shot_fine_tuning_of_an_appearance_model_on_calibrated_features(tmp_path, astronaut_faces):
    """The head on [landmarks | appearance] vectors, a network without hidden layers: the user's neutral kept."""
    import keras

    from landmark_emotion.face.features import FEATURE_SETS, HYBRID
    from landmark_emotion.training.personal import FineTuneSettings, tune_network

    n = FEATURE_SETS[HYBRID][1]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((n,)), keras.layers.Dense(len(LABELS), activation="softmax")])
    refs = References(np.zeros(n, np.float32), FEATURE_SETS[HYBRID][0], 10)
    base = EmotionModel.load(
        save_bundle(
            tmp_path / "hybrid", model, np.zeros(n), np.ones(n), LABELS, {}, {}, feature_set=HYBRID, references=refs
        )
    )
    rng = np.random.default_rng(0)
    table = LandmarkTable(
        np.repeat(astronaut_faces.landmarks, 3, axis=0),
        [512] * 3,
        [512] * 3,
        LABELS,
        ["a", "b", "c"],
        ["me"] * 3,
        descriptors=rng.normal(size=(3, n - N_FEATURES)),
    )
    result = tune_network(base, table, FineTuneSettings(), progress=False)
    assert result.metrics["personal_head"]["frames_selected"] == dict.fromkeys(sorted(LABELS), 1)
    assert result.metrics["calibrated"] and result.references.person.shape == (n,)
    np.testing.assert_allclose(result.references.person, table.subset(np.array([0])).features(HYBRID)[0], atol=1e-5)


def test_the_shipped_model_has_a_population_neutral_of_its_own_features():
    bundle = load_bundle(ROOT / "models" / "default")
    assert bundle.references is not None and bundle.references.population.shape == (bundle.n_features,)
    assert bundle.references.feature_version == bundle.feature_version and bundle.references.population_n > 1000
