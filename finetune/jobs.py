"""Trainings as child processes of the app: a FIFO queue of at most max_jobs() at once, owners, start, resume,
stop, delete, and a run's summary from its folder."""
from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from finetune import runs
from finetune.cli import NONE_WORDS
from finetune.config import ConfigError, RunConfig

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
MAX_JOBS_ENV = "FINETUNE_MAX_JOBS"
STARTING = "starting"  # the status the app records between spawning the CLI and its "started"
QUEUED = "queued"
LIVE = {STARTING, "running"}
WAITING_OR_LIVE = LIVE | {QUEUED}
SCHEDULE_SECONDS = 2.0  # how often the app looks for a free slot besides when one of its children ends
_lock = threading.RLock()  # one scheduling decision at a time: no double start, no slot given twice
_scheduler: list[threading.Thread] = []
RESUMABLE = {"stopped", "interrupted", "failed"}
LOG_TAIL_BYTES = 16_384
LOG_TAIL_LINES = 20
NO_FINISHED_RUN = ("no finished run yet: start one in the Train tab (the demo preset takes a few minutes on a laptop) "
                   "or with: python -m finetune train --preset demo")


def run_id(run_dir: Path) -> str:
    return Path(run_dir).name


def find_run(name: str) -> Path:
    """The run folder called `name` under runs_dir(); only plain names, so no request reaches outside it."""
    name = str(name or "").strip()
    folder = runs.runs_dir() / name
    if not name or Path(name).name != name or name in {".", ".."} or not runs.is_run_dir(folder):
        raise runs.RunError(f"no run named {name!r} in {runs.runs_dir()}")
    return folder


def cli_args(config: RunConfig) -> list[str]:
    """The `python -m finetune train` flags that rebuild exactly this config (every field, so presets cannot interfere)."""
    args = []
    for f in dataclasses.fields(RunConfig):
        value = getattr(config, f.name)
        args += [f"--{f.name.replace('_', '-')}", NONE_WORDS[str(f.type)][0] if value is None else str(value)]
    return args


def checked(config: RunConfig) -> RunConfig:
    """The config with whole numbers where the CLI expects them, validated; ConfigError otherwise."""
    whole = {}
    for f in dataclasses.fields(RunConfig):
        value = getattr(config, f.name)
        if str(f.type).startswith("int") and value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
                raise ConfigError(f"{f.name.replace('_', ' ')} must be a whole number, got {value!r}")
            whole[f.name] = int(value)
    return dataclasses.replace(config, **whole).validate()


def _check_sources(config: RunConfig) -> None:
    """Refuse a missing model folder or data file at once, rather than through a failed run seconds later."""
    from finetune.data import HUB_SOURCES, DataError
    from finetune.models import resolve_model

    resolve_model(config.model)
    if config.data != "sample" and config.data not in HUB_SOURCES and not Path(config.data).expanduser().exists():
        raise DataError(f"data {config.data} does not exist: use 'sample', 'hub', or a file or folder on the server")


