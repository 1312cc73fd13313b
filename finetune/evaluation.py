"""A model scored on a split: the one path behind a run's final figures, `evaluate`, the predictions file and the Evaluate tab."""
from __future__ import annotations

import numpy as np

from finetune.metrics import confusion_matrix, score

BATCH_SIZE = 64  # Predictor.predict_batch's own: the same pairs padded together give the same logits everywhere


def evaluate_model(model: str, rows, batch_size: int = BATCH_SIZE) -> tuple[dict, list[dict]]:
    """`model` (a model folder, a run folder, anything Predictor loads) scored on `rows` (a datasets.Dataset with
    sentence1, sentence2, label, idx): the metrics {accuracy, f1, confusion_matrix, n, loss} and each row with its
    prediction and probabilities, in the rows' order.

    Computed in fp32 with torch whatever the run trained in: bf16 moves a few close calls (see compiled.GUARD), and the
    Playground's labels are fp32's, so these are the figures its answers agree with.
    """
    from finetune.predict import Predictor

    predictor = Predictor(model, backend="torch", precision="fp32")
    answers = predictor.predict_batch(list(zip(rows["sentence1"], rows["sentence2"])), batch_size=batch_size)
    probabilities = np.array([[answer["probabilities"][name] for name in predictor.labels] for answer in answers],
                             dtype="float64").reshape(len(answers), len(predictor.labels))
    predictions = probabilities.argmax(-1)
    labels = np.asarray(rows["label"], dtype="int64")
    # Mean cross-entropy, the Trainer's eval_loss; the floor keeps a probability rounded to 0 from making it infinite.
    chosen = probabilities[np.arange(len(labels)), labels]
    loss = float(-np.log(np.maximum(chosen, np.finfo("float64").tiny)).mean())
    metrics = {**score(predictions, labels), "confusion_matrix": confusion_matrix(predictions, labels),
               "n": len(labels), "loss": loss}
    answered = [{"idx": row["idx"], "sentence1": row["sentence1"], "sentence2": row["sentence2"], "label": row["label"],
                 "prediction": int(pred), "probabilities": [float(p) for p in probs]}
                for row, pred, probs in zip(rows, predictions, probabilities)]
    return metrics, answered
