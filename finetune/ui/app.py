"""Assembles the page; until the tabs land it explains what exists and how to use it from the command line."""
import gradio as gr

INTRO = """
# finetune: BERT on MRPC, step by step

Fine-tune a pretrained BERT-family model on GLUE MRPC (is sentence 2 a paraphrase of sentence 1?),
as the Hugging Face course's *Fine-tuning a pretrained model* chapter does, on your own machine and offline.

The interactive tabs (Data, Tokens, Train, Evaluate, Playground) are being built. The same core already
runs from the command line:

```bash
python -m finetune data --data sample                        # splits and label balance
python -m finetune tokenize "He left." "She stayed."         # tokens, input_ids, token_type_ids, attention_mask
python -m finetune train --model bundled --data sample       # fine-tune all-MiniLM-L6-v2; see runs/
python -m finetune evaluate --model runs/<run> --json        # accuracy, F1, confusion matrix
python -m finetune predict --model runs/<run> "A" "B"        # label and probabilities
```
"""


def build_app() -> gr.Blocks:
    with gr.Blocks(title="finetune: BERT on MRPC") as app:
        gr.Markdown(INTRO)
    return app
