"""Run folders: where they live, their append-only event log, status, stop requests and checkpoints."""
from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime
from pathlib import Path

from finetune import FinetuneError

CONFIG_FILE = "config.json"
EVENTS_FILE = "events.jsonl"
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.jsonl"
STOP_FILE = "STOP"
PID_FILE = "pid"
LOG_FILE = "output.log"  # the training process's stdout and stderr when the app starts it
LAUNCH_FILES = {LOG_FILE, PID_FILE, EVENTS_FILE}  # what the app writes into a new run folder before the CLI starts
CHECKPOINTS_DIR = "checkpoints"
MODEL_DIR = "model"
ACTIVE = {"started", "resumed"}
FINAL = {"finished", "stopped", "failed"}


class RunError(FinetuneError):
    """A run folder that cannot be used as asked."""


SPACE_STORAGE = Path("/data")  # a Hugging Face Space's persistent storage, when the Space has it


def runs_dir() -> Path:
    """Where new runs go and where the app looks for them: $FINETUNE_RUNS_DIR, else /data/runs on a Space with
    persistent storage (the rest of a Space's disk is wiped at each restart), else ./runs."""
    if os.environ.get("FINETUNE_RUNS_DIR"):
        return Path(os.environ["FINETUNE_RUNS_DIR"]).expanduser()
    if os.environ.get("SPACE_ID") and os.access(SPACE_STORAGE, os.W_OK):
        return SPACE_STORAGE / "runs"
    return Path("runs")


def new_run_dir(model: str, parent: Path | None = None) -> Path:
    """A fresh, unique folder named by time and model, e.g. runs/20261130-121500-bundled."""
    parent = parent or runs_dir()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(str(model)).name or "model").strip("-")[:40] or "model"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        candidate = parent / (f"{stamp}-{slug}" + (f"-{n}" if n else ""))
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            continue
    raise RunError(f"cannot make a new run folder under {parent}")


def append_event(run_dir: Path, kind: str, **fields) -> dict:
    """Append one JSON line; a single write per line so a concurrent reader never sees half of one."""
    event = {"time": round(time.time(), 3), "type": kind, **fields}
    with open(Path(run_dir) / EVENTS_FILE, "a", encoding="utf-8") as log:
        log.write(json.dumps(event) + "\n")
    return event


def read_events(run_dir: Path, offset: int = 0) -> tuple[list[dict], int]:
    """Events from byte `offset` on, and the offset to poll from next (an unfinished last line waits)."""
    path = Path(run_dir) / EVENTS_FILE
    if not path.exists():
        return [], offset
    with open(path, "rb") as log:
        log.seek(offset)
        chunk = log.read()
    complete = chunk[: chunk.rfind(b"\n") + 1]
    events = [json.loads(line) for line in complete.decode("utf-8").splitlines() if line.strip()]
    return events, offset + len(complete)


def pid_alive(run_dir: Path) -> bool:
    """Whether the process recorded in the run folder's pid file still exists."""
    try:
        pid = int((Path(run_dir) / PID_FILE).read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def run_status(run_dir: Path) -> str:
    """finished, stopped, failed, running, interrupted (its process died mid-run) or new."""
    statuses = [e["status"] for e in read_events(run_dir)[0] if e["type"] == "status"]
    if not statuses:
        return "new"
    last = statuses[-1]
    if last in ACTIVE:
        return "running" if pid_alive(run_dir) else "interrupted"
    return last


def request_stop(run_dir: Path) -> None:
    """Ask a running training to save a checkpoint and end as 'stopped' at its next step."""
    (Path(run_dir) / STOP_FILE).touch()


def stop_requested(run_dir: Path) -> bool:
    return (Path(run_dir) / STOP_FILE).exists()


def last_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint-N folder, or None."""
    folder = Path(run_dir) / CHECKPOINTS_DIR
    found = [p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").is_file()]
    return max(found, key=lambda p: int(p.name.split("-")[-1]), default=None)


def read_metrics(run_dir: Path) -> dict | None:
    path = Path(run_dir) / METRICS_FILE
    return json.loads(path.read_text()) if path.exists() else None


def is_run_dir(path: Path) -> bool:
    """A folder with a config or an event log (a run that failed before saving its config has only the log)."""
    return (Path(path) / CONFIG_FILE).is_file() or (Path(path) / EVENTS_FILE).is_file()


def list_runs(parent: Path | None = None) -> list[Path]:
    """Run folders under `parent`, newest first."""
    parent = parent or runs_dir()
    if not parent.is_dir():
        return []
    return sorted((p for p in parent.iterdir() if is_run_dir(p)), key=lambda p: p.stat().st_mtime, reverse=True)
