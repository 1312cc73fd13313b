"""The Explain tab: why a run answers what it answers, beside its base model; its slices and its representation."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pandas as pd

from finetune import runs
from finetune.counterfactual import BUDGET, search_run
from finetune.data import LABEL_NAMES
from finetune.explain import ATTRIBUTED_AT, attention_pair, explain_pair
from finetune.explainer import Method
from finetune.predict import check_pair
from finetune.projection import cached_projection, run_projection
from finetune.slices import run_slices
from finetune.ui.api import INFERENCE
from finetune.ui.common import finished_runs_dropdown, run_choices, user_errors
from finetune.ui.explain_views import attention_html, scores_html
from finetune.ui.playground import EXAMPLES

INTRO = """
**Why does the model answer what it answers?** For one pair, the run you fine-tuned and the base model it started
from (same seeded, untrained head) side by side: which tokens pushed the answer, what each sentence attends to in the
other, and the smallest edit that flips the answer. Below, where the run is right and wrong over the validation pairs,
and what fine-tuning did to the vectors the classifier reads. From the Playground, *Explain this answer* brings a
pair here.
"""

WORDS_SCORES = f"""
**1. Which tokens decided the answer.** Each token gets a score toward the label the model predicted: **green**
pushed toward it, **red** away from it (the *target* is the log-odds of the predicted label: its logit minus the
other's); the darker, the stronger (scaled to each model's largest score, so compare
shapes, not shades, between the two). *Gradient × input* (one backward pass) is quick and noisy; *integrated
gradients* (32 steps, 64 where they fall short; a few seconds) averages the gradient along a path from a neutral
input, and its scores add up to how far the answer moved from that neutral input (the *delta* says how exactly).
Scores are taken at the
{ATTRIBUTED_AT}. The untrained head of the base model answers at random: its scores say little.
"""

WORDS_ATTENTION = """
**2. What each sentence looks at in the other.** Each layer's heads spread every token's attention over all tokens
(a row sums to 1); here, how much each word of sentence 1 (rows) attends to each word of sentence 2 (columns), with
the row's total share on sentence 2 at the end. Much of it often goes to `[CLS]` and `[SEP]` (*Show every token*).
Attention shows where information *can* flow, not what decided the answer: different weights can give the same answer
(Jain & Wallace 2019; Wiegreffe & Pinter 2019). Read the token scores above first.
"""

WORDS_FLIP = f"""
**3. The smallest edit that flips the answer.** The fine-tuned run is asked up to {BUDGET} edited versions of the
pair (delete a word, change a number or a name, borrow a word from the other sentence, add or remove a "not"), one-word
edits first; each edit listed was asked again and really flips the answer. An edit that changes the meaning and flips
the answer is what we hope for; one that flips it with the meaning unchanged (dropping "the") shows a brittle spot.
"""

WORDS_SLICES = """
**4. Where the run is right and wrong.** The run's final validation answers grouped three ways: by word overlap (the
share of sentence 2's words found in sentence 1), by length, and by whether the sentences carry different numbers.
MRPC has a shortcut: the more words two sentences share, the more often they are labelled paraphrases. A model that
learned the shortcut predicts *equivalent* ever more often as overlap rises, and fails on the pairs that break the
rule (low-overlap paraphrases, high-overlap non-paraphrases).
"""

WORDS_PROJECTION = """
**5. What fine-tuning did to the representation.** Each validation pair becomes the vector the classification head
reads (for BERT, the pooled `[CLS]` vector); PCA flattens them to two dimensions. Before fine-tuning the two labels
overlap: the base model was not trained to tell paraphrases apart. After, they should fall apart along one
direction, the one the head reads. Computed once per run (about half a minute) and kept in the run folder.
"""

FLIP_COLUMNS = ["edit", "sentence1", "sentence2", "label", "p"]


def _layer_choices(found: dict) -> dict:
    return gr.update(choices=[(f"{i} (last)" if i == found["layers"] - 1 else str(i), i)
                              for i in range(found["layers"])],
                     value=found["layer"])


def _head_choices(found: dict) -> dict:
    return gr.update(choices=[("mean over heads", -1), *((str(h), h) for h in range(found["heads"]))],
                     value=found["head"])


@user_errors
def show_scores(run: str | None, sentence1: str, sentence2: str, method: str, words: bool):
    check_pair(sentence1, sentence2)
    found = explain_pair(runs.finished_run(run or ""), sentence1, sentence2, method, bool(words))
    return scores_html(found, "Fine-tuned run"), scores_html(found["base"], "Base model, untrained head")


@user_errors
def show_attention(run: str | None, sentence1: str, sentence2: str, layer, head, full: bool):
    check_pair(sentence1, sentence2)
    found = attention_pair(runs.finished_run(run or ""), sentence1, sentence2, layer, head)
    return (attention_html(found, "Fine-tuned run", bool(full)),
            attention_html(found["base"], "Base model, untrained head", bool(full)),
            _layer_choices(found), _head_choices(found))


@user_errors
def show_flips(run: str | None, sentence1: str, sentence2: str):
    check_pair(sentence1, sentence2)
    found = search_run(runs.finished_run(run or ""), sentence1, sentence2)
    original = found["original"]
    summary = (f"The run answers **{original['label']}** ({original['probabilities'][original['label']]:.1%}, "
               "as the Playground answers it; each edit is asked the same way). "
               f"{len(found['edits']) or 'No'} flipping edit{'s' if len(found['edits']) != 1 else ''} found among "
               f"{found['candidates']} candidates ({found['forwards']} pairs asked in all, budget {found['budget']}).")
    rows = [{"edit": edit["edit"], "sentence1": edit["sentence1"], "sentence2": edit["sentence2"],
             "label": edit["label"], "p": round(edit["probabilities"][edit["label"]], 3)} for edit in found["edits"]]
    return summary, pd.DataFrame(rows, columns=FLIP_COLUMNS)


def _slices_table(rows: list[dict]) -> str:
    lines = ["| slice | n | accuracy | F1 | labelled equivalent | predicted equivalent |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        figures = (f"{row['accuracy']:.3f} | {row['f1']:.3f} | {row['equivalent']:.0%} | "
                   f"{row['predicted_equivalent']:.0%}" if row["n"] else "– | – | – | –")
        lines.append(f"| {row['slice']} | {row['n']} | {figures} |")
    return "\n".join(lines)


def _shortcut(overlap: list[dict]) -> str:
    """One sentence on what this run does at the two ends of overlap."""
    low, high = next((r for r in overlap if r["n"]), None), next((r for r in reversed(overlap) if r["n"]), None)
    if low is None or low is high:
        return ""
    return (f"This run predicts *equivalent* for {low['predicted_equivalent']:.0%} of the pairs with overlap "
            f"{low['slice']} (labelled: {low['equivalent']:.0%}) and for {high['predicted_equivalent']:.0%} "
            f"of those with {high['slice']} (labelled: {high['equivalent']:.0%}).")


@user_errors
def show_slices(run: str | None) -> str:
    if not run:
        return ""
    run_dir = runs.finished_run(run)
    task = runs.run_task(run_dir)
    if not task.pair or len(task.labels) != 2:
        return (f"*Slices by word overlap, length and numbers are computed for runs on sentence pairs with two "
                f"labels; this run learned {task.describe()}.*")
    found = run_slices(run_dir)
    n = sum(row["n"] for row in found["overlap"])
    return "\n\n".join([f"{n} validation pairs. " + _shortcut(found["overlap"]),
                        "**By word overlap**\n\n" + _slices_table(found["overlap"]),
                        "**By length (words in both sentences)**\n\n" + _slices_table(found["length"]),
                        "**By numbers**\n\n" + _slices_table(found["numbers"])])


def create_slices_view(run: gr.Dropdown, elem_id: str = "explain-slices") -> gr.Markdown:
    """The slices of the run chosen in `run` (any finished-run dropdown): mount it in a tab's layout."""
    gr.Markdown(WORDS_SLICES)
    view = gr.Markdown(elem_id=elem_id)
    run.change(show_slices, run, view, api_visibility="private")
    return view


