"""The Compare tab: a sweep's trials table (sortable, the best marked) and its main metric against the setting it
varied, and the curves of any runs overlaid, one colour per run, against step or epoch; live while they train."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import numpy as np
import pandas as pd

from finetune import FinetuneError, runs, sweep
from finetune.compare import X_AXES, curves, metric_title, setting_points
from finetune.eta import in_words
from finetune.tasks import METRIC_NAMES
from finetune.ui.common import run_choices, user_errors

EXPLAIN = """
**Which setting is best?** A sweep trains one run per value (or per combination of two settings' values, or per
trial of an Optuna search over a range) and keeps them side by side: start one from the **Train** tab's *Sweep*
section, or with `python -m finetune sweep`. Here, its trials as a table (the ⋮ menu on a column's name sorts by it;
★ marks the best by the task's main metric, measured on the validation split the runs were scored on), and the
curves of any runs, one colour per run. Curves that overlap in the first epoch and part later tell more than the
final numbers alone: a learning rate too high shows as a loss that stalls or climbs; one too low as a loss that falls
slowly. On one validation split, a difference of a point or two between trials is within what the seed alone changes.
"""

# Tableau 10: one colour per run, the same run the same colour in both charts.
PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac"]


def sweep_choices() -> list[tuple[str, str]]:
    """(label, name) of the sweeps, newest first."""
    choices = []
    for folder in sweep.list_sweeps():
        doc = sweep.read(folder)
        varied = ", ".join([*doc["space"]["grid"], *doc["space"]["search"]])
        choices.append((f"{doc['name']} · {varied} · {len(doc['trials'])}/{doc['total']} · {doc['state']}",
                        doc["name"]))
    return choices


def sweep_words(doc: dict) -> str:
    summary = sweep.summary(doc)
    main = METRIC_NAMES.get(doc["main_metric"], doc["main_metric"])
    done = sum(1 for t in doc["trials"] if t["state"] not in sweep.WAITING)
    seconds = [t["seconds"] for t in doc["trials"] if t.get("seconds") and t["state"] not in sweep.WAITING]
    text = (f"**{doc['state']}** · {doc['kind']} over {', '.join([*doc['space']['grid'], *doc['space']['search']])}"
            f" · {done} of {doc['total']} trials ended")
    if seconds and doc["state"] == sweep.RUNNING:
        left = (doc["total"] - done) * sum(seconds) / len(seconds)
        text += f" · about {in_words(left)} left (at the pace of the trials so far)"
    best = summary["best"]
    if best:
        text += (f"\n\n★ best so far: trial {best['trial']} ({best['run']}), validation {main} "
                 f"{best[doc['main_metric']]:.4f}")
    pruned = sum(1 for t in doc["trials"] if t["state"] == sweep.PRUNED)
    if pruned:
        text += (f"\n\n{pruned} trial{'s were' if pruned > 1 else ' was'} pruned: stopped at an epoch where its "
                 f"validation {main} was below the median of the earlier trials there.")
    return text


def trials_frame(doc: dict) -> pd.DataFrame:
    rows = sweep.trials_table(doc)
    for row in rows:
        row["best"] = "★" if row["best"] else ""
        if row[doc["main_metric"]] is not None:
            row[doc["main_metric"]] = round(row[doc["main_metric"]], 4)
    columns = ["best", "trial", *doc["space"]["grid"], *doc["space"]["search"], "state", doc["main_metric"],
               "seconds", "stopped early", "run"]
    return pd.DataFrame(rows, columns=columns)


def _frame(points: list[dict], x: str, y: str) -> pd.DataFrame | None:
    if not points:
        return None  # a chart fixes its axes' types from its first value: first drawn with numbers, never empty
    return pd.DataFrame({x: [p[x] for p in points], y: [p["value"] for p in points], "run": [p["run"] for p in points]})


@user_errors
def show_sweep(name: str | None, token: str | None, chosen: list[str] | None = None):
    """The sweep's words, trials table, setting plot, the runs for the curves (its trials added to those chosen),
    the Stop button and the timer."""
    if not name:
        return ("No sweep yet: start one from the **Train** tab's *Sweep* section.", None,
                gr.update(value=None, visible=False), gr.skip(), gr.update(interactive=False), gr.Timer(active=False))
    folder = sweep.find_sweep(name)
    doc = sweep.read(folder)
    points = setting_points(doc)
    plot = gr.update(visible=False)
    if points and points[1]:
        setting, rows = points
        frame = pd.DataFrame(rows)
        if setting == "learning_rate":  # rates are tried a factor apart: equal steps on a log axis
            setting = "log10 learning_rate"
            frame[setting] = np.log10(frame["learning_rate"])
        # No colour by state: a chart's colour scale is fixed at its first draw, and a state seen later would not show.
        plot = gr.update(value=frame, x=setting, y=doc["main_metric"], visible=True, x_title=setting,
                         y_title=f"validation {METRIC_NAMES.get(doc['main_metric'])}")
    running = doc["state"] == sweep.RUNNING
    trial_runs = [t["run"] for t in doc["trials"]]
    if chosen is None or set(trial_runs) - set(chosen):  # a sweep just picked, or a new trial begun
        kept = [n for n in chosen or [] if n not in trial_runs]
        runs_update = gr.update(choices=run_choices(), value=trial_runs + kept)
    else:
        runs_update = gr.update(choices=run_choices())  # the chosen runs' labels say their state as it changes
    return (sweep_words(doc), trials_frame(doc), plot, runs_update,
            gr.update(interactive=running and runs.is_owner(folder, token)), gr.Timer(active=running))


def tick(name: str | None, token: str | None, chosen: list[str] | None, x: str):
    """While the sweep runs: its table anew, the sweeps' list (their progress), and the curves' newest points."""
    return (*show_sweep(name, token, chosen or []), *show_curves(chosen, x)[:2],
            gr.update(choices=sweep_choices()))


@user_errors
def show_curves(names: list[str] | None, x: str, drawn: str | None = None, again: bool = False):
    """The chosen runs' training loss and validation main metric, overlaid, against step or epoch; and what they
    show (the axis and the runs), for redraw()."""
    found = []
    for name in names or []:
        try:
            found.append(runs.find_run(name))
        except FinetuneError:
            continue  # deleted since it was listed
    loss, validation, metric = curves(found)
    title = metric_title(metric)
    labels = list(dict.fromkeys(p["run"] for p in loss + validation))
    color = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)}  # a run's colour in both charts
    in_loss, in_validation = (list(dict.fromkeys(p["run"] for p in points)) for points in (loss, validation))
    shown = "|".join([x, *in_loss, "/", *in_validation])
    if again and shown == drawn:
        return gr.skip(), gr.skip(), drawn

    def colors(present: list[str]) -> dict:
        # A chart's colour scale is set when it is drawn, and a new colour map redraws it: the map of the runs it
        # shows, in reverse order on the second pass (a new map, so a redraw, over data that now holds every run).
        return {label: color[label] for label in (reversed(present) if again else present)}

    return (gr.update(value=_frame(loss, x, "training loss"), x=x, y="training loss", color_map=colors(in_loss),
                      visible=bool(loss)),
            gr.update(value=_frame(validation, x, title), x=x, y=title, color_map=colors(in_validation),
                      visible=bool(validation)),
            shown if again else drawn)


def redraw(names: list[str] | None, x: str, drawn: str | None):
    """The second pass after any change of the curves: the chart redrawn once more if its runs or axis changed,
    because its first redraw took its colours from the data it held before (a run just added left out)."""
    return show_curves(names, x, drawn, again=True)


@user_errors
def stop_sweep(name: str | None, token: str | None) -> None:
    if not name:
        raise runs.RunError("pick a sweep to stop")
    sweep.stop(sweep.find_sweep(name), owner=token)
    gr.Info(f"Sweep {name} is stopping: its live trial saves a checkpoint, its queued ones leave the queue")


def create_compare_tab(app: gr.Blocks, token: gr.BrowserState) -> SimpleNamespace:
    with gr.Tab("Compare", id="compare") as tab:
        gr.Markdown(EXPLAIN)
        with gr.Row():
            pick = gr.Dropdown(label="Sweep", choices=[], allow_custom_value=True, scale=4, elem_id="compare-sweep")
            stop_button = gr.Button("Stop the sweep", variant="stop", interactive=False, scale=1,
                                    elem_id="sweep-stop")
        words = gr.Markdown(elem_id="sweep-status")
        trials = gr.Dataframe(None, label="Trials (sort by a column from the ⋮ menu on its name)", interactive=False,
                              elem_id="sweep-trials")
        by_setting = gr.ScatterPlot(None, x="x", y="y", visible=False, elem_id="sweep-setting-plot",
                                    label="The main metric against the setting varied, one point per trial")
        with gr.Row():
            chosen = gr.Dropdown(label="Runs to overlay (a sweep's trials, or any runs)", multiselect=True, choices=[],
                                 allow_custom_value=True, scale=4, elem_id="compare-runs")
            x_axis = gr.Radio(list(X_AXES), value="step", label="x axis", scale=1, elem_id="compare-x")
        # One above the other, the page's width each: room for a legend of several runs' settings.
        loss_plot = gr.LinePlot(None, x="step", y="training loss", color="run", visible=False,
                                label="Training loss", elem_id="compare-loss")
        metric_plot = gr.LinePlot(None, x="step", y="validation F1", color="run", visible=False,
                                  label="Validation, the task's main metric", elem_id="compare-metric")
        timer = gr.Timer(2.0, active=False)  # on while the chosen sweep runs

    def lists(name: str | None):
        choices = sweep_choices()
        names = [n for _, n in choices]
        return gr.update(choices=choices, value=name if name in names else (names[0] if names else None))

    # On opening the tab, not on the page's load: a chart first drawn in a hidden tab is drawn without its size.
    tab.select(lists, pick, pick, api_visibility="private")
    sweep_outputs = [words, trials, by_setting, chosen, stop_button, timer]
    pick.change(show_sweep, [pick, token], sweep_outputs, api_visibility="private", show_progress="hidden")
    drawn = gr.State(None)
    curve_outputs = [loss_plot, metric_plot, drawn]
    timer.tick(tick, [pick, token, chosen, x_axis], [*sweep_outputs, loss_plot, metric_plot, pick],
               api_visibility="private", show_progress="hidden").then(
        redraw, [chosen, x_axis, drawn], curve_outputs, api_visibility="private", show_progress="hidden")
    gr.on([chosen.change, x_axis.change], show_curves, [chosen, x_axis, drawn], curve_outputs,
          api_visibility="private", show_progress="hidden").then(
        redraw, [chosen, x_axis, drawn], curve_outputs, api_visibility="private", show_progress="hidden")
    stop_button.click(stop_sweep, [pick, token], None, api_visibility="private")
    return SimpleNamespace(pick=pick, tab=tab, runs=chosen)
