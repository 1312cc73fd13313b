"""Experiments' first pieces: the learning-rate range test, and validation scored every N steps so that a curve moves
during the run."""
import json

import pytest
from test_cli import run_main

from finetune import runs


def test_the_lr_finder_sweeps_rates_upward_and_suggests_one_where_the_loss_falls(capsys, tiny_bert):
    code, out, err = run_main(capsys, "lr-find", "--model", tiny_bert, "--data", "sample", "--batch-size", "16",
                              "--precision", "fp32", "--max-train-samples", "256", "--steps", "60", "--json")
    assert code == 0, err
    found = json.loads(out)
    rates, losses = found["learning_rates"], found["losses"]
    assert 20 <= found["steps"] == len(rates) == len(losses) <= 60
    assert rates[0] == pytest.approx(1e-7) and all(b > a for a, b in zip(rates, rates[1:], strict=False))
    assert found["suggestion"] is None or rates[0] < found["suggestion"] < rates[-1]
    code, _, err = run_main(capsys, "lr-find", "--model", tiny_bert, "--steps", "5")
    assert code == 2 and "steps must be between 20 and 1000, got 5" in err


def test_the_suggestion_is_where_the_smoothed_loss_falls_fastest():
    from finetune.lr_find import suggestion

    rates = [10 ** (-7 + i / 2) for i in range(13)]
    losses = [0.70, 0.70, 0.69, 0.68, 0.60, 0.40, 0.30, 0.28, 0.27, 0.35, 0.9, 2.0, 5.0]
    assert suggestion(rates, losses) == rates[5]  # the steepest fall: 0.60 → 0.30 around it
    assert suggestion(rates, [0.7, 0.8, 0.9, 1.0]) is None  # the loss never fell


def test_validation_every_n_steps_moves_the_curve_during_the_run(capsys, tiny_bert, tmp_path):
    code, _, err = run_main(capsys, "train", "--model", tiny_bert, "--data", "sample", "--epochs", "2",
                            "--batch-size", "16", "--max-train-samples", "64", "--max-eval-samples", "32",
                            "--precision", "fp32", "--eval-steps", "3", "--output-dir", tmp_path / "run")
    assert code == 0, err
    evaluated = [e["step"] for e in runs.read_events(tmp_path / "run")[0] if e["type"] == "eval"]
    assert evaluated == [3, 6, 8]  # every 3 steps, then the final figures of the saved model
    assert [e["step"] for e in json.loads((tmp_path / "run" / "metrics.json").read_text())["per_epoch"]] == [3, 6, 8]
    code, _, err = run_main(capsys, "train", "--model", tiny_bert, "--eval-steps", "0", "--output-dir",
                            tmp_path / "bad")
    assert code == 2 and "eval steps must be >= 1, got 0" in err


def test_early_stopping_ends_the_run_with_its_best_model_and_says_where(capsys, tiny_bert, tmp_path):
    code, out, err = run_main(capsys, "train", "--model", tiny_bert, "--data", "sample", "--epochs", "10",
                              "--batch-size", "16", "--max-train-samples", "64", "--max-eval-samples", "48",
                              "--learning-rate", "1e-3", "--precision", "fp32", "--eval-steps", "2",
                              "--early-stopping-patience", "2", "--output-dir", tmp_path / "run")
    assert code == 0, err
    events = runs.read_events(tmp_path / "run")[0]
    stopped = [e for e in events if e["type"] == "early_stop"]
    assert len(stopped) == 1 and stopped[0]["step"] < stopped[0]["max_steps"] == 40
    assert stopped[0]["metric"] == "f1" and stopped[0]["patience"] == 2
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["steps"] == stopped[0]["step"] and runs.state_of(tmp_path / "run")[0] is runs.RunState.FINISHED
    assert metrics["final"]["f1"] == pytest.approx(stopped[0]["best"])  # the best weights were put back, then scored
    assert "early stopping: validation f1 did not improve for 2 evaluations" in runs.log_tail(tmp_path / "run")
