"""Running as a Hugging Face Space: the README's front matter, host and port from Gradio's variables, /data/runs."""
import importlib.metadata
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml
from conftest import REPO

from finetune import runs

VENV = "python -m venv .venv && . .venv/bin/activate && "
SETUP = [VENV + "pip install -r requirements.txt && python app.py",
         VENV + "pip install -r requirements-dev.txt && python -m pytest -q"]


def _front_matter_and_body() -> tuple[dict, str]:
    text = (REPO / "README.md").read_text()
    assert text.startswith("---\n"), "the Space's configuration must open the README"
    _, front, body = text.split("---\n", 2)
    return yaml.safe_load(front), body


def test_front_matter_configures_a_gradio_space_on_the_installed_gradio():
    meta, _ = _front_matter_and_body()
    assert {"title", "emoji", "colorFrom", "colorTo", "sdk", "sdk_version", "app_file", "python_version",
            "short_description", "pinned"} <= set(meta)
    assert meta["sdk"] == "gradio" and meta["sdk_version"] == importlib.metadata.version("gradio")
    assert (REPO / meta["app_file"]).is_file()
    assert isinstance(meta["python_version"], str)  # quoted: an unquoted 3.10 would read as 3.1
    assert tuple(map(int, meta["python_version"].split("."))) >= (3, 11)
    colors = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
    assert meta["colorFrom"] in colors and meta["colorTo"] in colors
    assert len(meta["short_description"]) <= 60 and meta["pinned"] is False


def test_the_readme_still_opens_with_the_two_setup_commands():
    _, body = _front_matter_and_body()
    lines = [line for line in body.splitlines() if line.strip()]
    assert lines[:5] == ["# finetune", "```bash", *SETUP, "```"]


def test_app_py_hard_codes_no_host_or_port():
    source = (REPO / "app.py").read_text()
    assert "server_port" not in source and "server_name" not in source and "7860" not in source


def test_the_app_serves_on_the_host_and_port_gradio_variables_name(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "FINETUNE_RUNS_DIR": str(tmp_path / "runs"), "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(tmp_path / "server.log", "wb") as log:
        server = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read().decode()
                break
            except OSError:
                log = (tmp_path / "server.log").read_text()[-3000:]
                assert server.poll() is None and time.monotonic() < deadline, log
                time.sleep(0.3)
        assert "finetune" in page
        assert f"http://127.0.0.1:{port}" in (tmp_path / "server.log").read_text()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_on_a_space_with_persistent_storage_runs_go_to_data_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("FINETUNE_RUNS_DIR")
    monkeypatch.setattr(runs, "SPACE_STORAGE", tmp_path)
    assert runs.runs_dir() == Path("runs")  # not a Space
    monkeypatch.setenv("SPACE_ID", "someone/finetune")
    assert runs.runs_dir() == tmp_path / "runs"
    monkeypatch.setattr(runs, "SPACE_STORAGE", tmp_path / "absent")  # a Space without persistent storage
    assert runs.runs_dir() == Path("runs")
    monkeypatch.setenv("FINETUNE_RUNS_DIR", str(tmp_path / "mine"))  # the variable always wins
    assert runs.runs_dir() == tmp_path / "mine"


def test_on_a_space_the_hugging_face_cache_goes_to_persistent_storage_and_the_page_warns_without_it(
        tmp_path, monkeypatch):
    import gradio as gr

    from finetune import space
    from finetune.ui.app import build_app

    monkeypatch.delenv("FINETUNE_RUNS_DIR")
    monkeypatch.delenv("HF_HOME", raising=False)
    monkeypatch.setattr(runs, "SPACE_STORAGE", tmp_path)
    assert space.keep_cache_on_storage() is None and "HF_HOME" not in os.environ  # not a Space
    monkeypatch.setenv("SPACE_ID", "someone/finetune")
    assert space.keep_cache_on_storage() == tmp_path / ".huggingface" == Path(os.environ["HF_HOME"])
    assert space.storage_warning() is None
    monkeypatch.setenv("HF_HOME", str(tmp_path / "operators"))  # the operator's choice stands
    assert space.keep_cache_on_storage() is None and os.environ["HF_HOME"] == str(tmp_path / "operators")

    monkeypatch.setattr(runs, "SPACE_STORAGE", tmp_path / "absent")  # no persistent storage: runs would be wiped
    assert "no persistent storage" in space.storage_warning()

    def warnings(app):
        return [b.value for b in app.blocks.values() if isinstance(b, gr.Markdown) and b.elem_id == "storage-warning"]

    assert len(warnings(build_app())) == 1
    monkeypatch.setenv("FINETUNE_RUNS_DIR", str(tmp_path / "mine"))  # the operator chose where runs go
    assert space.storage_warning() is None and warnings(build_app()) == []
    monkeypatch.delenv("SPACE_ID")
    assert warnings(build_app()) == []
