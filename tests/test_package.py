"""The installed package: its console commands, and the files it needs found from any working directory.

CI installs the project as the README tells users to (``pip install ".[test]"``, not
editable), so these tests fail there when a command, a dependency or a package-data file
is missing from the distribution.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import cv2
import pytest

from landmark_emotion import resources
from landmark_emotion.cli import launch
from landmark_emotion.model import discovery
from landmark_emotion.model.discovery import MODELS_ENV, ModelNotFoundError, find_default_model

COMMANDS = ["extract", "train", "evaluate", "record", "fine-tune", "demo", "web"]
SCRIPTS = Path(sysconfig.get_path("scripts"))


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in (MODELS_ENV, "PYTHONPATH")}


@pytest.mark.slow
def test_every_command_runs_from_another_directory(tmp_path):
    running = {
        name: subprocess.Popen(
            [str(SCRIPTS / f"landmark-emotion-{name}"), "--help"],
            cwd=tmp_path,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in COMMANDS
    }
    for name, process in running.items():
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        assert out.startswith(f"usage: landmark-emotion-{name} ")


@pytest.mark.slow
def test_the_demo_command_reads_a_photo_with_the_default_model(tmp_path, astronaut):
    (tmp_path / "photos").mkdir()
    cv2.imwrite(str(tmp_path / "photos" / "a.jpg"), astronaut)
    result = subprocess.run(
        [str(SCRIPTS / "landmark-emotion-demo"), "--source", "photos", "--no-display", "--log", "log.jsonl"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("model: ")
    (face,) = json.loads((tmp_path / "log.jsonl").read_text().splitlines()[0])["faces"]
    assert face["label"] == "happy"  # the shipped model's reading of the astronaut's smile


def test_the_files_it_needs_are_found_from_another_directory(tmp_path):
    code = (
        "from landmark_emotion import resources\n"
        "from landmark_emotion.apps import web\n"
        "from landmark_emotion.face import landmarker\n"
        "from landmark_emotion.model import discovery\n"
        "from landmark_emotion.model.bundle import load_bundle\n"
        "print(len(load_bundle(discovery.find_default_model()).labels))\n"
        "print(all(p.is_file() for p in (resources.SAMPLE_CLIP, landmarker.TASK_FILE, web.STATIC / 'index.html')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=300
    )
    assert result.stdout.split() == ["8", "True"], result.stderr


def test_a_command_without_its_extra_says_which_to_install(monkeypatch, capsys):
    monkeypatch.setattr(launch, "quiet_startup", lambda: None)  # leave this process's signal handlers alone
    for name in ("anyio", "starlette"):  # as if the web extra was not installed
        monkeypatch.setitem(sys.modules, name, None)
    for name in ("landmark_emotion.apps.web", "landmark_emotion.commands.web"):  # imported anew
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert launch.web() == 2
    assert re.fullmatch(
        r"error: (anyio|starlette) is not installed; this command needs: "
        r'pip install "landmark-emotion\[web\]"\n',
        capsys.readouterr().err,
    )


def bundle(folder: Path, kind: str, created: str = "2026-01-01") -> Path:
    folder.mkdir(parents=True)
    (folder / "bundle.json").write_text(json.dumps({"kind": kind, "created": created}))
    return folder


@pytest.fixture()
def installed(tmp_path, monkeypatch) -> Path:
    """As if installed and run from an empty working directory; returns the package's shipped models."""
    shipped = tmp_path / "site-packages" / "shipped"
    monkeypatch.setattr(resources, "CHECKOUT", None)
    monkeypatch.setattr(discovery, "SHIPPED_MODELS", shipped)
    monkeypatch.delenv(MODELS_ENV, raising=False)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    return shipped


def test_search_order_env_then_workspace_then_shipped(installed, tmp_path, monkeypatch):
    bundle(installed / "default", "base")
    assert find_default_model() == installed / "default"
    mine = bundle(tmp_path / "work" / "models" / "personal", "personal")  # written by landmark-emotion-fine-tune here
    assert find_default_model() == mine
    assert find_default_model(personal=False) == installed / "default"  # fine-tuning's base
    monkeypatch.setenv(MODELS_ENV, str(tmp_path / "mine"))
    assert find_default_model() == mine  # an empty or missing folder does not stop the search
    other = bundle(tmp_path / "mine" / "default", "base")
    assert find_default_model() == other


def test_no_bundle_anywhere_names_every_place_looked(installed, tmp_path, monkeypatch):
    monkeypatch.setenv(MODELS_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(ModelNotFoundError) as caught:
        find_default_model()
    message = str(caught.value)
    places = [tmp_path / "nowhere", tmp_path / "work" / "models", installed]
    assert all(f"{place} (missing)" in message for place in places) and MODELS_ENV in message
