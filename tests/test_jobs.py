"""Trainings as child processes: the exact CLI flags, start to finish, stop and resume, and crashes seen as such."""
import os
import re
import signal
import subprocess
import sys
from dataclasses import replace

import pytest
from conftest import kill_live_trainings, wait_for

from finetune import jobs, runs
from finetune.cli import build_parser, config_from_args
from finetune.config import ConfigError, RunConfig
from finetune.data import DataError
from finetune.models import ModelError
from finetune.status import loss_curve, status_of


@pytest.fixture(autouse=True)
def no_training_outlives_its_test():
    yield
    kill_live_trainings(runs.runs_dir())


def tiny(model, **overrides):
    settings = {"model": str(model), "data": "sample", "epochs": 1, "batch_size": 16, "learning_rate": 1e-3,
                "logging_steps": 2, "precision": "fp32", "max_train_samples": 64, "max_eval_samples": 32}
    return RunConfig.from_preset("default", **{**settings, **overrides})


def long_running(model):
    """Thousands of one-pair steps: time to watch, stop or kill it; it never runs to the end in a test."""
    return tiny(model, epochs=30, batch_size=1, max_train_samples=None, logging_steps=5)


def settled(summary):
    return summary.state not in runs.WAITING_OR_LIVE


@pytest.mark.parametrize("config", [
    RunConfig.from_preset("demo"),  # demo's own max_train_samples
    RunConfig.from_preset("demo", max_train_samples=None),  # "all" although the preset limits it
    RunConfig.from_preset("course", model="/some/folder", data="pairs.csv", learning_rate=3e-5, max_eval_samples=10),
    RunConfig.from_preset("default", dropout=0.05, freeze_embeddings=False),  # a float and a yes/no flag
])
def test_a_config_file_is_read_back_exactly_and_flags_given_with_it_override_it(config, tmp_path):
    config.save(tmp_path / "config.json")
    assert config_from_args(build_parser().parse_args(["train", "--config", str(tmp_path / "config.json")])) == config
    changed = build_parser().parse_args(["train", "--config", str(tmp_path / "config.json"), "--seed", "7",
                                         "--max-train-samples", "all"])
    assert config_from_args(changed) == replace(config, seed=7, max_train_samples=None)


def test_a_preset_given_with_a_config_file_puts_its_recipe_over_the_files(tmp_path):
    RunConfig.from_preset("course", model="/some/folder", seed=3).save(tmp_path / "config.json")
    args = build_parser().parse_args(["train", "--config", str(tmp_path / "config.json"), "--preset", "default"])
    assert config_from_args(args) == RunConfig.from_preset("default", model="/some/folder", seed=3)


