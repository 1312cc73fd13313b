"""The model card (README.md) of a finished run: Hub metadata through huggingface_hub's ModelCard, and the figures."""
from __future__ import annotations

from pathlib import Path

from finetune import durable, runs
from finetune.config import RunConfig
from finetune.data import HUB_DATASET, HUB_SOURCES, is_real_mrpc, source_label
from finetune.metrics import REFERENCE_DATA, REFERENCES
from finetune.models import BUNDLED, BUNDLED_NAME
from finetune.tasks import METRIC_NAMES, MRPC, Task

CARD_FILE = "README.md"
# A fine-tune keeps its base model's licence: known for the models the app offers, else left for the author to state.
LICENSES = {BUNDLED_NAME: "apache-2.0", "bert-base-uncased": "apache-2.0",
            "google-bert/bert-base-uncased": "apache-2.0", "distilbert-base-uncased": "apache-2.0",
            "distilbert/distilbert-base-uncased": "apache-2.0"}
TAGS = ["text-classification", "paraphrase-detection", "glue", "mrpc", "finetune"]


def _task(metrics: dict) -> Task:
    """The run's task as its metrics record it (MRPC for runs from before tasks)."""
    return Task.from_dict(metrics["task"]) if isinstance(metrics.get("task"), dict) else MRPC


def _on_glue_hub(config: RunConfig, task: Task) -> bool:
    """Whether the run's data is the GLUE task itself, as the Hub holds it."""
    return task.is_glue and (is_real_mrpc(config.data) if task == MRPC else config.data in HUB_SOURCES)


def base_model(model: str) -> str | None:
    """The Hub id the run started from; None for a local folder, which the Hub could not link to."""
    if model == BUNDLED:
        return BUNDLED_NAME
    if Path(model).expanduser().exists():
        return None
    return model


def _dataset(config: RunConfig, metrics: dict) -> dict:
    """The model-index's dataset: GLUE MRPC's validation split (or the first N rows of it), else the data named as
    given."""
    task = _task(metrics)
    split = "validation" if config.max_eval_samples is None else f"validation[:{metrics['validation_rows']}]"
    if _on_glue_hub(config, task):
        return {"dataset_type": HUB_DATASET[0], "dataset_name": f"GLUE {task.glue.upper()}",
                "dataset_config": task.glue, "dataset_split": split}
    name = {"sample": "finetune's bundled MRPC-style sample",
            "sentiment-sample": "finetune's bundled sentiment sample"}.get(config.data, Path(config.data).name)
    return {"dataset_type": "local", "dataset_name": name, "dataset_split": split}


def card_data(run_dir: Path, config: RunConfig, metrics: dict):
    from huggingface_hub import EvalResult, ModelCardData

    final, where, task = metrics["final"], _dataset(config, metrics), _task(metrics)
    name = "Paraphrase detection" if task == MRPC else task.title
    shown = {**METRIC_NAMES, "accuracy": "Accuracy"}
    results = [EvalResult(task_type="text-classification", task_name=name, metric_type=metric,
                          metric_name=shown[metric], metric_value=round(final[metric], 4), **where)
               for metric in task.metrics]
    tags = TAGS if task == MRPC else ["text-classification", *(["glue", task.glue] if task.is_glue else []), "finetune"]
    return ModelCardData(
        model_name=Path(run_dir).name, base_model=base_model(config.model),
        datasets=[HUB_DATASET[0]] if _on_glue_hub(config, task) else None, metrics=list(task.metrics),
        eval_results=results, license=LICENSES.get(base_model(config.model) or ""), language="en",
        library_name="transformers", pipeline_tag="text-classification", tags=tags)


def _hyperparameters(config: RunConfig, metrics: dict) -> str:
    shown = {"epochs": config.epochs, "learning rate": config.learning_rate,
             "batch size (per process)": config.batch_size, "processes": metrics.get("world_size", 1),
             "weight decay": config.weight_decay, "warmup ratio": config.warmup_ratio,
             "dropout while training": "the model's own" if config.dropout is None else config.dropout,
             "word embeddings": "frozen" if config.freeze_embeddings else "trained", "max length": config.max_length,
             "sampling": config.sampling, "precision": metrics["precision"], "seed": config.seed,
             "training pairs": metrics["train_rows"], "preset it started from": config.preset}
    return "\n".join(f"| {name} | {value} |" for name, value in shown.items())


def _per_epoch(metrics: dict, task: Task = MRPC) -> str:
    rows = [f"| {e['epoch']:g} | {e['step']} | " + " | ".join(f"{e[m]:.4f}" for m in task.metrics) +
            f" | {e['loss']:.4f} |" for e in metrics["per_epoch"]]
    return "\n".join(rows) or "| (none) | | " + "| " * len(task.metrics) + "|"


