"""The command line: train end to end as a user runs it (a process, stopped and resumed), and every other command and
its errors in-process through finetune.cli.main(argv), as the command runs them."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO

from finetune import runs
from finetune.cli import main


def cli(*args, check=True, **kwargs):
    """`python -m finetune ARGS` in a process of its own."""
    done = subprocess.run([sys.executable, "-m", "finetune", *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          timeout=600, check=False, **kwargs)
    if check and done.returncode != 0:
        raise AssertionError(f"exit {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def run_main(capsys, *args):
    """main(ARGS) in this process: (exit status, stdout, stderr), argparse's own exits included."""
    try:
        code = main([str(arg) for arg in args])
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err


def tiny_train_args(model, out, *extra):
    return ["train", "--model", model, "--data", "sample", "--output-dir", out, "--precision", "fp32",
            "--batch-size", "16", "--learning-rate", "1e-3", "--max-eval-samples", "48", *extra]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, tiny_bert):
    out = tmp_path_factory.mktemp("cli") / "run"
    done = cli(*tiny_train_args(tiny_bert, out, "--epochs", "1", "--max-train-samples", "64"))
    assert "finished in" in done.stdout and "validation accuracy" in done.stdout
    return out


def test_train_leaves_a_finished_run_and_prints_progress(trained_run):
    assert runs.state_of(trained_run)[0] == "finished"
    assert (trained_run / "model" / "model.safetensors").is_file()
    assert json.loads((trained_run / "metrics.json").read_text())["final"]["n"] == 48


def test_train_from_a_runs_config_file_repeats_its_figures(trained_run, tmp_path, capsys):
    """The run's config.json is its one description: trained again from it, the same figures to the last digit."""
    again = tmp_path / "again"
    assert run_main(capsys, "train", "--config", trained_run / "config.json", "--output-dir", again)[0] == 0
    first, second = (json.loads((run / "metrics.json").read_text()) for run in (trained_run, again))
    assert second["final"] == first["final"] and second["per_epoch"] == first["per_epoch"]
    assert json.loads((again / "config.json").read_text()) == json.loads((trained_run / "config.json").read_text())


