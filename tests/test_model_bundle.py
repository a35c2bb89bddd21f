"""Model bundles: round trip, the NumPy predictor against Keras, and refusing bad bundles clearly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from landmark_emotion.face.features import N_FEATURES
from landmark_emotion.model.bundle import BundleError, load_bundle
from landmark_emotion.model.bundle_write import save_bundle
from landmark_emotion.model.discovery import find_default_model
from synthetic_faces import make_table

ROOT = Path(__file__).resolve().parent.parent
LABELS = ["neutral", "happy", "surprise"]


def mlp(*middle, seed: int = 0):
    """An untrained network (random weights are as good as trained ones for agreement tests)."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((N_FEATURES,)), *middle, keras.layers.Dense(len(LABELS), activation="softmax")]
    )


@pytest.fixture(scope="module")
def table():
    return make_table({"neutral": 12, "happy": 12, "surprise": 12}, people=3)


@pytest.fixture(scope="module")
def scaler(table):
    x = table.features()
    return x.mean(axis=0), x.std(axis=0) + 1e-3


@pytest.fixture(scope="module")
def model():
    import keras

    return mlp(
        keras.layers.Dense(24, activation="relu"), keras.layers.Dropout(0.5), keras.layers.Dense(12, activation="tanh")
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory, model, scaler, table) -> Path:
    """The bundle, saved once: tests get a copy of the folder it was saved in (``bundle``)."""
    return save_bundle(
        tmp_path_factory.mktemp("saved") / "models" / "base",
        model,
        *scaler,
        LABELS,
        {"train_args": {"epochs": 3}},
        {"accuracy": 0.5},
        replay=table.subset(np.arange(6)),
    )


@pytest.fixture
def bundle(tmp_path, saved) -> Path:
    """A bundle of its own for each test (the tests damage it): a copy of the folder ``saved`` was written in,
    anything save_bundle left beside it included."""
    shutil.copytree(saved.parent, tmp_path / "models")
    return tmp_path / "models" / saved.name


def keras_proba(model, features, scaler) -> np.ndarray:
    mean, scale = scaler
    return np.asarray(model(((features - mean) / scale).astype(np.float32), training=False))


def test_round_trip_gives_the_same_outputs(bundle, model, scaler, table):
    loaded = load_bundle(bundle)
    assert loaded.labels == LABELS and loaded.info["kind"] == "base" and loaded.metrics == {"accuracy": 0.5}
    assert loaded.info["train_args"] == {"epochs": 3} and loaded.info["created"]
    assert np.array_equal(loaded.scaler_mean, scaler[0].astype(np.float64))
    x = table.features()
    expected = keras_proba(model, x, scaler)
    assert np.max(np.abs(loaded.predictor().predict_proba(x) - expected)) < 1e-4
    assert np.max(np.abs(keras_proba(loaded.keras_model(), x, scaler) - expected)) < 1e-6
    assert loaded.replay_table().labels.tolist() == table.labels[:6].tolist()
    assert sorted(p.name for p in bundle.parent.iterdir()) == ["base"]  # no temporary folder left behind


def test_predictor_takes_one_face_or_many(bundle, table):
    predictor = load_bundle(bundle).predictor()
    x = table.features()
    one = predictor.predict_proba(x[3])
    assert one.shape == (1, 3) and one.dtype == np.float32
    # float32: BLAS sums one row and a batch in different orders (2e-6 apart seen on Python 3.13 in the full suite)
    assert np.allclose(one, predictor.predict_proba(x)[3:4], rtol=0, atol=1e-5)
    assert np.allclose(predictor.predict_proba(x).sum(axis=1), 1, atol=1e-5)
    assert predictor.predict(x[:2]) == [LABELS[i] for i in predictor.predict_proba(x[:2]).argmax(axis=1)]
    with pytest.raises(ValueError, match="expected features of shape"):
        predictor.predict_proba(x[:, :100])


