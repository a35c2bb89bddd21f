"""Training: class selection, person-disjoint splits, class weights, learning synthetic expressions."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from landmark_emotion.data.table import LandmarkTable
from landmark_emotion.training.base import (
    Recipe,
    TrainingError,
    class_weights,
    fit_network,
    identity_augmented,
    merge_networks,
    replay_sample,
    select_classes,
    split_table,
    split_with_copies,
    train,
)
from synthetic_faces import make_table

TINY = Recipe(hidden=(32,), dropout=0.1, epochs=60, patience=8, batch_size=32)
COUNTS = {"neutral": 60, "happy": 48, "sad": 36, "angry": 36}


@pytest.fixture(scope="module")
def table() -> LandmarkTable:
    return make_table(COUNTS, people=12)


@pytest.fixture(scope="module")
def trained(table):
    return train(table, TINY, min_class_count=10, seed=3, progress=False)


@pytest.mark.slow
def test_learns_synthetic_expressions_of_new_people(trained):
    test = trained.table.subset(trained.split.test)
    predictor = trained.predictor()
    assert trained.labels == ["neutral", "happy", "sad", "angry"]
    assert np.mean(np.array(predictor.predict(test.features())) == test.labels) > 0.9
    assert 1 <= trained.fit.best_epoch <= len(trained.fit.history["val_loss"]) <= TINY.epochs


@pytest.mark.slow
def test_training_is_reproducible(table, trained):
    again = train(table, replace(TINY, epochs=3), min_class_count=10, seed=3, progress=False)
    twice = train(table, replace(TINY, epochs=3), min_class_count=10, seed=3, progress=False)
    for a, b in zip(again.model.get_weights(), twice.model.get_weights()):
        assert np.array_equal(a, b)
    assert np.array_equal(again.split.test, trained.split.test)


def test_split_is_stratified_and_person_disjoint(table):
    split = split_table(table, 0.2, 0.2, seed=0)
    parts = [split.train, split.val, split.test]
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(table)))
    people = [set(table.groups[p]) for p in parts]
    assert not (people[0] & people[1]) and not (people[0] & people[2]) and not (people[1] & people[2])
    for part in parts:
        assert set(table.labels[part]) == set(COUNTS)
    assert split.group_disjoint


def test_samples_without_groups_are_split_one_by_one(table):
    anonymous = LandmarkTable(table.landmarks, table.width, table.height, table.labels, table.paths, [""] * len(table))
    split = split_table(anonymous, 0.25, 0.0, seed=0)
    assert not split.group_disjoint and len(split.test) == 0
    assert abs(len(split.val) - 0.25 * len(table)) <= 4
    shares = [np.mean(anonymous.labels[split.val] == label) for label in COUNTS]
    assert np.allclose(shares, np.array(list(COUNTS.values())) / len(table), atol=0.03)


def test_small_classes_are_dropped_and_one_class_is_refused(table):
    kept, dropped = select_classes(table, 40)
    assert dropped == {"angry": 36, "sad": 36} and set(kept.labels) == {"neutral", "happy"}
    with pytest.raises(TrainingError, match="at least two classes with at least 50 samples.*neutral 60"):
        select_classes(table, 50)


def test_bad_settings_are_refused(table):
    with pytest.raises(TrainingError, match="dropout must be in"):
        Recipe(dropout=1.0)
    for recipe in ({"learning_rate": float("nan")}, {"l2": float("nan")}, {"noise": float("inf")}):
        with pytest.raises(TrainingError, match="learning rate|l2 and noise"):
            Recipe(**recipe)
    with pytest.raises(TrainingError, match="fractions"):
        split_table(table, 0.5, 0.5, seed=0)
    with pytest.raises(TrainingError, match="too few samples or people"):
        split_table(make_table({"happy": 4, "sad": 4}, people=2), 0.2, 0.2, seed=0)


def test_class_weights():
    y = np.array([0] * 8 + [1] * 2)
    assert np.allclose(class_weights(y, 2, 0.0), 1)
    balanced = class_weights(y, 2, 1.0)
    assert balanced[1] / balanced[0] == pytest.approx(4) and balanced[y].mean() == pytest.approx(1)
    assert class_weights(y, 2, 0.5)[1] / class_weights(y, 2, 0.5)[0] == pytest.approx(2)


def test_replay_sample_is_class_balanced(table):
    replay = replay_sample(table, 40, seed=0)
    assert replay.counts() == {"angry": 36, "happy": 40, "neutral": 40, "sad": 36}
    assert len(set(replay.paths)) == len(replay)


def test_ctrl_c_keeps_the_best_epoch_so_far(monkeypatch):
    from landmark_emotion.training import callbacks

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 10)).astype(np.float32), np.arange(64) % 2
    epochs = []

    def interrupt_at_third(self, epoch, logs=None):
        epochs.append(epoch)
        if epoch == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(callbacks.EpochBar, "on_epoch_end", interrupt_at_third)
    fit = fit_network(x, y, x, y, 2, replace(TINY, epochs=50), progress=False)
    assert fit.interrupted and epochs == [0, 1, 2] and 1 <= fit.best_epoch <= 3
    best = int(np.argmin(fit.history["val_loss"]))
    assert best + 1 == fit.best_epoch


def with_copies(table: LandmarkTable, rows: np.ndarray) -> LandmarkTable:
    """``table`` and a copy of each of its ``rows`` (the same path and label, moved landmarks), marked augmented."""
    copies = table.subset(rows)
    copies.landmarks += 1e-3
    copies.augmented[:] = True
    return LandmarkTable.concatenate([table, copies])


def test_a_copy_trains_only_with_its_photo(table):
    rows = np.arange(0, len(table), 2)
    both = with_copies(table, rows)
    orphan = with_copies(table.subset(np.arange(1, len(table))), np.array([0]))  # row 0's photo is not there
    orphan.paths[-1] = "gone.jpg"
    split = split_with_copies(both, lambda photos: split_table(photos, 0.2, 0.2, seed=0))
    alone = split_table(table, 0.2, 0.2, seed=0)
    for part, expected in ((split.val, alone.val), (split.test, alone.test)):
        np.testing.assert_array_equal(part, expected)  # the photos are split as without copies
    trained_copies = np.intersect1d(split.train, both.copies())
    assert set(both.paths[trained_copies]) == set(table.paths[np.intersect1d(rows, alone.train)])
    assert len(trained_copies) == len(np.intersect1d(rows, alone.train)) > 0
    orphan_split = split_with_copies(orphan, lambda photos: split_table(photos, 0.2, 0.2, seed=0))
    assert len(orphan) - 1 not in np.concatenate([orphan_split.train, orphan_split.val, orphan_split.test])
    _, dropped = select_classes(with_copies(table, np.flatnonzero(table.labels == "sad")), 40)
    assert dropped == {"angry": 36, "sad": 36}  # copies do not make a class large enough


def test_identity_augmentation_moves_faces_by_differences_of_neutral_faces():
    z = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0], [7.0, 3.0]], np.float32)
    y = np.array([0, 0, 1, 2])
    out, labels = identity_augmented(z, y, neutral=0, alpha=0.5, seed=0)
    np.testing.assert_array_equal(out[:4], z)
    np.testing.assert_array_equal(labels, np.concatenate([y, y]))
    moves = out[4:] - z
    assert {tuple(m) for m in moves} <= {(0.0, 0.0), (0.5, 0.0), (-0.5, 0.0)}  # alpha (n_i - n_j), neutral rows only
    assert len({tuple(m) for m in moves}) > 1
    with pytest.raises(TrainingError, match="identity augmentation must be in"):
        Recipe(identity_augment=-1)
    with pytest.raises(TrainingError, match="needs at least two neutral faces"):
        train(make_table({"happy": 24, "sad": 24}, people=12), replace(TINY, identity_augment=1), min_class_count=10)


def test_training_moves_copies_of_its_faces_and_then_applies_the_priors(table, monkeypatch):
    """What the network is fitted on and what it becomes: identity augmentation doubles the training inputs
    (validation untouched), the class priors move the fitted network's last bias by log(factor)."""
    import landmark_emotion.training.base as base

    fitted: list[tuple[int, int, np.ndarray]] = []

    def spy(x_train, y_train, x_val, *args, **kwargs):
        fit = real(x_train, y_train, x_val, *args, **kwargs)
        fitted.append((len(x_train), len(x_val), fit.model.layers[-1].get_weights()[1].copy()))
        return fit

    real = base.fit_network
    monkeypatch.setattr(base, "fit_network", spy)
    quick = replace(TINY, epochs=2)
    train(table, quick, min_class_count=10, seed=0, progress=False)
    moved = train(
        table,
        replace(quick, identity_augment=0.5, class_priors=(("sad", 0.5), ("neutral", 2.0))),
        min_class_count=10,
        seed=0,
        progress=False,
    )
    (plain_rows, plain_val, _), (rows, val, bias) = fitted
    assert rows == 2 * plain_rows and val == plain_val
    factors = np.ones(len(moved.labels))
    factors[[moved.labels.index("sad"), moved.labels.index("neutral")]] = 0.5, 2.0
    np.testing.assert_allclose(moved.model.layers[-1].get_weights()[1], bias + np.log(factors), atol=1e-6)


