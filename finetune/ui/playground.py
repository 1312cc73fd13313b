"""The Playground tab: a trained run answers sentence pairs (or sentences, as its task has them), beside its untrained
base model; batches from a file."""
from __future__ import annotations

import tempfile
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pandas as pd

from finetune import FinetuneError, runs, uploads
from finetune.access import MAX_FILE_PAIRS, check_data, upload_dir
from finetune.predict import PAIR_COLUMNS, check_texts, predict_file, run_predictor
from finetune.tasks import MRPC
from finetune.ui.api import ANSWERING
from finetune.ui.common import NO_RUN_YET, finished_runs_dropdown, session_owner, user_errors

# (sentence1, sentence2, what a careful reader would say): clear cases both ways, and a hard one.
EXAMPLES = [
    ("The cat sat on the mat.", "A cat was sitting on the mat.", "a paraphrase"),
    ("He said the meeting would be held next week.", "The meeting will take place next week, he said.", "a paraphrase"),
    ("Revenue for the quarter was $2.1 billion.", "The weather in Paris was sunny all weekend.", "not a paraphrase"),
    ("The company's shares rose 5 percent on Monday.", "The company's shares fell sharply on Monday.",
     "not a paraphrase"),
    ("The senator voted for the bill on Tuesday.", "The senator voted against the bill on Tuesday.",
     "hard: almost the same words, the opposite meaning (models that lean on word overlap call it a paraphrase)"),
]

EXPLAIN = """
**Step 5: use the fine-tuned model.** Type two sentences: the run's model says whether the second paraphrases the
first. Beside it, the same pair through the base model the run started from, with the same freshly initialised
classification head: what fine-tuning changed. By default the most recent finished run answers.
"""


def confidences(answer: dict) -> dict[str, float] | str:
    """What the Label shows: a confidence per label, or a score."""
    return f"score {answer['score']:.3f}" if "score" in answer else dict(answer["probabilities"])


@user_errors
def ask(name: str | None, sentence1: str, sentence2: str):
    run_dir = runs.finished_run(name or "")
    task = runs.run_task(run_dir)
    texts = check_texts(task, sentence1, sentence2 if task.pair else None)  # a hidden sentence2 is not asked
    tuned = run_predictor(run_dir).answer(*texts)
    base = run_predictor(run_dir, base=True).answer(*texts)
    return confidences(tuned), confidences(base)


def adapt(name: str | None):
    """The form for the chosen run's task: one text box or two, the question asked, the file's columns."""
    try:
        task = runs.run_task(runs.finished_run(name)) if name else MRPC
    except FinetuneError:
        task = MRPC
    question = "Is it a paraphrase?" if task == MRPC else ("Score it" if task.regression else "Which label?")
    columns = "sentence1, sentence2" if task.pair else "sentence1 (or sentence, text)"
    said = "" if task == MRPC else f"This run's task: **{task.name}**, {task.title} ({task.describe()})."
    return (gr.update(visible=task.pair), gr.update(value=question),
            gr.update(label=f"Texts to answer (.csv, .tsv, .jsonl, .parquet; columns {columns})"), said)


@user_errors
def ask_file(name: str | None, upload: str | None, token: str | None = None, request: gr.Request = None):
    if not upload:
        raise gr.Error("upload a .csv, .tsv, .jsonl or .parquet file with the run's text columns (sentence1 and "
                       "sentence2 for pairs)")
    run_dir = runs.finished_run(name or "")
    source = Path(uploads.admit(session_owner(token, request), check_data(upload)))  # refused past the session's cap
    # A folder of its own in Gradio's upload folder: the app writes nowhere but there and in its runs.
    out = Path(tempfile.mkdtemp(prefix="answers-", dir=upload_dir())) / f"{Path(upload).stem}-predictions.csv"
    frame = predict_file(run_predictor(run_dir), source, out, max_pairs=MAX_FILE_PAIRS, answered_by=run_dir.name)
    return frame, str(out)


def prepare(name: str | None):
    """When a run is chosen: its model and its base model made ready for fast answers (exported and compiled once,
    then kept), saying so meanwhile, so that the first question does not wait for it."""
    if not name:
        yield ""
        return
    try:
        run_dir = runs.finished_run(name)
    except FinetuneError as err:
        yield f"*{err}*"
        return
    yield (f"⏳ Preparing run **{name}** and its base model for fast answers (the first time, about 10–20 s: each is "
           "exported to ONNX and compiled once, then kept)…")
    run_predictor(run_dir)
    run_predictor(run_dir, base=True)
    yield f"✓ Run **{name}** and its base model are ready: answers take a fraction of a second."


def refresh(selected: str | None):
    dropdown = finished_runs_dropdown(selected)
    return dropdown, gr.update(visible=not dropdown["choices"])


def create_playground_tab(app: gr.Blocks, token: gr.BrowserState) -> SimpleNamespace:
    with gr.Tab("Playground", id="playground") as tab:
        gr.Markdown(EXPLAIN)
        none_yet = gr.Markdown(NO_RUN_YET, visible=False, elem_id="no-run-yet")
        run = gr.Dropdown(label="Run", choices=[], allow_custom_value=True, elem_id="playground-run")
        ready = gr.Markdown(elem_id="playground-ready")
        task_said = gr.Markdown(elem_id="playground-task")
        with gr.Row():
            sentence1 = gr.Textbox(label="sentence1", value=EXAMPLES[0][0], elem_id="playground-sentence1")
            sentence2 = gr.Textbox(label="sentence2", value=EXAMPLES[0][1], elem_id="playground-sentence2")
        gr.Examples([list(pair) for *pair, _ in EXAMPLES], [sentence1, sentence2],
                    label="Examples (what a reader would say)",
                    example_labels=[f"{verdict}: {first[:40]}…" for first, _, verdict in EXAMPLES])
        button = gr.Button("Is it a paraphrase?", variant="primary")
        with gr.Row():
            tuned = gr.Label(label="Fine-tuned run", elem_id="tuned-answer")
            base = gr.Label(label="Base model, untrained head", elem_id="base-answer")
        explain = gr.Button("Explain this answer", size="sm", elem_id="explain-answer")  # wired in app.py
        gr.Markdown("### A whole file")
        with gr.Row():
            upload = gr.File(label="Pairs to answer (.csv, .tsv, .jsonl, .parquet; columns sentence1, sentence2)",
                             file_types=[".csv", ".tsv", ".jsonl", ".parquet"], elem_id="batch-upload")
            download = gr.File(label="Answers (CSV)", elem_id="batch-download")
        columns = [*PAIR_COLUMNS, "prediction", "p_not_equivalent", "p_equivalent", "run"]
        answers = gr.Dataframe(pd.DataFrame(columns=columns),
                               label="Answers",
                               interactive=False, wrap=True, elem_id="batch-answers")

    gr.on([tab.select, app.load], refresh, run, [run, none_yet], api_visibility="private")
    run.change(prepare, run, ready, api_visibility="private", concurrency_limit=1, concurrency_id="prepare",
               show_progress="minimal")
    run.change(adapt, run, [sentence2, button, upload, task_said], api_visibility="private")
    gr.on([button.click, sentence1.submit, sentence2.submit], ask, [run, sentence1, sentence2], [tuned, base],
          api_visibility="private", **ANSWERING)
    upload.upload(ask_file, [run, upload, token], [answers, download], api_visibility="private")
    return SimpleNamespace(run=run, sentence1=sentence1, sentence2=sentence2, explain=explain)