def test_forward_passes_take_turns(bundle, table):
    """Two threads multiplying large matrices at once can hang NumPy's OpenBLAS: a pass waits for the one running."""
    import threading

    from landmark_emotion.model.inference import FORWARD_LOCK

    predictor = load_bundle(bundle).predictor()
    done = threading.Event()
    worker = threading.Thread(target=lambda: (predictor.predict_proba(table.features()[:2]), done.set()))
    with FORWARD_LOCK:  # a pass of another thread running
        worker.start()
        assert not done.wait(0.5)
    assert done.wait(10)
    worker.join()


def test_the_preprocessing_is_folded_into_the_first_layer_only_where_that_costs_less():
    from landmark_emotion.model.inference import Predictor, Step

    rng = np.random.default_rng(0)
    n, k = 40, 6
    mean, scale, components = rng.normal(size=n), rng.uniform(0.5, 2, n), rng.normal(size=(n, k))
    x = rng.normal(size=(5, n))
    for units, steps_after in ((4, 2), (30, 3)):  # 40*4 <= 40*6 + 6*4 folds; 40*30 > 40*6 + 6*30 does not
        layers = [
            Step(rng.normal(size=(k, units)), rng.normal(size=units), "relu"),
            Step(rng.normal(size=(units, 3)), rng.normal(size=3), "softmax"),
        ]
        predictor = Predictor(LABELS, mean, scale, layers, components)
        expected = ((x - mean) / scale) @ components
        for step in layers:
            expected = step(expected)
        assert len(predictor.steps) == steps_after
        np.testing.assert_allclose(predictor.predict_proba(x), expected, atol=1e-5)


def test_batch_normalization_is_reproduced(tmp_path, scaler, table):
    import keras

    model = mlp(keras.layers.Dense(16), keras.layers.BatchNormalization(), keras.layers.Activation("relu"))
    x = ((table.features() - scaler[0]) / scaler[1]).astype(np.float32)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, np.arange(len(x)) % 3, epochs=2, verbose=0)  # moving mean/variance move away from 0/1
    predictor = load_bundle(save_bundle(tmp_path / "bn", model, *scaler, LABELS, {}, {})).predictor()
    assert (
        np.max(np.abs(predictor.predict_proba(table.features()) - keras_proba(model, table.features(), scaler))) < 1e-4
    )


def test_unsupported_network_is_refused_before_writing(tmp_path, scaler):
    import keras

    with pytest.raises(BundleError, match="LayerNormalization.*not supported by the NumPy predictor"):
        save_bundle(tmp_path / "ln", mlp(keras.layers.LayerNormalization()), *scaler, LABELS, {}, {})
    with pytest.raises(BundleError, match="map 1404 inputs to 2 labels"):
        save_bundle(tmp_path / "k", mlp(), *scaler, ["neutral", "happy"], {}, {})
    with pytest.raises(BundleError, match=r"unknown emotion label\(s\) 'joy'"):
        save_bundle(tmp_path / "j", mlp(), *scaler, ["neutral", "joy", "sad"], {}, {})
    assert list(tmp_path.iterdir()) == []


def test_existing_folder_is_kept_unless_force(bundle, model, scaler):
    before = (bundle / "model.keras").read_bytes()
    with pytest.raises(BundleError, match="exists; pass --force"):
        save_bundle(bundle, model, *scaler, LABELS, {"kind": "base"}, {"accuracy": 0.9})
    assert (bundle / "model.keras").read_bytes() == before and load_bundle(bundle).metrics == {"accuracy": 0.5}
    save_bundle(bundle, model, *scaler, LABELS, {"kind": "base"}, {"accuracy": 0.9}, force=True)
    assert load_bundle(bundle).metrics == {"accuracy": 0.9} and load_bundle(bundle).replay_table() is None
    assert sorted(p.name for p in bundle.parent.iterdir()) == ["base"]


