"""Assembles the page: one tab per step of the course chapter, the links between tabs, and the API."""
import os

import gradio as gr

from finetune.access import queue_size
from finetune.space import storage_warning
from finetune.ui.api import create_api
from finetune.ui.compare import create_compare_tab, sweep_choices
from finetune.ui.data import create_data_tab
from finetune.ui.evaluate import create_evaluate_tab
from finetune.ui.explain import create_explain_tab, link_playground
from finetune.ui.playground import create_playground_tab
from finetune.ui.tokens import create_tokens_tab
from finetune.ui.train import create_train_tab, owner_token

TITLE = "finetune: BERT on MRPC, step by step"
INTRO = f"""# {TITLE}
Fine-tune a pretrained BERT-family model on GLUE MRPC (is sentence 2 a paraphrase of sentence 1?) as the Hugging Face
course's chapter *Fine-tuning a pretrained model* does, on this machine: one tab per step."""
THEME = gr.themes.Soft()


def build_app() -> gr.Blocks:
    with gr.Blocks(title=TITLE) as app:
        create_api()  # first, so its endpoints get their plain names
        gr.Markdown(INTRO)
        warning = storage_warning()
        if warning:
            gr.Markdown(warning, elem_id="storage-warning")
        owner = owner_token()
        with gr.Tabs() as tabs:
            data = create_data_tab(app, owner)
            tokens = create_tokens_tab(app)
            train = create_train_tab(app, owner)
            create_evaluate_tab(app)
            compare = create_compare_tab(app, owner)
            playground = create_playground_tab(app, owner)
            explain = create_explain_tab(app)
        # The Playground's "Explain this answer" opens the Explain tab on the same run and pair.
        link_playground(playground, explain, tabs)
        # A sweep started in the Train tab opens the Compare tab on it.
        train.sweep_started.change(lambda name: (gr.update(choices=sweep_choices(), value=name),
                                                 gr.Tabs(selected="compare")),
                                   train.sweep_started, [compare.pick, tabs], api_visibility="private")
        # The data loaded in the Data tab is what Train trains on and what Tokens batches.
        data.source.change(lambda source: (source, source), data.source, [train.data, tokens.source],
                           api_visibility="private")
        data.task.change(lambda task: (task, task), data.task, [train.task, tokens.task], api_visibility="private")
        # Tokens shows the tokenizer of the model chosen for training.
        train.model.change(lambda model: model, train.model, tokens.model, api_visibility="private")
    # Gradio's queue summarises its last 10,000 events in a pandas DataFrame after every event, for a monitoring page
    # this app does not show: under a class's load a tenth of the app's CPU after 400 events, growing with them. Once
    # every 1,000 events is plenty (an operator's own setting wins).
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    # A bounded queue: past it a request is refused at once as "queue full" instead of waiting without end.
    app.queue(max_size=queue_size())
    return app
