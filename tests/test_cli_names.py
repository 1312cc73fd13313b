"""The command line refuses what cannot train before it makes a run folder, fails fast offline on a Hub id it does not
have, and takes a run's name wherever it takes a run folder."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

from finetune import runs
from finetune.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_a_training_that_cannot_begin_leaves_no_run_folder(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "pairs.csv"
    bad.write_text("sentence1,sentence2,label\nfine,also fine,1\nsecond,row,7\n")
    assert main(["train", "--data", str(bad), "--task", "mrpc", "--output-dir", str(tmp_path / "out")]) == 2
    assert "pairs.csv, row 3: label must be 0 or 1" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main(["train", "--model", "some-org/not-cached", "--max-train-samples", "8", "--batch-size", "8"]) == 2
    assert "not in the local cache" in capsys.readouterr().err
    assert not runs.runs_dir().exists() or runs.list_runs() == []  # no folder under the runs folder either


def test_a_queued_run_of_the_app_that_cannot_begin_says_why_in_its_own_folder(tmp_path, capsys):
    from finetune.config import RunConfig
    from finetune.status import status_of

    run_dir = runs.new_run_dir("bundled")
    RunConfig.from_preset("default", data=str(tmp_path / "missing.csv")).save(run_dir / runs.CONFIG_FILE)
    runs.enqueue(run_dir, resume=False)
    (run_dir / runs.QUEUE_FILE).unlink()  # as the app does when it launches it
    assert main(["train", "--config", str(run_dir / runs.CONFIG_FILE), "--output-dir", str(run_dir)]) == 2
    status = status_of(run_dir)
    assert status.state == "failed" and "missing.csv" in status.reason and not status.reason.startswith("error")


def test_an_uncached_hub_model_offline_fails_before_torch_or_transformers_are_imported(tmp_path):
    """Importing them takes seconds on a small machine: the answer must not wait for that."""
    probe = ("import sys; from finetune.cli import main; code = main(['predict', '--model', 'some-org/not-cached', "
             "'a', 'b']); print(code, 'torch' in sys.modules, 'transformers.models' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["2", "False", "False"], done.stdout + done.stderr
    assert "not in the local cache" in done.stderr


def test_predict_and_evaluate_take_a_runs_name(tiny_run, capsys):
    shutil.copytree(tiny_run, runs.runs_dir() / tiny_run.name)
    assert main(["predict", "--model", tiny_run.name, "He left.", "He went away."]) == 0
    assert json.loads(capsys.readouterr().out)["label"] in {"equivalent", "not_equivalent"}
    assert main(["evaluate", "--model", tiny_run.name, "--data", "sample", "--split", "train", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 1500
    assert (runs.runs_dir() / tiny_run.name / runs.SCORES_FILE).is_file()  # kept with the run, as for its folder
    assert main(["predict", "--model", "no-such-run", "a", "b"]) == 2
    err = capsys.readouterr().err
    assert f"neither a run in {runs.runs_dir()} nor a folder" in err and err.count("\n") == 1
