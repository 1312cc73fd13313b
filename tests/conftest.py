"""Shared fixtures: an isolated runs folder and environment per test, real MRPC files, a tiny random BERT."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_MRPC = REPO.parent / "shared" / "data" / "mrpc"
SAMPLE = REPO / "assets" / "sample"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One finetune cache (ONNX exports) for the whole session: exporting the same model twice would only cost time."""
    return tmp_path_factory.mktemp("finetune-cache")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch, cache_dir):
    """Each test gets its own runs folder and never touches the user's caches or the network; the processes it starts
    compute on one thread (the tests' models are tiny: on a busy machine a second thread costs more than it gives)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("FINETUNE_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("FINETUNE_CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    # huggingface_hub read HF_HOME when first imported: the token `hf auth login` saved is looked for here, not there.
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "hf-home" / "token"))


@pytest.fixture
def mrpc_dir() -> Path:
    if not (SHARED_MRPC / "msr_paraphrase_train.txt").is_file():
        pytest.skip(f"real MRPC files not found in {SHARED_MRPC}")
    return SHARED_MRPC


def _words() -> list[str]:
    text = " ".join(json.loads(line)[key] for f in SAMPLE.glob("*.jsonl")
                    for line in f.read_text().splitlines() for key in ("sentence1", "sentence2"))
    return sorted(set(re.findall(r"[a-z]+|[0-9]|[^\sa-z0-9]", text.lower())))


def _save_tiny(folder: Path, tokenizer_class, model_class, config) -> Path:
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *_words()]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer_class(vocab=str(folder / "vocab.txt")).save_pretrained(folder)
    config.vocab_size = len(vocab)
    model_class(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A 2-layer random BERT with a hand-made vocabulary: fast where real weights add nothing."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=128, num_labels=2)
    return _save_tiny(tmp_path_factory.mktemp("tiny-bert"), BertTokenizer, BertForSequenceClassification, config)


@pytest.fixture(scope="session")
def tiny_distilbert(tmp_path_factory) -> Path:
    """A random DistilBERT: its tokenizer makes no token_type_ids."""
    from transformers import (
        DistilBertConfig,
        DistilBertForSequenceClassification,
        DistilBertTokenizer,
    )

    config = DistilBertConfig(dim=32, n_layers=1, n_heads=2, hidden_dim=64, max_position_embeddings=128)
    return _save_tiny(tmp_path_factory.mktemp("tiny-distilbert"), DistilBertTokenizer,
                      DistilBertForSequenceClassification, config)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_bert) -> Path:
    """A finished run of the tiny BERT (in-process, seconds); copy it into a test's runs folder to list it there."""
    from finetune.config import RunConfig
    from finetune.train import train

    run_dir = tmp_path_factory.mktemp("finished") / "20260101-000000-tiny-bert"
    train(RunConfig.from_preset("default", model=str(tiny_bert), data="sample", epochs=2, batch_size=16,
                                learning_rate=1e-3, logging_steps=5, precision="fp32", max_train_samples=64,
                                max_eval_samples=48), run_dir)
    return run_dir


@pytest.fixture(scope="session")
def sentiment_run(tmp_path_factory, tiny_bert) -> Path:
    """A finished run of the tiny BERT on the bundled sentiment sample: one sentence, three labels (seconds)."""
    from finetune.config import RunConfig
    from finetune.train import train

    run_dir = tmp_path_factory.mktemp("finished-sentiment") / "20260101-000000-sentiment"
    train(RunConfig.from_preset("default", model=str(tiny_bert), data="sentiment-sample", epochs=1, batch_size=16,
                                learning_rate=1e-3, logging_steps=5, precision="fp32", max_train_samples=96), run_dir)
    return run_dir