@pytest.mark.parametrize(
    "damage, message",
    [
        ("delete model.keras", "incomplete: missing model.keras"),
        ("delete scaler.npz", "incomplete: missing scaler.npz"),
        ("version", "trained on features 'landmarks-v0', but this code computes"),
        ("corrupt model.keras", "model.keras is corrupt or was changed after training"),
        ("corrupt bundle.json", "unreadable bundle.json"),
        ("no folder", "no model bundle at"),
    ],
)
def test_bad_bundle_is_refused_with_a_clear_message(bundle, damage, message):
    if damage.startswith("delete"):
        (bundle / damage.split()[1]).unlink()
    elif damage == "version":
        reseal(bundle, feature_version="landmarks-v0")
    elif damage == "corrupt model.keras":
        with open(bundle / "model.keras", "r+b") as f:
            f.seek(200)
            f.write(b"\0" * 16)
    elif damage == "corrupt bundle.json":
        (bundle / "bundle.json").write_text("{not json")
    else:
        bundle = bundle.parent / "nothing"
    with pytest.raises(BundleError, match=message):
        load_bundle(bundle)


def reseal(bundle: Path, **changes) -> None:
    """Change bundle.json and write valid checksums again: what a careful tamperer (or an old version) would do."""
    from landmark_emotion.model.bundle import write_info

    write_info(bundle, {**json.loads((bundle / "bundle.json").read_text()), **changes})


def rewrite_npz(path: Path, **arrays) -> None:
    """Replace arrays of an .npz file (``None`` removes one), keeping the others."""
    with np.load(path, allow_pickle=False) as data:
        kept = {name: data[name] for name in data.files}
    kept.update(arrays)
    np.savez(path, **{name: value for name, value in kept.items() if value is not None})


@pytest.mark.parametrize(
    "damage, message",
    [
        (
            lambda b: (b / "bundle.json").write_text(
                (b / "bundle.json")
                .read_text()
                .replace('"neutral",', '"__x__",')
                .replace('"happy",', '"neutral",')
                .replace('"__x__",', '"happy",')
            ),
            "bundle.json was changed after training",
        ),
        (lambda b: (b / "metrics.json").write_text('{"accuracy": 0.99}'), "metrics.json is corrupt or was changed"),
        (
            lambda b: rewrite_npz(b / "replay.npz", labels=np.array(["happy"] * 6)),
            "replay.npz is corrupt or was changed",
        ),
        (lambda b: np.savez(b / "calibration.npz", t=np.ones(1)), "calibration.npz not covered by its checksums"),
        (lambda b: (b / "replay.npz").unlink(), "incomplete: missing replay.npz"),
        (
            lambda b: (b / "bundle.json").write_text(
                json.dumps(
                    {k: v for k, v in json.loads((b / "bundle.json").read_text()).items() if k != "bundle_sha256"}
                )
            ),
            "has no checksum of its own.*seal_bundle",
        ),
    ],
    ids=["labels-swapped", "metrics-edited", "replay-edited", "file-added", "file-removed", "old-format"],
)
def test_every_file_of_a_bundle_is_checksummed(bundle, damage, message):
    damage(bundle)
    with pytest.raises(BundleError, match=message):
        load_bundle(bundle)


