"""What the Evaluate tab reads from a finished run: rows matched to their predictions, mistakes, argmax, comparison."""
import json
import shutil

import pytest
from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

from finetune import report, runs
from finetune.config import RunConfig
from finetune.metrics import REFERENCES
from finetune.predict import Predictor
from finetune.train import train


@pytest.fixture(scope="module")
def lively_run(tmp_path_factory, tiny_bert):
    """A run whose model answers each pair differently (large random weights, a learning rate too small to flatten
    them), trained with length-grouped batching, which hands the validation rows to the Trainer's evaluation out of
    order: the predictions file must still pair each row with its own answer."""
    model = tmp_path_factory.mktemp("lively-bert")
    BertTokenizer.from_pretrained(tiny_bert).save_pretrained(model)
    config = BertConfig.from_pretrained(tiny_bert)
    config.initializer_range = 0.5
    BertForSequenceClassification(config).save_pretrained(model)
    run_dir = tmp_path_factory.mktemp("lively") / "run"
    train(RunConfig.from_preset("default", model=str(model), precision="fp32", epochs=1, max_train_samples=16,
                                batch_size=16,
                                learning_rate=1e-7, max_eval_samples=100, sampling="group_by_length"), run_dir)
    return run_dir


def test_each_stored_prediction_is_the_answer_for_its_own_row_despite_length_grouping(lively_run):
    rows = report.predictions(lively_run)
    # torch fp32, as the run scored it: OpenVINO's fp32 differs in the fifth digit on these large random weights
    fresh = Predictor(str(lively_run), backend="torch", precision="fp32").predict_batch(
        [(r["sentence1"], r["sentence2"]) for r in rows])
    spread = [r["probabilities"][1] for r in rows]
    assert max(spread) - min(spread) > 0.3  # answers differ enough that a shuffle would show
    assert [r["idx"] for r in rows] == list(range(100))
    for row, answer in zip(rows, fresh, strict=True):
        assert row["probabilities"][1] == pytest.approx(answer["probabilities"]["equivalent"], abs=1e-5)
    final = runs.read_metrics(lively_run)["final"]
    assert final["accuracy"] == pytest.approx(sum(r["prediction"] == r["label"] for r in rows) / 100)


def test_misclassified_pairs_are_the_wrong_rows_most_confident_first(tiny_run):
    rows = report.predictions(tiny_run)
    wrong = report.misclassified(tiny_run)
    assert {w["idx"] for w in wrong} == {r["idx"] for r in rows if r["prediction"] != r["label"]}
    assert [w["confidence"] for w in wrong] == sorted((w["confidence"] for w in wrong), reverse=True)
    assert all(w["label"] != w["prediction"] and w["label"] in {"equivalent", "not_equivalent"} for w in wrong)
    (_, fp), (fn, _) = runs.read_metrics(tiny_run)["final"]["confusion_matrix"]
    assert len(wrong) == fp + fn


def test_argmax_view_shows_the_shape_and_the_step_from_probabilities_to_labels(tiny_run):
    view = report.argmax_view(tiny_run, rows=3)
    assert view["shape"] == [48, 2] and len(view["head"]) == 3
    assert view["preds"] == [max((0, 1), key=probs.__getitem__) for probs in view["head"]]
    assert view["correct"] / 48 == pytest.approx(runs.read_metrics(tiny_run)["final"]["accuracy"])


def test_per_epoch_metrics_come_from_the_run(tiny_run):
    epochs = report.per_epoch(tiny_run)
    assert [round(e["epoch"]) for e in epochs] == [1, 2] and all({"accuracy", "f1", "loss"} <= e.keys() for e in epochs)


def test_comparison_lists_finished_runs_then_the_references(tiny_run, tmp_path):
    unfinished = tmp_path / "unfinished"
    shutil.copytree(tiny_run, unfinished, ignore=shutil.ignore_patterns(runs.METRICS_FILE))
    rows = report.comparison([tiny_run, unfinished])
    assert [r["run"] for r in rows] == [tiny_run.name, *(f"reference: {name}" for name in REFERENCES)]
    metrics = json.loads((tiny_run / runs.METRICS_FILE).read_text())
    assert rows[0]["accuracy"] == metrics["final"]["accuracy"]
    assert rows[0]["epochs"] == 2 and rows[0]["train_rows"] == 64
    assert rows[-1]["accuracy"] == 0.684 and rows[-1]["f1"] == 0.812


def test_a_run_without_predictions_says_it_has_not_finished(tmp_path):
    with pytest.raises(runs.RunError, match="not finished"):
        report.predictions(tmp_path)
