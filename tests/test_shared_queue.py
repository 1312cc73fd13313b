"""Several apps on one runs folder share one queue through the folder itself: a scheduler caught between reading the
queue and launching holds the others off (one launch, never two), and two real apps with one slot train four runs
one at a time, first come first, each stoppable from either app by its owner only."""
import os
import subprocess
import sys
import time

import pytest
from conftest import REPO, follow, kill_live_trainings, launch_app
from gradio_client import Client

from finetune import jobs, runs
from finetune.config import RunConfig

# A scheduler in its own process whose launch writes who launched what; "hold" stops it inside the launch (the queue
# read, the run not yet marked as begun) until the test lets it go.
SCHEDULER = r"""
import os, subprocess, sys, time
from pathlib import Path
from finetune import jobs, runs

folder, who, hold = Path(os.environ["FINETUNE_RUNS_DIR"]), sys.argv[1], sys.argv[2] == "hold"

def spawn(cli, run_dir):
    if hold:
        (folder / "inside").touch()
        while not (folder / "go").exists():
            time.sleep(0.02)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True,
                               stdout=subprocess.DEVNULL)
    runs.record_pid(run_dir, sleeper.pid)
    runs.append_event(run_dir, "status", status="starting", pid=sleeper.pid, command=["sleep"])
    with open(folder / "launches.txt", "a") as log:
        log.write(f"{who} {run_dir.name} {sleeper.pid}\n")

jobs._spawn = spawn
print(len(jobs.schedule()), flush=True)
"""


