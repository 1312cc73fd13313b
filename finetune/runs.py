"""Run folders: where they live, their append-only event log, the state a run is in, stop requests, checkpoints."""
from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import time
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from finetune import FinetuneError, durable

CONFIG_FILE = "config.json"
EVENTS_FILE = "events.jsonl"
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.jsonl"
SCORES_FILE = "scores.json"  # the finished run scored on other data (real MRPC, say): evaluation.score_run
STOP_FILE = "STOP"
PID_FILE = "pid"
PID_START_FILE = "pid.start"  # "PID START": the process's start time, so a reused pid is not taken for the run's
OWNER_FILE = "owner"  # sha256 of the owner's token: who may stop, resume or delete the run from the app
QUEUE_FILE = "QUEUED"  # present while the run waits for a free training slot: the enqueue time and what to launch
LOG_FILE = "output.log"  # the training process's stdout and stderr when the app starts it
TRIAL_FILE = "trial.json"  # in a sweep's trial: which sweep and trial it is (finetune/sweep.py)
LOCK_FILE = ".lock"  # in a folder that several processes rewrite: see folder_lock
# What the app writes into a new run folder before the CLI starts (config.json too: a queued run must survive a
# restart).
LAUNCH_FILES = {LOG_FILE, PID_FILE, PID_START_FILE, EVENTS_FILE, OWNER_FILE, QUEUE_FILE, CONFIG_FILE, TRIAL_FILE}
CHECKPOINTS_DIR = "checkpoints"
# Written (fsynced) into checkpoint-N once every process has finished writing it: a folder without it is a save cut
# short.
CHECKPOINT_MARKER = "COMPLETE"
CHECKPOINT_FILES = ("trainer_state.json", "optimizer.pt", "scheduler.pt")  # with the weights, what resuming needs
MODEL_DIR = "model"
LOG_TAIL_BYTES = 16_384
LOG_TAIL_LINES = 20


class RunError(FinetuneError):
    """A run folder that cannot be used as asked."""


class Transition(StrEnum):
    """What a status event of the log says happened to the run (the event's "status")."""

    QUEUED = "queued"  # waiting for a training slot (QUEUED file present)
    STARTING = "starting"  # the app spawned the training process; it has not begun yet
    STARTED = "started"
    RESUMED = "resumed"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"  # its process died without saying so (recorded by the app that reaped it)
    FAILED = "failed"
    FINISHED = "finished"


class RunState(StrEnum):
    """The state a run is in, derived from its folder alone by state_of()."""

    NEW = "new"
    QUEUED = "queued"
    STARTING = "starting"
    RUNNING = "running"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"
    FAILED = "failed"
    FINISHED = "finished"


LIVE = frozenset({RunState.STARTING, RunState.RUNNING})
WAITING_OR_LIVE = LIVE | {RunState.QUEUED}
RESUMABLE = frozenset({RunState.STOPPED, RunState.INTERRUPTED, RunState.FAILED})
ENDED = frozenset({Transition.STOPPED, Transition.INTERRUPTED, Transition.FAILED, Transition.FINISHED})
APP_ENDED = "the app that started this training ended"  # why a child whose app died stopped itself
STOPPED_STARTING = "stopped before training began"
GONE = "the training process is gone (killed, or the machine restarted) before it could finish"


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
    """Append one JSON line, on disk before returning; a single write per line so a concurrent reader never sees half
    of one."""
    event = {"time": round(time.time(), 3), "type": kind, **fields}
    durable.append_line(Path(run_dir) / EVENTS_FILE, json.dumps(event) + "\n")
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
    events = [event for line in complete.splitlines() if (event := _event(line)) is not None]
    return events, offset + len(complete)


def _event(line: bytes) -> dict | None:
    """One line of the log as an event; None for a blank line or one a crash cut short (the next append ended it)."""
    try:
        event = json.loads(line)
    except ValueError:  # not JSON, or not UTF-8: a write torn by a kill or a power cut
        return None
    return event if isinstance(event, dict) and "type" in event else None


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22); None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) ": the name may hold spaces and parentheses
    return None if fields[0] in {"Z", "X"} else fields[19]


def record_pid(run_dir: Path, pid: int) -> None:
    """Write the pid and its start time (start first: a reader pairs them by pid)."""
    durable.write_text(Path(run_dir) / PID_START_FILE, f"{pid} {process_start(pid) or ''}")
    durable.write_text(Path(run_dir) / PID_FILE, str(pid))


