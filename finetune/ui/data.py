"""The Data tab: pick a source (MRPC's by default) and its task, see what the DatasetDict holds and browse its
rows."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pandas as pd

from finetune import FinetuneError, browse, uploads
from finetune.access import check_data, data_choices, data_roots
from finetune.tasks import KNOWN
from finetune.ui.common import session_owner, user_errors

SERVER_PATH = "a folder or file on the server"  # offered only when the operator allows folders ($FINETUNE_DATA_DIRS)
SOURCES = {"the bundled sample": "sample", "the bundled sentiment sample": "sentiment-sample",
           "nyu-mll/glue on the Hub": "hub", SERVER_PATH: "path", "a file I upload": "upload"}
TASK_INFO = ("auto: MRPC for MRPC's sources and pairs labelled 0/1, else read from the columns and labels; a GLUE task "
             "(with the Hub: its config), classification or regression")

EXPLAIN = """
**Step 1 of the course: the data.** MRPC pairs two sentences and says whether the second one paraphrases the first
(`equivalent`, label 1) or not (`not_equivalent`, label 0). `load_dataset("nyu-mll/glue", "mrpc")` returns a
`DatasetDict`: one `Dataset` per split, each with the columns `sentence1`, `sentence2`, `label` and `idx`.
Offline, the bundled sample (1,800 original MRPC-style pairs written for this app, with MRPC's balance and statistics)
stands in for it; a folder of Microsoft's or GLUE's MRPC files,
or a CSV/TSV/JSONL/Parquet file with columns `sentence1`, `sentence2`, `label`, works too.

**Other tasks.** The same steps fit every GLUE task and your own data: one text column (`sentence` or `text`) or two
(`sentence1`/`sentence2`, `question`/`sentence`, ...), labels as numbers or names (any number of classes), or a score
(regression). The bundled sentiment sample (600 sentences, 3 labels) is a single-sentence task; *Task* says what
the data is for, and what was read is said above the rows.
"""


def _source(kind: str, path: str, upload: str | None, owner: str) -> str:
    chosen = SOURCES.get(kind)
    if chosen is None:
        raise FinetuneError(f"unknown source {kind!r}; choose one of: {', '.join(SOURCES)}")
    if chosen == "path":
        if not (path or "").strip():
            raise FinetuneError("choose or type a folder or file on the server first")
        return check_data(path.strip())
    if chosen == "upload":
        if not upload:
            raise FinetuneError("upload a .csv, .tsv, .jsonl or .parquet file first")
        return uploads.admit(owner, check_data(upload))
    return chosen


def _duplicates_note(source: str, task: str) -> str:
    found = browse.repeats(source, task)
    if not found:
        return ""
    counts = ", ".join(f"{count} in {where}" for where, count in found.items())
    return f"**Repeated pairs** (kept; they weigh twice in training, and in validation inflate the score): {counts}."


def load(kind: str, path: str, upload: str | None, task: str = "auto", token: str | None = None,
         request: gr.Request = None):
    """Load the chosen source for the chosen task; one that fails (an upload past the session's cap too) leaves the
    data shown before browsable, and says why in one message."""
    try:
        source = _source(kind, path, upload, session_owner(token, request))
        summary = browse.overview(source, task)
    except FinetuneError as err:
        gr.Warning(f"Could not load it, so the data shown is still the last that loaded: {err}")
        return [gr.skip()] * 9
    balance = pd.DataFrame(summary["balance"])
    split = gr.update(choices=summary["splits"], value=summary["splits"][0])
    labels = gr.update(choices=["all", *summary["labels"]], value="all", visible=bool(summary["labels"]))
    read = f"**Read as task `{summary['task']}`:** {summary['described']}."
    return (source, task or "auto", read, summary["repr"], summary["features"], balance, split, labels,
            _duplicates_note(source, task))


@user_errors
def show_page(source: str, split: str, number: float, size: str, label: str, query: str, task: str = "auto"):
    if not source or not split:
        return gr.skip(), gr.skip(), gr.skip()
    shown = browse.page(check_data(source), split, int(number or 1), int(size), label or "all", query or "",
                        task=task)
    columns = ["idx", "sentence1", "sentence2", "label"] if browse.load(check_data(source), task)[2].pair else [
        "idx", "sentence1", "label"]
    frame = pd.DataFrame(shown["rows"], columns=columns)
    where = f"{shown['matching']} matching rows · page {shown['page']} of {shown['pages']}"
    return frame, where, shown["page"]


def first_page(source: str, split: str, size: str, label: str, query: str, task: str = "auto"):
    return show_page(source, split, 1, size, label, query, task)


def previous_page(source: str, split: str, number: float, size: str, label: str, query: str, task: str = "auto"):
    return show_page(source, split, (number or 1) - 1, size, label, query, task)


def next_page(source: str, split: str, number: float, size: str, label: str, query: str, task: str = "auto"):
    return show_page(source, split, (number or 1) + 1, size, label, query, task)


def show_row(frame: pd.DataFrame, event: gr.SelectData) -> str:
    row = frame.iloc[event.index[0]]
    second = f"\n\n**sentence2:** {row['sentence2']}" if "sentence2" in frame.columns else ""
    return f"**idx {row['idx']}** · label **{row['label']}**\n\n**sentence1:** {row['sentence1']}{second}"


def create_data_tab(app: gr.Blocks, token: gr.BrowserState) -> SimpleNamespace:
    with gr.Tab("Data", id="data"):
        gr.Markdown(EXPLAIN)
        with gr.Row():
            offered = [name for name in SOURCES if name != SERVER_PATH or data_roots()]
            kind = gr.Radio(offered, value="the bundled sample", label="Source", scale=2)
            path = gr.Dropdown(data_choices(), value=None, allow_custom_value=True, visible=False, scale=2,
                               label="Folder or file on the server",
                               info=f"one of these, or its name or path under {', '.join(map(str, data_roots()))}")
            upload = gr.File(label="File to upload", file_types=[".csv", ".tsv", ".jsonl", ".parquet"], visible=False)
            task = gr.Dropdown(["auto", *KNOWN], value="auto", label="Task", info=TASK_INFO, scale=1,
                               elem_id="data-task")
            load_button = gr.Button("Load", variant="primary", scale=0)
        source = gr.State("")
        loaded_task = gr.State("auto")
        read = gr.Markdown(elem_id="data-task-read")
        with gr.Row():
            shown = gr.Code(label="print(raw_datasets)", lines=10)
            with gr.Column():
                features = gr.Code(label="raw_datasets['train'].features", lines=4)
                balance = gr.Dataframe(label="Label balance", interactive=False)
                repeated = gr.Markdown(elem_id="data-duplicates")
        gr.Markdown("### Browse the rows")
        with gr.Row():
            split = gr.Dropdown(label="Split", choices=[], allow_custom_value=True, scale=1)
            label = gr.Radio(["all"], value="all", label="Label", scale=2)
            query = gr.Textbox(label="Search the texts (Enter)", scale=2)
            size = gr.Dropdown(["5", "10", "25", "50"], value="10", label="Rows per page", scale=1)
        with gr.Row():
            previous = gr.Button("← Previous", size="sm", scale=0)
            number = gr.Number(value=1, precision=0, minimum=1, label="Page", show_label=False, scale=0, min_width=80)
            following = gr.Button("Next →", size="sm", scale=0)
            where = gr.Markdown()
        rows = gr.Dataframe(interactive=False, wrap=True, label="Click a row to read it whole",
                            column_widths=["8%", "38%", "38%", "16%"], elem_id="data-rows")
        row = gr.Markdown(elem_id="data-row")

    kind.change(lambda k: (gr.update(visible=SOURCES[k] == "path", choices=data_choices()),
                           gr.update(visible=SOURCES[k] == "upload")), kind, [path, upload], api_visibility="private")
    loaded = [source, loaded_task, read, shown, features, balance, split, label, repeated]
    load_button.click(load, [kind, path, upload, task, token], loaded, api_visibility="private")
    app.load(load, [kind, path, upload, task, token], loaded, api_visibility="private")
    filters = [source, split, size, label, query, loaded_task]
    gr.on([source.change, loaded_task.change, split.change, size.change, label.change, query.submit], first_page,
          filters, [rows, where, number], api_visibility="private")
    paged = [source, split, number, size, label, query, loaded_task]
    number.submit(show_page, paged, [rows, where, number], api_visibility="private")
    previous.click(previous_page, paged, [rows, where, number], api_visibility="private")
    following.click(next_page, paged, [rows, where, number], api_visibility="private")
    rows.select(show_row, rows, row, api_visibility="private")
    return SimpleNamespace(source=source, task=loaded_task)
