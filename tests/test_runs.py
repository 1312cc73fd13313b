"""Run folders: the append-only event log, status from events and the process, stop requests, checkpoints."""
import os
import subprocess
import sys

from finetune import runs


def test_event_log_is_read_incrementally_and_waits_for_unfinished_lines(tmp_path):
    runs.append_event(tmp_path, "status", status="started")
    runs.append_event(tmp_path, "log", step=1, loss=0.7)
    events, offset = runs.read_events(tmp_path)
    assert [e["type"] for e in events] == ["status", "log"] and events[1]["loss"] == 0.7
    with open(tmp_path / runs.EVENTS_FILE, "a") as log:
        log.write('{"type": "log", "st')  # a writer caught mid-line
    more, same = runs.read_events(tmp_path, offset)
    assert more == [] and same == offset
    with open(tmp_path / runs.EVENTS_FILE, "a") as log:
        log.write('ep": 2}\n')
    more, _ = runs.read_events(tmp_path, offset)
    assert more == [{"type": "log", "step": 2}]


def test_status_follows_the_last_status_event_and_the_process(tmp_path):
    assert runs.run_status(tmp_path) == "new"
    runs.append_event(tmp_path, "status", status="started")
    (tmp_path / runs.PID_FILE).write_text(str(os.getpid()))
    assert runs.run_status(tmp_path) == "running"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    (tmp_path / runs.PID_FILE).write_text(dead.stdout.strip())
    assert runs.run_status(tmp_path) == "interrupted"
    runs.append_event(tmp_path, "status", status="stopped")
    assert runs.run_status(tmp_path) == "stopped"


def test_last_checkpoint_is_the_highest_complete_one(tmp_path):
    folder = tmp_path / runs.CHECKPOINTS_DIR
    for step, complete in ((10, True), (20, True), (30, False)):
        (folder / f"checkpoint-{step}").mkdir(parents=True)
        if complete:
            (folder / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    assert runs.last_checkpoint(tmp_path).name == "checkpoint-20"
    assert runs.last_checkpoint(tmp_path / "elsewhere") is None


def test_new_run_dirs_are_unique_and_under_the_runs_dir(tmp_path):
    first, second = runs.new_run_dir("bundled"), runs.new_run_dir("bundled")
    assert first != second and first.parent == second.parent == runs.runs_dir()
    assert runs.runs_dir() == tmp_path / "runs"
    first.joinpath(runs.CONFIG_FILE).write_text("{}")
    assert runs.list_runs() == [first]
