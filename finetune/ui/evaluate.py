"""The Evaluate tab: a finished run's metrics against the references, its confusion matrix, mistakes, and runs
compared."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pandas as pd

from finetune import evaluation, export, publish, report, runs
from finetune.access import real_mrpc_choices
from finetune.data import source_label
from finetune.metrics import REFERENCE_DATA, REFERENCES, per_class
from finetune.tasks import METRIC_KEYS, METRIC_NAMES, MRPC, Task
from finetune.ui.api import INFERENCE
from finetune.ui.common import NO_RUN_YET, finished_runs_dropdown, gradio_temp_dir, user_errors
from finetune.ui.explain import create_slices_view

EXPLAIN = """
**Step 4: evaluation.** After each epoch the Trainer scores the validation split with `compute_metrics`.
At the end, `trainer.predict(tokenized_datasets["validation"])` returns one row of two numbers (logits) per pair;
`np.argmax(predictions, axis=-1)` picks the more likely label, and `evaluate`'s GLUE MRPC metric compares those
with the labels: accuracy, and F1 of the `equivalent` class. Two references give the numbers their meaning.
Another task has its own metrics (GLUE's for its tasks: Matthews correlation for CoLA, Pearson and Spearman for a
score; accuracy and macro F1 over several labels), and a baseline measured on the run's own data: always its
most common training label, or always its mean score.
"""


WRONG_COLUMNS = ["idx", "sentence1", "sentence2", "label → predicted", "confidence"]


def _task(metrics: dict) -> Task:
    return Task.from_dict(metrics["task"]) if isinstance(metrics.get("task"), dict) else MRPC


def _cells(figures: dict, task: Task, bold: bool = False) -> str:
    mark = "**" if bold else ""
    return " | ".join(f"{mark}{figures[k]:.3f}{mark}" if figures.get(k) is not None else "" for k in task.metrics)


def _summary(run_name: str, metrics: dict, scores: dict) -> str:
    """The run's figures, each with what it was measured on, beside the references (measured on real MRPC) or, for
    another task, the baseline measured on the run's own data."""
    task = _task(metrics)
    if task != MRPC:
        return _task_summary(run_name, metrics, task)
    final = metrics["final"]
    scored_on = f"{source_label(metrics['data'])}, {metrics['validation_rows']} validation pairs"
    lines = [f"### {run_name}", "| | scored on | accuracy | F1 |", "|---|---|---|---|",
             f"| **this run** ({Path(str(metrics['model'])).name}) | {scored_on} | {_cells(final, task, True)} |"]
    lines += [f"| **this run** | {score['label']}, {score['n']} {score['split']} pairs | {_cells(score, task, True)} |"
              for score in scores.values()]
    lines += [f"| {name} | {REFERENCE_DATA} | {_cells(figures, task)} |" for name, figures in REFERENCES.items()]
    lines.append(f"\nTrained on {metrics['train_rows']} pairs in {metrics['train_seconds']:.0f} s "
                 f"({metrics['steps']} steps, {metrics['device']}, {metrics['precision']}). A run at or below "
                 "*always 'equivalent'* on real MRPC has learned nothing yet: it answers the majority label.")
    worse = report.overfitting(metrics["per_epoch"])
    if worse:
        lines.append(f"\nValidation got worse after epoch {worse['best_epoch']:g} ({worse['what']}): the model began "
                     "to fit its training pairs more than the task (overfitting). "
                     "These figures are its last epoch's model.")
    if not data_is_mrpc(metrics["data"]) and not scores:
        lines.append(f"\nThe references were measured on real MRPC, this run on {source_label(metrics['data'])}: "
                     "compare them with this run's figures on real MRPC (below), not with these.")
    return "\n".join(lines)


