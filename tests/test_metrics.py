"""Accuracy and F1 from the shipped evaluate module, and the confusion matrix."""
from finetune.metrics import REFERENCES, compute_metrics, confusion_matrix, score


def test_always_equivalent_on_mrpc_validation_balance_gives_the_reference_baseline():
    labels = [1] * 279 + [0] * 129
    got = score([1] * len(labels), labels)
    baseline = REFERENCES["always 'equivalent'"]
    assert round(got["accuracy"], 3) == baseline["accuracy"]
    assert round(got["f1"], 3) == baseline["f1"]


def test_f1_is_of_the_equivalent_class_and_zero_without_true_positives():
    assert score([1, 0, 1, 0], [1, 1, 0, 0]) == {"accuracy": 0.5, "f1": 0.5}
    assert score([0, 0], [1, 0])["f1"] == 0.0


def test_confusion_matrix_rows_are_true_labels():
    assert confusion_matrix([1, 1, 0, 0, 1], [1, 0, 0, 1, 1]) == [[1, 1], [1, 2]]


def test_compute_metrics_takes_the_argmax_of_logits():
    import numpy as np

    logits = np.array([[2.0, -1.0], [0.1, 0.3], [-3.0, 4.0]])
    assert compute_metrics((logits, np.array([0, 0, 1]))) == {"accuracy": 2 / 3, "f1": 2 / 3}
