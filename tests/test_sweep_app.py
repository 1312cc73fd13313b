"""Sweeps through the app's API: /sweep queues trials under its owner, /sweep_status follows them, /stop on the
sweep's name ends it (its owner only), and a sweep survives kill -9 of the app: the restarted app carries it on."""
import signal
import time

import pytest
from conftest import follow, kill_live_trainings, launch_app
from gradio_client import Client

from finetune import runs

SETTINGS = {"epochs": 1, "batch_size": 16, "max_train_samples": 64, "max_eval_samples": 32, "precision": "fp32"}


def follow_sweep(client, name, until):
    return follow(client, name, until, seconds=300, api_name="/sweep_status")


@pytest.fixture
def home(tmp_path):
    yield tmp_path
    kill_live_trainings(tmp_path / "runs")


def test_a_sweep_through_the_api_runs_its_trials_under_its_owner_and_only_the_owner_stops_it(home, tiny_bert):
    server, url = launch_app(home, tiny_bert.parent)
    try:
        client = Client(url, verbose=False)
        started = client.predict(str(tiny_bert), "sample", "default", SETTINGS,
                                 {"grid": {"learning_rate": [1e-4, 1e-3]}}, "alice", api_name="/sweep")
        assert started["owner"] == "alice" and len(started["runs"]) == 1  # one trial queued at a time: others' turn
        with pytest.raises(Exception, match=f"your sweep {started['sweep']} is running"):
            client.predict(str(tiny_bert), "sample", "default", SETTINGS, "alice", api_name="/train")
        done = follow_sweep(client, started["sweep"], lambda s: s["state"] != "running")
        assert done["state"] == "finished" and [row["state"] for row in done["trials"]] == ["finished"] * 2
        assert [row["learning_rate"] for row in done["trials"]] == [1e-4, 1e-3]
        for row in done["trials"]:
            run_dir = home / "runs" / row["run"]
            assert runs.is_owner(run_dir, "alice") and not runs.is_owner(run_dir, "bob")  # trials are the owner's
            assert client.predict(row["run"], api_name="/status")["metrics"]["f1"] == row["f1"]
        assert done["best"]["f1"] == max(row["f1"] for row in done["trials"])

        slow = client.predict(str(tiny_bert), "sample", "default", {**SETTINGS, "epochs": 20, "batch_size": 2},
                              {"grid": {"learning_rate": [1e-4, 2e-4, 3e-4]}}, "alice", api_name="/sweep")
        first = slow["runs"][0]
        deadline = time.monotonic() + 120
        while client.predict(first, api_name="/status")["state"] != "running" and time.monotonic() < deadline:
            time.sleep(0.2)
        with pytest.raises(Exception, match="belongs to another session"):
            client.predict(slow["sweep"], "bob", api_name="/stop")
        stopped = client.predict(slow["sweep"], "alice", api_name="/stop")
        assert stopped["state"] == "stopped"
        trial = client.predict(first, api_name="/status")
        deadline = time.monotonic() + 60
        while trial["state"] in runs.WAITING_OR_LIVE and time.monotonic() < deadline:
            time.sleep(0.2)
            trial = client.predict(first, api_name="/status")
        assert trial["state"] == "stopped" and trial["reason"] == "its sweep was stopped" and trial["resumable"]
        final = client.predict(slow["sweep"], api_name="/sweep_status")
        assert final["made"] == 1 and final["total"] == 3  # the trials not begun were dropped, none started after
        with pytest.raises(Exception, match="space is"):
            client.predict(str(tiny_bert), "sample", "default", SETTINGS, {"gird": {}}, "carol", api_name="/sweep")
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_sweep_survives_kill_9_of_the_app_and_the_restarted_app_finishes_it(home, tiny_bert):
    server, url = launch_app(home, tiny_bert.parent)
    try:
        client = Client(url, verbose=False)
        started = client.predict(str(tiny_bert), "sample", "default",
                                 {**SETTINGS, "epochs": 4, "batch_size": 2, "logging_steps": 1},
                                 {"grid": {"learning_rate": [1e-4, 1e-3]}}, "alice", api_name="/sweep")
        first = home / "runs" / started["runs"][0]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (
                client.predict(first.name, api_name="/status")["step"] >= 20):
            time.sleep(0.2)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    deadline = time.monotonic() + 60
    while runs.pid_alive(first) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert runs.state_of(first) == (runs.RunState.STOPPED, runs.APP_ENDED)  # its app gone, it saved and stopped

    server, url = launch_app(home, tiny_bert.parent)
    try:
        client = Client(url, verbose=False)
        done = follow_sweep(client, started["sweep"], lambda s: s["state"] != "running")
        assert done["state"] == "finished" and [row["state"] for row in done["trials"]] == ["finished"] * 2, done
        statuses = [e["status"] for e in runs.read_events(first)[0] if e["type"] == "status"]
        assert statuses == ["queued", "starting", "started", "stopped", "queued", "starting", "resumed", "finished"]
        assert runs.read_metrics(first)["steps"] == 128  # 4 epochs of 32 steps: resumed, not started again
    finally:
        server.terminate()
        server.wait(timeout=30)
