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
    assert runs.state_of(tmp_path)[0] == "new"
    runs.append_event(tmp_path, "status", status="started")
    (tmp_path / runs.PID_FILE).write_text(str(os.getpid()))
    assert runs.state_of(tmp_path)[0] == "running"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    (tmp_path / runs.PID_FILE).write_text(dead.stdout.strip())
    assert runs.state_of(tmp_path)[0] == "interrupted"
    runs.append_event(tmp_path, "status", status="stopped")
    assert runs.state_of(tmp_path)[0] == "stopped"


def _checkpoint(folder, files=(*runs.CHECKPOINT_FILES, "model.safetensors", runs.CHECKPOINT_MARKER)):
    folder.mkdir(parents=True)
    for name in files:
        (folder / name).write_text("x")


def test_last_checkpoint_is_the_highest_complete_one_never_an_unmarked_one(tmp_path):
    folder = tmp_path / runs.CHECKPOINTS_DIR
    _checkpoint(folder / "checkpoint-10")
    _checkpoint(folder / "checkpoint-20")
    no_optimizer = ("model.safetensors", "trainer_state.json", runs.CHECKPOINT_MARKER)
    _checkpoint(folder / "checkpoint-30", files=no_optimizer)
    _checkpoint(folder / "checkpoint-40", files=(*runs.CHECKPOINT_FILES, runs.CHECKPOINT_MARKER))  # no weights
    _checkpoint(folder / "checkpoint-50", files=(*runs.CHECKPOINT_FILES, "model.safetensors"))  # not yet marked
    _checkpoint(folder / "checkpoint-60.tmp")
    assert runs.last_checkpoint(tmp_path).name == "checkpoint-20"
    assert not runs.checkpoint_complete(folder / "checkpoint-50")
    assert runs.last_checkpoint(tmp_path / "elsewhere") is None


def test_a_pid_reused_by_another_process_is_not_the_run_alive(tmp_path):
    runs.record_pid(tmp_path, os.getpid())
    assert runs.pid_alive(tmp_path)
    recorded_pid, start = (tmp_path / runs.PID_START_FILE).read_text().split()
    assert recorded_pid == str(os.getpid()) and start == runs.process_start(os.getpid())
    # The same pid, started at another time: what a reused pid looks like.
    (tmp_path / runs.PID_START_FILE).write_text(f"{os.getpid()} {int(start) - 1}")
    assert not runs.pid_alive(tmp_path)


def test_the_owner_token_is_stored_hashed_and_checked(tmp_path):
    assert runs.is_owner(tmp_path, None)  # no owner file: a run made with the CLI is everyone's
    token = runs.new_owner_token()
    runs.set_owner(tmp_path, token)
    assert token not in (tmp_path / runs.OWNER_FILE).read_text()
    assert runs.is_owner(tmp_path, token)
    assert not runs.is_owner(tmp_path, runs.new_owner_token()) and not runs.is_owner(tmp_path, None)


def test_the_queue_is_first_come_first_served_and_read_from_the_folders(tmp_path):
    first, second = tmp_path / "b-first", tmp_path / "a-second"
    for run_dir in (first, second):
        run_dir.mkdir()
        runs.enqueue(run_dir, resume=False)
    assert runs.queued_runs(tmp_path) == [first, second]
    assert runs.queue_entry(first)["resume"] is False
    assert [e["status"] for e in runs.read_events(first)[0]] == ["queued"]


def test_new_run_dirs_are_unique_and_under_the_runs_dir(tmp_path):
    first, second = runs.new_run_dir("bundled"), runs.new_run_dir("bundled")
    assert first != second and first.parent == second.parent == runs.runs_dir()
    assert runs.runs_dir() == tmp_path / "runs"
    first.joinpath(runs.CONFIG_FILE).write_text("{}")
    assert runs.list_runs() == [first]
