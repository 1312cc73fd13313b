"""Sweeps from the command line: a grid of two settings, an Optuna search over a range, the sweep.json they leave,
and every kind of bad space refused in one line with nothing started."""
import json

import pytest
from test_cli import run_main

from finetune import runs, sweep

TINY = ["--data", "sample", "--epochs", "1", "--max-train-samples", "64", "--max-eval-samples", "32",
        "--precision", "fp32"]


def test_a_two_setting_grid_runs_every_combination_and_marks_the_best(capsys, tiny_bert, tmp_path):
    folder = tmp_path / "grid"
    code, out, err = run_main(capsys, "sweep", "--model", tiny_bert, *TINY, "--grid", "learning_rate=1e-4,1e-3",
                              "--grid", "batch_size=16,32", "--output-dir", folder)
    assert code == 0, err
    doc = json.loads((folder / sweep.SWEEP_FILE).read_text())
    assert doc["kind"] == "grid" and doc["state"] == "finished" and doc["total"] == 4 and doc["main_metric"] == "f1"
    assert [t["settings"] for t in doc["trials"]] == [
        {"learning_rate": 1e-4, "batch_size": 16}, {"learning_rate": 1e-4, "batch_size": 32},
        {"learning_rate": 1e-3, "batch_size": 16}, {"learning_rate": 1e-3, "batch_size": 32}]
    for trial in doc["trials"]:
        run_dir = folder / trial["run"]
        config = json.loads((run_dir / runs.CONFIG_FILE).read_text())
        assert {k: config[k] for k in trial["settings"]} == trial["settings"]  # each trial ran its own settings
        assert config["epochs"] == 1 and config["max_train_samples"] == 64  # and the flags given for all
        metrics = runs.read_metrics(run_dir)
        assert trial["state"] == "finished" and trial["value"] == metrics["final"]["f1"] and trial["seconds"] > 0
        assert json.loads((run_dir / runs.TRIAL_FILE).read_text())["trial"] == trial["number"]
    best = max(doc["trials"], key=lambda t: t["value"])
    assert doc["best"] == best["number"]
    assert f"best (*): trial {best['number'] + 1}, f1 {best['value']:.4f}" in out
    assert out.count(" finished ") == 4 and "trial 4/4 finished" in err


def test_a_search_asks_optuna_for_each_trial_within_the_range(capsys, tiny_bert, tmp_path):
    folder = tmp_path / "search"
    code, out, err = run_main(capsys, "sweep", "--model", tiny_bert, *TINY, "--batch-size", "16",
                              "--search", "learning_rate=1e-5:1e-2:log", "--trials", "3", "--output-dir", folder,
                              "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["kind"] == "optuna" and summary["state"] == "finished" and summary["made"] == summary["total"] == 3
    rates = [row["learning_rate"] for row in summary["trials"]]
    assert all(1e-5 <= rate <= 1e-2 for rate in rates) and len(set(rates)) == 3  # three different proposals
    import optuna

    study = optuna.load_study(study_name=folder.name, storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(folder / sweep.JOURNAL_FILE))))
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3  # each trial's figure told to the study
    assert [t.params["learning_rate"] for t in study.trials] == rates
    assert [t.value for t in study.trials] == [row["f1"] for row in summary["trials"]]
    assert summary["best"]["f1"] == max(t.value for t in study.trials)


@pytest.mark.parametrize(("args", "said"), [
    (["--grid", "learning_rate=1e-4"], "learning_rate: a grid needs at least two different values"),
    (["--grid", "learning_rate=1e-4,1e-4"], "learning_rate: a grid needs at least two different values"),
    (["--grid", "colour=1,2"], "unknown setting 'colour' for a sweep; one of: epochs, learning_rate"),
    (["--grid", "learning_rate=1e-4,2"], "learning rate must be between 0 and 1, got 2.0"),
    (["--grid", "batch_size=16,64.5"], "batch_size: '64.5' is not a whole number"),
    (["--search", "learning_rate=1e-3:1e-4", "--trials", "3"], "the range's low end (0.001) must be below its high"),
    (["--search", "learning_rate=1e-4:1e-3"], "a search over a range needs a number of trials (--trials N)"),
    (["--search", "learning_rate=1e-5:1e-3:log", "--trials", "40"], "40 trials asked, more than the limit of 16"),
    (["--grid", "batch_size=16,128"], "batch size 128 is larger than the 64 training pairs kept"),
    ([], "a sweep needs a setting to vary"),
])
def test_a_bad_space_is_refused_in_one_line_and_starts_nothing(capsys, tiny_bert, tmp_path, args, said):
    code, out, err = run_main(capsys, "sweep", "--model", tiny_bert, *TINY, *args, "--output-dir", tmp_path / "s")
    assert code == 2 and said in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").iterdir())


