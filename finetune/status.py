"""What a run shows, read from its folder alone: its typed status (what /status answers and the Train tab draws), the
points of its loss curve, and a revision that tells a page whether anything changed since it last looked."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from finetune import runs
from finetune.config import ConfigError, RunConfig
from finetune.runs import RESUMABLE, RunState
from finetune.tasks import METRIC_KEYS, METRIC_NAMES

CURVE_SERIES = {"log": [("loss", "training loss")],
                "eval": [("loss", "validation loss"), *((k, f"validation {name}") for k, name in METRIC_NAMES.items())]}
EARLY_STOP, BEST_KEPT = "stopped early here", "best model (kept)"


@dataclasses.dataclass(frozen=True)
class RunStatus:
    """A run as any page or client sees it; `revision` changes whenever anything else here may have."""

    run: str
    state: RunState
    reason: str | None
    model: str | None
    data: str | None
    preset: str | None
    step: int
    max_steps: int | None
    epoch: float
    loss: float | None
    learning_rate: float | None
    evaluations: list[dict]
    metrics: dict | None
    eta_seconds: float | None
    resumable: bool
    queue_position: int | None
    # A queued run's wait: the runs training now (with their time left), then those queued ahead.
    waiting_for: list[dict]
    owned: bool
    revision: str
    # Resumed with dropout on: its masks after the resume differ from an uninterrupted run's (README: stop and resume).
    resumed_with_dropout: bool = False
    # Early stopping ended it: where (step, epoch), on which metric, the best figure and the step it was kept from.
    early_stop: dict | None = None

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "state": str(self.state)}


def _config(run_dir: Path) -> RunConfig | None:
    try:
        return RunConfig.load(run_dir / runs.CONFIG_FILE)
    except ConfigError:  # not written yet (a run that failed at once), or damaged: the status still answers
        return None


def _eta(logs: list[dict], now: float) -> float | None:
    """Seconds left: the training process's own estimate at its last log line, less the time since."""
    if not logs or logs[-1].get("eta_seconds") is None:
        return None
    return max(0.0, logs[-1]["eta_seconds"] - (now - logs[-1]["time"]))


def _queue_position(run_dir: Path) -> int | None:
    """1 for the next run to start; None if it left the queue meanwhile."""
    waiting = [p.name for p in runs.queued_runs(run_dir.parent)]
    return waiting.index(run_dir.name) + 1 if run_dir.name in waiting else None


def _waiting_for(run_dir: Path) -> list[dict]:
    """The runs a queued run waits for: those training now, with the time they have left, then those queued ahead of
    it (whose length is not known before they start)."""
    training = []
    for other in runs.list_runs(run_dir.parent):
        if runs.state_of(other)[0] in runs.LIVE:
            logs = [e for e in runs.read_events(other)[0] if e["type"] == "log"]
            training.append({"run": other.name, "state": "training", "eta_seconds": _eta(logs, time.time())})
    waiting = [p.name for p in runs.queued_runs(run_dir.parent)]
    ahead = waiting[:waiting.index(run_dir.name)] if run_dir.name in waiting else []
    return training + [{"run": name, "state": "queued", "eta_seconds": None} for name in ahead]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def status_of(run_dir: Path) -> RunStatus:
    """Everything the app shows about a run, read from its folder alone (so any page or client can ask)."""
    run_dir = Path(run_dir)
    sizes = (_size(run_dir / runs.EVENTS_FILE), _size(run_dir / runs.LOG_FILE))  # before reading: never newer than it
    events, _ = runs.read_events(run_dir)
    state, reason = runs.state_of(run_dir, events)
    stepped = [e for e in events if e["type"] in {"progress", "log", "eval"}]
    logs = [e for e in events if e["type"] == "log"]
    latest = stepped[-1] if stepped else {}
    final = runs.read_metrics(run_dir) if state is RunState.FINISHED else None
    config = _config(run_dir)
    position = _queue_position(run_dir) if state is RunState.QUEUED else None
    return RunStatus(
        run=run_dir.name, state=state, reason=reason,
        model=config.model if config else None, data=config.data if config else None,
        preset=config.preset if config else None,
        step=latest.get("step", 0), max_steps=latest.get("max_steps"), epoch=latest.get("epoch", 0.0),
        loss=logs[-1]["loss"] if logs else None, learning_rate=logs[-1].get("learning_rate") if logs else None,
        evaluations=[{k: e[k] for k in ("epoch", "step", *METRIC_KEYS, "loss") if k in e}
                     for e in events if e["type"] == "eval"],
        metrics=final["final"] if final else None,
        eta_seconds=_eta(logs, time.time()) if state is RunState.RUNNING else None,
        resumable=state in RESUMABLE and runs.last_checkpoint(run_dir) is not None,
        queue_position=position, waiting_for=_waiting_for(run_dir) if position else [], owned=runs.owned(run_dir),
        revision=f"{state}:{position}:{sizes[0]}:{sizes[1]}",
        resumed_with_dropout=bool(config) and config.dropout != 0 and any(
            e["type"] == "status" and e["status"] == "resumed" for e in events),
        early_stop=next(({k: v for k, v in e.items() if k not in ("time", "type")} for e in events
                         if e["type"] == "early_stop"), None),
    )


def all_statuses() -> list[RunStatus]:
    """status_of() every run under runs_dir(), newest first."""
    return [status_of(run_dir) for run_dir in runs.list_runs()]


def loss_curve(run_dir: Path) -> list[dict]:
    """Points for the live chart: training loss per logging step, validation loss, accuracy and F1 per evaluation.

    A step logged twice (a crashed run resumed from an earlier checkpoint) keeps its latest value.
    """
    points: dict[tuple[str, int], float] = {}
    for event in runs.read_events(run_dir)[0]:
        for key, name in CURVE_SERIES.get(event["type"], []):
            if event.get(key) is not None:
                points[(name, event["step"])] = event[key]
    by_step = sorted(points.items(), key=lambda point: point[0][1])
    curve = [{"step": step, "value": value, "series": name} for (name, step), value in by_step]
    stopped = next((e for e in runs.read_events(run_dir)[0] if e["type"] == "early_stop"), None)
    if stopped and curve:
        # Two vertical lines from 0 to the top of the chart: where early stopping ended the run, and the step whose
        # weights it kept.
        top = max(p["value"] for p in curve)
        for name, step in ((EARLY_STOP, stopped["step"]), (BEST_KEPT, stopped["best_step"])):
            curve += [{"step": step, "value": 0.0, "series": name}, {"step": step, "value": top, "series": name}]
    return curve
