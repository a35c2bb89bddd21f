"""YOLO-format datasets (AffectNet's common upload): labels from label files, splits kept, bad labels skipped."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from landmark_emotion.commands import extract_landmarks
from landmark_emotion.data.sources import DatasetError, from_data_dir, is_yolo_dataset
from landmark_emotion.data.table import load_table
from landmark_emotion.training.base import Recipe, dataset_split, has_dataset_splits, train
from synthetic_faces import make_table

NAMES = '["Anger", "Contempt", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise"]'


def _image(folder: Path, name: str, image: np.ndarray, label: str | None) -> None:
    """A 96x96 crop as AffectNet has them (JPEG data under a .png name), with its label file."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "labels").mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".jpg", cv2.resize(image, (96, 96), interpolation=cv2.INTER_AREA))
    (folder / "images" / name).write_bytes(data.tobytes())
    if label is not None:
        (folder / "labels" / Path(name).with_suffix(".txt")).write_text(label)


@pytest.fixture()
def yolo(tmp_path, astronaut) -> Path:
    root = tmp_path / "YOLO_format"
    root.mkdir()
    (root / "data.yaml").write_text(f"train: x/train/images\nval: x/valid/images\nnc: 8\nnames:\n  {NAMES}\n")
    face = astronaut[40:330, 120:380]  # the face filling the crop edge to edge, as in AffectNet
    _image(root / "train", "a.png", face, "4 0.5 0.5 1 1")  # happy
    _image(root / "train", "b.png", face[:, ::-1], "0 0.5 0.5 1 1")  # Anger -> angry
    _image(root / "train", "missing.png", face, None)
    _image(root / "train", "empty.png", face, "")
    _image(root / "valid", "c.png", face, "5 0.499 0.499 0.999 0.999")  # neutral
    _image(root / "valid", "unknown.png", face, "9 0.5 0.5 1 1")
    _image(root / "test", "d.png", face, "1")  # contempt
    _image(root / "test", "words.png", face, "happy 0.5")
    return root


def test_reader_takes_labels_from_label_files_and_keeps_splits(yolo):
    assert is_yolo_dataset(yolo)
    items, skipped = from_data_dir(yolo)
    got = {Path(i.path).name: (i.label, i.split) for i in items}
    assert got == {
        "a.png": ("happy", "train"),
        "b.png": ("angry", "train"),
        "c.png": ("neutral", "valid"),
        "d.png": ("contempt", "test"),
    }
    reasons = {Path(p).name: r for p, r in skipped}
    assert reasons["missing.png"] == "missing label file"
    assert reasons["empty.png"] == "empty label file"
    assert reasons["unknown.png"].startswith("unknown class id 9")
    assert "not a class id" in reasons["words.png"]


def test_names_as_a_mapping_and_unknown_names(tmp_path, astronaut):
    root = tmp_path / "y"
    _image(root / "train", "a.png", astronaut, "1")
    (root / "data.yaml").write_text("names:\n  0: sadness\n  1: Happiness\n")
    items, _ = from_data_dir(root)
    assert [i.label for i in items] == ["happy"]
    (root / "data.yaml").write_text("names: [joy, Sad]\n")
    with pytest.raises(DatasetError, match="unknown emotion label.*joy"):
        from_data_dir(root)
    (root / "data.yaml").write_text("nc: 2\n")
    with pytest.raises(DatasetError, match="no class 'names'"):
        from_data_dir(root)


def test_extraction_records_splits_descriptors_and_skipped_labels(yolo, tmp_path, capsys):
    out = tmp_path / "t.npz"
    code = extract_landmarks.main(["--data-dir", str(yolo), "--out", str(out), "--workers", "1", "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 0
    table = load_table(out)
    assert sorted(zip(table.labels.tolist(), table.splits.tolist())) == [
        ("angry", "train"),
        ("contempt", "test"),
        ("happy", "train"),
        ("neutral", "valid"),
    ]
    assert table.descriptors is not None and table.descriptors.shape[0] == 4
    assert table.meta["min_side"] == 128 and table.meta["appearance_version"]
    assert "missing label file" in printed and "empty label file" in printed
    skipped = {Path(s["path"]).name for s in table.meta["skipped"]}
    assert skipped == {"missing.png", "empty.png", "unknown.png", "words.png"}


def test_landmarks_only_extraction_keeps_no_appearance(yolo, tmp_path):
    out = tmp_path / "t.npz"
    assert (
        extract_landmarks.main(
            ["--data-dir", str(yolo), "--out", str(out), "--workers", "1", "--no-progress", "--features", "landmarks"]
        )
        == 0
    )
    assert load_table(out).descriptors is None


def _with_splits(table, seed=0):
    rng = np.random.default_rng(seed)
    table.splits = rng.choice(["train", "train", "train", "valid", "test"], len(table))
    return table


@pytest.mark.slow
def test_dataset_splits_are_kept_and_test_is_only_reported():
    table = _with_splits(make_table({"neutral": 60, "happy": 60, "sad": 60}, people=12))
    assert has_dataset_splits(table)
    split = dataset_split(table)
    assert split.dataset and not split.group_disjoint
    for part, name in ((split.train, "train"), (split.val, "valid"), (split.test, "test")):
        assert set(table.splits[part]) == {name}
    recipe = Recipe(hidden=(16,), epochs=3, patience=2)
    result = train(table, recipe, seed=0, progress=False)
    np.testing.assert_array_equal(result.split.test, np.flatnonzero(table.splits == "test"))
    # nothing is chosen on test: scrambling the test faces' labels changes nothing in the trained model
    scrambled = table.subset(np.arange(len(table)))
    test = scrambled.splits == "test"
    scrambled.labels[test] = np.random.default_rng(1).permutation(scrambled.labels[test])
    again = train(scrambled, recipe, seed=0, progress=False)
    for a, b in zip(result.model.get_weights(), again.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_splits_without_valid_fall_back_to_a_held_out_split():
    table = make_table({"neutral": 40, "happy": 40}, people=8)
    table.splits = np.where(np.arange(len(table)) % 4 == 0, "test", "train")
    assert not has_dataset_splits(table)


def test_evaluate_scores_one_split(tmp_path):
    from landmark_emotion.commands import evaluate
    from landmark_emotion.data.table import save_table

    table = _with_splits(make_table({"neutral": 30, "happy": 30}, people=6))
    data = save_table(table, tmp_path / "t.npz")
    out = tmp_path / "scores.json"
    assert (
        evaluate.main(
            [
                "--model",
                str(Path(__file__).resolve().parent.parent / "models" / "facial_expressions"),
                "--data",
                str(data),
                "--split",
                "test",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    import json

    assert json.loads(out.read_text())["n"] == int(np.sum(table.splits == "test"))
