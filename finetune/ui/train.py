"""The Train tab: the run form with presets and its code, then the live view of a run (queue position, progress, loss
curve, log, stop, resume, delete), the buttons acting only for the session that started the run."""
from __future__ import annotations

from dataclasses import fields
from types import SimpleNamespace

import gradio as gr
import pandas as pd

from finetune import FinetuneError, jobs, runs
from finetune.access import check_data, check_model
from finetune.config import DEVICES, PRECISIONS, PRESETS, SAMPLING, TRACKERS, RunConfig
from finetune.device import describe
from finetune.snippet import training_code
from finetune.ui.common import run_choices, user_errors

MODELS = ["bundled", "bert-base-uncased", "distilbert-base-uncased"]
PRESET_INFO = ("course: the chapter's recipe (TrainingArguments defaults) · default: the project's recipe, tuned on "
               "real MRPC · demo: lr 1e-4, 6 epochs on at most 800 pairs, about a minute on the sample. Editing any field makes a custom run.")
CURVE_TYPES = {"step": "int64", "value": "float64", "series": "str"}  # numeric axes from the very first (empty) draw
CURVE_COLORS = {"training loss": "#2563eb", "validation loss": "#f97316", "validation accuracy": "#16a34a",
                "validation F1": "#9333ea"}
CURVE_CAPTION = ("<small>x: training step · <b style='color:#2563eb'>training loss</b> · "
                 "<b style='color:#f97316'>validation loss</b> · <b style='color:#16a34a'>validation accuracy</b> · "
                 "<b style='color:#9333ea'>validation F1</b></small>")
HYPERPARAMETERS = [f.name for f in fields(RunConfig) if f.name not in {"model", "data", "preset"}]


def _help(name: str) -> str:
    return next(f.metadata["help"] for f in fields(RunConfig) if f.name == name)


def _number(name: str, label: str, **kwargs) -> gr.Number:
    return gr.Number(label=label, info=_help(name), **kwargs)


def _hyperparameter_inputs() -> dict[str, gr.components.Component]:
    default = RunConfig.from_preset("default")
    value = default.to_dict()
    return {
        "epochs": _number("epochs", "Epochs", value=value["epochs"], minimum=0.01),
        "learning_rate": _number("learning_rate", "Learning rate", value=value["learning_rate"], step=1e-5),
        "batch_size": _number("batch_size", "Batch size", value=value["batch_size"], precision=0, minimum=1),
        "eval_batch_size": _number("eval_batch_size", "Eval batch size", value=value["eval_batch_size"], precision=0, minimum=1),
        "weight_decay": _number("weight_decay", "Weight decay", value=value["weight_decay"], step=0.01),
        "warmup_ratio": _number("warmup_ratio", "Warmup ratio", value=value["warmup_ratio"], step=0.05),
        "dropout": _number("dropout", "Dropout (empty: the model's own)", value=value["dropout"], step=0.05, minimum=0),
        "freeze_embeddings": gr.Checkbox(value=value["freeze_embeddings"], label="Freeze word embeddings",
                                         info=_help("freeze_embeddings")),
        "max_length": _number("max_length", "Max length", value=value["max_length"], precision=0),
        "max_train_samples": _number("max_train_samples", "Max train samples (0: all)", value=0, precision=0, minimum=0),
        "max_eval_samples": _number("max_eval_samples", "Max eval samples (0: all)", value=0, precision=0, minimum=0),
        "seed": _number("seed", "Seed", value=value["seed"], precision=0, minimum=0),
        "precision": gr.Dropdown(list(PRECISIONS), value=value["precision"], label="Precision"),
        "sampling": gr.Dropdown(list(SAMPLING), value=value["sampling"], label="Sampling"),
        "logging_steps": _number("logging_steps", "Logging steps", value=value["logging_steps"], precision=0, minimum=1),
        "save_total_limit": _number("save_total_limit", "Checkpoints kept", value=value["save_total_limit"], precision=0, minimum=1),
        "device": gr.Dropdown(list(DEVICES), value=value["device"], label="Device", elem_id="train-device"),
        "processes": _number("processes", "Processes (0: automatic)", value=value["processes"], precision=0, minimum=0),
        "report_to": gr.Dropdown(list(TRACKERS), value=value["report_to"], label="Report to"),
    }


