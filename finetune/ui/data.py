"""The Data tab: pick MRPC's source, see what the DatasetDict holds and browse its rows."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pandas as pd

from finetune import FinetuneError, browse
from finetune.access import check_data, data_choices, data_roots
from finetune.data import LABEL_NAMES
from finetune.ui.common import user_errors

SERVER_PATH = "a folder or file on the server"  # offered only when the operator allows folders ($FINETUNE_DATA_DIRS)
SOURCES = {"the bundled sample": "sample", "nyu-mll/glue on the Hub": "hub", SERVER_PATH: "path",
           "a file I upload": "upload"}

EXPLAIN = """
**Step 1 of the course: the data.** MRPC pairs two sentences and says whether the second one paraphrases the first
(`equivalent`, label 1) or not (`not_equivalent`, label 0). `load_dataset("nyu-mll/glue", "mrpc")` returns a
`DatasetDict`: one `Dataset` per split, each with the columns `sentence1`, `sentence2`, `label` and `idx`.
Offline, the bundled sample (1,800 original MRPC-style pairs written for this app, with MRPC's balance and statistics)
stands in for it; a folder of Microsoft's or GLUE's MRPC files,
or a CSV/TSV/JSONL/Parquet file with columns `sentence1`, `sentence2`, `label`, works too.
"""


def _source(kind: str, path: str, upload: str | None) -> str:
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
        return check_data(upload)
    return chosen


def _duplicates_note(source: str) -> str:
    found = browse.repeats(source)
    if not found:
        return ""
    counts = ", ".join(f"{count} in {where}" for where, count in found.items())
    return f"**Repeated pairs** (kept; they weigh twice in training, and in validation inflate the score): {counts}."


def load(kind: str, path: str, upload: str | None):
    """Load the chosen source; one that fails leaves the data shown before browsable, and says why in one message."""
    try:
        source = _source(kind, path, upload)
        summary = browse.overview(source)
    except FinetuneError as err:
        gr.Warning(f"Could not load it, so the data shown is still the last that loaded: {err}")
        return [gr.skip()] * 6
    balance = pd.DataFrame(summary["balance"])
    split = gr.update(choices=summary["splits"], value=summary["splits"][0])
    return source, summary["repr"], summary["features"], balance, split, _duplicates_note(source)


@user_errors
def show_page(source: str, split: str, number: float, size: str, label: str, query: str):
    if not source or not split:
        return gr.skip(), gr.skip(), gr.skip()
    shown = browse.page(check_data(source), split, int(number or 1), int(size), label, query or "")
    frame = pd.DataFrame(shown["rows"], columns=["idx", "sentence1", "sentence2", "label"])
    where = f"{shown['matching']} matching rows · page {shown['page']} of {shown['pages']}"
    return frame, where, shown["page"]


def first_page(source: str, split: str, size: str, label: str, query: str):
    return show_page(source, split, 1, size, label, query)


def previous_page(source: str, split: str, number: float, size: str, label: str, query: str):
    return show_page(source, split, (number or 1) - 1, size, label, query)


def next_page(source: str, split: str, number: float, size: str, label: str, query: str):
    return show_page(source, split, (number or 1) + 1, size, label, query)


def show_row(frame: pd.DataFrame, event: gr.SelectData) -> str:
    row = frame.iloc[event.index[0]]
    return (f"**idx {row['idx']}** · label **{row['label']}**\n\n"
            f"**sentence1:** {row['sentence1']}\n\n**sentence2:** {row['sentence2']}")


def create_data_tab(app: gr.Blocks) -> SimpleNamespace:
    with gr.Tab("Data", id="data"):
        gr.Markdown(EXPLAIN)
        with gr.Row():
            offered = [name for name in SOURCES if name != SERVER_PATH or data_roots()]
            kind = gr.Radio(offered, value="the bundled sample", label="Source", scale=2)
            path = gr.Dropdown(data_choices(), value=None, allow_custom_value=True, visible=False, scale=2,
                               label="Folder or file on the server",
                               info=f"one of these, or its name or path under {', '.join(map(str, data_roots()))}")
            upload = gr.File(label="File to upload", file_types=[".csv", ".tsv", ".jsonl", ".parquet"], visible=False)
            load_button = gr.Button("Load", variant="primary", scale=0)
        source = gr.State("")
        with gr.Row():
            shown = gr.Code(label="print(raw_datasets)", lines=10)
            with gr.Column():
                features = gr.Code(label="raw_datasets['train'].features", lines=4)
                balance = gr.Dataframe(label="Label balance", interactive=False)
                repeated = gr.Markdown(elem_id="data-duplicates")
        gr.Markdown("### Browse the rows")
        with gr.Row():
            split = gr.Dropdown(label="Split", choices=[], allow_custom_value=True, scale=1)
            label = gr.Radio(["all", *LABEL_NAMES], value="all", label="Label", scale=2)
            query = gr.Textbox(label="Search both sentences (Enter)", scale=2)
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
    loaded = [source, shown, features, balance, split, repeated]
    load_button.click(load, [kind, path, upload], loaded, api_visibility="private")
    app.load(load, [kind, path, upload], loaded, api_visibility="private")
    filters = [source, split, size, label, query]
    gr.on([source.change, split.change, size.change, label.change, query.submit], first_page, filters,
          [rows, where, number], api_visibility="private")
    paged = [source, split, number, size, label, query]
    number.submit(show_page, paged, [rows, where, number], api_visibility="private")
    previous.click(previous_page, paged, [rows, where, number], api_visibility="private")
    following.click(next_page, paged, [rows, where, number], api_visibility="private")
    rows.select(show_row, rows, row, api_visibility="private")
    return SimpleNamespace(source=source)
