"""The Train tab: the run form (built from RunConfig's own table of settings) with presets and its code, then the live
view of a run (queue position, progress, loss curve, log, stop, resume, delete), the buttons acting only for the
session that started the run. Its timer runs only while the run shown can still change."""
from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pandas as pd

from finetune import FinetuneError, jobs, runs, sweep, uploads
from finetune.access import check_data, check_model
from finetune.config import DETECTED, PRESETS, RunConfig, hyperparameters, value_kind
from finetune.device import resolve_hardware
from finetune.eta import in_words
from finetune.runs import WAITING_OR_LIVE, RunState
from finetune.snippet import training_code
from finetune.status import BEST_KEPT, EARLY_STOP, RunStatus, loss_curve, status_of
from finetune.tasks import KNOWN as KNOWN_TASKS
from finetune.tasks import METRIC_NAMES, figures_text
from finetune.ui.common import gradio_temp_dir, run_choices, session_owner, user_errors

EXPLAIN = """
**Step 3: training.** `Trainer` fine-tunes the model on the training split: a batch at a time it computes the loss of
the model's answers, the gradient of that loss, and an AdamW step. Pick a recipe (**course** is the chapter's:
`TrainingArguments`' defaults; **default** is this project's, about 3x faster on a CPU at the same accuracy; **demo**
takes a couple of minutes on the bundled sample), a model and data, then **Start training**. The curve shows the
training loss every few steps and the validation loss, accuracy and F1 after each epoch.
"""
MODELS = ["bundled", "bert-base-uncased", "distilbert-base-uncased"]
PRESET_INFO = ("course: the chapter's recipe (TrainingArguments defaults) · default: the project's recipe, tuned on "
               "real MRPC · demo: a couple of minutes on the sample. Editing any hyperparameter makes a custom run.")
CURVE_TYPES = {"step": "int64", "value": "float64", "series": "str"}  # numeric axes from the very first (empty) draw
CURVE_COLORS = {"training loss": "#2563eb", "validation loss": "#f97316", "validation accuracy": "#16a34a",
                "validation F1": "#9333ea", "validation macro F1": "#9333ea", "validation Matthews corr.": "#16a34a",
                "validation Pearson": "#16a34a", "validation Spearman": "#9333ea", EARLY_STOP: "#dc2626",
                BEST_KEPT: "#111827"}
CURVE_CAPTION = ("<small>x: training step · <b style='color:#2563eb'>training loss</b> · "
                 "<b style='color:#f97316'>validation loss</b> · <b style='color:#16a34a'>validation accuracy</b> "
                 "(Matthews or Pearson correlation for CoLA or a score) · <b style='color:#9333ea'>validation F1</b> "
                 "(macro F1, or Spearman) · early stopping: <b style='color:#dc2626'>where it stopped</b> and "
                 "<b style='color:#111827'>the step whose model it kept</b></small>")
WIDGET_IDS = {"device": "train-device"}
# Own data's columns and labels, as the form asks for them; empty: detected from the data.
OWN_DATA = {"text_columns": "sentence1,sentence2 · or text", "label_column": "label", "labels": "negative,positive"}


def form_value(field, value):
    """What the form shows for a setting's value: an unset optional setting as its form value (0: all, empty)."""
    unset = field.metadata["unset"]
    return unset.form if value is None and unset else value


def _widget(field, value) -> gr.components.Component:
    """The form's input for one RunConfig field, from the field's label, help, choices and bounds."""
    m, kind = field.metadata, value_kind(field)
    common = {"label": m["label"], "info": m["help"], "elem_id": WIDGET_IDS.get(field.name)}
    if m["choices"] is not None:
        return gr.Dropdown(list(m["choices"]), value=value, **common)
    if kind is bool:
        return gr.Checkbox(value=value, **common)
    minimum = m["unset"].form if m["unset"] and m["unset"].form is not None else (
        None if m["open_low"] else m["low"])
    return gr.Number(value=form_value(field, value), precision=0 if kind is int else None, minimum=minimum,
                     step=m["step"] or 1, **common)


