"""report_to: the tracker chosen in the CLI or the form reaches TrainingArguments; a tracker not installed is
refused."""
import importlib.util

import pytest

from finetune.config import ConfigError, RunConfig
from finetune.train import _training_arguments


def test_no_tracker_by_default_and_the_chosen_one_reaches_trainingarguments(tmp_path):
    assert _training_arguments(RunConfig.from_preset("course"), tmp_path, "fp32", "cpu").report_to == []
    if importlib.util.find_spec("tensorboard") is None:
        pytest.skip("tensorboard is not installed (pip install tensorboard): only the refusal can be checked")
    config = RunConfig.from_preset("course", report_to="tensorboard").validate()
    assert _training_arguments(config, tmp_path, "fp32", "cpu").report_to == ["tensorboard"]


def test_a_missing_tracker_is_refused_naming_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(ConfigError, match=r"^report_to tensorboard needs the tensorboard package, not installed here: "
                                          r"pip install tensorboard$"):
        RunConfig.from_preset("course", report_to="tensorboard").validate()


def test_the_cli_refuses_a_tracker_that_is_not_installed_in_one_line(tmp_path, monkeypatch, capsys):
    from finetune.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "trackio" else real(name, *a))
    assert main(["train", "--report-to", "trackio", "--output-dir", str(tmp_path / "run")]) == 2
    refusal = "error: report_to trackio needs the trackio package, not installed here: pip install trackio"
    assert capsys.readouterr().err.splitlines() == [refusal]
    assert not (tmp_path / "run").exists()


def test_the_form_and_the_cli_offer_the_same_trackers():
    from finetune.cli import build_parser

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    option = next(a for a in train._actions if a.dest == "report_to")
    assert tuple(option.choices) == ("none", "tensorboard", "trackio")
    with pytest.raises(ConfigError, match="report to must be one of none, tensorboard, trackio"):
        RunConfig(report_to="wandb").validate()


def test_a_run_reporting_to_tensorboard_writes_its_event_file(tmp_path, tiny_bert):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed: pip install tensorboard")
    from finetune.train import train

    run_dir = tmp_path / "run"
    # Two epochs: the Trainer evaluates after the first (the last step is scored by the run itself, not reported).
    train(RunConfig.from_preset("course", model=str(tiny_bert), epochs=2, max_train_samples=32, max_eval_samples=16,
                                batch_size=16, report_to="tensorboard"), run_dir)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (log,) = (run_dir / "checkpoints" / "runs").rglob("events.out.tfevents.*")
    events = EventAccumulator(str(log))
    events.Reload()
    assert {"train/loss", "eval/accuracy", "eval/f1"} <= set(events.Tags()["scalars"])