UNLIMITED = {"max_train_samples", "max_eval_samples"}  # 0 in the form: no limit (None in the config)


def form_config(model: str, data: str, preset: str, *values) -> RunConfig:
    """The form as a RunConfig: every field as shown (the preset only filled them in), so the run is what you see."""
    settings = dict(zip(HYPERPARAMETERS, values))
    settings.update({name: settings[name] or None for name in UNLIMITED})
    return RunConfig(model=(model or "").strip(), data=(data or "").strip(), preset=preset, **settings)


def preset_values(preset: str) -> list:
    chosen = RunConfig.from_preset(preset)
    values = {name: getattr(chosen, name) for name in HYPERPARAMETERS}
    return [0 if name in UNLIMITED and value is None else value for name, value in values.items()]


def hardware_line(device: str, precision: str) -> str:
    """What a run with this form trains on here, e.g. 'Device: cpu (2 cores), precision bf16 (AVX512-BF16)'."""
    try:
        return describe(device, precision)["hardware"]
    except FinetuneError as err:
        return f"**{err}**"


def show_code(*form) -> str:
    try:
        return training_code(jobs.checked(form_config(*form)))
    except FinetuneError as err:
        return f"# The form cannot be run yet: {err}\n"


def model_choices() -> dict:
    finished = [(f"{label} (continue from this run)", str(runs.runs_dir().resolve() / name))
                for label, name in run_choices(finished_only=True)]
    return gr.update(choices=[*MODELS, *finished])


def session_token(token: str | None) -> str:
    """On page load: this browser's owner token, made once and kept in its localStorage (gr.BrowserState)."""
    return token or runs.new_owner_token()


@user_errors
def start(token: str | None, *form):
    token = session_token(token)
    config = form_config(*form)
    check_model(config.model)  # the page trains only on what this app serves, never on another server path
    check_data(config.data)
    run_dir = jobs.start(config, owner=token)
    position = jobs.status(run_dir)["queue_position"]
    gr.Info(f"Run {run_dir.name} is waiting in the queue: number {position}" if position else f"Started run {run_dir.name}")
    return gr.update(choices=run_choices(), value=run_dir.name), token


@user_errors
def stop(name: str, token: str | None):
    jobs.stop(jobs.find_run(name), owner=token)
    gr.Info("Stop requested: the run saves a checkpoint at its next step and ends as stopped.")


@user_errors
def resume(name: str, token: str | None):
    run_dir = jobs.resume(jobs.find_run(name), owner=token)
    position = jobs.status(run_dir)["queue_position"]
    gr.Info(f"Run {name} waits in the queue (number {position}) to resume" if position
            else f"Resuming run {name} from its last checkpoint")


@user_errors
def delete(name: str, token: str | None):
    jobs.delete(jobs.find_run(name), owner=token)
    gr.Info(f"Deleted run {name}")
    return gr.update(choices=run_choices(), value=None)


def reattach(token: str | None):
    """On page load: this session's queued or live run, else any live run, else the newest; read from the runs folder."""
    summaries = jobs.list_summaries()
    mine = [s["run"] for s in summaries if s["state"] in jobs.WAITING_OR_LIVE and s["owned"]
            and runs.is_owner(runs.runs_dir() / s["run"], token)]
    live = [s["run"] for s in summaries if s["state"] in jobs.LIVE]
    chosen = (mine or live or [s["run"] for s in summaries] or [None])[0]
    return gr.update(choices=run_choices(), value=chosen)


