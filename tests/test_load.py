"""A class on one app: thirty Playground clients for a minute while a training runs; every request is answered or
refused as "queue full", none hangs, none gets a server error. Prints the figures (no timed assertions)."""
import importlib.util
import json
import shutil
import time

import pytest
from conftest import REPO
from gradio_client import Client

CLIENTS, SECONDS = 30, 60


def load_bench():
    spec = importlib.util.spec_from_file_location("load_bench", REPO / "bench" / "load_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def server(app_server, tiny_run):
    shutil.copytree(tiny_run, app_server.runs_dir / tiny_run.name)
    return app_server


def test_thirty_clients_for_a_minute_during_a_training_are_all_answered_or_refused(server, tiny_run, tiny_bert):
    api = Client(server.url, verbose=False)
    started = api.predict(str(tiny_bert), "sample", "default",
                           {"epochs": 30, "batch_size": 1, "max_train_samples": 200, "logging_steps": 5,
                            "precision": "fp32"}, api_name="/train")
    training = started["run"]
    deadline = time.monotonic() + 120
    while api.predict(training, api_name="/status")["state"] != "running" and time.monotonic() < deadline:
        time.sleep(0.5)
    before = api.predict(training, api_name="/status")

    figures = load_bench().load(server.url, tiny_run.name, clients=CLIENTS, seconds=SECONDS, timeout=60)

    after = api.predict(training, api_name="/status")
    figures["training_steps_during_load"] = after["step"] - before["step"]
    print("\n" + json.dumps(figures, indent=2))
    assert before["state"] == "running" and after["state"] in ("running", "finished"), after
    assert figures["clients_still_waiting"] == 0 and figures["hung"] == 0
    assert figures["server_error"] == 0 and figures["failed"] == 0
    assert figures["answered"] + figures["refused"] == figures["requests"] and figures["answered"] >= CLIENTS
    assert after["step"] > before["step"]  # the training went on under the load
    if api.predict(training, api_name="/status")["state"] == "running":
        api.predict(training, started["owner"], api_name="/stop")
    assert api.predict(*("The cat sat.", "A cat sat."), tiny_run.name, api_name="/predict")["label"]