def hyperparameter_inputs() -> dict[str, gr.components.Component]:
    """One input per hyperparameter, by name, filled with the default preset."""
    default = RunConfig.from_preset("default")
    return {f.name: _widget(f, getattr(default, f.name)) for f in hyperparameters()}


def form_config(settings: dict) -> RunConfig:
    """The form as a RunConfig, by setting name: every field as shown (the preset only filled them in)."""
    fields = {f.name: f for f in hyperparameters()}
    values = {}
    for name, value in settings.items():
        unset = fields[name].metadata["unset"] if name in fields else None
        unset = unset or (OWN_DATA.get(name) and DETECTED)
        values[name] = None if unset and (value is None or value == unset.form or value == "") else value
    return RunConfig(**values)


def preset_values(preset: str) -> dict[str, object]:
    """The hyperparameters' form values for a preset, by name."""
    chosen = RunConfig.from_preset(preset)
    return {f.name: form_value(f, getattr(chosen, f.name)) for f in hyperparameters()}


def hardware_line(device: str, precision: str) -> str:
    """What a run with this form trains on here, e.g. 'Device: cpu (2 cores), precision bf16 (AVX512-BF16)'."""
    try:
        return resolve_hardware(device, precision)["hardware"]
    except FinetuneError as err:
        return f"**{err}**"


def show_code(settings: dict) -> str:
    try:
        return training_code(form_config(settings).normalized())
    except FinetuneError as err:
        return f"# The form cannot be run yet: {err}\n"


LR_FIND = ("A copy of the form's model trains on the form's data for up to 100 batches while the learning rate grows "
           "from 1e-7 towards 1; the loss is drawn against the rate, and the suggestion is where it falls fastest. "
           "Nothing is saved. It looks at the first steps only: a guide to where to start, not a guarantee.")


@user_errors
def find_rate(settings: dict):
    """The range test for the form's settings, in a child process: the curve, the suggestion, and a button to use
    it."""
    import math

    from finetune.lr_find import lr_find_in_child

    config = form_config(settings).normalized()
    check_model(config.model)
    check_data(config.data)
    found = lr_find_in_child(config)
    curve = pd.DataFrame({"log10 learning rate": [math.log10(r) for r in found["learning_rates"]],
                          "smoothed loss": found["losses"]})
    rate = found["suggestion"]
    words = (f"{found['steps']} steps of batch {found['batch_size']} on {found['train_rows']} training rows in "
             f"{found['seconds']:.0f} s ({found['precision']}). ")
    words += (f"**Suggested learning rate: {rate:.2g}** (the steepest fall of the loss)." if rate else
              "The loss never fell: no suggestion (a model that learns nothing from this data at any rate here).")
    return curve, words, gr.update(visible=bool(rate)), float(f"{rate:.2g}") if rate else None


SWEEP = ("A sweep trains one run per value of a setting (or per combination of two settings' values), one after "
         "another through the training queue, and lays them side by side in the **Compare** tab. Values separated by "
         "commas make a grid; a range `LOW:HIGH` (`:log` for a learning rate) is searched by Optuna for the number of "
         "trials given: it proposes each trial's value from the figures of the earlier ones, and stops (prunes) a "
         "trial whose validation is below the others' median at an epoch. Every other setting comes from the form.")


def sweep_plan(settings: dict, setting: str, values: str, second: str, second_values: str, trials) -> str:
    """What the sweep will be before it begins: how many runs and about how long here, or why it cannot be."""
    try:
        space = sweep.space_from_form(setting, values, second, second_values, trials)
        _, said = sweep.estimate(form_config(settings).normalized(), space)
    except FinetuneError as err:
        return f"⚠ {err}"
    return said[0].upper() + said[1:] + "."


@user_errors
def start_sweep(token: str | None, settings: dict, setting: str, values: str, second: str, second_values: str,
                trials):
    token = session_token(token)
    space = sweep.space_from_form(setting, values, second, second_values, trials)
    config = form_config(settings)
    check_model(config.model)
    check_data(config.data)
    folder = sweep.create(config, space, owner=token)
    gr.Info(f"Sweep {folder.name}: {space.count()} runs queued one after another; follow them in the Compare tab")
    return folder.name, token


