"""What a finished run's files say: per-epoch metrics, the argmax step, misclassified pairs, and runs side by side."""
from __future__ import annotations

import json
from pathlib import Path

from finetune import runs
from finetune.config import RunConfig
from finetune.metrics import REFERENCES
from finetune.tasks import METRIC_KEYS, METRIC_NAMES


def predictions(run_dir: Path) -> list[dict]:
    """predictions.jsonl: each validation row (in dataset order) with its label, prediction and probabilities."""
    path = Path(run_dir) / runs.PREDICTIONS_FILE
    if not path.is_file():
        raise runs.RunError(f"run {Path(run_dir).name} has no {runs.PREDICTIONS_FILE}: it has not finished")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def misclassified(run_dir: Path) -> list[dict]:
    """The validation rows the model got wrong, the most confidently wrong first (a score's: the furthest off first,
    those off by more than one tenth of the scores' range)."""
    task = runs.run_task(run_dir)
    answers = predictions(run_dir)
    texts = lambda row: {column: row[column] for column in task.columns}  # noqa: E731
    if task.regression:
        labels = [row["label"] for row in answers]
        tolerance = (max(labels) - min(labels)) / 10 if labels else 0.0
        off = [{"idx": row["idx"], **texts(row), "label": round(row["label"], 3),
                "prediction": round(row["prediction"], 3), "error": abs(row["prediction"] - row["label"])}
               for row in answers if abs(row["prediction"] - row["label"]) > tolerance]
        return sorted(off, key=lambda row: row["error"], reverse=True)
    wrong = [
        {"idx": row["idx"], **texts(row), "label": task.labels[row["label"]],
         "prediction": task.labels[row["prediction"]], "confidence": row["probabilities"][row["prediction"]],
         "p_label": row["probabilities"][row["label"]]}
        for row in answers if row["prediction"] != row["label"]
    ]
    return sorted(wrong, key=lambda row: row["confidence"], reverse=True)


def argmax_view(run_dir: Path, rows: int = 5) -> dict:
    """The course's last step on this run: predictions of shape (n, labels), argmax per row, compared with the labels
    (None for a score, which has no argmax)."""
    answers = predictions(run_dir)
    if not answers or "probabilities" not in answers[0]:
        return None
    head = answers[:rows]
    return {
        "shape": [len(answers), len(answers[0]["probabilities"])],
        "head": [[round(p, 4) for p in row["probabilities"]] for row in head],
        "preds": [row["prediction"] for row in head],
        "labels": [row["label"] for row in head],
        "correct": sum(row["prediction"] == row["label"] for row in answers),
    }


def per_epoch(run_dir: Path) -> list[dict]:
    """Validation metrics (accuracy, F1, ...) and loss after each epoch, from metrics.json."""
    metrics = runs.read_metrics(run_dir)
    return metrics["per_epoch"] if metrics else []


def comparison(run_dirs: list[Path]) -> list[dict]:
    """One row per finished run (its settings and final metrics), then the reference figures."""
    rows = []
    for run_dir in run_dirs:
        metrics = runs.read_metrics(run_dir)
        if not metrics:
            continue
        config = RunConfig.load(Path(run_dir) / runs.CONFIG_FILE)
        rows.append({"run": Path(run_dir).name, "model": config.model, "data": config.data, "preset": config.preset,
                     "task": runs.run_task(run_dir).name,
                     "epochs": config.epochs, "learning_rate": config.learning_rate, "batch_size": config.batch_size,
                     "train_rows": metrics["train_rows"], "seconds": metrics["train_seconds"],
                     **{k: metrics["final"][k] for k in METRIC_KEYS if k in metrics["final"]}})
    if any(row["task"] == "mrpc" for row in rows) or not rows:
        rows += [{"run": f"reference: {name}", "task": "mrpc", "accuracy": figures["accuracy"], "f1": figures["f1"]}
                 for name, figures in REFERENCES.items()]
    return rows


def overfitting(evaluations: list[dict]) -> dict | None:
    """Whether validation got worse after its best epoch: its first metric (accuracy) down by a point or more, or the
    loss up by 5 % or more, at the last evaluation; with the best epoch and what changed."""
    if len(evaluations) < 2:
        return None
    key = next((k for k in METRIC_KEYS if evaluations[-1].get(k) is not None), None)
    if key is None:
        return None
    best = max(evaluations, key=lambda e: (e.get(key) or 0.0, -e["loss"]))
    last = evaluations[-1]
    lowest = min(evaluations, key=lambda e: e["loss"])
    worse = []
    if last[key] <= best[key] - 0.01:
        worse.append(f"{METRIC_NAMES[key]} {best[key]:.3f} → {last[key]:.3f}")
    if last["loss"] >= lowest["loss"] * 1.05:
        worse.append(f"validation loss {lowest['loss']:.3f} → {last['loss']:.3f}")
    if not worse or last is best:
        return None
    return {"best_epoch": round(best["epoch"], 2) if not worse[0].startswith("validation loss")
            else round(lowest["epoch"], 2),
            "what": ", ".join(worse)}