def _task_summary(run_name: str, metrics: dict, task: Task) -> str:
    """Another task's figures: the run's, and the baseline a model that learned nothing scores on the same rows."""
    final, rows = metrics["final"], "pairs" if task.pair else "sentences"
    header = " | ".join(METRIC_NAMES[k] for k in task.metrics)
    scored_on = f"{source_label(metrics['data'], task.name)}, {metrics['validation_rows']} validation {rows}"
    lines = [f"### {run_name}", f"Task **{task.name}**: {task.title} ({task.describe()}).", "",
             f"| | scored on | {header} |", "|---|---|" + "---|" * len(task.metrics),
             f"| **this run** ({Path(str(metrics['model'])).name}) | {scored_on} | {_cells(final, task, True)} |"]
    if metrics.get("baseline"):
        base = metrics["baseline"]
        lines.append(f"| baseline: {base['answer']} | the same {metrics['validation_rows']} {rows} | "
                     f"{_cells(base, task)} |")
    lines.append(f"\nTrained on {metrics['train_rows']} {rows} in {metrics['train_seconds']:.0f} s "
                 f"({metrics['steps']} steps, {metrics['device']}, {metrics['precision']}). A run at or below the "
                 "baseline has learned nothing yet: " + ("a constant score correlates with nothing (0)." if
                                                          task.regression else "it answers the most common label."))
    worse = report.overfitting(metrics["per_epoch"])
    if worse:
        lines.append(f"\nValidation got worse after epoch {worse['best_epoch']:g} ({worse['what']}): the model began "
                     "to fit its training data more than the task (overfitting). "
                     "These figures are its last epoch's model.")
    return "\n".join(lines)


def data_is_mrpc(source: str) -> bool:
    from finetune.data import is_real_mrpc

    return is_real_mrpc(source)


def _argmax(view: dict) -> str:
    rows = "\n".join(f"  {probs}  →  argmax {pred}  (label {label})"
                     for probs, pred, label in zip(view["head"], view["preds"], view["labels"], strict=False))
    n = view["shape"][0]
    return (f"predictions.shape = {tuple(view['shape'])}   # {n} validation rows × {view['shape'][1]} labels\n"
            f"preds = np.argmax(predictions, axis=-1)\n\n"
            f"first rows (as probabilities: softmax keeps the argmax):\n{rows}\n\n"
            f"{view['correct']} of {n} preds equal the labels: accuracy {view['correct'] / n:.4f}")


def rescore_choices(metrics: dict) -> dict:
    """The real-MRPC sources a run trained elsewhere can be scored on here, in one click; hidden when there is none
    (and for a run of another task)."""
    choices = [] if data_is_mrpc(metrics["data"]) or _task(metrics) != MRPC else real_mrpc_choices()
    return gr.update(choices=choices, value=choices[0][1] if choices else None, visible=bool(choices))


@user_errors
def show_run(name: str | None):
    hidden = gr.update(visible=False)
    if not name:
        return NO_RUN_YET, None, None, "", None, hidden, hidden, hidden, gr.update(value=None, visible=False)
    run_dir = runs.find_run(name)
    metrics = runs.read_metrics(run_dir)
    if metrics is None:
        raise runs.RunError(f"run {name} has not finished: it has no metrics yet")
    task = _task(metrics)
    epochs = pd.DataFrame(report.per_epoch(run_dir), columns=["epoch", "step", *task.metrics, "loss"]).round(4)
    epochs.columns = ["epoch", "step", *(METRIC_NAMES[k] for k in task.metrics), "loss"]
    texts = list(task.columns)
    wrong = pd.DataFrame([{"idx": row["idx"], **{c: row[c] for c in texts},
                           "label → predicted": f"{row['label']} → {row['prediction']}",
                           "confidence": row.get("confidence", row.get("error"))}
                          for row in report.misclassified(run_dir)],
                         columns=["idx", *texts, "label → predicted", "confidence"]).round(3)
    if task.regression:
        wrong = wrong.rename(columns={"label → predicted": "true → predicted score", "confidence": "off by"})
    choices = rescore_choices(metrics)
    view = report.argmax_view(run_dir)
    return (_summary(name, metrics, evaluation.run_scores(run_dir)), epochs, _confusion(metrics, task),
            _argmax(view) if view else SCORE_WORDS, wrong, choices, gr.update(visible=choices["visible"]),
            _per_class(metrics, task), _scatter(run_dir, task))


