"""An `evaluate` metric module computing GLUE's metrics per task as the Hub's `glue` module does, plus macro F1 and a
score's correlations for one's own data: shipped so that no Hub download is needed."""
import datasets
import evaluate
import numpy as np

_DESCRIPTION = ("GLUE metrics by config, as evaluate.load('glue', config) reports them: accuracy and binary F1 of "
                "label 1 (mrpc, qqp), Matthews correlation (cola), Pearson and Spearman correlation (stsb), accuracy "
                "(sst2, mnli, mnli_matched, mnli_mismatched, qnli, rte, wnli, hans); and for own data 'binary' "
                "(accuracy and F1 of label 1), 'classification' (accuracy and macro F1 over the classes present) and "
                "'regression' (Pearson and Spearman).")
_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted labels (integers), or predicted scores for stsb and regression.
    references: gold labels or scores.
Returns:
    accuracy, f1, matthews_correlation, pearson, spearmanr or macro_f1, as the config has them.
Example:
    >>> metric = evaluate.load("finetune/metric_modules/glue", "mrpc")
    >>> metric.compute(predictions=[1, 0, 1], references=[1, 1, 1])
    {'accuracy': 0.6666666666666666, 'f1': 0.8}
"""
BINARY_F1 = ("mrpc", "qqp", "binary")
ACCURACY = ("sst2", "mnli", "mnli_matched", "mnli_mismatched", "qnli", "rte", "wnli", "hans")
SCORES = ("stsb", "regression")
CONFIGS = (*BINARY_F1, *ACCURACY, "cola", *SCORES, "classification")


def f1_of(predictions, references, label) -> float:
    """F1 of one class; 0.0 when it has no true positives."""
    true_positives = int(np.sum((predictions == label) & (references == label)))
    both = int(np.sum(predictions == label)) + int(np.sum(references == label))
    return 2 * true_positives / both if true_positives else 0.0


def matthews(predictions, references) -> float:
    """Matthews correlation of two labellings (sklearn's multiclass formula); 0.0 when it is undefined."""
    classes = np.union1d(predictions, references)
    confusion = np.array([[np.sum((references == t) & (predictions == p)) for p in classes] for t in classes], float)
    samples, correct = confusion.sum(), np.trace(confusion)
    predicted, actual = confusion.sum(0), confusion.sum(1)
    denominator = np.sqrt((samples**2 - predicted @ predicted) * (samples**2 - actual @ actual))
    return float((correct * samples - predicted @ actual) / denominator) if denominator else 0.0


def ranks(values) -> np.ndarray:
    """1-based ranks, ties given their mean rank (as scipy.stats.rankdata's default)."""
    order = np.argsort(values, kind="mergesort")
    ranked = np.empty(len(values), float)
    ranked[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):
        tied = values == value
        ranked[tied] = ranked[tied].mean()
    return ranked


def pearson(a, b) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a @ a) * (b @ b))
    return float(a @ b / denominator) if denominator else 0.0


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Glue(evaluate.Metric):
    def _info(self):
        if self.config_name not in CONFIGS:
            raise KeyError(f"config {self.config_name!r} is none of {', '.join(CONFIGS)}")
        kind = "float32" if self.config_name in SCORES else "int64"
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Wang et al., GLUE (2019).",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value(kind), "references": datasets.Value(kind)}),
        )

    def _compute(self, predictions, references):
        predictions, references = np.asarray(predictions), np.asarray(references)
        name = self.config_name
        if name in SCORES:
            predictions, references = predictions.astype("float64"), references.astype("float64")
            return {"pearson": pearson(predictions, references),
                    "spearmanr": pearson(ranks(predictions), ranks(references))}
        if name == "cola":
            return {"matthews_correlation": matthews(predictions, references)}
        accuracy = float(np.mean(predictions == references))
        if name in BINARY_F1:
            return {"accuracy": accuracy, "f1": float(f1_of(predictions, references, 1))}
        if name == "classification":
            classes = np.union1d(predictions, references)
            return {"accuracy": accuracy,
                    "macro_f1": float(np.mean([f1_of(predictions, references, label) for label in classes]))}
        return {"accuracy": accuracy}
