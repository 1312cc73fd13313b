"""The app through gradio_client, as a script would use it: predict, tokenize, train followed to the end, stop."""
import time

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError


@pytest.fixture(scope="module")
def client(app_server):
    return Client(app_server.url, verbose=False)


def tiny_settings(**overrides):
    return {"epochs": 2, "batch_size": 16, "learning_rate": 1e-3, "logging_steps": 2, "precision": "fp32",
            "max_train_samples": 64, "max_eval_samples": 32, **overrides}


def follow(client, run, until, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = client.predict(run, api_name="/status")
        if until(status):
            return status
        time.sleep(0.2)
    raise AssertionError(f"gave up: {client.predict(run, api_name='/status')}")


def test_the_api_names_are_the_documented_ones(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/predict", "/tokenize", "/train", "/status", "/stop", "/resume", "/runs"} <= names


def test_predict_before_any_run_says_how_to_get_one(client):
    with pytest.raises(AppError, match="python -m finetune train --preset demo"):
        client.predict("The cat sat.", "A cat sat.", api_name="/predict")


def test_tokenize_answers_tokens_and_the_three_id_lists(client):
    view = client.predict("He left.", "She stayed.", api_name="/tokenize")
    assert view["tokens"] == ["[CLS]", "he", "left", ".", "[SEP]", "she", "stayed", ".", "[SEP]"]
    assert view["token_type_ids"] == [0] * 5 + [1] * 4 and view["attention_mask"] == [1] * 9
    assert len(view["input_ids"]) == 9 and view["input_ids"][0] == 101


@pytest.mark.parametrize("call, words", [
    (dict(settings={"learning_rate": 0}), "learning rate must be between 0 and 1"),
    (dict(settings={"learning_rat": 1e-4}), "unknown setting"),
    (dict(preset="fastest"), "unknown preset"),
    (dict(model="/no/such/model"), "not one this app loads"),
    (dict(model="/etc"), "not one this app loads"),
    (dict(data="/etc/passwd"), "not one this app serves"),
])
def test_bad_settings_are_refused_with_their_reason(client, call, words):
    with pytest.raises(AppError, match=words):
        client.predict(**call, api_name="/train")


def test_an_unknown_run_is_named_in_the_error(client):
    with pytest.raises(AppError, match="no run named 'nope'"):
        client.predict("nope", api_name="/status")


def test_a_training_is_followed_to_the_end_and_then_answers(client, tiny_bert):
    run = client.predict(str(tiny_bert), "sample", "default", tiny_settings(), api_name="/train")
    assert tiny_bert.name in run
    seen = follow(client, run, lambda s: s["state"] == "running" or s["state"] == "finished")
    assert seen["model"] == str(tiny_bert) and seen["data"] == "sample"
    final = follow(client, run, lambda s: s["state"] not in {"starting", "running"})
    assert final["state"] == "finished", final
    assert final["step"] == final["max_steps"] == 8 and final["epoch"] == 2 and final["loss"] > 0
    assert final["metrics"]["n"] == 32 and [round(e["epoch"]) for e in final["evaluations"]] == [1, 2]
    assert run in [r["run"] for r in client.predict(api_name="/runs")]

    answer = client.predict("The cat sat on the mat.", "A cat was sitting on the mat.", run, api_name="/predict")
    assert answer["label"] in {"equivalent", "not_equivalent"}
    confidences = {c["label"]: c["confidence"] for c in answer["confidences"]}
    assert set(confidences) == {"equivalent", "not_equivalent"} and sum(confidences.values()) == pytest.approx(1)
    assert answer["label"] == max(confidences, key=confidences.get)
    assert client.predict("The cat sat on the mat.", "A cat was sitting on the mat.", api_name="/predict") == answer


def test_a_running_training_stops_and_resumes(client, tiny_bert):
    run = client.predict(str(tiny_bert), "sample", "default",
                         tiny_settings(epochs=30, batch_size=1, max_train_samples=None, logging_steps=5), api_name="/train")
    running = follow(client, run, lambda s: s["state"] == "running" and s["step"] >= 10)
    assert running["eta_seconds"] > 0
    client.predict(run, api_name="/stop")
    stopped = follow(client, run, lambda s: s["state"] != "running")
    assert stopped["state"] == "stopped" and stopped["resumable"] and stopped["step"] < stopped["max_steps"]
    with pytest.raises(AppError, match="nothing to stop"):
        client.predict(run, api_name="/stop")
    client.predict(run, api_name="/resume")
    follow(client, run, lambda s: s["state"] == "running" and s["step"] > stopped["step"])
    client.predict(run, api_name="/stop")
    assert follow(client, run, lambda s: s["state"] != "running")["state"] == "stopped"