def card_text(run_dir: Path, config: RunConfig, metrics: dict) -> str:
    if _task(metrics) != MRPC:
        return task_card_text(run_dir, config, metrics, _task(metrics))
    final = metrics["final"]
    base = base_model(config.model) or f"The local model `{Path(config.model).name}`"  # the server's paths stay on it
    data = ("GLUE MRPC (`nyu-mll/glue`, config `mrpc`)" if is_real_mrpc(config.data)
            else f"`{config.data}` (MRPC-style sentence pairs, not GLUE MRPC itself: its figures do not compare with "
                 "the references)")
    this_model = (f"| **this model** | {source_label(config.data)}, {final['n']} validation pairs | "
                  f"**{final['accuracy']:.4f}** | **{final['f1']:.4f}** |")
    references = "\n".join(f"| {name} | {REFERENCE_DATA} | {f['accuracy']:.3f} | {f['f1']:.3f} |"
                           for name, f in REFERENCES.items())
    return f"""
# {Path(run_dir).name}

{base} fine-tuned for paraphrase detection (is sentence 2 a paraphrase of sentence 1?) on {data} by finetune,
which follows the Hugging Face course's chapter
[*Fine-tuning a pretrained model*](https://huggingface.co/learn/llm-course/chapter3).
Labels: 0 `{MRPC.labels[0]}`, 1 `{MRPC.labels[1]}`.

## Results on the validation split ({final['n']} pairs)

| | scored on | accuracy | F1 |
|---|---|---|---|
{this_model}
{references}

The course's bert-base-uncased is what the chapter reaches; *always 'equivalent'* answers the majority label and has
learned nothing. Confusion matrix [[tn fp] [fn tp]]: {final['confusion_matrix']}.

### After each epoch

| epoch | step | accuracy | F1 | validation loss |
|---|---|---|---|---|
{_per_epoch(metrics)}

{_training_and_use(config, metrics, MRPC)}"""


def _baseline_row(metrics: dict, task: Task) -> str:
    """What a model that learned nothing scores on the same rows (always the most common label, or the mean)."""
    base = metrics.get("baseline")
    if not base:
        return ""
    figures = " | ".join(f"{base[m]:.4f}" for m in task.metrics)
    return f"| baseline: {base['answer']} | the same rows | {figures} |"


def _training_and_use(config: RunConfig, metrics: dict, task: Task) -> str:
    """The card's Training and How to use sections: the settings, and a pipeline call and the CLI for the task."""
    example = ('{"text": "The cat sat on the mat.", "text_pair": "A cat was sitting on the mat."}' if task.pair
               else '"The sentence to classify."')
    predict = 'predict --model PATH "sentence 1" "sentence 2"' if task.pair else 'predict --model PATH "a sentence"'
    return f"""## Training

| setting | value |
|---|---|
{_hyperparameters(config, metrics)}

Trained in {metrics['train_seconds']:.0f} s on {metrics.get('hardware', metrics['device']).removeprefix('Device: ')}.
The run's `config.json` (`run_config.json` on the Hub) holds every setting: `python -m finetune train` with them
repeats the run (same seed, same metrics).

## How to use

```python
from transformers import pipeline

classifier = pipeline("text-classification", model="PATH_OR_REPO_ID")  # this folder, or its Hub repo id
classifier({example}{', function_to_apply="none"' if task.regression else ''})
```

or `python -m finetune {predict}`.
"""


def task_card_text(run_dir: Path, config: RunConfig, metrics: dict, task: Task) -> str:
    """The card of a run on another task than MRPC: what it learned, its labels, its task's metrics."""
    final = metrics["final"]
    base = base_model(config.model) or f"The local model `{Path(config.model).name}`"
    data = (f"GLUE {task.glue.upper()} (`nyu-mll/glue`, config `{task.glue}`)" if _on_glue_hub(config, task)
            else f"`{source_label(config.data)}`")
    labels = ("It predicts a score (regression, one output)." if task.regression else
              "Labels: " + ", ".join(f"{i} `{name}`" for i, name in enumerate(task.labels)) + ".")
    header = " | ".join(METRIC_NAMES[m] for m in task.metrics)
    line = " | ".join("---" for _ in task.metrics)
    figures = " | ".join(f"**{final[m]:.4f}**" for m in task.metrics)
    return f"""
# {Path(run_dir).name}

{base} fine-tuned on {data} ({task.title}; {task.describe()}) by finetune, which follows the Hugging Face course's
chapter [*Fine-tuning a pretrained model*](https://huggingface.co/learn/llm-course/chapter3). {labels}

## Results on the validation split ({final['n']} examples)

| | scored on | {header} |
|---|---|{line}|
| **this model** | {source_label(config.data, task.name)}, {final['n']} validation examples | {figures} |
{_baseline_row(metrics, task)}

### After each epoch

| epoch | step | {header} | validation loss |
|---|---|{line}|---|
{_per_epoch(metrics, task)}

{_training_and_use(config, metrics, task)}"""


def model_card(run_dir: Path, config: RunConfig, metrics: dict):
    from huggingface_hub import ModelCard

    metadata = card_data(run_dir, config, metrics).to_yaml()
    return ModelCard(f"---\n{metadata}\n---\n{card_text(run_dir, config, metrics)}")


def write_model_card(run_dir: Path, config: RunConfig, metrics: dict) -> Path:
    """Write README.md into the run folder; it is what a push to the Hub shows as the model's page."""
    return durable.write_text(Path(run_dir) / CARD_FILE, str(model_card(run_dir, config, metrics)))


def card_for_run(run_dir: Path) -> Path:
    """The run's card, written now from its config and metrics if the run predates cards."""
    path = Path(run_dir) / CARD_FILE
    if not path.is_file():
        metrics = runs.read_metrics(run_dir)
        if metrics is None:
            raise runs.RunError(f"run {Path(run_dir).name} has not finished: it has no metrics, so no model card")
        write_model_card(run_dir, RunConfig.load(Path(run_dir) / runs.CONFIG_FILE), metrics)
    return path
