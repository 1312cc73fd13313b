"""Prediction through ONNX Runtime: the same answers as torch, exported once, never stale."""
import os

import pytest

from finetune import ort
from finetune.predict import Predictor

PAIRS = [("The cat sat on the mat.", "A cat was sitting on the mat."),
         ("It rained all day in the city.", "The sun shone, the market was busy and the schools were closed."),
         ("He left.", "He went away.")]

pytestmark = pytest.mark.skipif(not ort.available(), reason="onnxruntime is not installed")


def exports() -> list:
    return sorted((ort.cache_dir() / "onnx").glob("*.onnx"))


@pytest.mark.parametrize("model", ["bundled", "tiny_bert", "tiny_distilbert"])
def test_onnx_answers_as_torch_does(model, request):
    name = model if model == "bundled" else str(request.getfixturevalue(model))
    fast, plain = Predictor(name, seed=3, backend="auto"), Predictor(name, seed=3, backend="torch")
    assert (fast.backend, plain.backend) == ("onnxruntime", "torch")
    for ours, theirs in zip(fast.predict_batch(PAIRS), plain.predict_batch(PAIRS)):
        assert ours["label"] == theirs["label"]
        for label in fast.labels:
            assert ours["probabilities"][label] == pytest.approx(theirs["probabilities"][label], abs=1e-4)
    # One pair alone (no padding) answers as it does inside a padded batch.
    assert fast.predict(*PAIRS[1])["probabilities"] == pytest.approx(fast.predict_batch(PAIRS)[1]["probabilities"], abs=1e-5)


def test_the_export_is_made_once_then_reused(tiny_bert):
    Predictor(str(tiny_bert), seed=1)
    made = [p for p in exports() if ort.cache_key(str(tiny_bert), 1) in p.name]
    assert len(made) == 1
    stamp = made[0].stat().st_mtime_ns
    Predictor(str(tiny_bert), seed=1)
    assert made[0].stat().st_mtime_ns == stamp
    assert not [p for p in (ort.cache_dir() / "onnx").iterdir() if p.name.endswith(".partial")]


def test_new_weights_or_another_seed_mean_a_new_export(tiny_run):
    model = tiny_run / "model"
    key = ort.cache_key(str(model), None)
    assert ort.cache_key(str(model), 7) != key  # a base model's head depends on its seed
    weights = next(model.glob("*.safetensors"))
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))  # trained again
    assert ort.cache_key(str(model), None) != key


def test_a_long_pair_is_cut_to_the_models_length_not_an_error():
    fast = Predictor("bundled", backend="onnx")
    answer = fast.predict("word " * 50_000, "other " * 50_000)
    assert sum(answer["probabilities"].values()) == pytest.approx(1.0)