@user_errors
def settings_from_file(path: str | None, owner: str) -> dict:
    """A config.json (a run's, or one written by hand) as the form's values, by setting name; the upload counts
    against the owner's."""
    if not path:
        raise FinetuneError("upload a run's config.json")
    config = RunConfig.load(Path(uploads.admit(owner, path))).normalized()
    shown = {f.name: form_value(f, getattr(config, f.name)) for f in hyperparameters()}
    return {"model": config.model, "data": config.data, "task": config.task, "preset": config.preset,
            **{name: getattr(config, name) or "" for name in OWN_DATA}, **shown}


@user_errors
def settings_of_run(name: str | None) -> str:
    """The run's config.json, copied where Gradio serves files from, named after the run."""
    if not name:
        raise FinetuneError("choose a run first")
    run_dir = runs.find_run(name)
    target = gradio_temp_dir() / f"{run_dir.name}-config.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run_dir / runs.CONFIG_FILE, target)
    return str(target)


def model_choices() -> dict:
    finished = [(f"{label} (continue from this run)", str(runs.runs_dir().resolve() / name))
                for label, name in run_choices(finished_only=True)]
    return gr.update(choices=[*MODELS, *finished])


def session_token(token: str | None) -> str:
    """On page load: this browser's owner token, made once and kept in its localStorage (gr.BrowserState)."""
    return token or runs.new_owner_token()


@user_errors
def start(token: str | None, settings: dict):
    token = session_token(token)
    config = form_config(settings).normalized()
    check_model(config.model)  # the page trains only on what this app serves, never on another server path
    check_data(config.data)
    run_dir = jobs.start(config, owner=token)
    position = status_of(run_dir).queue_position
    gr.Info(f"Run {run_dir.name} is waiting in the queue: number {position}" if position
            else f"Started run {run_dir.name}")
    return gr.update(choices=run_choices(), value=run_dir.name), token, gr.Timer(active=True)


@user_errors
def stop(name: str, token: str | None):
    jobs.stop(runs.find_run(name), owner=token)
    gr.Info("Stop requested: the run saves a checkpoint at its next step and ends as stopped.")


@user_errors
def resume(name: str, token: str | None):
    run_dir = jobs.resume(runs.find_run(name), owner=token)
    position = status_of(run_dir).queue_position
    gr.Info(f"Run {name} waits in the queue (number {position}) to resume" if position
            else f"Resuming run {name} from its last checkpoint")
    return gr.Timer(active=True)


@user_errors
def delete(name: str, token: str | None):
    jobs.delete(runs.find_run(name), owner=token)
    gr.Info(f"Deleted run {name}")
    return gr.update(choices=run_choices(), value=None)


def reattach(token: str | None):
    """On page load: this session's queued or live run, else any live run, else the newest; read from the runs
    folder."""
    statuses = [status_of(run_dir) for run_dir in runs.list_runs()]
    mine = [s.run for s in statuses if s.state in WAITING_OR_LIVE and s.owned
            and runs.is_owner(runs.runs_dir() / s.run, token)]
    live = [s.run for s in statuses if s.state in runs.LIVE]
    chosen = (mine or live or [s.run for s in statuses] or [None])[0]
    return gr.update(choices=run_choices(), value=chosen)


def progress_html(status: RunStatus) -> str:
    step, total = status.step, status.max_steps
    share = step / total if total else (1.0 if status.state is RunState.FINISHED else 0.0)
    if status.state is RunState.QUEUED:
        return f'<p style="margin:4px 0">{queue_words(status)}</p>'
    eta = status.eta_seconds
    left = f" · about {in_words(eta)} left" if eta is not None else ""
    steps = f"step {step} / {total}" if total else "waiting for the first step"
    return (f'<div style="background:#e5e7eb;border-radius:6px;height:14px;overflow:hidden">'
            f'<div class="run-progress" style="background:#2563eb;height:100%;width:{100 * share:.1f}%"></div></div>'
            f'<p style="margin:4px 0">{steps} · epoch {status.epoch:.2f}{left}</p>')