@pytest.mark.parametrize(
    "forward, message",
    [
        ({"weight_0": np.full((N_FEATURES, 24), np.nan, np.float32)}, "layer 0 has non-finite weights"),
        ({"bias_2": np.array([0, np.inf, 0], np.float32)}, "layer 2 has non-finite weights"),
        ({"weight_1": np.ones((23, 12), np.float32)}, r"layer 1: weight \(23, 12\) and bias \(12,\) do not fit"),
        ({"bias_0": np.ones((24, 1), np.float32)}, "layer 0: weight"),
        ({"weight_0": np.ones((N_FEATURES, 24), np.int64)}, "weights must be floating point"),
        ({"spec": np.array('[{"activation": "gelu", "elementwise": false}]')}, "holds arrays"),
        (
            {
                "spec": np.array(
                    json.dumps([{"activation": a, "elementwise": False} for a in ("relu", "mish", "softmax")])
                )
            },
            "layer 1 has an unknown activation",
        ),
        ({"spec": np.array('{"a": 1}')}, "spec must be a non-empty list"),
        ({"spec": np.array(json.dumps([{"activation": "relu", "elementwise": False}] * 3))}, "softmax over 3 labels"),
        ({"weight_2": None}, "holds arrays"),
        ({"weight_0": np.full((N_FEATURES, 24), 1e37, np.float32)}, "does not give finite probabilities"),
    ],
    ids=[
        "nan-weight",
        "inf-bias",
        "shape-chain",
        "bias-shape",
        "int-weights",
        "spec-short",
        "activation",
        "spec-type",
        "no-softmax",
        "array-missing",
        "overflow",
    ],
)
def test_malformed_forward_pass_is_refused_at_load(bundle, forward, message):
    rewrite_npz(bundle / "forward.npz", **forward)
    reseal(bundle)  # valid checksums: only the content checks can catch it
    with pytest.raises(BundleError, match=message):
        load_bundle(bundle)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda b: rewrite_npz(b / "scaler.npz", mean=np.zeros(10)), "scaler mean and scale must have shape"),
        (lambda b: rewrite_npz(b / "scaler.npz", scale=np.full(N_FEATURES, np.nan)), "scale finite and positive"),
        (lambda b: rewrite_npz(b / "scaler.npz", mean=np.array(["x"] * N_FEATURES)), "must be numbers"),
        (lambda b: reseal(b, labels="neutral,happy,surprise"), "labels must be a list of names"),
        (lambda b: reseal(b, labels=["neutral", "happy"]), "softmax over 2 labels"),
        (lambda b: reseal(b, kind=["personal"]), "has a kind other than"),
    ],
    ids=["scaler-shape", "scaler-nan", "scaler-text", "labels-text", "labels-short", "kind-type"],
)
def test_badly_typed_fields_are_refused_at_load(bundle, change, message):
    change(bundle)
    reseal(bundle)
    with pytest.raises(BundleError, match=message):
        load_bundle(bundle)


def test_files_added_through_add_to_bundle_are_covered(bundle):
    import io

    from landmark_emotion.model.bundle_write import add_to_bundle

    buffer = io.BytesIO()
    np.savez(buffer, temperature=np.array([1.5]))
    before = load_bundle(bundle).info
    add_to_bundle(bundle, {"calibration.npz": buffer.getvalue()})
    after = load_bundle(bundle)
    assert "calibration.npz" in after.info["sha256"] and after.info["labels"] == before["labels"]
    assert sorted(p.name for p in bundle.parent.iterdir()) == ["base"]
    with pytest.raises(BundleError, match="reserved or not plain file names"):
        add_to_bundle(bundle, {"../x": b"", "bundle.json": b"{}"})
    with open(bundle / "calibration.npz", "r+b") as f:
        f.write(b"x")
    with pytest.raises(BundleError, match="calibration.npz is corrupt or was changed"):
        load_bundle(bundle)
    with pytest.raises(BundleError, match="calibration.npz is corrupt"):
        add_to_bundle(bundle, {"notes.txt": b"x"})  # a damaged bundle is not sealed again


def test_shipped_default_bundle_loads_and_is_sealed_whole():
    loaded = load_bundle(ROOT / "models" / "default")
    assert set(loaded.info["sha256"]) == {p.name for p in (ROOT / "models" / "default").iterdir()} - {"bundle.json"}


def test_nan_weights_are_refused_before_writing(tmp_path, model, scaler):
    import keras

    broken = keras.models.clone_model(model)
    broken.set_weights([np.full_like(w, np.nan) for w in model.get_weights()])
    with pytest.raises(BundleError, match="non-finite weights"):
        save_bundle(tmp_path / "nan", broken, *scaler, LABELS, {}, {})
    assert list(tmp_path.iterdir()) == []