SCORE_WORDS = ("A score has one output per example: the logit itself is the prediction (no argmax), compared with "
               "the true scores by Pearson's and Spearman's correlation.")


def _confusion(metrics: dict, task: Task):
    if task.regression:
        return gr.update(value=None, visible=False)
    matrix = metrics["final"]["confusion_matrix"]
    return gr.update(visible=True, value=pd.DataFrame({
        "true label": list(task.labels),
        **{f"predicted {name}": [row[j] for row in matrix] for j, name in enumerate(task.labels)}}))


def _per_class(metrics: dict, task: Task):
    """Precision, recall and F1 per label, shown for more than two labels."""
    if task.regression or len(task.labels) <= 2:
        return gr.update(value=None, visible=False)
    table = pd.DataFrame(per_class(metrics["final"]["confusion_matrix"], task.labels)).round(3)
    return gr.update(value=table, visible=True)


def _scatter(run_dir: Path, task: Task):
    """A score's predictions against the true scores, one point per validation example."""
    if not task.regression:
        return gr.update(value=None, visible=False)
    answers = report.predictions(run_dir)
    frame = pd.DataFrame({"true score": [float(a["label"]) for a in answers],
                          "predicted score": [float(a["prediction"]) for a in answers]})
    return gr.update(value=frame, visible=True)


@user_errors
def rescore(name: str | None, source: str | None):
    """Score the run on real MRPC (kept in the run folder: asked again, it is read back) and show it in the summary."""
    if not name or not source:
        raise runs.RunError("pick a finished run and a real-MRPC source to score it on")
    run_dir = runs.finished_run(name)
    evaluation.score_run(run_dir, source)
    return _summary(name, runs.read_metrics(run_dir), evaluation.run_scores(run_dir))


COMPARED = ["run", "trained on", "recipe", "figures", "seconds"]


@user_errors
def compare(names: list[str]):
    """Runs side by side, in few columns that fit the page: what each trained on and with which recipe, its figures."""
    rows = []
    for row in report.comparison([runs.find_run(name) for name in names or []]):
        recipe = (f"{row['preset']} · {row['epochs']:g} epochs · lr {row['learning_rate']:g} · "
                  f"batch {row['batch_size']}" if row.get("preset") else "")
        trained = (f"{Path(str(row['model'])).name} on {source_label(row['data'])} ({row['train_rows']})"
                   if row.get("model") else "")
        figures = ", ".join(f"{METRIC_NAMES[k]} {row[k]:.4f}" for k in METRIC_KEYS if row.get(k) is not None)
        rows.append({"run": row["run"], "trained on": trained, "recipe": recipe, "figures": figures,
                     "seconds": round(row["seconds"], 1) if row.get("seconds") else None})
    return pd.DataFrame(rows, columns=COMPARED)


@user_errors
def download(name: str | None) -> str:
    if not name:
        raise runs.RunError("pick a finished run to download")
    return str(export.zip_run(runs.finished_run(name), gradio_temp_dir()))


def token_status() -> str:
    return ("A Hugging Face token is configured on the server: the push uses it." if publish.hub_token()
            else f"No token: {publish.NO_TOKEN}.")


@user_errors
def push(name: str | None, repo_id: str, private: bool) -> str:
    if not name:
        raise runs.RunError("pick a finished run to push")
    url = publish.push_run(runs.finished_run(name), repo_id, private=bool(private))
    return f"Pushed **{name}** to [{url}]({url})."


def refresh(selected: str | None, compared: list[str] | None):
    """The run lists anew (a run may have finished since), keeping the choices that still exist."""
    dropdown = finished_runs_dropdown(selected)
    finished = [name for _, name in dropdown["choices"]]
    kept = [name for name in compared or [] if name in finished] or finished
    return dropdown, gr.update(choices=dropdown["choices"], value=kept)


