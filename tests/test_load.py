"""A class on one app: questions asked at once are answered together, each with its own answer or its own error;
thirty Playground clients for a minute while a training runs are all answered or refused as "queue full", none hangs,
none gets a server error. Prints the figures (no timed assertions)."""
import importlib.util
import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import REPO
from gradio_client import Client
from gradio_client.exceptions import AppError

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


def outcome(job):
    """A submitted call's answer, or its error's message."""
    try:
        return job.result()
    except AppError as err:
        return f"error: {err}"


def test_questions_asked_at_once_get_their_own_answers_and_a_bad_one_only_its_own_error(server, tiny_run):
    bench, api = load_bench(), Client(server.url, verbose=False)
    pairs = bench.PAIRS * 6
    alone = [api.predict(*pair, tiny_run.name, api_name="/predict") for pair in bench.PAIRS]
    calls = [(*pair, tiny_run.name) for pair in pairs] + [("", "A cat sat.", tiny_run.name),
                                                           ("The cat sat.", "A cat sat.", "no-such-run")]

    jobs = [api.submit(*call, api_name="/predict") for call in calls]  # all in flight at once
    together = [outcome(job) for job in jobs]

    for pair, answer in zip(pairs, together, strict=False):
        expected = alone[bench.PAIRS.index(pair)]
        assert answer["label"] == expected["label"], (pair, answer, expected)
        assert [c["confidence"] for c in answer["confidences"]] == pytest.approx(
            [c["confidence"] for c in expected["confidences"]], abs=1e-3)
    assert together[-2] == "error: sentence1 is empty: type both sentences"
    assert together[-1].startswith("error: no run named 'no-such-run'")


def test_the_playgrounds_button_pressed_at_once_answers_each_page_and_refuses_only_the_empty_one(server, tiny_run):
    bench = load_bench()
    button = bench.endpoints(server.url)["ask"]
    asks = [[tiny_run.name, *pair] for pair in bench.PAIRS * 5] + [[tiny_run.name, "The cat sat.", "  "]]

    def press(data):
        with bench.httpx.Client(base_url=server.url, timeout=120) as http:
            return bench.ask(http, button, data, timeout=120)

    with ThreadPoolExecutor(len(asks)) as pool:
        outcomes = list(pool.map(press, asks))

    assert outcomes[:-1] == [("answered", "")] * (len(asks) - 1)
    assert outcomes[-1] == ("failed", "sentence2 is empty: type both sentences")


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