def test_a_scheduler_held_between_reading_the_queue_and_launching_keeps_the_other_from_launching(tmp_path):
    folder = tmp_path / "runs"
    run_dir = runs.new_run_dir("model", parent=folder)
    RunConfig().save(run_dir / runs.CONFIG_FILE)
    runs.enqueue(run_dir, resume=False)
    env = {**os.environ, "FINETUNE_RUNS_DIR": str(folder), "FINETUNE_MAX_JOBS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    run = [sys.executable, "-c", SCHEDULER]
    first = subprocess.Popen([*run, "first", "hold"], env=env, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (folder / "inside").exists():
        assert first.poll() is None and time.monotonic() < deadline, "the first scheduler never began its launch"
        time.sleep(0.02)
    second = subprocess.Popen([*run, "second", "go"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(3)  # time enough for it to read the queue and launch, were it not held off
        assert second.poll() is None, "the second scheduler did not wait for the first"
        (folder / "go").touch()
        assert first.communicate(timeout=60)[0].strip() == "1"
        assert second.communicate(timeout=60)[0].strip() == "0"  # the run was live by then: no second launch
        launches = (folder / "launches.txt").read_text().splitlines()
        assert [line.split()[:2] for line in launches] == [["first", run_dir.name]]
        assert not (run_dir / runs.QUEUE_FILE).exists()
    finally:
        for process in (first, second):
            process.kill()
        for line in (folder / "launches.txt").read_text().splitlines() if (folder / "launches.txt").exists() else []:
            try:
                os.kill(int(line.split()[2]), 9)
            except OSError:
                pass


SETTINGS = {"epochs": 1, "batch_size": 16, "max_train_samples": 64, "max_eval_samples": 32, "precision": "fp32"}


@pytest.fixture
def home(tmp_path):
    yield tmp_path
    kill_live_trainings(tmp_path / "runs")


def test_two_apps_on_one_runs_folder_train_one_at_a_time_first_come_first_and_stop_each_others_runs(home, tiny_bert):
    apps = [launch_app(home, tiny_bert.parent), launch_app(home, tiny_bert.parent)]
    try:
        clients = [Client(url, verbose=False) for _, url in apps]
        started = []
        for i, owner in enumerate(["alice", "bob", "carol", "dave"]):
            started.append(clients[i % 2].predict(str(tiny_bert), "sample", "default", SETTINGS, owner,
                                                  api_name="/train")["run"])
        erin = clients[0].predict(str(tiny_bert), "sample", "default", SETTINGS, "erin", api_name="/train")["run"]
        with pytest.raises(Exception, match="belongs to another session"):
            clients[1].predict(erin, "alice", api_name="/stop")
        assert clients[1].predict(erin, "erin", api_name="/stop")["state"] == "stopped"  # queued, from the other app
        most_live = 0
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            states = [runs.state_of(home / "runs" / name)[0] for name in started]
            most_live = max(most_live, sum(state in runs.LIVE for state in states))
            if all(state not in runs.WAITING_OR_LIVE for state in states):
                break
            time.sleep(0.05)
        assert most_live == 1 and all(state is runs.RunState.FINISHED for state in states), states
        began = [next(e["time"] for e in runs.read_events(home / "runs" / name)[0] if e.get("status") == "starting")
                 for name in started]
        assert began == sorted(began)  # first come, first trained, whichever app took each
        for name in started:  # each launched once, by one app or the other
            launches = [e for e in runs.read_events(home / "runs" / name)[0] if e.get("status") == "starting"]
            assert len(launches) == 1 and launches[0]["app"] in {server.pid for server, _ in apps}
        statuses = [e["status"] for e in runs.read_events(home / "runs" / erin)[0] if e["type"] == "status"]
        assert statuses == ["queued", "stopped"]  # never launched, by either app
    finally:
        for server, _ in apps:
            server.terminate()
            server.wait(timeout=30)


def test_kill_9_of_the_app_that_launched_a_live_run_the_other_app_takes_it_over_and_it_finishes(home, tiny_bert):
    """The launching app dies mid-training; its run saves and stops itself, and the app still serving carries it on
    from that checkpoint, before the run queued after it: no step lost, one finish, the owner's rights intact."""
    first, second = launch_app(home, tiny_bert.parent), launch_app(home, tiny_bert.parent)
    try:
        client = Client(first[1], verbose=False)
        long = {**SETTINGS, "epochs": 6, "batch_size": 2, "logging_steps": 1}  # 192 steps: time to kill it mid-way
        alice = client.predict(str(tiny_bert), "sample", "default", long, "alice", api_name="/train")["run"]
        bob = client.predict(str(tiny_bert), "sample", "default", SETTINGS, "bob", api_name="/train")["run"]
        folder = home / "runs" / alice
        follow(client, alice, lambda s: s["state"] == "running" and runs.last_checkpoint(folder) and s["step"] >= 40)
        first[0].kill()
        first[0].wait()
        other = Client(second[1], verbose=False)
        taken = follow(other, alice, lambda s: s["state"] in {"queued", "starting", "running"} and any(
            e.get("taken_over") for e in runs.read_events(folder)[0]), seconds=60)
        assert other.predict(bob, api_name="/status")["state"] == "queued"  # alice keeps the place she had
        with pytest.raises(Exception, match="belongs to another session"):
            other.predict(alice, "bob", api_name="/stop")
        done = follow(other, alice, lambda s: s["state"] not in runs.WAITING_OR_LIVE)
        assert done["state"] == "finished" and done["step"] == done["max_steps"] == 192, (taken, done)
        assert follow(other, bob, lambda s: s["state"] not in runs.WAITING_OR_LIVE)["state"] == "finished"
    finally:
        for server, _ in (first, second):
            server.kill()
            server.wait(timeout=30)
    said = [e for e in runs.read_events(folder)[0] if e["type"] == "status"]
    assert [e["status"] for e in said] == ["queued", "starting", "started", "stopped", "queued", "starting", "resumed",
                                           "finished"]
    assert said[3]["reason"] == runs.APP_ENDED and said[4]["resume"] and said[4]["taken_over"]
    assert said[1]["app"] == first[0].pid and said[5]["app"] == second[0].pid
    steps = [e["step"] for e in runs.read_events(folder)[0] if e["type"] == "log"]
    assert steps == sorted(steps) and said[4]["from_step"] == said[3]["step"]  # on from its stop: no step lost


def test_a_run_whose_take_over_made_no_progress_waits_for_its_owner(tmp_path):
    """An app that dies each time it takes a run up must not pass it on forever: a second take-over needs progress."""
    run_dir = runs.new_run_dir("model", parent=tmp_path)
    RunConfig().save(run_dir / runs.CONFIG_FILE)
    for status in ("queued", "starting", "started"):
        runs.append_event(run_dir, "status", status=status)
    runs.append_event(run_dir, "status", status="stopped", step=30, reason=runs.APP_ENDED)
    assert jobs.take_over(run_dir) and runs.state_of(run_dir)[0] is runs.RunState.QUEUED
    (run_dir / runs.QUEUE_FILE).unlink()
    for status in ("starting", "resumed"):
        runs.append_event(run_dir, "status", status=status)
    runs.append_event(run_dir, "status", status="stopped", step=30, reason=runs.APP_ENDED)
    assert not jobs.take_over(run_dir)  # died again at step 30: left to its owner
    assert runs.state_of(run_dir) == (runs.RunState.STOPPED, runs.APP_ENDED)
    runs.append_event(run_dir, "status", status="stopped", step=30, reason="stopped by its owner")
    assert not jobs.take_over(run_dir)  # only a run its app left behind