def progress_html(summary: dict) -> str:
    step, total = summary["step"], summary["max_steps"]
    share = step / total if total else (1.0 if summary["state"] == "finished" else 0.0)
    if summary["state"] == jobs.QUEUED:
        return f'<p style="margin:4px 0">waiting for a free training slot: number {summary["queue_position"]} in the queue</p>'
    eta = summary["eta_seconds"]
    left = f" · about {eta // 60:.0f} min {eta % 60:02.0f} s left" if eta is not None else ""
    steps = f"step {step} / {total}" if total else "waiting for the first step"
    return (f'<div style="background:#e5e7eb;border-radius:6px;height:14px;overflow:hidden">'
            f'<div class="run-progress" style="background:#2563eb;height:100%;width:{100 * share:.1f}%"></div></div>'
            f'<p style="margin:4px 0">{steps} · epoch {summary["epoch"]:.2f}{left}</p>')


def status_markdown(summary: dict) -> str:
    queued = f" (number {summary['queue_position']} in the queue)" if summary["queue_position"] else ""
    parts = [f"**{summary['state']}**{queued} · {summary['model']} on {summary['data']}"]
    if summary["loss"] is not None:
        parts.append(f"training loss {summary['loss']:.4f}")
    if summary["evaluations"]:
        last = summary["evaluations"][-1]
        parts.append(f"validation accuracy {last['accuracy']:.3f}, F1 {last['f1']:.3f} (epoch {last['epoch']:g})")
    text = " · ".join(parts)
    if summary["reason"]:
        text += f"\n\n{summary['reason']}"
    if summary["state"] == "finished":
        text += "\n\nSee it in the **Evaluate** tab, or ask it in the **Playground**."
    return text


