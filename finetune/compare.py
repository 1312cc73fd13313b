"""Runs side by side: each run's training loss and validation main metric as points against step or epoch, a label
that says what differs (a sweep trial's settings), and a sweep's main metric against the setting it varied."""
from __future__ import annotations

from pathlib import Path

from finetune import runs, sweep
from finetune.tasks import METRIC_NAMES

X_AXES = ("step", "epoch")


def run_label(run_dir: Path) -> str:
    """'t2 learning_rate=0.0001' for a sweep's trial (its settings are what differ), else the run's name."""
    trial = sweep.trial_of(run_dir)
    if trial is None:
        return Path(run_dir).name
    try:
        doc = sweep.read(Path(run_dir) / trial["folder"])
        settings = doc["trials"][trial["trial"]]["settings"]
    except (OSError, ValueError, IndexError, KeyError):
        return Path(run_dir).name
    said = " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in settings.items())
    return f"t{trial['trial'] + 1} {said}"


def main_metric(run_dir: Path) -> str:
    """The run's task's main metric (from its metrics or, before they exist, its evaluations), F1 for MRPC."""
    metrics = runs.read_metrics(run_dir) or {}
    if metrics.get("main_metric"):
        return metrics["main_metric"]
    trial = sweep.trial_of(run_dir)
    try:
        if trial:
            return sweep.read(Path(run_dir) / trial["folder"])["main_metric"]
        return runs.run_task(run_dir).main_metric
    except (OSError, ValueError, KeyError):
        return "f1"


def curves(run_dirs: list[Path]) -> tuple[list[dict], list[dict], str]:
    """(training loss points, validation points, the metric's name): one point per logged step or evaluation, with
    its run's label, step and epoch. The validation metric is the first run's main metric (one task's runs share it)."""
    metric = main_metric(run_dirs[0]) if run_dirs else "f1"
    loss, validation = [], []
    for run_dir in run_dirs:
        label = run_label(run_dir)
        kept: dict[tuple[str, int], dict] = {}  # a step logged twice (resumed from an earlier checkpoint): the latest
        for event in runs.read_events(run_dir)[0]:
            if event["type"] == "log" and event.get("loss") is not None:
                kept[("loss", event["step"])] = {"run": label, "step": event["step"],
                                                 "epoch": round(event.get("epoch", 0), 4), "value": event["loss"]}
            elif event["type"] == "eval" and event.get(metric) is not None:
                kept[("eval", event["step"])] = {"run": label, "step": event["step"],
                                                 "epoch": round(event.get("epoch", 0), 4), "value": event[metric]}
        for (kind, _), point in sorted(kept.items(), key=lambda item: item[0][1]):
            (loss if kind == "loss" else validation).append(point)
    return loss, validation, metric


def metric_title(metric: str) -> str:
    return f"validation {METRIC_NAMES.get(metric, metric)}"


def setting_points(doc: dict) -> tuple[str, list[dict]] | None:
    """For a sweep that varies one setting: (the setting, a point per trial with a figure: its value, the main
    metric, its name and state); else None."""
    varied = [*doc["space"]["grid"], *doc["space"]["search"]]
    if len(varied) != 1:
        return None
    name = varied[0]
    points = [{name: t["settings"][name], doc["main_metric"]: t["value"], "trial": f"t{t['number'] + 1}",
               "state": t["state"]} for t in doc["trials"] if t.get("value") is not None]
    return name, points
