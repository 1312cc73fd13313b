"""The Tokens tab: what the tokenizer makes of one sentence pair (or one sentence), and of a few examples padded into
one batch."""
from __future__ import annotations

import html
from types import SimpleNamespace

import gradio as gr
import pandas as pd

from finetune import browse
from finetune.access import check_data, check_model
from finetune.models import load_tokenizer
from finetune.predict import check_pair, check_texts
from finetune.tasks import GLUE
from finetune.tokens import (
    SEGMENTS,
    SPECIAL,
    padded_batch,
    pair_rows,
    segments,
    token_limit,
    tokenize_pair,
)
from finetune.ui.common import user_errors

EXAMPLES = [
    ["Amrozi accused his brother, whom he called \"the witness\", of deliberately distorting his evidence.",
     "Referring to him as only \"the witness\", Amrozi accused his brother of deliberately distorting his evidence."],
    ["This is the first sentence.", "This is the second one."],
    ["The cat sat on the mat.", "A cat was sitting on the mat."],
    ["A single sentence, as SST-2 and the sentiment sample have.", ""],
]
SINGLE = ("\n\nOne sentence (sentence2 left empty, as single-sentence tasks such as SST-2 have): `[CLS] sentence "
          "[SEP]`, and every `token_type_id` is 0, since there is no second segment to tell apart.")

EXPLAIN_PAIR = """
**Step 2: tokenizing a pair.** `tokenizer(sentence1, sentence2)` puts both sentences in one input:
`[CLS] sentence 1 [SEP] sentence 2 [SEP]`. `input_ids` are the tokens' numbers in the vocabulary;
`token_type_ids` say which sentence each token belongs to (0 for the first, including `[CLS]` and the first `[SEP]`,
1 for the second); `attention_mask` is 1 for every real token. Special tokens are greyed. Models without
`token_type_ids` (DistilBERT) tell the sentences apart by the `[SEP]` alone.
"""

EXPLAIN_BATCH = """
**Dynamic padding.** `DataCollatorWithPadding` pads each batch to its own longest pair (not to a fixed length):
shorter rows get the pad token, and `attention_mask` 0 there so the model ignores them.
"""

COLORS = {SPECIAL: "#d1d5db", SEGMENTS[0]: "#93c5fd", SEGMENTS[1]: "#fcd34d"}


@user_errors
def show_pair(model: str, sentence1: str, sentence2: str):
    tokenizer = load_tokenizer(check_model(model or "bundled"))
    single = not (sentence2 or "").strip()
    view = tokenize_pair(tokenizer, *(check_texts(GLUE["sst2"], sentence1) if single else
                                      check_pair(sentence1, sentence2)))
    summary = (f"{len(view['tokens'])} tokens; the model reads `input_ids` = `{view['input_ids']}`"
               + ("" if "token_type_ids" in view else " (this tokenizer makes no `token_type_ids`)"))
    if len(view["tokens"]) >= token_limit(tokenizer):
        summary += (f"\n\nThe input was cut to the model's {token_limit(tokenizer)} tokens (`truncation=True`): "
                    "it reads no further.")
    return segments(view), pd.DataFrame(pair_rows(view)), summary + (SINGLE if single else "")


@user_errors
def pair_choices(source: str, task: str = "auto"):
    rows = browse.pairs(check_data(source or "sample"), task=task)
    choices = [(f"#{r['idx']}: {r['sentence1'][:70]}…", r["idx"]) for r in rows]
    return gr.update(choices=choices, value=[idx for _, idx in choices[:4]])


@user_errors
def show_batch(model: str, source: str, chosen: list[int], task: str = "auto"):
    if not chosen:
        raise gr.Error("pick at least one pair")
    rows = {r["idx"]: r for r in browse.pairs(check_data(source or "sample"), task=task)}
    unknown = [i for i in chosen if i not in rows]
    if unknown:
        raise gr.Error(f"no pair {', '.join(f'#{i}' for i in unknown)} among the first pairs of the loaded data; "
                       "pick from the list")
    batch = padded_batch(load_tokenizer(check_model(model or "bundled")),
                         [(rows[i]["sentence1"], rows[i].get("sentence2")) for i in chosen])
    names = [f"#{i}" for i in chosen]
    pads = sum(row.count(0) for row in batch["attention_mask"])
    summary = (f"`input_ids.shape` = `{tuple(batch['shape'])}`: {len(chosen)} pairs, each padded to "
               f"{batch['shape'][1]} tokens (lengths before padding: {batch['lengths']}); "
               f"{pads} `{batch['pad_token']}` tokens added, with attention_mask 0.")
    return summary, batch_html(batch, names)


def batch_html(batch: dict, names: list[str]) -> str:
    """The padded batch, one pair per line and its tokens wrapping to the page's width: the pads, with attention_mask
    0, greyed and struck through, so the padding shows at a glance without a table wider than the screen."""
    lines = []
    for name, tokens, mask in zip(names, batch["tokens"], batch["attention_mask"], strict=False):
        chips = "".join(
            f'<span style="padding:1px 4px;margin:1px;border-radius:4px;background:{"#e5e7eb" if kept else "#f3f4f6"};'
            f'{"" if kept else "color:#9ca3af;text-decoration:line-through;"}">{html.escape(token)}</span>'
            for token, kept in zip(tokens, mask, strict=False))
        lines.append(f'<div style="display:flex;flex-wrap:wrap;align-items:center;margin:4px 0">'
                     f'<b style="margin-right:6px">{name} ({sum(mask)} + {mask.count(0)} pad)</b>{chips}</div>')
    return "".join(lines)


def create_tokens_tab(app: gr.Blocks) -> SimpleNamespace:
    with gr.Tab("Tokens", id="tokens"):
        gr.Markdown(EXPLAIN_PAIR)
        with gr.Row():
            model = gr.Textbox(value="bundled", label="Tokenizer of the model", scale=1,
                               info="follows the model chosen in the Train tab")
            sentence1 = gr.Textbox(value=EXAMPLES[0][0], label="sentence1", scale=2)
            sentence2 = gr.Textbox(value=EXAMPLES[0][1], label="sentence2 (empty: one sentence)", scale=2)
        gr.Examples(EXAMPLES, [sentence1, sentence2])
        tokenize = gr.Button("Tokenize", variant="primary")
        segmented = gr.HighlightedText(label="Tokens by segment", color_map=COLORS, show_legend=True,
                                       show_inline_category=False, adjacent_separator=" ")
        summary = gr.Markdown()
        table = gr.Dataframe(label="Token by token", interactive=False)
        gr.Markdown(EXPLAIN_BATCH)
        source = gr.State("sample")
        task = gr.State("auto")
        chosen = gr.Dropdown(label="Pairs to batch (from the data loaded in the Data tab)", multiselect=True,
                             choices=[], allow_custom_value=True)
        pad = gr.Button("Pad them into one batch")
        batch_summary = gr.Markdown()
        batch_view = gr.HTML(elem_id="padded-batch")

    pair = [segmented, table, summary]
    gr.on([tokenize.click, sentence1.submit, sentence2.submit, app.load], show_pair, [model, sentence1, sentence2],
          pair, api_visibility="private")
    gr.on([source.change, task.change, app.load], pair_choices, [source, task], chosen,
          api_visibility="private").then(
        show_batch, [model, source, chosen, task], [batch_summary, batch_view], api_visibility="private")
    pad.click(show_batch, [model, source, chosen, task], [batch_summary, batch_view], api_visibility="private")
    return SimpleNamespace(model=model, source=source, task=task)
