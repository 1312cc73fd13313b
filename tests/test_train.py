"""Training end to end in-process: the run folder it leaves, same seed same metrics, and a real model that learns."""
import json
from dataclasses import replace
from pathlib import Path

import pytest

from finetune import FinetuneError, runs
from finetune.config import RunConfig
from finetune.train import train


def tiny_config(model, **overrides):
    settings = {"model": str(model), "data": "sample", "epochs": 2, "batch_size": 16, "learning_rate": 1e-3,
                "logging_steps": 5, "precision": "fp32", "max_train_samples": 128, "max_eval_samples": 64}
    return RunConfig.from_preset("default", **{**settings, **overrides})


def test_a_run_leaves_config_events_checkpoints_model_metrics_and_predictions(tmp_path, tiny_bert):
    config = tiny_config(tiny_bert)
    metrics = train(config, tmp_path / "run")
    run = tmp_path / "run"
    assert RunConfig.load(run / runs.CONFIG_FILE) == config
    events, _ = runs.read_events(run)
    statuses = [e["status"] for e in events if e["type"] == "status"]
    assert statuses == ["started", "finished"]
    logs = [e for e in events if e["type"] == "log"]
    assert logs and all({"step", "epoch", "loss", "learning_rate"} <= e.keys() for e in logs)
    assert [e["step"] for e in logs] == sorted(e["step"] for e in logs)
    evals = [e for e in events if e["type"] == "eval"]
    assert [round(e["epoch"]) for e in evals] == [1, 2] and [e["precision"] for e in evals] == ["fp32", "fp32"]
    assert all(0 <= e["accuracy"] <= 1 and 0 <= e["f1"] <= 1 for e in evals)
    assert runs.state_of(run)[0] == "finished"
    assert all((run / runs.MODEL_DIR / name).is_file() for name in ("config.json", "tokenizer_config.json"))
    assert runs.last_checkpoint(run).name == "checkpoint-8"  # epoch 1's; the last step is the model itself
    saved = json.loads((run / runs.METRICS_FILE).read_text())
    assert saved == json.loads(json.dumps(metrics))
    assert [e["accuracy"] for e in saved["per_epoch"]] == [e["accuracy"] for e in evals]
    figures = ("accuracy", "f1", "loss")
    assert {k: saved["final"][k] for k in figures} == {k: evals[-1][k] for k in figures}
    assert saved["final"]["n"] == 64 and saved["train_rows"] == 128
    (tn, fp), (fn, tp) = saved["final"]["confusion_matrix"]
    assert tn + fp + fn + tp == 64 and saved["final"]["accuracy"] == pytest.approx((tn + tp) / 64)
    predictions = [json.loads(line) for line in (run / runs.PREDICTIONS_FILE).read_text().splitlines()]
    assert len(predictions) == 64
    assert sum(p["prediction"] == p["label"] for p in predictions) == tn + tp
    assert all(abs(sum(p["probabilities"]) - 1) < 1e-6 for p in predictions)


def test_frozen_embeddings_stay_as_loaded_and_no_dropout_leaves_the_saved_config_alone(tmp_path, tiny_bert):
    from safetensors.torch import load_file

    def weights(folder):
        return load_file(str(next(Path(folder).glob("*.safetensors"))))

    base = weights(tiny_bert)
    embedding = next(name for name in base if name.endswith("word_embeddings.weight"))
    frozen = tmp_path / "frozen"
    train(tiny_config(tiny_bert, freeze_embeddings=True, dropout=0.0), frozen)
    trained = tmp_path / "trained"
    train(replace(tiny_config(tiny_bert), freeze_embeddings=False, dropout=None), trained)
    after, unfrozen = weights(frozen / runs.MODEL_DIR), weights(trained / runs.MODEL_DIR)
    assert (after[embedding] == base[embedding]).all()
    assert not (unfrozen[embedding] == base[embedding]).all()
    layer = next(name for name in base if "layer.0" in name and name.endswith("dense.weight"))
    assert not (after[layer] == base[layer]).all()  # the rest did train
    saved, original = (json.loads((folder / "config.json").read_text())
                       for folder in (frozen / runs.MODEL_DIR, tiny_bert))
    assert saved["hidden_dropout_prob"] == original["hidden_dropout_prob"] > 0


