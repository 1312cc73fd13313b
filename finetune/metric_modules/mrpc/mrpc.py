"""An `evaluate` metric module computing GLUE MRPC's accuracy and F1, shipped so no Hub download is needed."""
import datasets
import evaluate
import numpy as np

_DESCRIPTION = ("GLUE MRPC metric: accuracy and binary F1 of the 'equivalent' class (label 1), as the Hub's glue/mrpc "
                "metric reports them.")
_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted labels (0 = not_equivalent, 1 = equivalent).
    references: gold labels.
Returns:
    accuracy: fraction of correct predictions.
    f1: harmonic mean of precision and recall of label 1 (0.0 when there are no true positives).
Example:
    >>> metric = evaluate.load("finetune/metric_modules/mrpc")
    >>> metric.compute(predictions=[1, 0, 1], references=[1, 1, 1])
    {'accuracy': 0.6666666666666666, 'f1': 0.8}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Mrpc(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Dolan & Brockett (2005); Wang et al., GLUE (2019).",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references):
        predictions = np.asarray(predictions)
        references = np.asarray(references)
        true_positives = int(np.sum((predictions == 1) & (references == 1)))
        predicted = int(np.sum(predictions == 1))
        actual = int(np.sum(references == 1))
        f1 = 2 * true_positives / (predicted + actual) if true_positives else 0.0
        return {"accuracy": float(np.mean(predictions == references)), "f1": float(f1)}