def pid_alive(run_dir: Path) -> bool:
    """Whether the process recorded in the run folder is still that process (not a later one given the same pid)."""
    try:
        pid = int((Path(run_dir) / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return False
    if not Path("/proc/self/stat").exists():  # no procfs (macOS): existence of the pid is all there is to check
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    started = process_start(pid)
    try:
        recorded_pid, recorded_start = (Path(run_dir) / PID_START_FILE).read_text().split()
    except (OSError, ValueError):
        return started is not None  # a run recorded before start times were: the pid alone
    return started is not None and (recorded_pid != str(pid) or recorded_start == started)


def status_events(events: list[dict]) -> list[dict]:
    return [e for e in events if e["type"] == "status"]


def state_of(run_dir: Path, events: list[dict] | None = None) -> tuple[RunState, str | None]:
    """The run's state and, when it ended badly or was stopped, why: the one place a state is derived."""
    run_dir = Path(run_dir)
    said = status_events(read_events(run_dir)[0] if events is None else events)
    last = Transition(said[-1]["status"]) if said else None
    reason = said[-1].get("reason") if said else None
    if (run_dir / QUEUE_FILE).is_file():
        return RunState.QUEUED, None
    if last is None:
        return RunState.NEW, None
    if last is Transition.QUEUED:  # left the queue but never launched: only an app dying at that very moment does this
        return RunState.FAILED, "the app ended as it launched this run: start it again"
    if last is Transition.STARTING:
        if pid_alive(run_dir):
            return RunState.STARTING, None
        if stop_requested(run_dir):  # stopped while starting: what its app's reaper is about to record
            return RunState.STOPPED, STOPPED_STARTING
        return RunState.FAILED, crash_reason(run_dir, None)
    if last in (Transition.STARTED, Transition.RESUMED):
        return (RunState.RUNNING, None) if pid_alive(run_dir) else (RunState.INTERRUPTED, GONE)
    return RunState(last.value), None if last is Transition.FINISHED else reason


def crash_reason(run_dir: Path, code: int | None) -> str:
    """One line on why a training process died without recording it: the signal, or its last error line."""
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        hint = " (most often the machine running out of memory)" if -code == signal.SIGKILL else ""
        return f"the training process was killed by {name}{hint}"
    lines = [line.strip() for line in log_tail(run_dir).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:") or "Error" in line.split(":")[0]]
    said = (errors or lines or ["no output"])[-1]
    return said if code is None else f"{said} (exit code {code})"


def describe_event(event: dict) -> str:
    """One readable line for an event of the log: what the training process prints, and the log view of a run that
    has no printed output (started from the command line, or still queued)."""
    from finetune.eta import clock

    if event["type"] == "status":
        said = f"{event['status']}" + (f": {event['reason']}" if event.get("reason") else "")
        return f"[{datetime.fromtimestamp(event['time']).strftime('%H:%M:%S')}] {said}"
    where = f"step {event['step']}/{event.get('max_steps')}  epoch {event.get('epoch', 0.0):.2f}"
    if event["type"] == "early_stop":
        return (f"{where}  early stopping: validation {event['metric']} did not improve for {event['patience']} "
                f"evaluations; the best ({event['best']:.4f} at step {event['best_step']}) is the model kept")
    if event["type"] == "eval":
        from finetune.tasks import figures_text

        return f"{where}  validation: {figures_text(event, 4)}  loss {event['loss']:.4f}"
    if event["type"] == "log":
        eta = f"  ETA {clock(event['eta_seconds'])}" if event.get("eta_seconds") is not None else ""
        return f"{where}  loss {event['loss']:.4f}  learning rate {event['learning_rate']:.3g}{eta}"
    return f"{where}  (training begins)"


def log_tail(run_dir: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines the training process printed; for a run with no printed output, its event log, told in words."""
    path = Path(run_dir) / LOG_FILE
    if not path.is_file():
        events = read_events(run_dir)[0][-lines:]
        return "\n".join(describe_event(event) for event in events)
    with open(path, "rb") as log:
        log.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
        text = log.read().decode("utf-8", errors="replace")
    # Progress bars redraw with carriage returns: keep the last state of each line.
    return "\n".join(line.split("\r")[-1] for line in text.rstrip("\n").split("\n")[-lines:])


def request_stop(run_dir: Path, reason: str = "") -> None:
    """Ask a running training to save a checkpoint and end as 'stopped' at its next step; `reason` is what its
    'stopped' event will say (a sweep pruning it, say)."""
    durable.write_text(Path(run_dir) / STOP_FILE, reason)


def stop_reason(run_dir: Path) -> str | None:
    """What the stop request says of why, if anything."""
    try:
        return (Path(run_dir) / STOP_FILE).read_text().strip() or None
    except OSError:
        return None


def stop_requested(run_dir: Path) -> bool:
    return (Path(run_dir) / STOP_FILE).exists()


def mark_complete(checkpoint: Path) -> None:
    """Once the Trainer has written checkpoint-N: its files on disk first, then the marker naming each with its size
    (durably), so that after a crash, even of the machine, a marked folder is whole."""
    durable.sync_tree(checkpoint)
    durable.sync_folder(checkpoint.parent.parent)  # the checkpoints folder's own entry, made at the first save
    sizes = {p.name: p.stat().st_size for p in sorted(checkpoint.iterdir())
             if p.is_file() and p.name != CHECKPOINT_MARKER and not p.name.endswith(durable.PARTIAL)}
    durable.write_text(checkpoint / CHECKPOINT_MARKER, json.dumps({"files": sizes}, indent=1) + "\n")


def _marked_whole(folder: Path) -> bool:
    """The marker is there and every file it names has the size it had when marked (a copy cut short, a file
    truncated since: not whole)."""
    try:
        marked = json.loads((folder / CHECKPOINT_MARKER).read_text(encoding="utf-8"))["files"]
    except OSError:
        return False
    except (ValueError, TypeError, KeyError):  # "checkpoint-N complete": a marker from before sizes were recorded
        return True
    try:
        return all((folder / name).stat().st_size == size for name, size in marked.items())
    except OSError:
        return False


def checkpoint_complete(folder: Path) -> bool:
    """A checkpoint-N folder marked complete and still whole, holding the weights, optimizer, scheduler and trainer
    state. An unmarked one (a save cut short, or a run from before markers) never counts."""
    has_weights = any(folder.glob("*.safetensors")) or any(folder.glob("pytorch_model*.bin"))
    return re.fullmatch(r"checkpoint-\d+", folder.name) is not None and _marked_whole(folder) and (
        has_weights and all((folder / name).is_file() for name in CHECKPOINT_FILES))


def last_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint-N folder, or None; one still being written (not yet marked) never counts."""
    folder = Path(run_dir) / CHECKPOINTS_DIR
    found = [p for p in folder.glob("checkpoint-*") if p.is_dir() and checkpoint_complete(p)]
    return max(found, key=lambda p: int(p.name.split("-")[-1]), default=None)


def new_owner_token() -> str:
    return secrets.token_urlsafe(24)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def set_owner(run_dir: Path, token: str) -> None:
    """Keep only the token's hash: the run folder never reveals what to send to act on the run."""
    durable.write_text(Path(run_dir) / OWNER_FILE, _digest(token))


def owned(run_dir: Path) -> bool:
    return (Path(run_dir) / OWNER_FILE).is_file()


def is_owner(run_dir: Path, token: str | None) -> bool:
    """Whether `token` is the run's owner's; a run without an owner (made with the CLI) belongs to everyone."""
    if not owned(run_dir):
        return True
    return bool(token) and hmac.compare_digest((Path(run_dir) / OWNER_FILE).read_text().strip(), _digest(token))


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
    return sorted((p for p in parent.iterdir() if is_run_dir(p)), key=_mtime, reverse=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # deleted while listing
        return 0.0


def enqueue(run_dir: Path, resume: bool, since: float | None = None, **fields) -> None:
    """Put the run in the training queue (at the place of time `since`, else last); the file, in the run folder, keeps
    the queue across restarts of the app."""
    entry = {"time": time.time() if since is None else since, "resume": resume}
    durable.write_text(Path(run_dir) / QUEUE_FILE, json.dumps(entry))
    append_event(run_dir, "status", status=Transition.QUEUED, resume=resume, **fields)


def queue_entry(run_dir: Path) -> dict | None:
    try:
        return json.loads((Path(run_dir) / QUEUE_FILE).read_text())
    except (OSError, ValueError):
        return None


def queued_runs(parent: Path | None = None) -> list[Path]:
    """Runs waiting for a training slot, first come first."""
    parent = parent or runs_dir()
    waiting = [(entry["time"], p) for p in parent.glob(f"*/{QUEUE_FILE}") if (entry := queue_entry(p.parent))]
    return [p.parent for _, p in sorted(waiting)]


@contextlib.contextmanager
def folder_lock(folder: Path, name: str = LOCK_FILE):
    """One holder at a time, across the threads and processes on this folder (an app and a CLI may both rewrite a
    sweep.json; two apps the uploads ledger): a POSIX flock on its lock file `name`, opened anew by each holder."""
    import fcntl

    Path(folder).mkdir(parents=True, exist_ok=True)
    with open(Path(folder) / name, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def browser_secret() -> str:
    """The key the app's pages encrypt their owner token with in the browser, kept in the runs folder so that a
    restarted app still reads the tokens its pages saved (Gradio would otherwise pick a new one at each start)."""
    path = runs_dir() / ".browser-secret"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        durable.write_text(path, secrets.token_urlsafe(24), mode=0o600)
    return path.read_text().strip()


NO_FINISHED_RUN = ("no finished run yet: start one in the Train tab (the demo preset takes about a minute) "
                   "or with: python -m finetune train --preset demo")


def run_folder(given: str) -> Path | None:
    """The run a command line argument names: a run folder's path, or the name of a run under runs_dir()."""
    path = Path(str(given)).expanduser()
    if is_run_dir(path):
        return path
    if path.name == str(given) and is_run_dir(runs_dir() / path.name):
        return runs_dir() / path.name
    return None


def find_run(name: str) -> Path:
    """The run folder called `name` under runs_dir(); only plain names, so no request reaches outside it."""
    name = str(name or "").strip()
    folder = runs_dir() / name
    if not name or Path(name).name != name or name in {".", ".."} or not is_run_dir(folder):
        raise RunError(f"no run named {name!r} in {runs_dir()}")
    return folder


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size


def read_again_when_changed(*names: str):
    """fn(run_dir, ...) cached until one of the run's files `names` changes (time or size), comes or goes: the app
    answers many requests a second for a finished run, whose files no longer change; it need not read them each time."""
    def decorate(fn):
        known: dict = {}

        @functools.wraps(fn)
        def cached(run_dir: Path, *args):
            stamp = tuple(_stamp(Path(run_dir) / name) for name in names)
            key = (str(run_dir), args)
            if key in known and known[key][0] == stamp:
                return known[key][1]
            if len(known) > 1024:  # runs come and go: the folders of deleted ones are forgotten now and then
                known.clear()
            value = fn(run_dir, *args)
            known[key] = (stamp, value)
            return value
        return cached
    return decorate


@read_again_when_changed(EVENTS_FILE, QUEUE_FILE)
def _finished_state(run_dir: Path) -> RunState | None:
    """The run's state if it finished (which its event log and queue file alone decide), else None: a live run's state
    also depends on its process, which no file's time tells."""
    state, _ = state_of(run_dir)
    return state if state is RunState.FINISHED else None


def finished_run(name: str = "") -> Path:
    """The named run, which must have finished, or by default the most recent finished run."""
    if name:
        run_dir = find_run(name)
        state = _finished_state(run_dir) or state_of(run_dir)[0]
        if state is not RunState.FINISHED:
            raise RunError(f"run {name} is {state}: only a finished run has a model to ask")
        return run_dir
    latest = next((run_dir for run_dir in list_runs() if state_of(run_dir)[0] is RunState.FINISHED), None)
    if latest is None:
        raise RunError(NO_FINISHED_RUN)
    return latest


@read_again_when_changed(CONFIG_FILE, METRICS_FILE, f"{MODEL_DIR}/config.json")
def answering_model(run_dir: Path, base: bool = False) -> tuple[str, int | None, object]:
    """What answers for a finished run: its saved model; with base=True the model it started from, the seed that
    made its classification head and the run's task (the same untrained head the run began with)."""
    if not base:
        return str(Path(run_dir) / MODEL_DIR), None, None
    from finetune.config import RunConfig

    config = RunConfig.load(Path(run_dir) / CONFIG_FILE)
    return config.model, config.seed, run_task(run_dir)


@read_again_when_changed(METRICS_FILE, f"{MODEL_DIR}/config.json")
def run_task(run_dir: Path):
    """The task a run trained for (finetune.tasks.Task): recorded in its metrics, else in its model, else MRPC."""
    from finetune.models import model_task
    from finetune.tasks import MRPC, Task

    metrics = read_metrics(run_dir)
    if metrics and isinstance(metrics.get("task"), dict):
        return Task.from_dict(metrics["task"])
    model = Path(run_dir) / MODEL_DIR
    return model_task(str(model)) if (model / "config.json").is_file() else MRPC


def run_loader(cached):
    """`cached(model, seed, task)` as a run's loader: `load(run_dir, base=False)` gives the run's model, or with
    base=True its base model with the same seeded head, under one lock so that requests arriving together for a model
    not loaded yet load it once, not once each."""
    import threading

    building = threading.Lock()

    def load(run_dir: Path, base: bool = False):
        with building:
            return cached(*answering_model(run_dir, base))

    return load
