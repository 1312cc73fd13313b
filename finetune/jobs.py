"""Trainings as child processes of the app: a FIFO queue of at most max_jobs() at once, owners, start, resume, stop
and delete. Each child is `python -m finetune train --config RUN/config.json`: the run's one description."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from finetune import durable, runs
from finetune.config import ConfigError, RunConfig
from finetune.runs import LIVE, RESUMABLE, WAITING_OR_LIVE, RunState, Transition

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
MAX_JOBS_ENV = "FINETUNE_MAX_JOBS"
SCHEDULE_SECONDS = 2.0  # how often the app looks for a free slot besides when one of its children ends
QUEUE_LOCK_FILE = ".queue.lock"  # in the runs folder: every app (and CLI sweep) on it takes turns through this file


class QueueLock:
    """One scheduling decision at a time across the threads of this process and every process on the same runs
    folder (apps, a CLI sweep): no run launched twice, no slot given twice. Reentrant within a thread; the file lock
    (runs.folder_lock) is taken by the outermost holder only, since a second flock from the same process would wait
    on itself."""

    def __init__(self):
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._held = None

    def __enter__(self):
        self._thread_lock.acquire()
        if self._depth == 0:
            held = runs.folder_lock(runs.runs_dir(), QUEUE_LOCK_FILE)
            try:
                held.__enter__()
            except BaseException:
                self._thread_lock.release()
                raise
            self._held = held
        self._depth += 1
        return self

    def __exit__(self, *exc):
        self._depth -= 1
        if self._depth == 0:
            held, self._held = self._held, None
            held.__exit__(None, None, None)
        self._thread_lock.release()
        return False


_lock = QueueLock()
_scheduler: list[threading.Thread] = []


def _state(run_dir: Path) -> RunState:
    return runs.state_of(run_dir)[0]


def _check_sources(config: RunConfig) -> None:
    """Refuse a missing model folder or data file at once, rather than through a failed run seconds later."""
    from finetune.data import HUB_SOURCES, SAMPLES, DataError
    from finetune.models import resolve_model

    resolve_model(config.model)
    if config.data not in SAMPLES and config.data not in HUB_SOURCES and not Path(config.data).expanduser().exists():
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
        raise runs.RunError(f"run {run_dir.name} belongs to another session: only the page or API client that "
                            "started it can stop, resume or delete it")


def _refuse_second_run(owner: str | None) -> None:
    """One queued or live run per owner: a double click or a repeated call must not start a second one."""
    if not owner:
        return
    from finetune import sweep

    active = sweep.owner_active(owner)
    if active:
        raise runs.RunError(f"your sweep {active} is running: stop it, or wait for it to end, before starting another "
                            "run or sweep")
    for run_dir in runs.list_runs():
        if runs.owned(run_dir) and runs.is_owner(run_dir, owner):
            state = _state(run_dir)
            if state in WAITING_OR_LIVE:
                raise runs.RunError(f"you already have run {run_dir.name} {state}: stop it, or wait for it to end, "
                                    "before starting another")


def start(config: RunConfig, owner: str | None = None) -> Path:
    """Queue a training for this config in a new run folder (launched at once if a slot is free); return the folder.
    A run with an owner token can only be stopped, resumed or deleted with it."""
    config = config.normalized()
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
        state = _state(run_dir)
        if state not in RESUMABLE:
            raise runs.RunError(f"run {run_dir.name} is {state}: only a stopped, interrupted or failed run can resume")
        if runs.last_checkpoint(run_dir) is None:
            raise runs.RunError(f"run {run_dir.name} has no checkpoint to resume from; start a new run instead")
        _refuse_second_run(owner)
        runs.enqueue(Path(run_dir), resume=True)
        schedule()
    return Path(run_dir)


def delete(run_dir: Path, owner: str | None = None) -> None:
    """Remove the run folder (checkpoints, model, events); only its owner may, and not while it is queued or live."""
    _require_owner(run_dir, owner)
    with _lock:
        state = _state(run_dir)
        if state in WAITING_OR_LIVE:
            raise runs.RunError(f"run {run_dir.name} is {state}: stop it before deleting it")
        shutil.rmtree(run_dir)


def take_over(run_dir: Path, said: list[dict] | None = None) -> bool:
    """Queue again, at the place it had, a run that stopped itself because the app that launched it died: whichever
    app is alive on the runs folder (another one, or the same restarted) carries it on from the checkpoint it saved.
    Not when the last take-over made no progress (an app that dies as soon as it takes the run up): it then waits for
    its owner's Resume, as any stopped run. Return whether it was queued."""
    with _lock:
        said = runs.status_events(runs.read_events(run_dir)[0]) if said is None else said
        if runs.state_of(run_dir, said) != (RunState.STOPPED, runs.APP_ENDED):
            return False
        queued = [e for e in said if e["status"] == Transition.QUEUED]
        if queued and queued[-1].get("taken_over") and said[-1].get("step", 0) <= queued[-1].get("from_step", 0):
            return False
        checkpoint = runs.last_checkpoint(run_dir)
        runs.enqueue(run_dir, resume=checkpoint is not None, since=queued[-1]["time"] if queued else None,
                     taken_over=True, from_step=said[-1].get("step", 0),
                     reason=f"taken over by app {os.getpid()}: the app that launched it ended")
        return True


