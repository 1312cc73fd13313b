"""The app through gradio_client, as a script would use it: predict, tokenize, train followed to the end, stop, the
queue of trainings, owners."""
import json

import pytest
from conftest import follow
from gradio_client import Client
from gradio_client.exceptions import AppError


@pytest.fixture(scope="module")
def client(app_server):
    return Client(app_server.url, verbose=False)


def tiny_settings(**overrides):
    return {"epochs": 2, "batch_size": 16, "learning_rate": 1e-3, "logging_steps": 2, "precision": "fp32",
            "max_train_samples": 64, "max_eval_samples": 32, **overrides}


def test_the_api_names_are_the_documented_ones(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/predict", "/tokenize", "/train", "/status", "/stop", "/resume", "/delete", "/runs"} <= names


def test_predict_before_any_run_says_how_to_get_one(client):
    with pytest.raises(AppError, match="python -m finetune train --preset demo"):
        client.predict("The cat sat.", "A cat sat.", api_name="/predict")


def test_tokenize_answers_tokens_and_the_three_id_lists(client):
    view = client.predict("He left.", "She stayed.", api_name="/tokenize")
    assert view["tokens"] == ["[CLS]", "he", "left", ".", "[SEP]", "she", "stayed", ".", "[SEP]"]
    assert view["token_type_ids"] == [0] * 5 + [1] * 4 and view["attention_mask"] == [1] * 9
    assert len(view["input_ids"]) == 9 and view["input_ids"][0] == 101


@pytest.mark.parametrize("call, words", [
    ({"settings": {"learning_rate": 0}}, "learning rate must be between 0 and 1"),
    ({"settings": {"learning_rate": -1}}, "learning rate must be between 0 and 1"),
    ({"settings": {"epochs": 0}}, "epochs must be > 0"),
    ({"settings": {"batch_size": 5000}}, "batch size must be between 1 and 1024"),
    ({"settings": {"batch_size": 64, "max_train_samples": 10}}, "batch size 64 is larger than the 10 training pairs"),
    ({"settings": {"learning_rat": 1e-4}}, "unknown setting"),
    ({"preset": "fastest"}, "unknown preset"),
    ({"model": "/no/such/model"}, "not one this app loads"),
    ({"model": "/etc"}, "not one this app loads"),
    ({"data": "/etc/passwd"}, "not one this app serves"),
])
def test_bad_settings_are_refused_with_their_reason(client, call, words):
    before = client.predict(api_name="/runs")
    with pytest.raises(AppError, match=words):
        client.predict(**call, api_name="/train")
    assert client.predict(api_name="/runs") == before  # refused before any folder or process


def test_an_unknown_run_is_named_in_the_error(client):
    with pytest.raises(AppError, match="no run named 'nope'"):
        client.predict("nope", api_name="/status")


def test_a_training_is_followed_to_the_end_and_then_answers(client, tiny_bert):
    started = client.predict(str(tiny_bert), "sample", "default", tiny_settings(), api_name="/train")
    run = started["run"]
    assert tiny_bert.name in run and len(started["owner"]) >= 32
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


def test_a_running_training_stops_and_resumes_for_its_owner_only(client, tiny_bert, app_server):
    started = client.predict(str(tiny_bert), "sample", "default",
                             tiny_settings(epochs=30, batch_size=1, max_train_samples=None, logging_steps=5),
                             api_name="/train")
    run, owner = started["run"], started["owner"]
    assert owner not in (app_server.runs_dir / run / "owner").read_text()  # only its hash is stored
    running = follow(client, run, lambda s: s["state"] == "running" and s["step"] >= 10)
    assert running["eta_seconds"] > 0 and owner not in str(running)
    for endpoint in ("/stop", "/delete"):
        for stranger in ("", "someone-else"):
            with pytest.raises(AppError, match="belongs to another session"):
                client.predict(run, stranger, api_name=endpoint)
    with pytest.raises(AppError, match="you already have run .* running"):
        client.predict(str(tiny_bert), "sample", "default", tiny_settings(), owner, api_name="/train")
    with pytest.raises(AppError, match="is running: stop it before deleting it"):
        client.predict(run, owner, api_name="/delete")
    client.predict(run, owner, api_name="/stop")
    stopped = follow(client, run, lambda s: s["state"] != "running")
    assert stopped["state"] == "stopped" and stopped["resumable"] and stopped["step"] < stopped["max_steps"]
    with pytest.raises(AppError, match="nothing to stop"):
        client.predict(run, owner, api_name="/stop")
    with pytest.raises(AppError, match="belongs to another session"):
        client.predict(run, "someone-else", api_name="/resume")
    client.predict(run, owner, api_name="/resume")
    follow(client, run, lambda s: s["state"] == "running" and s["step"] > stopped["step"])
    client.predict(run, owner, api_name="/stop")
    assert follow(client, run, lambda s: s["state"] != "running")["state"] == "stopped"
    remaining = client.predict(run, owner, api_name="/delete")
    assert run not in [r["run"] for r in remaining] and not (app_server.runs_dir / run).exists()


def test_with_one_slot_a_second_session_waits_in_the_queue_and_starts_when_the_first_ends(client, tiny_bert,
                                                                                          app_server):
    first = client.predict(str(tiny_bert), "sample", "default", tiny_settings(), "session-a", api_name="/train")
    second = client.predict(str(tiny_bert), "sample", "default", tiny_settings(seed=7), "session-b", api_name="/train")
    waiting = client.predict(second["run"], api_name="/status")
    assert waiting["state"] == "queued" and waiting["queue_position"] == 1 and waiting["step"] == 0
    assert (app_server.runs_dir / second["run"] / "QUEUED").is_file()  # the queue lives in the run folders
    with pytest.raises(AppError, match="you already have run .* queued"):
        client.predict(str(tiny_bert), "sample", "default", tiny_settings(), "session-b", api_name="/train")
    finished = follow(client, first["run"], lambda s: s["state"] not in {"starting", "running"})
    assert finished["state"] == "finished"
    done = follow(client, second["run"], lambda s: s["state"] not in {"queued", "starting", "running"})
    assert done["state"] == "finished" and done["queue_position"] is None

    events = {}
    for name in (first["run"], second["run"]):
        lines = (app_server.runs_dir / name / "events.jsonl").read_text().splitlines()
        events[name] = {e["status"]: e["time"] for e in map(json.loads, lines) if e["type"] == "status"}
    assert events[second["run"]]["starting"] >= events[first["run"]]["finished"]  # never two at once
