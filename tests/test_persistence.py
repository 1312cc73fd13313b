"""Runs survive the app: kill -9 of the whole app mid-training, a restart on the same runs folder, the queue picked
up in order, the killed run taken over from its checkpoint to a model that answers, and no data lost."""
import json
import signal
import time

import pytest
from conftest import follow, kill_live_trainings, launch_app
from gradio_client import Client

from finetune import runs
from finetune.status import status_of


def events(run_dir):
    return runs.read_events(run_dir)[0]


def settings(**overrides):
    return {"batch_size": 2, "learning_rate": 1e-3, "logging_steps": 1, "precision": "fp32", "max_train_samples": 96,
            "max_eval_samples": 32, **overrides}


@pytest.fixture
def home(tmp_path):
    yield tmp_path
    kill_live_trainings(tmp_path / "runs")


def test_kill_9_of_the_app_mid_training_then_a_restart_loses_no_data_and_at_most_the_steps_since_a_checkpoint(
        home, tiny_bert):
    server, url = launch_app(home, tiny_bert.parent)
    try:
        client = Client(url, verbose=False)
        alice = client.predict(str(tiny_bert), "sample", "default", settings(epochs=10), "alice", api_name="/train")
        bob = client.predict(str(tiny_bert), "sample", "default", settings(epochs=1), "bob", api_name="/train")
        assert client.predict(bob["run"], api_name="/status")["queue_position"] == 1
        folder = home / "runs" / alice["run"]
        follow(client, alice["run"],
               lambda s: s["state"] == "running" and runs.last_checkpoint(folder) and s["step"] >= 55)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    logged_before_kill = list(events(folder))
    step_at_kill = max(e["step"] for e in logged_before_kill if e["type"] == "log")

    # Its app gone, the training saves a checkpoint and ends as stopped within seconds; the queued run waits.
    deadline = time.monotonic() + 60
    while runs.pid_alive(folder) and time.monotonic() < deadline:
        time.sleep(0.2)
    orphaned = status_of(folder)
    assert orphaned.state == "stopped" and orphaned.reason == "the app that started this training ended", orphaned
    assert status_of(home / "runs" / bob["run"]).state == "queued"

    server, url = launch_app(home, tiny_bert.parent)
    try:
        client = Client(url, verbose=False)
        # The restarted app takes the run over from its checkpoint, at the place in the queue it had: before bob.
        final = follow(client, alice["run"], lambda s: s["state"] not in runs.WAITING_OR_LIVE)
        assert final["state"] == "finished" and final["step"] == final["max_steps"] == 480, final
        assert follow(client, bob["run"], lambda s: s["state"] not in runs.WAITING_OR_LIVE)["state"] == "finished"
        bob_began = next(e["time"] for e in events(home / "runs" / bob["run"]) if e.get("status") == "starting")
        assert bob_began > next(e["time"] for e in events(folder) if e.get("taken_over"))
        answer = client.predict("The cat sat on the mat.", "A cat was sitting on the mat.", alice["run"],
                                api_name="/predict")
        assert answer["label"] in {"equivalent", "not_equivalent"}
    finally:
        server.terminate()
        server.wait(timeout=30)

    after = events(folder)
    assert after[:len(logged_before_kill)] == logged_before_kill  # nothing written before the kill was lost
    statuses = [e for e in after if e["type"] == "status"]
    assert [e["status"] for e in statuses] == ["queued", "starting", "started", "stopped",
                                               "queued", "starting", "resumed", "finished"]
    stopped_at = statuses[3]["step"]
    steps = [e["step"] for e in after if e["type"] in {"log", "progress"}]
    assert steps == sorted(steps) and steps[-1] == 480  # the step count never went backwards
    resumed_from = next(e["step"] for e in after[after.index(statuses[6]):] if e["type"] == "progress")
    assert resumed_from == stopped_at >= step_at_kill  # it trained on to its stop checkpoint: no step lost
    assert json.loads((folder / runs.METRICS_FILE).read_text())["steps"] == 480
    print(f"\nkill -9 of the app at step {step_at_kill}: its training stopped itself at step {stopped_at} with a "
          f"checkpoint, taken over there by the restarted app ({max(0, step_at_kill - resumed_from)} steps lost)")
