"""Durable files: a kill or a power cut during a save never leaves a file or a checkpoint that looks complete and is
not. Each case cuts real files (truncated, killed with SIGKILL mid-write) and reads them back as the app would."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO

from finetune import runs
from finetune.config import RunConfig
from finetune.status import status_of
from finetune.train import train

STEPS = 12  # 64 pairs in batches of 16 for 3 epochs: checkpoints at steps 4 and 8, the model at 12


def config(tiny_bert) -> RunConfig:
    return RunConfig.from_preset("default", model=str(tiny_bert), data="sample", epochs=3, batch_size=16,
                                 learning_rate=1e-3, logging_steps=5, precision="fp32", max_train_samples=64,
                                 max_eval_samples=48)


def checkpoint(run_dir, step):
    return run_dir / runs.CHECKPOINTS_DIR / f"checkpoint-{step}"


@pytest.mark.parametrize("torn", [b'{"time": 1.0, "type": "log", "st', b"\0" * 24])  # killed mid-write; power cut
def test_an_event_log_cut_mid_line_reads_and_the_next_event_starts_its_own_line(tmp_path, torn):
    runs.append_event(tmp_path, "status", status="started")
    with open(tmp_path / runs.EVENTS_FILE, "ab") as log:
        log.write(torn)
    assert [e["status"] for e in runs.read_events(tmp_path)[0]] == ["started"]
    runs.append_event(tmp_path, "status", status="interrupted", reason=runs.GONE)
    events, offset = runs.read_events(tmp_path)
    assert [e["status"] for e in events] == ["started", "interrupted"]
    assert offset == (tmp_path / runs.EVENTS_FILE).stat().st_size
    last_line = (tmp_path / runs.EVENTS_FILE).read_bytes().splitlines()[-1]
    assert json.loads(last_line)["status"] == "interrupted"  # whole, on its own line
    assert runs.state_of(tmp_path) == (runs.RunState.INTERRUPTED, runs.GONE)


KILLED_AT_RENAME = """
import os, signal, sys
from pathlib import Path
from finetune import runs
from finetune.config import RunConfig

def killed(src, dst):  # the temp file is written and fsynced: the process dies before the rename
    os.kill(os.getpid(), signal.SIGKILL)

os.replace = killed
run_dir, what = Path(sys.argv[1]), sys.argv[2]
if what == "config":
    RunConfig.from_preset("demo", epochs=7).save(run_dir / runs.CONFIG_FILE)
elif what == "queue":
    runs.enqueue(run_dir, resume=True)
else:
    from finetune.train import _finish
    _finish(run_dir, RunConfig.from_preset("demo"), {"steps": 999})
"""


def kill_before_rename(run_dir, what: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", KILLED_AT_RENAME, str(run_dir), what], env=env, timeout=120)
    assert done.returncode == -signal.SIGKILL


def test_temp_files_left_by_a_kill_before_the_rename_are_never_read_as_the_files(listed_run, tiny_bert):
    new = runs.runs_dir() / "20260102-000000-killed"
    new.mkdir()
    for what in ("config", "queue", "metrics"):
        kill_before_rename(new, what)
        kill_before_rename(listed_run, what)
    assert len([p for p in new.iterdir() if p.name.endswith(".partial")]) == 3  # what the kills left behind
    assert runs.list_runs() == [listed_run] and runs.queued_runs() == []  # the killed new folder is no run yet
    assert runs.state_of(new)[0] == "new" and runs.read_metrics(new) is None
    # The finished run keeps its own files whole: its config, its metrics, its state.
    assert RunConfig.load(listed_run / runs.CONFIG_FILE).model == str(tiny_bert)
    assert runs.read_metrics(listed_run)["steps"] != 999
    assert status_of(listed_run).state == "finished"


KILLED_MID_SAVE = """
import sys, time
from pathlib import Path
from transformers import TrainerState
from finetune.config import RunConfig
from finetune.train import train

run_dir, flag, config = Path(sys.argv[1]), Path(sys.argv[2]), RunConfig.load(sys.argv[3])
save_to_json = TrainerState.save_to_json

def held(self, path):  # the second checkpoint's last file written, before the run's callback marks it
    save_to_json(self, path)
    if self.global_step == 8:
        flag.write_text(path)
        time.sleep(600)

TrainerState.save_to_json = held
train(config, run_dir)
"""


def test_kill_9_during_a_checkpoint_save_leaves_it_unmarked_and_the_resume_takes_the_one_before(tmp_path, tiny_bert):
    run_dir, flag = tmp_path / "run", tmp_path / "saving"
    config(tiny_bert).save(tmp_path / "config.json")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-c", KILLED_MID_SAVE, str(run_dir), str(flag),
                                str(tmp_path / "config.json")], env=env)
    try:
        deadline = time.monotonic() + 180
        while not flag.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert flag.exists(), f"the training never reached its second save (exit code {process.poll()})"
    finally:
        process.kill()
        process.wait()
    cut = checkpoint(run_dir, 8)
    # Every file Trainer writes is there: only the marker tells this folder from a whole one.
    assert all((cut / name).is_file() for name in (*runs.CHECKPOINT_FILES, "model.safetensors"))
    assert not (cut / runs.CHECKPOINT_MARKER).exists()
    assert runs.last_checkpoint(run_dir) == checkpoint(run_dir, 4)
    assert status_of(run_dir).state == "interrupted"
    assert train(config(tiny_bert), run_dir, resume=True)["steps"] == STEPS
    resumed = [e for e in runs.read_events(run_dir)[0] if e.get("status") == "resumed"]
    assert [Path(e["checkpoint"]).name for e in resumed] == ["checkpoint-4"]
    assert runs.last_checkpoint(run_dir) == cut  # saved again, whole this time