def _plot(found: dict | None, which: str):
    # None, never an empty frame: the chart's axis types are fixed by the first value it draws (gradio keeps the
    # spec and swaps only the data), and an empty frame's object columns would make every coordinate a category.
    if found is None:
        return None
    points = found[which]["points"]
    return pd.DataFrame({"x": [p[0] for p in points], "y": [p[1] for p in points],
                         "label": [LABEL_NAMES[label] for label in found["labels"]]})


def _projection_outputs(found: dict | None):
    if found is None:
        note = "Not computed for this run yet: *Project the validation pairs* (about half a minute, once)."
    else:
        note = (f"{found['n']} validation pairs, coloured by their true label. The first two components hold "
                f"{sum(found['run']['explained']):.0%} of the variance after fine-tuning, "
                f"{sum(found['base']['explained']):.0%} before.")
    return note, _plot(found, "run"), _plot(found, "base")


@user_errors
def show_projection(run: str | None, compute: bool):
    if not run:
        return _projection_outputs(None)
    run_dir = runs.finished_run(run)
    return _projection_outputs(run_projection(run_dir) if compute else cached_projection(run_dir))


def _scatter(title: str, elem_id: str) -> gr.ScatterPlot:
    return gr.ScatterPlot(None, x="x", y="y", color="label", title=title,
                          x_title="first component", y_title="second component", elem_id=elem_id, height=360)