def test_prepare_model_sets_dropout_and_plain_attention_on_a_cpu(tiny_bert):
    import torch

    from finetune.models import load_classifier
    from finetune.train import prepare_model

    model = prepare_model(load_classifier(str(tiny_bert), seed=0), tiny_config(tiny_bert, dropout=0.0), "cpu")
    dropouts = [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    assert dropouts and set(dropouts) == {0.0}
    assert model.config._attn_implementation == "eager"
    assert not model.get_input_embeddings().weight.requires_grad
    kept = prepare_model(load_classifier(str(tiny_bert), seed=0),
                         replace(tiny_config(tiny_bert), dropout=None, freeze_embeddings=False), "cuda")
    assert {m.p for m in kept.modules() if isinstance(m, torch.nn.Dropout)} == {0.1}
    assert kept.config._attn_implementation != "eager" and kept.get_input_embeddings().weight.requires_grad


def test_the_final_figures_are_the_saved_models_fp32_scores_and_the_trainer_skips_the_last_step(tmp_path, tiny_bert):
    from finetune.data import load_mrpc
    from finetune.evaluation import evaluate_model

    run = tmp_path / "run"
    metrics = train(tiny_config(tiny_bert, epochs=3), run)  # 8 steps per epoch
    evals = [e for e in runs.read_events(run)[0] if e["type"] == "eval"]
    assert [(e["step"], e["precision"]) for e in evals] == [(8, "fp32"), (16, "fp32"), (24, "fp32")]
    keys = ("epoch", "step", "accuracy", "f1", "loss", "precision")
    assert metrics["per_epoch"] == [{k: e[k] for k in keys} for e in evals]
    # One evaluation per step: the Trainer's at 8 and 16, then the saved model's at 24, which is not a checkpoint.
    assert sorted(p.name for p in (run / runs.CHECKPOINTS_DIR).iterdir()) == ["checkpoint-16", "checkpoint-8"]
    final, answers = evaluate_model(str(run / runs.MODEL_DIR), load_mrpc("sample")["validation"].select(range(64)))
    assert metrics["final"] == final
    assert [json.loads(line) for line in (run / runs.PREDICTIONS_FILE).read_text().splitlines()] == answers
    assert [a["idx"] for a in answers] == sorted(a["idx"] for a in answers)  # dataset order


def test_same_seed_gives_the_same_metrics_and_another_seed_does_not(tmp_path, tiny_bert):
    first = train(tiny_config(tiny_bert, seed=1), tmp_path / "a")
    again = train(tiny_config(tiny_bert, seed=1), tmp_path / "b")
    other = train(tiny_config(tiny_bert, seed=2), tmp_path / "c")
    assert first["per_epoch"] == again["per_epoch"] and first["train_loss"] == again["train_loss"]
    assert first["per_epoch"] != other["per_epoch"]


def test_bad_settings_fail_before_any_folder_is_written(tmp_path, tiny_bert):
    from finetune.config import ConfigError

    with pytest.raises(ConfigError):
        train(tiny_config(tiny_bert, learning_rate=-1), tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_bundled_minilm_on_real_mrpc_beats_the_majority_baseline(tmp_path, mrpc_dir):
    """One real epoch over MRPC's 3668 training pairs must learn something: above always-'equivalent' (0.684 /
    0.812)."""
    config = RunConfig.from_preset("default", model="bundled", data=str(mrpc_dir), epochs=1, batch_size=16,
                                   learning_rate=1e-4, logging_steps=50)
    metrics = train(config, tmp_path / "real")
    final = metrics["final"]
    assert metrics["train_rows"] == 3668 and final["n"] == 408
    assert final["accuracy"] > 0.70 and final["f1"] > 0.812, final
    (tn, _), (fn, _) = final["confusion_matrix"]
    assert tn + fn > 0  # not the always-"equivalent" answer


def test_a_nan_loss_fails_the_run_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path, tiny_bert, monkeypatch):
    """The classifier's logits turn NaN from the 6th training step on (epoch 2 of 4 steps each): the real Trainer
    computes a NaN loss from them, and the run must end there without saving that state."""
    import torch

    from finetune import models
    from finetune.train import NonFiniteLoss

    load = models.load_classifier

    def poisoned(*args, **kwargs):
        model = load(*args, **kwargs)
        calls = {"train": 0}

        def hook(module, inputs, output):
            if module.training:
                calls["train"] += 1
                if calls["train"] >= 6:
                    return output * torch.tensor(float("nan"))
            return output
        model.classifier.register_forward_hook(hook)
        return model

    monkeypatch.setattr(models, "load_classifier", poisoned)
    run = tmp_path / "run"
    expected = "loss became nan at step 6; the last good checkpoint, checkpoint-4, is kept"
    with pytest.raises(NonFiniteLoss, match=expected):
        train(tiny_config(tiny_bert, max_train_samples=64, epochs=3, logging_steps=1), run)
    events, _ = runs.read_events(run)
    assert [(e["status"], e.get("reason", "")[:25]) for e in events if e["type"] == "status"] == [
        ("started", ""), ("failed", "loss became nan at step 6")]
    assert max(e["step"] for e in events if e["type"] == "log") == 5
    assert all(e["loss"] == e["loss"] for e in events if e["type"] == "log")  # no NaN ever logged
    assert runs.last_checkpoint(run).name == "checkpoint-4"
    assert sorted(p.name for p in (run / runs.CHECKPOINTS_DIR).iterdir()) == ["checkpoint-4"]  # nothing partial left
    assert not (run / runs.MODEL_DIR).exists()


def test_non_finite_weights_fail_the_run_before_they_reach_a_checkpoint(tmp_path, tiny_bert, monkeypatch):
    """The classifier's bias turns NaN during the 4th training step, after the loss was computed: the loss stays
    finite, and the save at the end of epoch 1 (step 4) must refuse those weights."""
    import torch

    from finetune import models
    from finetune.train import NonFiniteLoss

    load = models.load_classifier

    def poisoned(*args, **kwargs):
        model = load(*args, **kwargs)
        calls = {"train": 0}

        def hook(module, inputs, output):
            calls["train"] += module.training
            if calls["train"] == 4:
                with torch.no_grad():
                    module.bias.fill_(float("nan"))
            return output
        model.classifier.register_forward_hook(hook)
        return model

    monkeypatch.setattr(models, "load_classifier", poisoned)
    run = tmp_path / "run"
    with pytest.raises(NonFiniteLoss, match="weights became non-finite at step 4; no checkpoint was saved before it"):
        train(tiny_config(tiny_bert, max_train_samples=64, epochs=3, logging_steps=1), run)
    assert max(e["step"] for e in runs.read_events(run)[0] if e["type"] == "log") == 4
    assert not (run / runs.CHECKPOINTS_DIR).exists() or not any((run / runs.CHECKPOINTS_DIR).iterdir())


def test_a_batch_larger_than_the_training_data_is_refused_before_training(tmp_path, tiny_bert):
    small = tmp_path / "pairs.csv"
    small.write_text("sentence1,sentence2,label\n" + "".join(f"a{i} b,c{i} d,{i % 2}\n" for i in range(40)))
    with pytest.raises(FinetuneError, match="batch size 64 is larger than the 36 training pairs of .*pairs.csv"):
        train(tiny_config(tiny_bert, data=str(small), batch_size=64, max_train_samples=None), tmp_path / "run")
    assert runs.last_checkpoint(tmp_path / "run") is None


def test_checkpoints_are_bounded_to_the_last_ones_and_the_best(tmp_path, tiny_bert):
    run = tmp_path / "run"
    train(tiny_config(tiny_bert, epochs=6, save_total_limit=2, max_train_samples=32, max_eval_samples=32, seed=3), run)
    state = json.loads((runs.last_checkpoint(run) / "trainer_state.json").read_text())
    best = Path(state["best_model_checkpoint"])
    kept = sorted((run / runs.CHECKPOINTS_DIR).iterdir())
    assert runs.last_checkpoint(run).name == "checkpoint-10" and best.parent == run / runs.CHECKPOINTS_DIR
    # 5 saved (the 6th epoch's end is the model itself), the last and the best kept, both marked complete
    assert best in kept and len(kept) == 2 and all(runs.checkpoint_complete(p) for p in kept), kept


def test_resume_takes_the_last_complete_checkpoint_never_a_half_written_one(tmp_path, tiny_bert):
    import os
    import shutil

    run = tmp_path / "run"
    config = tiny_config(tiny_bert, max_train_samples=64, epochs=3)  # checkpoints at steps 4 and 8; 12 is the model
    train(config, run)
    checkpoints = run / runs.CHECKPOINTS_DIR
    shutil.copytree(checkpoints / "checkpoint-8", checkpoints / "checkpoint-12")
    (checkpoints / "checkpoint-12" / runs.CHECKPOINT_MARKER).unlink()  # every file written, but not yet marked
    shutil.copytree(checkpoints / "checkpoint-8", checkpoints / "checkpoint-16")
    (checkpoints / "checkpoint-16" / "optimizer.pt").unlink()  # marked, then damaged by hand
    shutil.copytree(checkpoints / "checkpoint-8", checkpoints / "checkpoint-20")
    weights = checkpoints / "checkpoint-20" / "model.safetensors"
    os.truncate(weights, weights.stat().st_size // 2)  # marked, then cut short (a copy interrupted, a disk error)
    train(config, run, resume=True)
    resumed = [e for e in runs.read_events(run)[0] if e.get("status") == "resumed"]
    assert [Path(e["checkpoint"]).name for e in resumed] == ["checkpoint-8"]
    assert sorted(p.name for p in checkpoints.iterdir()) == ["checkpoint-4", "checkpoint-8"]  # the others cleared


def test_peak_memory_is_the_processs_own_not_that_of_the_app_that_started_it():
    import subprocess
    import sys

    held = bytearray(700 * 1024 * 1024)  # the app's memory when it starts a training
    held[::4096] = b"\1" * len(held[::4096])
    done = subprocess.run([sys.executable, "-c", "from finetune.train import peak_rss_mb; print(peak_rss_mb())"],
                          capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    assert float(done.stdout) < 300, done.stdout


# The default and demo recipes (length-grouped, no dropout) and random batches without dropout resume exactly. With
# dropout on, a run resumed in the middle of an epoch draws other dropout masks than the uninterrupted one (the README
# gives the measured difference): not asserted here.
@pytest.mark.parametrize("sampling, dropout", [("group_by_length", 0.0), ("random", 0.0)])
@pytest.mark.parametrize("stop_at", [3, 8])  # in the middle of epoch 1; at the last step of epoch 2 (4 steps an epoch)
def test_a_stopped_and_resumed_run_ends_exactly_as_an_uninterrupted_one(tmp_path, tiny_bert, monkeypatch, sampling,
                                                                        dropout, stop_at):
    import finetune.train as training

    config = replace(tiny_config(tiny_bert, epochs=3, max_train_samples=64, max_eval_samples=48, logging_steps=1),
                     sampling=sampling, dropout=dropout)
    whole = train(config, tmp_path / "whole")
    asked = []
    monkeypatch.setattr(training, "_stop_everywhere", lambda run_dir: asked.append(1) or len(asked) == stop_at)
    assert train(config, tmp_path / "parts") == {}  # stopped
    monkeypatch.undo()
    parts = train(config, tmp_path / "parts", resume=True)

    def losses(run):
        return {e["step"]: e["loss"] for e in runs.read_events(run)[0] if e["type"] == "log"}

    assert losses(tmp_path / "parts") == losses(tmp_path / "whole")
    assert parts["final"] == whole["final"]
