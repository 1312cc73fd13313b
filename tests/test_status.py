"""What a run shows: its log in words (never raw JSON), a queued run's expected wait, a note when validation turns
worse, and a revision that changes exactly when something shown may have."""
import os
import time

from finetune import runs
from finetune.config import RunConfig
from finetune.report import overfitting
from finetune.status import status_of
from finetune.ui.train import queue_words, status_markdown


def run_folder(name: str, preset: str = "demo", **settings):
    run_dir = runs.runs_dir() / name
    run_dir.mkdir(parents=True)
    RunConfig.from_preset(preset, **settings).save(run_dir / runs.CONFIG_FILE)
    return run_dir


def test_a_run_without_printed_output_shows_its_events_in_words():
    queued = run_folder("a-queued")
    runs.enqueue(queued, resume=False)
    tail = runs.log_tail(queued)
    assert "queued" in tail and "{" not in tail
    runs.append_event(queued, "log", step=5, max_steps=235, epoch=0.1, loss=0.69, learning_rate=1e-5, eta_seconds=239.6)
    runs.append_event(queued, "eval", step=47, max_steps=235, epoch=1.0, loss=0.5, accuracy=0.8, f1=0.85)
    assert runs.log_tail(queued).splitlines()[-2:] == [
        "step 5/235  epoch 0.10  loss 0.6900  learning rate 1e-05  ETA 4:00",
        "step 47/235  epoch 1.00  validation: accuracy 0.8000, F1 0.8500  loss 0.5000"]


def test_a_queued_run_says_which_runs_it_waits_for_and_how_long_the_live_one_has_left():
    live = run_folder("b-live")
    runs.append_event(live, "status", status="started")
    runs.record_pid(live, os.getpid())  # alive: this very process
    runs.append_event(live, "log", step=10, max_steps=100, epoch=0.5, loss=0.6, learning_rate=1e-4, eta_seconds=200.0)
    first, second = run_folder("c-first"), run_folder("d-second")
    runs.enqueue(first, resume=False)
    time.sleep(0.01)
    runs.enqueue(second, resume=False)
    waiting = status_of(second)
    assert waiting.queue_position == 2
    assert [(w["run"], w["state"]) for w in waiting.waiting_for] == [("b-live", "training"), ("c-first", "queued")]
    assert 190 < waiting.waiting_for[0]["eta_seconds"] <= 200
    words = queue_words(waiting)
    assert "number 2 in the queue · run b-live ends in about 3 min" in words
    assert "then 1 more run queued before this one" in words
    assert status_of(live).waiting_for == []


def test_validation_turning_worse_is_named_with_the_epoch_the_run_keeps():
    evaluations = [{"epoch": 1.0, "accuracy": 0.80, "loss": 0.50}, {"epoch": 2.0, "accuracy": 0.93, "loss": 0.30},
                   {"epoch": 3.0, "accuracy": 0.90, "loss": 0.36}]
    assert overfitting(evaluations) == {"best_epoch": 2.0,
                                        "what": "accuracy 0.930 → 0.900, validation loss 0.300 → 0.360"}
    assert overfitting(evaluations[:2]) is None and overfitting(evaluations[:1]) is None
    run_dir = run_folder("e-done")
    runs.append_event(run_dir, "status", status="started")
    for e in evaluations:
        runs.append_event(run_dir, "eval", step=int(e["epoch"] * 47), max_steps=141, f1=0.9, **e)
    runs.append_event(run_dir, "status", status="finished")
    text = status_markdown(status_of(run_dir))
    assert "Validation got worse after epoch 2" in text and "keeps the model of its last epoch" in text


def test_the_revision_changes_when_the_log_grows_and_not_otherwise():
    run_dir = run_folder("f-rev")
    runs.append_event(run_dir, "status", status="stopped")
    before = status_of(run_dir).revision
    assert status_of(run_dir).revision == before
    runs.append_event(run_dir, "status", status="failed", reason="x")
    assert status_of(run_dir).revision != before


def test_a_run_resumed_with_dropout_says_its_figures_may_differ_from_an_uninterrupted_one():
    with_dropout, without = run_folder("g-dropout", preset="course"), run_folder("h-none", preset="demo")
    for run_dir in (with_dropout, without):
        for said in ("started", "stopped", "resumed", "finished"):
            runs.append_event(run_dir, "status", status=said)
    assert status_of(with_dropout).resumed_with_dropout and not status_of(without).resumed_with_dropout
    assert "Resumed with dropout on" in status_markdown(status_of(with_dropout))
    assert "Resumed with dropout" not in status_markdown(status_of(without))