@pytest.fixture(scope="session")
def score_run(tmp_path_factory, tiny_bert) -> Path:
    """A finished run of the tiny BERT that predicts a score for sentence pairs (regression)."""
    import csv

    from finetune.config import RunConfig
    from finetune.train import train

    folder = tmp_path_factory.mktemp("scores")
    with open(folder / "scores.csv", "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["sentence1", "sentence2", "score"])
        writer.writerows((f"the cat {i} .", f"a dog {i} .", round(i % 11 / 2, 2)) for i in range(60))
    run_dir = folder / "20260101-000000-scores"
    train(RunConfig.from_preset("default", model=str(tiny_bert), data=str(folder / "scores.csv"), epochs=1,
                                batch_size=16, learning_rate=1e-3, logging_steps=5, precision="fp32"), run_dir)
    return run_dir


@pytest.fixture(scope="session")
def bundled_run(tmp_path_factory) -> Path:
    """A finished run of the bundled MiniLM after two tiny steps: real weights, still answering like the base model
    (close calls that small edits flip), which the explain views' tests need; a real training would take minutes."""
    from finetune.config import RunConfig
    from finetune.train import train

    run_dir = tmp_path_factory.mktemp("finished-bundled") / "20260101-000000-bundled"
    train(RunConfig.from_preset("default", model="bundled", data="sample", epochs=1, batch_size=16, learning_rate=1e-6,
                                logging_steps=1, precision="fp32", max_train_samples=32, max_eval_samples=48), run_dir)
    return run_dir


@pytest.fixture
def listed_run(tiny_run) -> Path:
    """The tiny run copied into this test's runs folder, as the app would list it."""
    import shutil

    from finetune import runs

    target = runs.runs_dir() / tiny_run.name
    shutil.copytree(tiny_run, target)
    return target


def wait_for(run_dir: Path, predicate, seconds: float = 120, log_lines: int = 20):
    """Poll status_of(run_dir) until predicate(status) holds; fail with the run's last output after `seconds`."""
    import time

    from finetune import runs
    from finetune.status import status_of

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        summary = status_of(run_dir)
        if predicate(summary):
            return summary
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting: {status_of(run_dir)}\n{runs.log_tail(run_dir, log_lines)}")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch_app(home: Path, models: Path, **extra_env):
    """`python app.py` as a user starts it, on a free port, with its own runs, data and upload folders under `home`,
    offline, `extra_env` on top; returns the process and its URL once it answers. The page may load models from
    `models` (the tests' tiny ones). One training runs at a time, whatever the machine's GPUs."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    port = _free_port()
    env = {**os.environ, "FINETUNE_RUNS_DIR": str(home / "runs"), "GRADIO_SERVER_PORT": str(port),
           "HF_HUB_OFFLINE": "1",
           "FINETUNE_MAX_JOBS": "1",  # one training at a time, GPUs or not: the queue tests count on it
           "HF_HOME": str(home / "hf-home"), "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": "1",
           # The tests' own models (tiny_bert) may be loaded from the page; uploads stay in this test's folder.
           "FINETUNE_MODEL_DIRS": str(models), "GRADIO_TEMP_DIR": str(home / "uploads"),
           "FINETUNE_DATA_DIRS": str(home / "data"), "FINETUNE_CACHE_DIR": str(home / "cache")}
    env.pop("HF_TOKEN", None)
    env.update(extra_env)
    (home / "data").mkdir(exist_ok=True)
    with open(home / "server.log", "ab") as log:  # appended: a restarted app keeps the first one's log
        server = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return server, url
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"the app did not start:\n{(home / 'server.log').read_text()[-3000:]}") from None
            time.sleep(0.3)


def follow(client, run: str, until, seconds: float = 240, api_name: str = "/status") -> dict:
    """Poll the app's /status for `run` (or /sweep_status for a sweep) until `until(status)` holds; fail the test
    after `seconds`."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = client.predict(run, api_name=api_name)
        if until(status):
            return status
        time.sleep(0.2)
    raise AssertionError(f"gave up: {client.predict(run, api_name=api_name)}")


def kill_live_trainings(runs_dir: Path) -> None:
    """Trainings run in their own sessions: end any still alive (their app watcher would stop them, a second later)."""
    import os
    import signal

    from finetune import runs
    from finetune.status import status_of

    for run_dir in runs.list_runs(runs_dir):
        if status_of(run_dir).state in runs.LIVE:
            os.kill(int((run_dir / runs.PID_FILE).read_text()), signal.SIGKILL)


def serve_app(home: Path, models: Path, **extra_env):
    """launch_app as a generator for fixtures: yields the app's folders and process, then stops it and its trainings."""
    from types import SimpleNamespace

    server, url = launch_app(home, models, **extra_env)
    yield SimpleNamespace(url=url, runs_dir=home / "runs", log=home / "server.log", uploads=home / "uploads",
                          data=home / "data", home=home, process=server)
    server.terminate()
    server.wait(timeout=30)
    kill_live_trainings(home / "runs")


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """The app as `python app.py` serves it (see serve_app), one per test module."""
    yield from serve_app(tmp_path_factory.mktemp("app"), tmp_path_factory.getbasetemp())


@pytest.fixture
def hub_offline_and_uncached(monkeypatch, tmp_path):
    """No network and an empty Hub cache, as on this machine with a fresh cache."""
    import datasets
    import huggingface_hub.constants

    from finetune import hub

    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # restored afterwards, unlike the switch use_cache_when_offline flips
    for module, name in [(datasets.config, "HF_HUB_OFFLINE"), (datasets.config, "HF_DATASETS_OFFLINE"),
                         (huggingface_hub.constants, "HF_HUB_OFFLINE")]:
        monkeypatch.setattr(module, name, getattr(module, name))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