def test_class_priors_multiply_the_probabilities(trained):
    import keras

    from landmark_emotion.training.base import apply_class_priors

    network = keras.models.clone_model(trained.model)
    network.set_weights(trained.model.get_weights())
    x = trained.preprocess.transform(trained.table.features()[:20])
    before = network.predict(x, verbose=0)
    apply_class_priors(network, trained.labels, [("sad", 0.5), ("neutral", 3.0)])
    expected = before * np.array([3.0, 1.0, 0.5, 1.0])  # labels: neutral, happy, sad, angry
    np.testing.assert_allclose(network.predict(x, verbose=0), expected / expected.sum(1, keepdims=True), atol=1e-5)
    with pytest.raises(TrainingError, match="class prior of surprise, which the model does not learn"):
        train(trained.table, replace(TINY, class_priors=(("surprise", 2.0),)), min_class_count=10)


def test_members_merge_into_one_network_of_their_mean_logits(trained):
    import keras

    from landmark_emotion.model.inference import predictor_from_keras, steps_from_keras
    from landmark_emotion.training.personal import base_logits

    recipe = replace(TINY, hidden=(8, 4))
    members = [build_member(recipe, trained.model.input_shape[1], len(trained.labels), seed) for seed in (1, 2, 3)]
    merged = merge_networks(members, recipe)
    assert [layer.units for layer in merged.layers if isinstance(layer, keras.layers.Dense)] == [24, 12, 4]
    x = trained.preprocess.transform(trained.table.features()[:20])
    logits = np.mean([base_logits(steps_from_keras(m), x) for m in members], axis=0)
    expected = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(merged.predict(x, verbose=0), expected / expected.sum(1, keepdims=True), atol=1e-5)
    pre = trained.preprocess
    engine = predictor_from_keras(merged, trained.labels, pre.mean, pre.scale, pre.components, trained.feature_set)
    probabilities = engine.predict_proba(trained.table.features()[:20])
    np.testing.assert_allclose(probabilities, merged.predict(x, verbose=0), atol=1e-5)


