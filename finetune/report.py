"""What a finished run's files say: per-epoch metrics, the argmax step, misclassified pairs, and runs side by side."""
from __future__ import annotations

import json
from pathlib import Path

from finetune import runs
from finetune.config import RunConfig
from finetune.data import LABEL_NAMES
from finetune.metrics import REFERENCES


def predictions(run_dir: Path) -> list[dict]:
    """predictions.jsonl: each validation row (in dataset order) with its label, prediction and probabilities."""
    path = Path(run_dir) / runs.PREDICTIONS_FILE
    if not path.is_file():
        raise runs.RunError(f"run {Path(run_dir).name} has no {runs.PREDICTIONS_FILE}: it has not finished")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def misclassified(run_dir: Path) -> list[dict]:
    """The validation pairs the model got wrong, the most confidently wrong first."""
    wrong = [
        {"idx": row["idx"], "sentence1": row["sentence1"], "sentence2": row["sentence2"],
         "label": LABEL_NAMES[row["label"]], "prediction": LABEL_NAMES[row["prediction"]],
         "confidence": row["probabilities"][row["prediction"]], "p_equivalent": row["probabilities"][1]}
        for row in predictions(run_dir) if row["prediction"] != row["label"]
    ]
    return sorted(wrong, key=lambda row: row["confidence"], reverse=True)


def argmax_view(run_dir: Path, rows: int = 5) -> dict:
    """The course's last step on this run: predictions of shape (n, 2), argmax per row, compared with the labels."""
    answers = predictions(run_dir)
    head = answers[:rows]
    return {
        "shape": [len(answers), 2],
        "head": [[round(p, 4) for p in row["probabilities"]] for row in head],
        "preds": [row["prediction"] for row in head],
        "labels": [row["label"] for row in head],
        "correct": sum(row["prediction"] == row["label"] for row in answers),
    }


def per_epoch(run_dir: Path) -> list[dict]:
    """Validation accuracy, F1 and loss after each epoch, from metrics.json."""
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
                     "epochs": config.epochs, "learning_rate": config.learning_rate, "batch_size": config.batch_size,
                     "train_rows": metrics["train_rows"], "accuracy": metrics["final"]["accuracy"],
                     "f1": metrics["final"]["f1"], "seconds": metrics["train_seconds"]})
    rows += [{"run": f"reference: {name}", "accuracy": figures["accuracy"], "f1": figures["f1"]}
             for name, figures in REFERENCES.items()]
    return rows


def overfitting(evaluations: list[dict]) -> dict | None:
    """Whether validation got worse after its best epoch: accuracy down by a point or more, or the loss up by 5 % or
    more, at the last evaluation; with the best epoch and what changed."""
    if len(evaluations) < 2:
        return None
    best = max(evaluations, key=lambda e: (e["accuracy"], -e["loss"]))
    last = evaluations[-1]
    lowest = min(evaluations, key=lambda e: e["loss"])
    worse = []
    if last["accuracy"] <= best["accuracy"] - 0.01:
        worse.append(f"accuracy {best['accuracy']:.3f} → {last['accuracy']:.3f}")
    if last["loss"] >= lowest["loss"] * 1.05:
        worse.append(f"validation loss {lowest['loss']:.3f} → {last['loss']:.3f}")
    if not worse or last is best:
        return None
    return {"best_epoch": round(best["epoch"], 2) if worse[0].startswith("accuracy") else round(lowest["epoch"], 2),
            "what": ", ".join(worse)}
