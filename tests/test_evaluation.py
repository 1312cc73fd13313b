"""One number: a run's final figures, `evaluate`, the predictions file and the Playground agree on the bundled model,
trained in bf16 where the CPU has it and scored once, in fp32, from the saved model."""
import json

import pytest

from finetune import runs
from finetune.config import RunConfig
from finetune.data import LABEL_NAMES, load_mrpc
from finetune.train import train


@pytest.fixture(scope="module")
def bundled_run(tmp_path_factory):
    """The default recipe (precision auto: bf16 on AVX512-BF16 or AMX) on 128 sample pairs, 2 epochs of 8 steps: enough
    for answers that differ from pair to pair, some of them close calls, where bf16 and fp32 can disagree."""
    run_dir = tmp_path_factory.mktemp("bundled") / "run"
    train(RunConfig.from_preset("default", model="bundled", data="sample", max_train_samples=128, epochs=2,
                                batch_size=16, learning_rate=3e-4), run_dir)
    return run_dir


def test_the_trainer_evaluates_each_epoch_in_its_precision_but_not_the_last_step(bundled_run):
    from finetune.device import resolve_hardware

    metrics = runs.read_metrics(bundled_run)
    assert metrics["precision"] == resolve_hardware("auto", "auto")["precision"]
    evals = [e for e in runs.read_events(bundled_run)[0] if e["type"] == "eval"]
    assert [(e["step"], e["precision"]) for e in evals] == [(8, metrics["precision"]), (16, "fp32")]
    assert [(e["step"], e["precision"]) for e in metrics["per_epoch"]] == [(8, metrics["precision"]), (16, "fp32")]
    assert sorted(p.name for p in (bundled_run / runs.CHECKPOINTS_DIR).iterdir()) == ["checkpoint-8"]


def test_the_runs_final_figures_are_what_evaluate_says_exactly(bundled_run, capsys):
    from finetune.cli import main

    assert main(["evaluate", "--model", str(bundled_run), "--data", "sample", "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    final = runs.read_metrics(bundled_run)["final"]
    assert set(evaluated) == set(final) == {"accuracy", "f1", "confusion_matrix", "n", "loss"}
    for key in ("accuracy", "f1", "confusion_matrix", "n"):
        assert evaluated[key] == final[key], key
    assert evaluated["loss"] == pytest.approx(final["loss"], rel=1e-6)
    assert final["n"] == len(load_mrpc("sample")["validation"]) == 300


def test_the_predictions_file_holds_the_playgrounds_answers_for_every_validation_pair(bundled_run):
    from finetune import compiled
    from finetune.predict import run_predictor

    rows = [json.loads(line) for line in (bundled_run / runs.PREDICTIONS_FILE).read_text().splitlines()]
    validation = load_mrpc("sample")["validation"]
    assert [r["idx"] for r in rows] == list(validation["idx"])
    playground = run_predictor(bundled_run)
    assert playground.backend == ("openvino" if compiled.available() else "torch")
    answers = playground.predict_batch([(r["sentence1"], r["sentence2"]) for r in rows])
    assert [LABEL_NAMES[r["prediction"]] for r in rows] == [a["label"] for a in answers]
    spread = [r["probabilities"][1] for r in rows]
    assert max(spread) - min(spread) > 0.1  # answers differ from pair to pair: matching them is not a constant's doing
    for row, answer in zip(rows, answers, strict=True):
        assert row["probabilities"][1] == pytest.approx(answer["probabilities"][LABEL_NAMES[1]], abs=0.02)