def build_member(recipe: Recipe, n_inputs: int, n_classes: int, seed: int):
    import keras

    from landmark_emotion.training.base import build_mlp

    keras.utils.set_random_seed(seed)
    return build_mlp(n_inputs, n_classes, recipe)


@pytest.mark.slow
def test_a_recipe_of_members_trains_each_with_its_own_seed(table, trained, monkeypatch):
    import landmark_emotion.training.base as base

    seeds: list[int] = []
    fit = base.fit_network

    def recording(*args, **kwargs):
        seeds.append(args[6])
        return fit(*args, **kwargs)

    monkeypatch.setattr(base, "fit_network", recording)
    ensemble = train(table, replace(TINY, epochs=3, members=3), min_class_count=10, seed=3, progress=False)
    assert seeds == [3, 4, 5] and ensemble.fit.members == 3
    assert ensemble.model.layers[0].units == 3 * TINY.hidden[0]
    with pytest.raises(TrainingError, match="member networks"):
        Recipe(members=0)

    def stopped_in_the_second(*args, **kwargs):  # Ctrl-C before the second member's first epoch ended
        if seeds:
            raise KeyboardInterrupt
        seeds.append(args[6])
        return fit(*args, **kwargs)

    seeds.clear()
    monkeypatch.setattr(base, "fit_network", stopped_in_the_second)
    kept = train(table, replace(TINY, epochs=3, members=3), min_class_count=10, seed=3, progress=False)
    assert kept.fit.members == 1 and kept.fit.interrupted and kept.model.layers[0].units == TINY.hidden[0]


def test_train_model_trains_copies_and_identity_augmentation_and_keeps_photos_only(tmp_path, table):
    from landmark_emotion.commands import train_model
    from landmark_emotion.data.table import save_table
    from landmark_emotion.model.bundle import load_bundle
    from landmark_emotion.training.base import population_neutral

    save_table(with_copies(table, np.arange(len(table))), tmp_path / "t.npz")
    args = ["--data", str(tmp_path / "t.npz"), "--out", str(tmp_path / "m"), "--hidden", "32", "--epochs", "3"]
    args += ["--identity-augment", "0.5", "--class-prior", "sad=0.5", "--min-class-count", "10", "--no-progress"]
    assert train_model.main(args) == 0
    bundle = load_bundle(tmp_path / "m")
    assert bundle.info["train_args"]["identity_augment"] == 0.5
    assert bundle.info["train_args"]["recipe"]["identity_augment"] == 0.5
    assert bundle.info["train_args"]["recipe"]["class_priors"] == [["sad", 0.5]]
    split = split_table(table, 0.15, 0.15, seed=0)
    trained = table.subset(split.train)
    assert bundle.info["train_counts"] == trained.counts() and bundle.info["augmented_copies"] == len(split.train)
    assert bundle.metrics["split"]["test"] == len(split.test)
    replay = bundle.replay_table()
    assert replay is not None and not replay.augmented.any() and set(replay.paths) <= set(trained.paths)
    np.testing.assert_allclose(bundle.references.population, population_neutral(trained).population, rtol=1e-5)


def test_tflite_export_reproduces_a_small_network_and_refuses_what_it_cannot_convert():
    """The export path of ``--export tflite`` on a network small enough for the fast tier."""
    import keras

    from landmark_emotion.training.export import ExportError, run_tflite, to_tflite

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(3)])
    x = np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32)
    flatbuffer, difference = to_tflite(model, x)
    assert difference < 1e-4
    again = run_tflite(flatbuffer, x[:2])  # the interpreter takes any batch size
    np.testing.assert_allclose(again, np.asarray(model(x[:2], training=False)), atol=1e-4)
    assert np.abs(again).max() > 1e-3  # a real output, not zeros
    with pytest.raises(ExportError, match="TFLite conversion failed"):
        to_tflite(object(), x)