@pytest.mark.parametrize("content, words", [
    ("{not json", "not JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"learning_rat": 0.1}', "unknown setting(s) in"),
    ('{"epochs": -1}', "epochs must be > 0"),
])
def test_a_bad_config_file_is_refused_in_one_line(tmp_path, content, words):
    (tmp_path / "config.json").write_text(content)
    with pytest.raises(ConfigError, match=re.escape(words)):
        config_from_args(build_parser().parse_args(["train", "--config", str(tmp_path / "config.json")]))


def test_the_app_launches_a_training_by_its_config_file(tiny_bert):
    run_dir = jobs.start(tiny(tiny_bert))
    starting = next(e for e in runs.read_events(run_dir)[0] if e.get("status") == "starting")
    assert starting["command"] == ["python", "-m", "finetune", "train", "--config", str(run_dir / runs.CONFIG_FILE),
                                   "--output-dir", str(run_dir)]
    wait_for(run_dir, settled)


def test_whole_numbers_are_accepted_as_floats_and_fractions_and_words_refused():
    assert RunConfig(batch_size=8.0).normalized().batch_size == 8
    with pytest.raises(ConfigError, match="batch size must be a whole number"):
        RunConfig(batch_size=8.5).normalized()
    with pytest.raises(ConfigError, match="epochs must be a number, got 'three'"):
        RunConfig(epochs="three").normalized()


@pytest.mark.parametrize("settings, error, words", [
    ({"learning_rate": 0}, ConfigError, "learning rate"),
    ({"model": "/no/such/model"}, ModelError, "does not exist"),
    ({"data": "/no/such/data.csv"}, DataError, "does not exist"),
])
def test_a_bad_form_is_refused_before_any_process_or_folder(tiny_bert, settings, error, words):
    with pytest.raises(error, match=words):
        jobs.start(tiny(settings.pop("model", tiny_bert), **settings))
    assert runs.list_runs() == []


def test_a_started_run_trains_in_a_child_to_the_end_and_says_so(tiny_bert):
    run_dir = jobs.start(tiny(tiny_bert, epochs=2))
    assert run_dir.parent == runs.runs_dir().resolve() and status_of(run_dir).state in runs.LIVE
    summary = wait_for(run_dir, settled)
    assert summary.state == "finished", summary
    assert summary.step == summary.max_steps == 8 and summary.epoch == 2
    assert summary.metrics["n"] == 32 and 0 <= summary.metrics["accuracy"] <= 1
    assert [round(e["epoch"]) for e in summary.evaluations] == [1, 2]
    assert summary.loss is not None and summary.eta_seconds is None and not summary.resumable
    curve = loss_curve(run_dir)
    assert {p["series"] for p in curve} == {"training loss", "validation loss", "validation accuracy", "validation F1"}
    assert [p["step"] for p in curve if p["series"] == "training loss"] == [1, 2, 4, 6, 8]
    assert "validation: accuracy" in runs.log_tail(run_dir)  # the child's own output went to the run's log
    assert runs.finished_run() == run_dir and runs.find_run(run_dir.name) == run_dir


def test_a_running_run_stops_with_a_checkpoint_and_resumes_to_the_end(tiny_bert):
    run_dir = jobs.start(long_running(tiny_bert))
    running = wait_for(run_dir, lambda s: s.state == "running" and s.step >= 10)
    assert running.eta_seconds > 0 and running.max_steps == 45000
    jobs.stop(run_dir)
    stopped = wait_for(run_dir, settled)
    assert stopped.state == "stopped" and stopped.resumable
    with pytest.raises(runs.RunError, match="nothing to stop"):
        jobs.stop(run_dir)
    jobs.resume(run_dir)
    resumed = wait_for(run_dir, lambda s: s.state == "running" and s.step > stopped.step)
    assert resumed.max_steps == 45000
    jobs.stop(run_dir)
    assert wait_for(run_dir, settled).state == "stopped"
    statuses = [e["status"] for e in runs.read_events(run_dir)[0] if e["type"] == "status"]
    assert statuses == ["queued", "starting", "started", "stopped", "queued", "starting", "resumed", "stopped"]


def status_steps(run_dir):
    """(status, step) of each status event, and the steps each process logged, in order."""
    events, _ = runs.read_events(run_dir)
    segments, statuses = [], []
    for event in events:
        if event["type"] == "status":
            statuses.append(event["status"])
            if event["status"] in {runs.Transition.STARTED, runs.Transition.RESUMED}:
                segments.append([])
        elif event["type"] in {"log", "progress"} and segments:
            segments[-1].append(event["step"])
    return statuses, segments


def test_a_child_killed_mid_run_is_interrupted_and_resumes_from_its_checkpoint_to_a_model_that_loads(tiny_bert):
    from finetune.predict import run_predictor

    run_dir = jobs.start(tiny(tiny_bert, epochs=3, batch_size=2, max_train_samples=96, logging_steps=1))  # 144 steps
    running = wait_for(run_dir, lambda s: runs.last_checkpoint(run_dir) is not None and s.step >= 55)
    os.kill(int((run_dir / runs.PID_FILE).read_text()), signal.SIGKILL)
    killed_at = status_of(run_dir).step
    interrupted = wait_for(run_dir, lambda s: "SIGKILL" in (s.reason or ""), seconds=10)
    assert interrupted.state == "interrupted" and "memory" in interrupted.reason and interrupted.resumable
    checkpoint_step = int(runs.last_checkpoint(run_dir).name.split("-")[1])
    assert running.step <= killed_at and checkpoint_step == 48  # the end of epoch 1
    jobs.resume(run_dir)
    final = wait_for(run_dir, settled)
    assert final.state == "finished" and final.step == final.max_steps == 144, final
    statuses, (before, after) = status_steps(run_dir)
    assert statuses == ["queued", "starting", "started", "interrupted", "queued", "starting", "resumed", "finished"]
    assert before == sorted(before) and after == sorted(after)  # steps never go backwards within a process
    assert after[0] == checkpoint_step and after[-1] == 144  # resumed exactly at the checkpoint, not from 0
    print(f"\nkill -9 of the training child at step {killed_at}: resumed from step {checkpoint_step}, "
          f"{killed_at - checkpoint_step} steps redone, finished at {final.step}")
    answer = run_predictor(run_dir).predict("The cat sat on the mat.", "A cat was sitting on the mat.")
    assert answer["label"] in {"equivalent", "not_equivalent"}


def test_a_child_killed_while_starting_fails_and_one_stopped_while_starting_ends_stopped(tiny_bert):
    killed = jobs.start(tiny(tiny_bert))
    os.kill(int((killed / runs.PID_FILE).read_text()), signal.SIGKILL)
    # Failed at once (its process is gone); the app's reaper then records how it died.
    summary = wait_for(killed, lambda s: settled(s) and "SIGKILL" in (s.reason or ""), seconds=10)
    assert summary.state == "failed" and not summary.resumable

    stopped = jobs.start(tiny(tiny_bert))
    jobs.stop(stopped)
    summary = wait_for(stopped, settled, seconds=60)
    assert summary.state == "stopped", summary


def test_a_failure_inside_training_shows_its_one_line_reason(tmp_path, tiny_bert):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    run_dir = jobs.start(tiny(broken))
    summary = wait_for(run_dir, settled)
    assert summary.state == "failed" and summary.reason and "\n" not in summary.reason
    assert "Traceback" not in summary.reason


def test_a_run_whose_process_vanished_reads_as_interrupted(tmp_path):
    run_dir = runs.runs_dir() / "orphan"
    run_dir.mkdir(parents=True)
    RunConfig().save(run_dir / runs.CONFIG_FILE)
    runs.append_event(run_dir, "status", status="started")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    (run_dir / runs.PID_FILE).write_text(gone.stdout.strip())
    summary = status_of(run_dir)
    assert summary.state == "interrupted" and "gone" in summary.reason
    with pytest.raises(runs.RunError, match="no checkpoint"):
        jobs.resume(run_dir)


@pytest.mark.parametrize("name", ["", "..", "../etc", "/tmp", "no-such-run"])
def test_only_run_folders_by_plain_name_are_found(name):
    (runs.runs_dir() / "real").mkdir(parents=True)
    with pytest.raises(runs.RunError, match="no run named"):
        runs.find_run(name)


def test_without_a_finished_run_the_playground_says_how_to_make_one():
    with pytest.raises(runs.RunError, match="python -m finetune train"):
        runs.finished_run()


def test_the_loss_curve_keeps_the_latest_value_of_a_step_logged_twice(tmp_path):
    for step, loss in ((1, 0.9), (2, 0.8), (2, 0.7), (3, 0.6)):
        runs.append_event(tmp_path, "log", step=step, loss=loss)
    runs.append_event(tmp_path, "eval", step=3, loss=0.65, accuracy=0.7, f1=0.8)
    curve = loss_curve(tmp_path)
    assert [(p["step"], p["value"]) for p in curve if p["series"] == "training loss"] == [(1, 0.9), (2, 0.7), (3, 0.6)]
    assert {p["series"]: p["value"] for p in curve if p["step"] == 3} == {
        "training loss": 0.6, "validation loss": 0.65, "validation accuracy": 0.7, "validation F1": 0.8}


def test_the_log_tail_is_the_last_lines_with_redrawn_bars_settled(tmp_path):
    (tmp_path / runs.LOG_FILE).write_text("".join(f"line {i}\n" for i in range(100)) + "bar 10%\rbar 50%\rbar 100%\n")
    tail = runs.log_tail(tmp_path, lines=3).splitlines()
    assert tail == ["line 98", "line 99", "bar 100%"]


def test_the_number_of_trainings_at_once_is_one_per_gpu_or_one_unless_the_environment_says(monkeypatch):
    import torch

    monkeypatch.delenv(jobs.MAX_JOBS_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    assert jobs.max_jobs() == 1  # a CPU-only machine
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert jobs.max_jobs() == 4
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "3")
    assert jobs.max_jobs() == 3
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(jobs.MAX_JOBS_ENV, bad)
        with pytest.raises(ConfigError, match="FINETUNE_MAX_JOBS must be a whole number >= 1"):
            jobs.max_jobs()


def test_a_queued_run_waits_for_the_slot_leaves_the_queue_when_stopped_and_only_its_owner_deletes_it(tiny_bert,
                                                                                                      monkeypatch):
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "1")
    live = jobs.start(long_running(tiny_bert), owner="alice")
    waiting = jobs.start(tiny(tiny_bert), owner="bob")
    queued = status_of(waiting)
    assert queued.state == "queued" and queued.queue_position == 1 and not (waiting / runs.PID_FILE).exists()
    assert jobs.schedule() == []  # the one slot is taken
    with pytest.raises(runs.RunError, match=f"you already have run {waiting.name} queued"):
        jobs.start(tiny(tiny_bert), owner="bob")
    with pytest.raises(runs.RunError, match="belongs to another session"):
        jobs.stop(waiting, owner="alice")
    jobs.stop(waiting, owner="bob")
    left = status_of(waiting)
    assert left.state == "stopped" and left.reason == "taken out of the queue before it began" and not left.resumable
    assert runs.queued_runs() == []
    with pytest.raises(runs.RunError, match="belongs to another session"):
        jobs.delete(waiting, owner="alice")
    jobs.delete(waiting, owner="bob")
    assert not waiting.exists() and status_of(live).state in runs.LIVE
    with pytest.raises(runs.RunError, match="stop it before deleting it"):
        jobs.delete(live, owner="alice")