def test_the_trial_limit_is_the_operators(capsys, tiny_bert, tmp_path, monkeypatch):
    monkeypatch.setenv(sweep.MAX_TRIALS_ENV, "3")
    code, _, err = run_main(capsys, "sweep", "--model", tiny_bert, *TINY, "--grid", "learning_rate=1e-4,1e-3",
                            "--grid", "batch_size=8,16", "--output-dir", tmp_path / "s")
    assert code == 2 and "4 trials asked, more than the limit of 3 ($FINETUNE_MAX_TRIALS)" in err


def test_the_estimate_comes_from_a_finished_run_of_the_same_model(tiny_run, tmp_path):
    import shutil

    from finetune.config import RunConfig

    shutil.copytree(tiny_run, tmp_path / tiny_run.name)
    config = json.loads((tiny_run / runs.CONFIG_FILE).read_text())
    base = RunConfig(**config)
    space = sweep.Space.parse(["learning_rate=1e-4,1e-3"])
    seconds, said = sweep.estimate(base, space, tmp_path)
    events = runs.read_events(tiny_run)[0]
    began = next(e["time"] for e in events if e["type"] == "status" and e["status"] == "started")
    one_run = events[-1]["time"] - began
    assert seconds == pytest.approx(2 * one_run, rel=0.05)  # the same settings twice: twice that run's time
    assert said.startswith("2 runs, about") and f"from the pace of run {tiny_run.name}" in said
    assert sweep.estimate(RunConfig(model="another"), space, tmp_path)[0] is None


def test_a_search_prunes_a_trial_whose_validation_is_behind_the_median_at_an_epoch(capsys, tiny_bert, tmp_path):
    # The tiny model answers 'equivalent' throughout, so a trial's F1 is set by how many validation pairs it keeps:
    # searching that makes trials differ from their first evaluation on, and the later ones behind are pruned.
    folder = tmp_path / "pruning"
    code, out, err = run_main(capsys, "sweep", "--model", tiny_bert, "--data", "sample", "--epochs", "30",
                              "--batch-size", "16", "--max-train-samples", "64", "--precision", "fp32",
                              "--eval-steps", "2", "--search", "max_eval_samples=8:64", "--trials", "5",
                              "--output-dir", folder)
    assert code == 0, err
    doc = json.loads((folder / sweep.SWEEP_FILE).read_text())
    pruned = [t for t in doc["trials"] if t["state"] == "pruned"]
    assert pruned and doc["trials"][0]["state"] == doc["trials"][1]["state"] == "finished"  # the first two set the bar
    for trial in pruned:
        run_dir = folder / trial["run"]
        state, reason = runs.state_of(run_dir)
        assert state is runs.RunState.STOPPED and reason.startswith("pruned by the sweep: validation f1")
        evaluated = [e for e in runs.read_events(run_dir)[0] if e["type"] == "eval"]
        assert len(evaluated) < 60 and runs.read_metrics(run_dir) is None  # it ended early, without a final model
        earlier = [t for t in doc["trials"] if t["number"] < trial["number"] and t["state"] == "finished"]
        assert evaluated[0]["f1"] < max(t["value"] for t in earlier)
    assert doc["best"] not in {t["number"] for t in pruned}
    import optuna

    study = optuna.load_study(study_name=folder.name, storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(folder / sweep.JOURNAL_FILE))))
    assert [t.state.name for t in study.trials] == ["PRUNED" if t["state"] == "pruned" else "COMPLETE"
                                                    for t in doc["trials"]]
    assert " pruned " in out


def test_a_sweep_starts_from_a_runs_config_file_with_flags_on_top(capsys, tiny_run, tmp_path):
    folder = tmp_path / "from-file"
    code, _, err = run_main(capsys, "sweep", "--config", tiny_run / runs.CONFIG_FILE, "--max-eval-samples", "16",
                            "--grid", "learning_rate=1e-4,1e-3", "--output-dir", folder)
    assert code == 0, err
    base = json.loads((tiny_run / runs.CONFIG_FILE).read_text())
    for trial in json.loads((folder / sweep.SWEEP_FILE).read_text())["trials"]:
        config = json.loads((folder / trial["run"] / runs.CONFIG_FILE).read_text())
        assert config == {**base, "max_eval_samples": 16, "learning_rate": trial["settings"]["learning_rate"],
                          "processes": 1}  # recorded by the training as it began


def test_a_search_on_the_bundled_model_trains_and_scores_each_trial(capsys, tmp_path):
    folder = tmp_path / "bundled"
    code, out, err = run_main(capsys, "sweep", "--model", "bundled", "--data", "sample", "--epochs", "1",
                              "--batch-size", "32", "--max-train-samples", "96", "--max-eval-samples", "64",
                              "--search", "learning_rate=3e-5:3e-4:log", "--trials", "2", "--output-dir", folder,
                              "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["state"] == "finished" and [row["state"] for row in summary["trials"]] == ["finished"] * 2
    for row in summary["trials"]:
        metrics = runs.read_metrics(folder / row["run"])
        assert metrics["model"] == "bundled" and metrics["steps"] == 3 and metrics["validation_rows"] == 64
        assert row["f1"] == metrics["final"]["f1"] and 3e-5 <= row["learning_rate"] <= 3e-4