def curve_frame(points: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(points, columns=list(CURVE_TYPES)).astype(CURVE_TYPES)


def curve_update(points: list[dict]) -> dict:
    """The chart, shown only once it has a point: the chart sets its scales, colours and height when first drawn, so
    it is first drawn with data, and with every series (empty ones as one blank point) or it never draws them."""
    blanks = [{"step": points[0]["step"], "value": None, "series": name}
              for name in CURVE_COLORS if points and name not in {p["series"] for p in points}]
    return gr.update(value=curve_frame(points + blanks), visible=bool(points))


def poll(name: str | None, seen: list | None, token: str | None):
    """One timer tick: redraw what changed in the run's folder since this page's last tick.

    `seen` is [run, state, size of events.jsonl, size of the log] at the last redraw; run labels follow state changes.
    Stop, Resume and Delete are live only for the session that started the run.
    """
    idle = [gr.update(interactive=False)] * 3
    try:
        run_dir = jobs.find_run(name) if name else None
    except FinetuneError as err:
        return str(err), "", curve_update([]), "", *idle, gr.skip(), None
    if run_dir is None:
        if seen == [None]:
            return *[gr.skip()] * 8, seen
        return "Start a run, or pick one.", "", curve_update([]), "", *idle, gr.skip(), [None]
    summary = jobs.status(run_dir)
    sizes = [(run_dir / f).stat().st_size if (run_dir / f).exists() else 0 for f in (runs.EVENTS_FILE, runs.LOG_FILE)]
    mark = [name, summary["state"], summary["queue_position"], *sizes]
    mine = runs.is_owner(run_dir, token)
    buttons = [gr.update(interactive=mine and summary["state"] in jobs.WAITING_OR_LIVE),
               gr.update(interactive=mine and summary["resumable"]),
               gr.update(interactive=mine and summary["state"] not in jobs.WAITING_OR_LIVE)]
    if mark == seen:
        return gr.skip(), progress_html(summary), gr.skip(), gr.skip(), *buttons, gr.skip(), mark
    labels = gr.update(choices=run_choices()) if not seen or seen[:2] != mark[:2] else gr.skip()
    curve = curve_update(jobs.loss_curve(run_dir))
    return status_markdown(summary), progress_html(summary), curve, jobs.log_tail(run_dir), *buttons, labels, mark


def owner_token() -> gr.BrowserState:
    """Who this browser is, across page reloads and app restarts (the secret is kept in the runs folder). Made outside
    the tabs: a component in a tab not yet opened is not mounted, so it would neither load nor keep its value."""
    return gr.BrowserState(None, storage_key="finetune-owner", secret=runs.browser_secret())


def create_train_tab(app: gr.Blocks, token: gr.BrowserState) -> SimpleNamespace:
    with gr.Tab("Train", id="train"):
        with gr.Row():
            with gr.Column(scale=2):
                preset = gr.Radio(list(PRESETS), value="default", label="Preset", info=PRESET_INFO)
                model = gr.Dropdown(MODELS, value="bundled", allow_custom_value=True, label="Model",
                                    info="bundled (all-MiniLM-L6-v2, offline), a Hub id, a local model folder, or a finished run")
                data = gr.Dropdown(["sample", "hub"], value="sample", allow_custom_value=True, label="Data",
                                   info="sample, hub, or a folder or file on the server (the Data tab fills this in)")
                with gr.Accordion("Hyperparameters", open=True), gr.Row():
                    inputs = _hyperparameter_inputs()
                hardware = gr.Markdown(elem_id="train-hardware")
                start_button = gr.Button("Start training", variant="primary")
                with gr.Accordion("Show the code: the same run as plain datasets + Trainer", open=False):
                    code = gr.Code(language="python", label="train_mrpc.py", lines=20)
            with gr.Column(scale=3):
                with gr.Row():
                    run = gr.Dropdown(label="Run", choices=[], allow_custom_value=True, scale=4, elem_id="train-run")
                    refresh = gr.Button("↻", scale=0, min_width=40)
                    stop_button = gr.Button("Stop", variant="stop", interactive=False, scale=1)
                    resume_button = gr.Button("Resume", interactive=False, scale=1)
                    delete_button = gr.Button("Delete", interactive=False, scale=1)
                status = gr.Markdown(elem_id="run-status")
                progress = gr.HTML(elem_id="run-progress")
                curve = gr.LinePlot(curve_frame([]), x="step", y="value", color="series", visible=False,
                                    color_map=CURVE_COLORS, label="Loss and validation metrics", color_title="",
                                    height=420, elem_id="loss-curve")  # a fixed height: drawn right in a hidden tab
                gr.Markdown(CURVE_CAPTION)  # the fixed height leaves the chart's own legend no room
                log = gr.Textbox(label="Log: the last lines the training process printed", lines=jobs.LOG_TAIL_LINES,
                                 max_lines=jobs.LOG_TAIL_LINES + 10, elem_id="run-log")
        seen = gr.State(None)
        timer = gr.Timer(1.0)

    form = [model, data, preset, *inputs.values()]
    preset.input(preset_values, preset, list(inputs.values()), api_visibility="private")
    gr.on([c.change for c in form] + [app.load], show_code, form, code, api_visibility="private", show_progress="hidden")
    gr.on([app.load], model_choices, None, model, api_visibility="private")
    gr.on([inputs["device"].change, inputs["precision"].change, app.load], hardware_line,
          [inputs["device"], inputs["precision"]], hardware, api_visibility="private", show_progress="hidden")
    app.load(session_token, token, token, api_visibility="private")
    start_button.click(start, [token, *form], [run, token], api_visibility="private")
    stop_button.click(stop, [run, token], None, api_visibility="private")
    resume_button.click(resume, [run, token], None, api_visibility="private")
    delete_button.click(delete, [run, token], run, api_visibility="private")
    app.load(reattach, token, run, api_visibility="private")
    refresh.click(lambda name: gr.update(choices=run_choices(), value=name), run, run, api_visibility="private")
    outputs = [status, progress, curve, log, stop_button, resume_button, delete_button, run, seen]
    gr.on([timer.tick, run.change], poll, [run, seen, token], outputs, api_visibility="private", show_progress="hidden",
          concurrency_limit=None)
    return SimpleNamespace(model=model, data=data, run=run)