def test_queued_runs_start_in_their_order_when_a_slot_frees(tiny_bert, monkeypatch):
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "1")
    first = jobs.start(long_running(tiny_bert))
    second, third = jobs.start(tiny(tiny_bert)), jobs.start(tiny(tiny_bert, seed=3))
    assert [status_of(r).queue_position for r in (second, third)] == [1, 2]
    jobs.stop(first)
    wait_for(second, lambda s: s.state != "queued")  # the reaper of the first gives its slot to the next in line
    assert status_of(third).queue_position == 1
    assert wait_for(second, settled).state == "finished"
    assert wait_for(third, settled).state == "finished"
    launched = [next(e["time"] for e in runs.read_events(r)[0] if e.get("status") == "starting")
                for r in (second, third)]
    ended = next(e["time"] for e in runs.read_events(second)[0] if e.get("status") == "finished")
    assert launched[0] < ended <= launched[1]


def test_a_queued_run_whose_folder_is_damaged_fails_and_lets_the_next_one_start(tiny_bert):
    broken = runs.new_run_dir("broken")
    runs.enqueue(broken, resume=False)  # no config.json: nothing to launch
    fine = jobs.start(tiny(tiny_bert))
    assert status_of(broken).state == "failed" and "cannot launch it" in status_of(broken).reason
    assert status_of(fine).state in runs.LIVE