def test_evaluate_prints_one_json_object_consistent_with_its_confusion_matrix(trained_run, capsys):
    code, out, _ = run_main(capsys, "evaluate", "--model", trained_run, "--data", "sample", "--json")
    result = json.loads(out)
    assert code == 0
    assert set(result) == {"accuracy", "f1", "confusion_matrix", "n", "loss"} and result["loss"] > 0
    (tn, fp), (fn, tp) = result["confusion_matrix"]
    assert result["n"] == 300 == tn + fp + fn + tp
    assert result["accuracy"] == pytest.approx((tn + tp) / 300)
    assert result["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn) if tp else 0.0)


def test_predict_answers_with_a_label_and_probabilities_that_sum_to_one(trained_run, capsys):
    code, out, _ = run_main(capsys, "predict", "--model", trained_run, "The cat sat on the mat.",
                            "A cat was sitting on the mat.")
    answer = json.loads(out)
    assert code == 0
    assert answer["label"] in {"equivalent", "not_equivalent"}
    assert set(answer["probabilities"]) == {"equivalent", "not_equivalent"}
    assert abs(sum(answer["probabilities"].values()) - 1) < 1e-5
    assert answer["label"] == max(answer["probabilities"], key=answer["probabilities"].get)


def test_tokenize_prints_tokens_and_the_three_id_lists(capsys):
    code, out, _ = run_main(capsys, "tokenize", "--model", "bundled", "He left.", "She stayed.")
    view = json.loads(out)
    assert code == 0
    assert view["tokens"] == ["[CLS]", "he", "left", ".", "[SEP]", "she", "stayed", ".", "[SEP]"]
    assert view["token_type_ids"] == [0] * 5 + [1] * 4
    assert view["attention_mask"] == [1] * 9 and len(view["input_ids"]) == 9


@pytest.mark.parametrize("args, words", [
    (["train", "--learning-rate", "0"], "learning rate"),
    (["train", "--epochs", "-1"], "epochs"),
    (["train", "--epochs", "0"], "epochs must be > 0"),
    (["train", "--learning-rate=-1e-5"], "learning rate"),
    (["train", "--batch-size", "5000"], "batch size must be between 1 and 1024"),
    (["train", "--batch-size", "64", "--max-train-samples", "10"],
     "batch size 64 is larger than the 10 training pairs"),
    (["train", "--data", "/no/such/place"], "/no/such/place"),
    (["train", "--dropout", "1.5"], "dropout must be in [0, 1)"),
    (["train", "--freeze-embeddings", "maybe"], "expected a yes or no, got 'maybe'"),
    (["train", "--model", "/no/such/model"], "does not exist"),
    (["predict", "--model", "/no/such/model", "a", "b"], "does not exist"),
    (["train", "--model", "bert-base-uncased", "--max-train-samples", "8", "--batch-size", "8"],
     "the bundled model ('bundled'"),
])
def test_user_errors_exit_non_zero_with_one_line_and_no_traceback(args, words, tmp_path, capsys):
    code, _, err = run_main(capsys, *args, *(["--output-dir", tmp_path / "out"] if args[0] == "train" else []))
    assert code == 2
    assert words in err
    assert "Traceback" not in err
    assert err.strip().count("\n") == 0, err


def test_bad_data_is_refused_naming_file_row_and_fault(tmp_path, capsys):
    bad = tmp_path / "pairs.csv"
    bad.write_text("sentence1,sentence2,label\nfine,also fine,1\nsecond,,0\n")
    code, _, err = run_main(capsys, "train", "--data", bad, "--output-dir", tmp_path / "out")
    assert code == 2 and err == f"error: bad data in {bad}, row 3: sentence2 is empty\n"
    assert not (tmp_path / "out" / "model").exists()


def test_a_non_empty_output_dir_is_refused(trained_run, capsys):
    code, _, err = run_main(capsys, "train", "--output-dir", trained_run)
    assert code == 2 and f"continue a stopped run with --resume {trained_run}" in err


def _wait_for_step(run_dir, step, process):
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        events, _ = runs.read_events(run_dir)
        if any(e["type"] == "log" and e["step"] >= step for e in events):
            return
        time.sleep(0.05)
    raise AssertionError(f"no log at step {step}: {process.poll()=}")


@pytest.mark.parametrize("how", ["stop-file", "sigterm"])
def test_a_stopped_run_saves_a_checkpoint_and_resumes_to_the_end(tmp_path, tiny_bert, how):
    out = tmp_path / "run"
    args = tiny_train_args(tiny_bert, out, "--epochs", "3", "--max-train-samples", "64", "--logging-steps", "1",
                           "--batch-size", "2")
    process = subprocess.Popen([sys.executable, "-m", "finetune", *map(str, args)], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_step(out, 3, process)
    if how == "stop-file":
        runs.request_stop(out)
    else:
        os.kill(process.pid, signal.SIGTERM)
    assert process.wait(timeout=300) == 0
    assert runs.state_of(out)[0] == "stopped"
    checkpoint = runs.last_checkpoint(out)
    stopped_at = int(checkpoint.name.split("-")[1])
    events, _ = runs.read_events(out)
    max_steps = next(e["max_steps"] for e in events if e["type"] == "progress")
    assert 3 <= stopped_at < max_steps
    assert not (out / "model").exists()

    cli("train", "--resume", out)
    events, _ = runs.read_events(out)
    assert [e["status"] for e in events if e["type"] == "status"] == ["started", "stopped", "resumed", "finished"]
    resumed_at = next(i for i, e in enumerate(events) if e.get("status") == "resumed")
    later_steps = [e["step"] for e in events[resumed_at:] if e["type"] == "log"]
    assert later_steps and min(later_steps) > stopped_at and max(later_steps) == max_steps
    assert json.loads((out / "metrics.json").read_text())["steps"] == max_steps


def test_a_hub_model_in_the_local_cache_is_used_offline(tmp_path, tiny_bert):
    """A class that fetched a model on an online day can use it by its Hub id with no network."""
    snapshot = tmp_path / "hf" / "hub" / "models--test-org--tiny-bert" / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    for item in tiny_bert.iterdir():
        (snapshot / item.name).write_bytes(item.read_bytes())
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0123abcd")
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf")}
    env.pop("HF_HUB_OFFLINE")  # found unreachable by the probe, not told
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"
    view = json.loads(cli("tokenize", "--model", "test-org/tiny-bert", "a court", "the city", env=env).stdout)
    assert view["tokens"] == ["[CLS]", "a", "court", "[SEP]", "the", "city", "[SEP]"]
