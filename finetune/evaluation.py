"""A model scored on a split: the one path behind a run's final figures, `evaluate`, the predictions file and the
Evaluate tab."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from finetune.metrics import confusion_matrix, score

BATCH_SIZE = 64  # Predictor.predict_batch's own: the same pairs padded together give the same logits everywhere


def evaluate_model(model: str, rows, batch_size: int = BATCH_SIZE) -> tuple[dict, list[dict]]:
    """`model` (a model folder, a run folder, anything Predictor loads) scored on `rows` (a datasets.Dataset with
    its task's texts, label, idx): the task's metrics ({accuracy, f1} for MRPC) with confusion_matrix, n and loss, and
    each row with its prediction and probabilities (a score's prediction is the number), in the rows' order.

    Computed in fp32 with torch whatever the run trained in: bf16 moves a few close calls (see compiled.GUARD), and the
    Playground's labels are fp32's, so these are the figures its answers agree with.
    """
    from finetune.predict import Predictor

    predictor = Predictor(model, backend="torch", precision="fp32")
    task = predictor.task
    seconds = rows["sentence2"] if task.pair else [None] * len(rows)
    answers = predictor.predict_batch(list(zip(rows["sentence1"], seconds, strict=True)), batch_size=batch_size)
    if task.regression:
        return _evaluate_scores(task, rows, answers)
    probabilities = np.array([[answer["probabilities"][name] for name in predictor.labels] for answer in answers],
                             dtype="float64").reshape(len(answers), len(predictor.labels))
    predictions = probabilities.argmax(-1)
    labels = np.asarray(rows["label"], dtype="int64")
    # Mean cross-entropy, the Trainer's eval_loss; the floor keeps a probability rounded to 0 from making it infinite.
    chosen = probabilities[np.arange(len(labels)), labels]
    loss = float(-np.log(np.maximum(chosen, np.finfo("float64").tiny)).mean())
    metrics = {**score(predictions, labels, task),
               "confusion_matrix": confusion_matrix(predictions, labels, len(task.labels)),
               "n": len(labels), "loss": loss}
    answered = [{"idx": row["idx"], **{c: row[c] for c in task.columns}, "label": row["label"],
                 "prediction": int(pred), "probabilities": [float(p) for p in probs]}
                for row, pred, probs in zip(rows, predictions, probabilities, strict=True)]
    return metrics, answered


def _evaluate_scores(task, rows, answers) -> tuple[dict, list[dict]]:
    """A score's figures: Pearson and Spearman, n, and the mean squared error (the Trainer's eval_loss for it)."""
    predictions = np.array([answer["score"] for answer in answers], dtype="float64")
    labels = np.asarray(rows["label"], dtype="float64")
    metrics = {**score(predictions, labels, task), "n": len(labels),
               "loss": float(np.mean((predictions - labels) ** 2))}
    answered = [{"idx": row["idx"], **{c: row[c] for c in task.columns}, "label": float(row["label"]),
                 "prediction": float(pred)} for row, pred in zip(rows, predictions, strict=True)]
    return metrics, answered


def score_split(model: str, source: str, split: str = "validation", batch_size: int = BATCH_SIZE) -> dict:
    """`model` scored on a split of a data source: the metrics, plus what they were measured on (source, its name as a
    reader says it, split)."""
    from finetune import FinetuneError
    from finetune.data import load_data, source_label
    from finetune.models import model_task
    from finetune.tasks import Spec

    task = model_task(model)
    dataset, _ = load_data(source, Spec(task.name, labels=() if task.is_glue else task.labels))
    if split not in dataset:
        raise FinetuneError(f"data {source} has no {split} split (it has {', '.join(dataset)})")
    rows = dataset[split]
    if any(label == -1 for label in rows["label"]):
        raise FinetuneError(f"the {split} split of {source} has no labels to score against")
    metrics, _ = evaluate_model(model, rows, batch_size=batch_size)
    return {**metrics, "source": source, "label": source_label(source), "split": split}


def score_run(run_dir: Path, source: str, split: str = "validation") -> dict:
    """A finished run scored on other data (real MRPC for a run trained on the sample, say), kept in its scores.json
    so that the Evaluate tab shows it beside the run's own figures, and a second ask reads it back."""
    from finetune import durable, runs

    known = run_scores(run_dir)
    if Path(source).expanduser().exists():  # the same folder however it was named (relative, with ~)
        source = str(Path(source).expanduser().resolve())
    key = f"{source}|{split}"
    if key not in known:
        known[key] = score_split(str(Path(run_dir) / runs.MODEL_DIR), source, split)
        durable.write_text(Path(run_dir) / runs.SCORES_FILE, json.dumps(known, indent=2) + "\n")
    return known[key]


def run_scores(run_dir: Path) -> dict:
    """What a run was scored on besides its own validation data: {"SOURCE|SPLIT": metrics and where measured}."""
    from finetune import runs

    path = Path(run_dir) / runs.SCORES_FILE
    return json.loads(path.read_text()) if path.is_file() else {}