def create_explain_tab(app: gr.Blocks) -> SimpleNamespace:
    with gr.Tab("Explain", id="explain"):
        gr.Markdown(INTRO)
        with gr.Row():
            run = gr.Dropdown(label="Run", choices=[], allow_custom_value=True, elem_id="explain-run", scale=2)
            methods = (("gradient × input", Method.GRADIENT_X_INPUT),
                       ("integrated gradients", Method.INTEGRATED_GRADIENTS))
            method = gr.Radio([(label, str(m)) for label, m in methods],
                              value=str(Method.GRADIENT_X_INPUT), label="Token scores", scale=2)
            words = gr.Checkbox(label="Merge word pieces into words (scores summed)", value=False, scale=1)
        with gr.Row():
            sentence1 = gr.Textbox(label="sentence1", value=EXAMPLES[4][0], elem_id="explain-sentence1")
            sentence2 = gr.Textbox(label="sentence2", value=EXAMPLES[4][1], elem_id="explain-sentence2")
        button = gr.Button("Explain", variant="primary", elem_id="explain-button")
        gr.Markdown(WORDS_SCORES)
        with gr.Row():
            scores = gr.HTML(elem_id="explain-scores-run")
            base_scores = gr.HTML(elem_id="explain-scores-base")
        gr.Markdown(WORDS_ATTENTION)
        with gr.Row():
            layer = gr.Dropdown(label="Layer", choices=[("last", -1)], value=-1, elem_id="explain-layer")
            head = gr.Dropdown(label="Head", choices=[("mean over heads", -1)], value=-1, elem_id="explain-head")
            full = gr.Checkbox(label="Show every token (the full matrix)", value=False)
        with gr.Row():
            attention = gr.HTML(elem_id="explain-attention-run")
            base_attention = gr.HTML(elem_id="explain-attention-base")
        gr.Markdown(WORDS_FLIP)
        flip_summary = gr.Markdown(elem_id="explain-flip-summary")
        flips = gr.Dataframe(pd.DataFrame(columns=FLIP_COLUMNS), interactive=False, wrap=True, elem_id="explain-flips",
                             column_widths=["24%", "27%", "27%", "14%", "8%"])
        create_slices_view(run)
        gr.Markdown(WORDS_PROJECTION)
        project = gr.Button("Project the validation pairs", elem_id="explain-project")
        projection_note = gr.Markdown(elem_id="explain-projection-note")
        with gr.Row():
            projected = _scatter("After fine-tuning", "explain-projection-run")
            base_projected = _scatter("Base model", "explain-projection-base")

    pair = [run, sentence1, sentence2]
    views = SimpleNamespace(run=run, sentence1=sentence1, sentence2=sentence2)
    views.scores = {"fn": show_scores, "inputs": [*pair, method, words], "outputs": [scores, base_scores]}
    views.attention = {"fn": show_attention, "inputs": [*pair, layer, head, full],
                       "outputs": [attention, base_attention, layer, head]}
    views.flips = {"fn": show_flips, "inputs": pair, "outputs": [flip_summary, flips]}
    explain_all(views, button.click)
    explain_all(views, sentence2.submit)
    gr.on([method.input, words.input], **views.scores, api_visibility="private", **INFERENCE)
    gr.on([layer.input, head.input, full.input], **views.attention, api_visibility="private", **INFERENCE)
    app.load(finished_runs_dropdown, None, run, api_visibility="private")
    # Only the choices: the value stays the user's (or the one the Playground sent).
    run.focus(lambda: gr.update(choices=run_choices(finished_only=True)), None, run, api_visibility="private")
    projection = [projection_note, projected, base_projected]
    run.change(lambda name: show_projection(name, False), run, projection, api_visibility="private")
    project.click(lambda name: show_projection(name, True), run, projection, api_visibility="private",
                  concurrency_limit=1, concurrency_id="projection")
    return views


def explain_all(views: SimpleNamespace, trigger) -> None:
    """On `trigger`: the token scores, then the attention, then the flip, each shown as soon as it is ready."""
    trigger(**views.scores, api_visibility="private", **INFERENCE).success(
        **views.attention, api_visibility="private", **INFERENCE).success(
        **views.flips, api_visibility="private", **INFERENCE)


def link_playground(playground: SimpleNamespace, views: SimpleNamespace, tabs: gr.Tabs) -> None:
    """The Playground's *Explain this answer*: the same run and pair in the Explain tab, which opens and explains
    them."""
    def carry(run, sentence1, sentence2):
        return finished_runs_dropdown(run), sentence1, sentence2, gr.Tabs(selected="explain")

    carried = playground.explain.click(carry, [playground.run, playground.sentence1, playground.sentence2],
                                       [views.run, views.sentence1, views.sentence2, tabs], api_visibility="private")
    explain_all(views, carried.then)