def queue_words(status: RunStatus) -> str:
    """Where a queued run stands and how long it may wait: the runs training now end in ..., then those ahead."""
    text = f"waiting for a free training slot: number {status.queue_position} in the queue"
    training = [w for w in status.waiting_for if w["state"] == "training"]
    ahead = len(status.waiting_for) - len(training)
    ends = [f"run {w['run']} ends in about {in_words(w['eta_seconds'])}" if w["eta_seconds"] is not None
            else f"run {w['run']} is starting" for w in training]
    if ends:
        text += " · " + ", ".join(ends)
    if ahead:
        text += (f" · then {ahead} more run{'s' if ahead > 1 else ''} queued before this one "
                 "(each as long as its settings make it)")
    return text


def overfitting_words(status: RunStatus) -> str:
    """A note when validation got worse after its best epoch: the model is fitting its training data too closely."""
    from finetune.report import overfitting

    stopped = status.early_stop
    if stopped:
        return (f"\n\n**Stopped early at step {stopped['step']}** (epoch {stopped['epoch']:.2f}): validation "
                f"{METRIC_NAMES.get(stopped['metric'], stopped['metric'])} did not improve for {stopped['patience']} "
                f"evaluations. The model kept is the best one, {stopped['best']:.4f} at step {stopped['best_step']} "
                "(the red and black lines on the curve).")
    seen = overfitting(status.evaluations)
    if not seen:
        return ""
    kept = ("the model of its last epoch" if status.state is RunState.FINISHED
            else "the model of its last epoch when it ends")
    return (f"\n\n**Validation got worse after epoch {seen['best_epoch']:g}** ({seen['what']}): the model is starting "
            f"to fit its training pairs more than the task (overfitting). The run keeps {kept}; fewer epochs, or "
            "early stopping, would keep the best one.")


def status_markdown(status: RunStatus) -> str:
    queued = f" (number {status.queue_position} in the queue)" if status.queue_position else ""
    parts = [f"**{status.state}**{queued} · {status.model} on {status.data}"]
    if status.loss is not None:
        parts.append(f"training loss {status.loss:.4f}")
    if status.evaluations:
        last = status.evaluations[-1]
        parts.append(f"validation {figures_text(last)} (epoch {last['epoch']:g})")
    text = " · ".join(parts) + overfitting_words(status)
    if status.resumed_with_dropout:
        text += ("\n\nResumed with dropout on: from the resume its random dropout masks differ from an uninterrupted "
                 "run's, so its figures may differ a little from one trained without a stop (without dropout, as "
                 "with the default and demo recipes, they are the same).")
    if status.reason:
        text += f"\n\n{status.reason}"
    if status.state is RunState.FINISHED:
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


def poll(name: str | None, seen: str | None, token: str | None):
    """One timer tick: redraw what changed since this page's last tick, as the run's revision tells.

    `seen` is "run|revision" at the last redraw. Stop, Resume and Delete are live only for the session that started
    the run. The timer runs on only while the run is queued or live: an idle page makes no requests.
    """
    idle = [gr.update(interactive=False)] * 3
    try:
        run_dir = runs.find_run(name) if name else None
    except FinetuneError as err:
        return str(err), "", curve_update([]), "", *idle, gr.skip(), None, gr.Timer(active=False)
    if run_dir is None:
        if seen == "":
            return *[gr.skip()] * 8, seen, gr.Timer(active=False)
        return "Start a run, or pick one.", "", curve_update([]), "", *idle, gr.skip(), "", gr.Timer(active=False)
    status = status_of(run_dir)
    mark = f"{name}|{status.revision}"
    if mark == seen:
        return gr.skip(), progress_html(status), *[gr.skip()] * 6, mark, gr.skip()
    mine = runs.is_owner(run_dir, token)
    buttons = [gr.update(interactive=mine and status.state in WAITING_OR_LIVE),
               gr.update(interactive=mine and status.resumable),
               gr.update(interactive=mine and status.state not in WAITING_OR_LIVE)]
    state_changed = not seen or seen.split("|")[0] != name or seen.split("|")[1].split(":")[0] != status.state
    labels = gr.update(choices=run_choices()) if state_changed else gr.skip()
    curve = curve_update(loss_curve(run_dir))
    return (status_markdown(status), progress_html(status), curve, runs.log_tail(run_dir), *buttons, labels, mark,
            gr.Timer(active=status.state in WAITING_OR_LIVE))