def test_find_default_model_prefers_the_newest_personal_bundle(tmp_path):
    models = tmp_path / "models"
    assert find_default_model(models) == models / "default"
    for name, kind, created in [
        ("default", "base", "2026-01-03"),
        ("anna", "personal", "2026-01-01"),
        ("bob", "personal", "2026-01-02"),
        (".bob.x.tmp", "personal", "2026-01-09"),
    ]:
        (models / name).mkdir(parents=True)
        (models / name / "bundle.json").write_text(json.dumps({"kind": kind, "created": created}))
    assert find_default_model(models) == models / "bob"
    (models / "bob" / "bundle.json").write_text("{broken")
    assert find_default_model(models) == models / "anna"


def test_the_checksums_catch_accidents_not_a_person_who_reseals(tmp_path):
    """What docs/commands.md says of them: a partial copy or an edit by mistake is refused; whoever edits a bundle
    and writes its checksums again gets a bundle that loads, and only its fingerprint (the hash of bundle.json,
    which lists every other file's) tells it from the original."""
    import hashlib
    import shutil

    from landmark_emotion.model.bundle import write_info

    def fingerprint(bundle: Path) -> str:
        return hashlib.sha256((bundle / "bundle.json").read_bytes()).hexdigest()

    original = ROOT / "models" / "default"
    labels = load_bundle(original).labels
    for accident in ("partial copy", "damaged file", "labels edited", "file added"):
        copy = Path(shutil.copytree(original, tmp_path / accident.replace(" ", "_")))
        if accident == "partial copy":
            (copy / "replay.npz").unlink()
        elif accident == "damaged file":
            (copy / "forward.npz").write_bytes((copy / "forward.npz").read_bytes()[:-100])
        elif accident == "labels edited":
            info = json.loads((copy / "bundle.json").read_text())
            (copy / "bundle.json").write_text(json.dumps({**info, "labels": labels[::-1]}))
        else:
            (copy / "notes.txt").write_text("mine")
        with pytest.raises(BundleError):
            load_bundle(copy)
    resealed = Path(shutil.copytree(original, tmp_path / "resealed"))
    write_info(resealed, {**load_bundle(resealed).info, "labels": labels[::-1]})
    assert load_bundle(resealed).labels == labels[::-1]  # loads: the checksums are no signature
    assert fingerprint(resealed) != fingerprint(original)
    assert fingerprint(Path(shutil.copytree(original, tmp_path / "shared"))) == fingerprint(original)
    said = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")  # the user is told both, and how to share
    assert "The checksums are no signature" in said and "sha256sum" in said


def test_reading_never_recovers_nor_deletes_an_interrupted_replace(tmp_path):
    """A replace killed between its two renames is its writer's to recover (and say so); reading touches nothing."""
    import shutil

    from landmark_emotion.api import load_model

    models = tmp_path / "models"
    shutil.copytree(ROOT / "models" / "default", models / "default")
    personal = Path(shutil.copytree(ROOT / "models" / "default", models / "personal"))
    backup = Path(shutil.copytree(ROOT / "models" / "default", models / ".personal.old"))  # killed after 2nd rename
    assert find_default_model(models) == models / "default"
    assert load_bundle(personal).labels == load_model(personal).classes_
    assert backup.is_dir() and personal.is_dir()

    shutil.rmtree(personal)  # killed between the renames: only the old one, aside
    with pytest.raises(BundleError, match=r"interrupted, and the previous one is in .*\.personal\.old"):
        load_model(personal)
    assert find_default_model(models) == models / "default"
    assert backup.is_dir() and not personal.exists()


def test_predicting_does_not_import_tensorflow(bundle, table):
    np.save(bundle.parent / "x.npy", table.features()[:2])
    code = (
        "import sys, numpy as np; from landmark_emotion.model.bundle import load_bundle; "
        f"p = load_bundle({str(bundle)!r}).predictor(); "
        f"print(p.predict_proba(np.load({str(bundle.parent / 'x.npy')!r})).shape); "
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scr")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.stdout.split("\n")[:2] == ["(2, 3)", "[]"], result.stderr