def max_jobs() -> int:
    """Trainings at once: $FINETUNE_MAX_JOBS, else one per GPU, else one (two on a CPU only slow each other down)."""
    value = os.environ.get(MAX_JOBS_ENV, "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ConfigError(f"{MAX_JOBS_ENV} must be a whole number >= 1, got {value!r}")
        return int(value)
    import torch

    return max(1, torch.cuda.device_count())


def _require_owner(run_dir: Path, owner: str | None) -> None:
    if not runs.is_owner(run_dir, owner):
        raise runs.RunError(f"run {run_id(run_dir)} belongs to another session: only the page or API client that "
                            "started it can stop, resume or delete it")


def _refuse_second_run(owner: str | None) -> None:
    """One queued or live run per owner: a double click or a repeated call must not start a second one."""
    if not owner:
        return
    for run_dir in runs.list_runs():
        if runs.owned(run_dir) and runs.is_owner(run_dir, owner):
            state = status(run_dir)["state"]
            if state in WAITING_OR_LIVE:
                raise runs.RunError(f"you already have run {run_id(run_dir)} {state}: stop it, or wait for it to end, "
                                    "before starting another")


def start(config: RunConfig, owner: str | None = None) -> Path:
    """Queue `python -m finetune train` for this config in a new run folder (launched at once if a slot is free);
    return the folder. A run with an owner token can only be stopped, resumed or deleted with it."""
    config = checked(config)
    _check_sources(config)
    with _lock:
        _refuse_second_run(owner)
        run_dir = runs.new_run_dir(config.model).resolve()
        config.save(run_dir / runs.CONFIG_FILE)
        if owner:
            runs.set_owner(run_dir, owner)
        runs.enqueue(run_dir, resume=False)
        schedule()
    return run_dir


def resume(run_dir: Path, owner: str | None = None) -> Path:
    """Queue a stopped, interrupted or failed run to continue from its last checkpoint, in a new child process."""
    _require_owner(run_dir, owner)
    with _lock:
        state = status(run_dir)
        if state["state"] not in RESUMABLE:
            raise runs.RunError(f"run {run_id(run_dir)} is {state['state']}: only a stopped, interrupted or failed run can resume")
        if not state["resumable"]:
            raise runs.RunError(f"run {run_id(run_dir)} has no checkpoint to resume from; start a new run instead")
        _refuse_second_run(owner)
        runs.enqueue(Path(run_dir), resume=True)
        schedule()
    return Path(run_dir)


def delete(run_dir: Path, owner: str | None = None) -> None:
    """Remove the run folder (checkpoints, model, events); only its owner may, and not while it is queued or live."""
    _require_owner(run_dir, owner)
    with _lock:
        state = status(run_dir)["state"]
        if state in WAITING_OR_LIVE:
            raise runs.RunError(f"run {run_id(run_dir)} is {state}: stop it before deleting it")
        shutil.rmtree(run_dir)


def schedule() -> list[Path]:
    """Launch queued runs, oldest first, while fewer than max_jobs() trainings are alive; return those launched."""
    with _lock:
        # A live state, not only a live pid: a finished run's pid file may name a process still alive for other reasons
        # (the app or a test that trained it in-process), and it must not hold a slot.
        alive = sum(1 for run_dir in runs.list_runs() if status(run_dir)["state"] in LIVE)
        launched = []
        for run_dir in runs.queued_runs():
            if alive >= max_jobs():
                break
            try:
                _launch(run_dir)
            except (OSError, ValueError, TypeError, KeyError) as err:  # a damaged folder must not block the queue
                (run_dir / runs.QUEUE_FILE).unlink(missing_ok=True)
                runs.append_event(run_dir, "status", status="failed", reason=f"cannot launch it: {err}")
                continue
            launched.append(run_dir)
            alive += 1
        return launched


def _launch(run_dir: Path) -> None:
    entry = runs.queue_entry(run_dir)
    if entry["resume"]:
        cli = ["train", "--resume", str(run_dir.resolve())]
    else:
        cli = ["train", *cli_args(RunConfig.load(run_dir / runs.CONFIG_FILE)), "--output-dir", str(run_dir.resolve())]
    _spawn(cli, run_dir)
    (run_dir / runs.QUEUE_FILE).unlink()  # after the "starting" event: a restart never finds it neither queued nor begun


def start_scheduler() -> None:
    """The app's background loop: queued runs (also those left by a previous app) start as slots free up."""
    def loop():
        while True:
            try:
                schedule()
            except Exception as err:  # noqa: BLE001 - a bad run folder must not end the loop that serves the others
                print(f"scheduler: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
            time.sleep(SCHEDULE_SECONDS)

    with _lock:
        if not _scheduler:
            _scheduler.append(threading.Thread(target=loop, name="finetune-scheduler", daemon=True))
            _scheduler[0].start()


def stop(run_dir: Path, owner: str | None = None) -> None:
    """Ask a live run to save a checkpoint and end as stopped; one still starting up is ended at once, and a queued
    one leaves the queue."""
    _require_owner(run_dir, owner)
    with _lock:
        state = status(run_dir)["state"]
        if state == QUEUED:
            (Path(run_dir) / runs.QUEUE_FILE).unlink()
            runs.append_event(run_dir, "status", status="stopped", reason="taken out of the queue before it began")
            return
    if state not in LIVE:
        raise runs.RunError(f"run {run_id(run_dir)} is {state}, not running: nothing to stop")
    runs.request_stop(run_dir)
    if state == STARTING:  # the CLI clears STOP when training begins; SIGTERM reaches it in either phase
        try:
            os.kill(int((Path(run_dir) / runs.PID_FILE).read_text()), signal.SIGTERM)
        except (OSError, ValueError):
            pass


def _spawn(cli: list[str], run_dir: Path) -> None:
    """The child writes into the run folder's log (never a pipe nobody reads) in its own session."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "FINETUNE_APP_PID": str(os.getpid()),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))}
    with open(run_dir / runs.LOG_FILE, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "finetune", *cli], stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, env=env, start_new_session=True)
    runs.record_pid(run_dir, process.pid)
    runs.append_event(run_dir, "status", status=STARTING, pid=process.pid, command=["python", "-m", "finetune", *cli])
    threading.Thread(target=_reap, args=(process, run_dir), name=f"reap-{run_dir.name}", daemon=True).start()


def _reap(process: subprocess.Popen, run_dir: Path) -> None:
    """Wait for the child (so it leaves no zombie) and record how it ended if it could not say so itself."""
    code = process.wait()
    statuses = [e for e in runs.read_events(run_dir)[0] if e["type"] == "status"]
    launched = max(i for i, e in enumerate(statuses) if e["status"] == STARTING and e.get("pid") == process.pid)
    since = [e["status"] for e in statuses[launched + 1:]]
    if any(status in runs.FINAL or status in {STARTING, QUEUED, "interrupted"} for status in since):
        pass  # it said how it ended (and a resumed run may have been queued or launched since)
    elif not since and (code == -signal.SIGTERM or runs.stop_requested(run_dir)):
        runs.append_event(run_dir, "status", status="stopped", reason="stopped before training began")
    elif since and code is not None and code < 0:  # killed mid-training from outside (OOM killer, kill -9): its last checkpoint is intact
        runs.append_event(run_dir, "status", status="interrupted", reason=crash_reason(run_dir, code), exit_code=code)
    else:
        runs.append_event(run_dir, "status", status="failed", reason=crash_reason(run_dir, code), exit_code=code)
    schedule()  # its slot is free


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


def _last_status(events: list[dict]) -> str | None:
    statuses = [e["status"] for e in events if e["type"] == "status"]
    return statuses[-1] if statuses else None


def _state(run_dir: Path, events: list[dict]) -> tuple[str, str | None]:
    """The run's state and, when it ended badly, why."""
    last = _last_status(events)
    reason = next((e.get("reason") for e in reversed(events) if e["type"] == "status"), None)
    if (run_dir / runs.QUEUE_FILE).is_file():
        return QUEUED, None
    if last == QUEUED:  # left the queue without being launched: only an app dying at that very moment does this
        return "failed", "the app ended as it launched this run: start it again"
    if last == STARTING:
        return (STARTING, None) if runs.pid_alive(run_dir) else ("failed", crash_reason(run_dir, None))
    state = runs.run_status(run_dir)
    if state == "interrupted" and last != "interrupted":
        return state, "the training process is gone (killed, or the machine restarted) before it could finish"
    return state, reason if state in {"stopped", "failed", "interrupted"} else None


def _eta(logs: list[dict], now: float) -> float | None:
    """Seconds left: the training process's own estimate at its last log line, less the time since."""
    if not logs or logs[-1].get("eta_seconds") is None:
        return None
    return max(0.0, logs[-1]["eta_seconds"] - (now - logs[-1]["time"]))


def _queue_position(run_dir: Path) -> int | None:
    """1 for the next run to start; None if it left the queue meanwhile."""
    waiting = [p.name for p in runs.queued_runs(run_dir.parent)]
    return waiting.index(run_dir.name) + 1 if run_dir.name in waiting else None


def status(run_dir: Path) -> dict:
    """Everything the app shows about a run, read from its folder alone (so any page or client can ask)."""
    run_dir = Path(run_dir)
    events, _ = runs.read_events(run_dir)
    state, reason = _state(run_dir, events)
    stepped = [e for e in events if e["type"] in {"progress", "log", "eval"}]
    logs = [e for e in events if e["type"] == "log"]
    latest = stepped[-1] if stepped else {}
    final = runs.read_metrics(run_dir) if state == "finished" else None
    config = RunConfig.load(run_dir / runs.CONFIG_FILE) if (run_dir / runs.CONFIG_FILE).is_file() else None
    max_steps = latest.get("max_steps")
    return {
        "run": run_id(run_dir), "state": state, "reason": reason,
        "model": config.model if config else None, "data": config.data if config else None,
        "preset": config.preset if config else None,
        "step": latest.get("step", 0), "max_steps": max_steps, "epoch": latest.get("epoch", 0.0),
        "loss": logs[-1]["loss"] if logs else None, "learning_rate": logs[-1].get("learning_rate") if logs else None,
        "evaluations": [{k: e.get(k) for k in ("epoch", "step", "accuracy", "f1", "loss")} for e in events if e["type"] == "eval"],
        "metrics": final["final"] if final else None,
        "eta_seconds": _eta(logs, time.time()) if state == "running" else None,
        "resumable": state in RESUMABLE and runs.last_checkpoint(run_dir) is not None,
        "queue_position": _queue_position(run_dir) if state == QUEUED else None,
        "owned": runs.owned(run_dir),
    }


def loss_curve(run_dir: Path) -> list[dict]:
    """Points for the live chart: training loss per logging step, validation loss, accuracy and F1 per evaluation.

    A step logged twice (a crashed run resumed from an earlier checkpoint) keeps its latest value.
    """
    series = {"log": [("loss", "training loss")],
              "eval": [("loss", "validation loss"), ("accuracy", "validation accuracy"), ("f1", "validation F1")]}
    points: dict[tuple[str, int], float] = {}
    for event in runs.read_events(run_dir)[0]:
        for key, name in series.get(event["type"], []):
            if event.get(key) is not None:
                points[(name, event["step"])] = event[key]
    return [{"step": step, "value": value, "series": name} for (name, step), value in sorted(points.items(), key=lambda p: p[0][1])]


def log_tail(run_dir: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines the training process printed; for a run started from the command line, of its event log."""
    path = Path(run_dir) / runs.LOG_FILE
    if not path.is_file():
        path = Path(run_dir) / runs.EVENTS_FILE
        if not path.is_file():
            return ""
    with open(path, "rb") as log:
        log.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
        text = log.read().decode("utf-8", errors="replace")
    # Progress bars redraw with carriage returns: keep the last state of each line.
    return "\n".join(line.split("\r")[-1] for line in text.rstrip("\n").split("\n")[-lines:])


def list_summaries() -> list[dict]:
    """status() of every run under runs_dir(), newest first."""
    return [status(run_dir) for run_dir in runs.list_runs()]


def finished_run(name: str = "") -> Path:
    """The named run, which must have finished, or by default the most recent finished run."""
    if name:
        run_dir = find_run(name)
        if runs.run_status(run_dir) != "finished":
            raise runs.RunError(f"run {name} is {status(run_dir)['state']}: only a finished run has a model to ask")
        return run_dir
    latest = next((run_dir for run_dir in runs.list_runs() if runs.run_status(run_dir) == "finished"), None)
    if latest is None:
        raise runs.RunError(NO_FINISHED_RUN)
    return latest
