"""A task's metrics through `evaluate` with the shipped GLUE module, the confusion matrix, and the reference figures."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from finetune.tasks import MRPC, Task

METRIC_MODULE = Path(__file__).resolve().parent / "metric_modules" / "glue"

# What the numbers mean on MRPC: the course's bert-base-uncased, and a model that learned nothing; both on real MRPC.
REFERENCE_DATA = "real MRPC, 408 validation pairs"
REFERENCES = {
    "course bert-base-uncased": {"accuracy": 0.858, "f1": 0.900},
    "always 'equivalent'": {"accuracy": 0.684, "f1": 0.812},
}


@lru_cache(maxsize=16)
def glue_metric(config: str = "mrpc"):
    """The evaluate metric for a task's config, loaded once from the module shipped in this package (works offline)."""
    import evaluate

    return evaluate.load(str(METRIC_MODULE), config)


def metric_config(task: Task) -> str:
    """The shipped module's config for a task: its GLUE name, or own data's binary / classification / regression."""
    if task.glue:
        return task.glue
    return "binary" if task.name == "classification" and len(task.labels) == 2 else task.name


def score(predictions, references, task: Task = MRPC) -> dict:
    """The task's metrics as the Hub's glue module reports them ({'accuracy', 'f1'} for MRPC)."""
    kind = float if task.regression else int
    return glue_metric(metric_config(task)).compute(predictions=list(map(kind, predictions)),
                                                    references=list(map(kind, references)))


def confusion_matrix(predictions, references, classes: int = 2) -> list[list[int]]:
    """Rows the true label, columns the predicted one ([[tn, fp], [fn, tp]] for two)."""
    predictions, references = np.asarray(predictions), np.asarray(references)
    return [[int(np.sum((references == t) & (predictions == p))) for p in range(classes)] for t in range(classes)]


def per_class(matrix: list[list[int]], names) -> list[dict]:
    """Precision, recall, F1 and support of each class, from a confusion matrix."""
    table = np.asarray(matrix, dtype=float)
    rows = []
    for i, name in enumerate(names):
        true_positive, predicted, actual = table[i, i], table[:, i].sum(), table[i, :].sum()
        precision = true_positive / predicted if predicted else 0.0
        recall = true_positive / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"label": name, "precision": precision, "recall": recall, "f1": f1, "support": int(actual)})
    return rows


def baseline(train_labels, validation_labels, task: Task) -> dict:
    """What a model that learned nothing scores on this validation data: always the training data's most common label,
    or always its mean score; with what it answers."""
    if task.regression:
        mean = float(np.mean(train_labels))
        figures = {"pearson": 0.0, "spearmanr": 0.0}  # a constant correlates with nothing
        return {"answer": f"always {mean:.2f} (the training mean)", **figures}
    counts = np.bincount(np.asarray(train_labels, dtype=int), minlength=len(task.labels))
    majority = int(counts.argmax())
    figures = score([majority] * len(validation_labels), validation_labels, task)
    return {"answer": f"always '{task.labels[majority]}'", **figures}


def make_compute_metrics(task: Task = MRPC):
    """The Trainer hook of the course for a task: argmax of the logits (the logit itself for a score), then its
    metrics."""
    def compute_metrics(eval_pred) -> dict:
        logits, labels = eval_pred
        predictions = np.squeeze(logits, -1) if task.regression else np.argmax(logits, axis=-1)
        return score(predictions, labels, task)

    return compute_metrics


compute_metrics = make_compute_metrics(MRPC)