def create_evaluate_tab(app: gr.Blocks) -> SimpleNamespace:
    with gr.Tab("Evaluate", id="evaluate") as tab:
        gr.Markdown(EXPLAIN)
        run = gr.Dropdown(label="Finished run", choices=[], allow_custom_value=True, elem_id="evaluate-run")
        summary = gr.Markdown(NO_RUN_YET, elem_id="eval-summary")
        with gr.Row():
            mrpc_source = gr.Dropdown(label="Real MRPC at hand", choices=[], visible=False, scale=3,
                                      info="the references were measured on real MRPC's validation split: score this "
                                           "run on it too (its model, in fp32, as `evaluate` does)")
            rescore_button = gr.Button("Score this run on real MRPC", visible=False, scale=1, elem_id="rescore")
        with gr.Row():
            epochs = gr.Dataframe(label="Validation after each epoch", interactive=False)
            confusion = gr.Dataframe(label="Confusion matrix (rows: true label)", interactive=False,
                                     elem_id="confusion")
        per_label = gr.Dataframe(label="Per label: precision, recall, F1 and how many there are", interactive=False,
                                 visible=False, elem_id="per-label")
        scores = gr.ScatterPlot(None, x="true score", y="predicted score", visible=False, height=360,
                                title="Predicted against true score, one point per validation example",
                                elem_id="score-scatter")
        argmax = gr.Code(label="From predictions to labels", lines=10)
        wrong = gr.Dataframe(pd.DataFrame(columns=WRONG_COLUMNS), label="Misclassified pairs, most confident first",
                             interactive=False, wrap=True, elem_id="misclassified",
                             column_widths=["6%", "35%", "35%", "14%", "10%"])
        gr.Markdown("### Where the run is right and wrong, by slice")
        create_slices_view(run, elem_id="evaluate-slices")
        gr.Markdown("### Runs side by side")
        compared = gr.Dropdown(label="Runs to compare", multiselect=True, choices=[], allow_custom_value=True)
        comparison = gr.Dataframe(pd.DataFrame(columns=COMPARED), interactive=False, wrap=True, elem_id="comparison",
                                  label="Settings and final validation metrics (references: real MRPC)",
                                  column_widths=["20%", "26%", "24%", "22%", "8%"])
        with gr.Accordion("Download or share this run", open=False):
            gr.Markdown("The zip holds the final model, its model card (README.md), metrics, settings, events and "
                        "predictions; not the checkpoints. The push sends the model, card, metrics and settings to a "
                        "model repo on the Hugging Face Hub.")
            with gr.Row():
                zip_button = gr.Button("Download as zip", scale=1)
                zip_file = gr.File(label="Run as a zip", interactive=False, scale=3, elem_id="run-zip")
            hub_status = gr.Markdown(elem_id="hub-token-status")
            with gr.Row():
                repo_id = gr.Textbox(label="Hub repo id", placeholder="USER/NAME", scale=3)
                private = gr.Checkbox(label="private", value=True, scale=1)
                push_button = gr.Button("Push to the Hub", scale=1)
            pushed = gr.Markdown(elem_id="hub-pushed")

    gr.on([tab.select, app.load], refresh, [run, compared], [run, compared], api_visibility="private")
    run.change(show_run, run, [summary, epochs, confusion, argmax, wrong, mrpc_source, rescore_button, per_label,
                               scores], api_visibility="private")
    rescore_button.click(rescore, [run, mrpc_source], summary, api_visibility="private", **INFERENCE)
    compared.change(compare, compared, comparison, api_visibility="private")
    zip_button.click(download, run, zip_file, api_visibility="private")
    gr.on([tab.select, app.load], token_status, None, hub_status, api_visibility="private")
    push_button.click(push, [run, repo_id, private], pushed, api_visibility="private")
    return SimpleNamespace(run=run)