def schedule() -> list[Path]:
    """Take over the runs whose app died, then launch queued runs, oldest first, while fewer than max_jobs()
    trainings are alive; return those launched."""
    with _lock:
        alive = 0
        for run_dir in runs.list_runs():
            said = runs.status_events(runs.read_events(run_dir)[0])
            # A live state, not only a live pid: a finished run's pid file may name a process still alive for other
            # reasons (the app or a test that trained it in-process), and it must not hold a slot.
            alive += runs.state_of(run_dir, said)[0] in LIVE
            if said and said[-1].get("reason") == runs.APP_ENDED:
                take_over(run_dir, said)
        launched = []
        for run_dir in runs.queued_runs():
            if alive >= max_jobs():
                break
            try:
                _launch(run_dir)
            except (OSError, ValueError, TypeError, KeyError) as err:  # a damaged folder must not block the queue
                durable.remove(run_dir / runs.QUEUE_FILE, missing_ok=True)
                runs.append_event(run_dir, "status", status=Transition.FAILED, reason=f"cannot launch it: {err}")
                continue
            launched.append(run_dir)
            alive += 1
        return launched


def _launch(run_dir: Path) -> None:
    entry = runs.queue_entry(run_dir)
    run_dir = run_dir.resolve()
    if entry["resume"]:
        cli = ["train", "--resume", str(run_dir)]
    else:
        if not (run_dir / runs.CONFIG_FILE).is_file():
            raise FileNotFoundError(f"{run_dir / runs.CONFIG_FILE} is missing")
        cli = ["train", "--config", str(run_dir / runs.CONFIG_FILE), "--output-dir", str(run_dir)]
    _spawn(cli, run_dir)
    # After the "starting" event: a restart never finds the run neither queued nor begun.
    durable.remove(run_dir / runs.QUEUE_FILE)


def start_scheduler() -> None:
    """The app's background loop: queued runs (also those left by a previous app) start as slots free up."""
    def loop():
        from finetune import sweep

        while True:
            try:
                sweep.advance_all()  # a sweep's next trial is queued (or a lagging one pruned) before slots are given
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
    halt(run_dir)


def halt(run_dir: Path, reason: str = "") -> None:
    """stop() without the owner's check, for the app's own decisions (a sweep stopped or pruning a trial)."""
    with _lock:
        state = _state(run_dir)
        if state is RunState.QUEUED:
            durable.remove(Path(run_dir) / runs.QUEUE_FILE)
            runs.append_event(run_dir, "status", status=Transition.STOPPED,
                              reason=reason or "taken out of the queue before it began")
            return
    if state not in LIVE:
        raise runs.RunError(f"run {run_dir.name} is {state}, not running: nothing to stop")
    runs.request_stop(run_dir, reason)
    if state is RunState.STARTING:  # the CLI clears STOP when training begins; SIGTERM reaches it in either phase
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
    runs.append_event(run_dir, "status", status=Transition.STARTING, pid=process.pid, app=os.getpid(),
                      command=["python", "-m", "finetune", *cli])
    threading.Thread(target=_reap, args=(process, run_dir), name=f"reap-{run_dir.name}", daemon=True).start()


def _reap(process: subprocess.Popen, run_dir: Path) -> None:
    """Wait for the child (so it leaves no zombie) and record how it ended if it could not say so itself."""
    code = process.wait()
    said = runs.status_events(runs.read_events(run_dir)[0])
    launched = max(i for i, e in enumerate(said) if e["status"] == Transition.STARTING and e.get("pid") == process.pid)
    since = [Transition(e["status"]) for e in said[launched + 1:]]
    if any(t in runs.ENDED or t in {Transition.STARTING, Transition.QUEUED} for t in since):
        pass  # it said how it ended (and a resumed run may have been queued or launched since)
    elif not since and (code == -signal.SIGTERM or runs.stop_requested(run_dir)):
        runs.append_event(run_dir, "status", status=Transition.STOPPED, reason=runs.STOPPED_STARTING)
    elif since and code is not None and code < 0:
        # Killed mid-training from outside (OOM killer, kill -9): its last checkpoint is intact.
        runs.append_event(run_dir, "status", status=Transition.INTERRUPTED, reason=runs.crash_reason(run_dir, code),
                          exit_code=code)
    else:
        runs.append_event(run_dir, "status", status=Transition.FAILED, reason=runs.crash_reason(run_dir, code),
                          exit_code=code)
    schedule()  # its slot is free