def owner_token() -> gr.BrowserState:
    """Who this browser is, across page reloads and app restarts (the secret is kept in the runs folder). Made outside
    the tabs: a component in a tab not yet opened is not mounted, so it would neither load nor keep its value."""
    return gr.BrowserState(None, storage_key="finetune-owner", secret=runs.browser_secret())


def create_train_tab(app: gr.Blocks, token: gr.BrowserState) -> SimpleNamespace:
    with gr.Tab("Train", id="train"):
        gr.Markdown(EXPLAIN)
        with gr.Row():
            with gr.Column(scale=2):
                preset = gr.Radio(list(PRESETS), value="default", label="Preset", info=PRESET_INFO)
                model = gr.Dropdown(MODELS, value="bundled", allow_custom_value=True, label="Model",
                                    info="bundled (all-MiniLM-L6-v2, offline), a Hub id, a local model folder, "
                                         "or a finished run")
                data = gr.Dropdown(["sample", "sentiment-sample", "hub"], value="sample", allow_custom_value=True,
                                   label="Data", info="sample, sentiment-sample, hub, or a folder or file on the "
                                   "server (the Data tab fills this in)")
                task = gr.Dropdown(["auto", *KNOWN_TASKS], value="auto", label="Task", elem_id="train-task",
                                   info="auto: MRPC for MRPC's sources, else read from the data (the Data tab says "
                                        "what it read); a GLUE task picks its config on the Hub")
                with gr.Accordion("Own data: columns and label names (empty: detected)", open=False):
                    own = {name: gr.Textbox(label=RunConfig.__dataclass_fields__[name].metadata["label"],
                                            info=RunConfig.__dataclass_fields__[name].metadata["help"],
                                            placeholder=hint) for name, hint in OWN_DATA.items()}
                start_button = gr.Button("Start training", variant="primary")
                hardware = gr.Markdown(elem_id="train-hardware")
                with gr.Accordion("Hyperparameters: the preset fills them in, edit any", open=False), gr.Row():
                    inputs = hyperparameter_inputs()
                with gr.Accordion("Which learning rate? The range test", open=False):
                    gr.Markdown(LR_FIND)
                    find_button = gr.Button("Find a learning rate (about a minute)", elem_id="lr-find")
                    found_plot = gr.LinePlot(None, x="log10 learning rate", y="smoothed loss", height=260,
                                             elem_id="lr-find-plot")
                    found_words = gr.Markdown(elem_id="lr-find-result")
                    use_button = gr.Button("Use the suggested rate", visible=False, elem_id="lr-find-use")
                    suggested = gr.State(None)
                with gr.Accordion("Sweep: several runs, a setting varied", open=False):
                    gr.Markdown(SWEEP)
                    names = list(sweep.sweepable())
                    with gr.Row():
                        sweep_setting = gr.Dropdown(names, value="learning_rate", label="Setting", scale=1,
                                                    elem_id="sweep-setting")
                        sweep_values = gr.Textbox("5e-5, 1e-4, 2e-4, 4e-4", label="Values, or a range LOW:HIGH[:log]",
                                                  scale=2, elem_id="sweep-values")
                    with gr.Row():
                        sweep_second = gr.Dropdown([sweep.NO_SECOND, *names], value=sweep.NO_SECOND,
                                                   label="Second setting", scale=1, elem_id="sweep-second")
                        sweep_second_values = gr.Textbox("", label="Its values (every combination is run)", scale=2,
                                                         elem_id="sweep-second-values")
                    sweep_trials = gr.Number(6, label="Trials (for a range)", precision=0, minimum=2,
                                             elem_id="sweep-trials-count")
                    plan = gr.Markdown(elem_id="sweep-plan")
                    sweep_button = gr.Button("Start the sweep", elem_id="sweep-start")
                    sweep_started = gr.State(None)
                with gr.Accordion("Settings as a file: a run's config.json, to keep, share or load", open=False):
                    with gr.Row():
                        settings_upload = gr.File(label="Load settings into the form (a run's config.json)",
                                                  file_types=[".json"], elem_id="settings-upload")
                        settings_file = gr.File(label="The chosen run's settings", interactive=False,
                                                elem_id="settings-file")
                    settings_button = gr.Button("Download the chosen run's settings", size="sm")
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
                log = gr.Textbox(label="Log: the last lines the training process printed", lines=runs.LOG_TAIL_LINES,
                                 max_lines=runs.LOG_TAIL_LINES + 10, elem_id="run-log")
        seen = gr.State(None)
        timer = gr.Timer(1.0, active=False)  # started by a run that can change, stopped when it no longer can

    # The form by setting name: each input is bound to its RunConfig field, whatever the order of the components.
    form = {"model": model, "data": data, "task": task, **own, "preset": preset, **inputs}

    def settings(values: dict) -> dict:
        return {name: values[component] for name, component in form.items()}

    preset.input(lambda name: {inputs[k]: v for k, v in preset_values(name).items()}, preset, list(inputs.values()),
                 api_visibility="private")
    gr.on([c.change for c in form.values()] + [app.load], lambda values: show_code(settings(values)),
          set(form.values()), code, api_visibility="private", show_progress="hidden")
    gr.on([app.load], model_choices, None, model, api_visibility="private")
    gr.on([inputs["device"].change, inputs["precision"].change, app.load], hardware_line,
          [inputs["device"], inputs["precision"]], hardware, api_visibility="private", show_progress="hidden")
    app.load(session_token, token, token, api_visibility="private")
    start_button.click(lambda values: start(values[token], settings(values)), {token, *form.values()},
                       [run, token, timer], api_visibility="private")
    stop_button.click(stop, [run, token], None, api_visibility="private")
    resume_button.click(resume, [run, token], timer, api_visibility="private")
    delete_button.click(delete, [run, token], run, api_visibility="private")
    app.load(reattach, token, run, api_visibility="private")
    refresh.click(lambda name: gr.update(choices=run_choices(), value=name), run, run, api_visibility="private")
    find_button.click(lambda values: find_rate(settings(values)), set(form.values()),
                      [found_plot, found_words, use_button, suggested], api_visibility="private",
                      concurrency_limit=1, concurrency_id="lr-find")
    use_button.click(lambda rate: rate, suggested, inputs["learning_rate"], api_visibility="private")
    def fill_form(path: str | None, owner: str | None, request: gr.Request):
        return {form[name]: value for name, value in settings_from_file(path, session_owner(owner, request)).items()}

    settings_upload.upload(fill_form, [settings_upload, token], set(form.values()), api_visibility="private")
    settings_button.click(settings_of_run, run, settings_file, api_visibility="private")
    sweep_inputs = [sweep_setting, sweep_values, sweep_second, sweep_second_values, sweep_trials]
    gr.on([c.change for c in [*form.values(), *sweep_inputs]] + [app.load],
          lambda values: sweep_plan(settings(values), *(values[c] for c in sweep_inputs)),
          {*form.values(), *sweep_inputs}, plan, api_visibility="private", show_progress="hidden")
    sweep_button.click(lambda values: start_sweep(values[token], settings(values), *(values[c] for c in sweep_inputs)),
                       {token, *form.values(), *sweep_inputs}, [sweep_started, token], api_visibility="private")
    outputs = [status, progress, curve, log, stop_button, resume_button, delete_button, run, seen, timer]
    gr.on([timer.tick, run.change], poll, [run, seen, token], outputs, api_visibility="private", show_progress="hidden",
          concurrency_limit=None)
    return SimpleNamespace(model=model, data=data, task=task, run=run, sweep_started=sweep_started)
