"""Prediction through OpenVINO: the same answers as torch (bf16 close calls decided in fp32), exported once, never
stale."""
import os

import pytest

from finetune import compiled
from finetune.predict import Predictor

PAIRS = [("The cat sat on the mat.", "A cat was sitting on the mat."),
         ("It rained all day in the city.", "The sun shone, the market was busy and the schools were closed."),
         ("He left.", "He went away.")]

pytestmark = pytest.mark.skipif(not compiled.available(), reason="openvino is not installed")


def exports() -> list:
    return sorted((compiled.cache_dir() / "onnx").glob("*.onnx"))


@pytest.mark.parametrize("model", ["bundled", "tiny_bert", "tiny_distilbert"])
def test_onnx_answers_as_torch_does(model, request):
    name = model if model == "bundled" else str(request.getfixturevalue(model))
    fast, plain = Predictor(name, seed=3, backend="auto"), Predictor(name, seed=3, backend="torch")
    exact = Predictor(name, seed=3, backend="auto", precision="fp32")
    assert (fast.backend, plain.backend, exact.precision) == ("openvino", "torch", "fp32")
    for ours, theirs, fp32 in zip(fast.predict_batch(PAIRS), plain.predict_batch(PAIRS), exact.predict_batch(PAIRS),
                                  strict=True):
        assert ours["label"] == theirs["label"] == fp32["label"]
        for label in fast.labels:
            assert fp32["probabilities"][label] == pytest.approx(theirs["probabilities"][label], abs=1e-4)
            assert ours["probabilities"][label] == pytest.approx(theirs["probabilities"][label], abs=0.02)
    # One pair alone (no padding) answers as it does inside a padded batch.
    batched = fast.predict_batch(PAIRS)[1]["probabilities"]
    assert fast.predict(*PAIRS[1])["probabilities"] == pytest.approx(batched, abs=1e-5)


def test_the_export_is_made_once_then_reused(tiny_bert):
    Predictor(str(tiny_bert), seed=1)
    made = [p for p in exports() if compiled.cache_key(str(tiny_bert), 1) in p.name]
    assert len(made) == 1
    stamp = made[0].stat().st_mtime_ns
    Predictor(str(tiny_bert), seed=1)
    assert made[0].stat().st_mtime_ns == stamp
    assert not [p for p in (compiled.cache_dir() / "onnx").iterdir() if p.name.endswith(".partial")]


def test_new_weights_or_another_seed_mean_a_new_export(tiny_run):
    model = tiny_run / "model"
    key = compiled.cache_key(str(model), None)
    assert compiled.cache_key(str(model), 7) != key  # a base model's head depends on its seed
    weights = next(model.glob("*.safetensors"))
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))  # trained again
    assert compiled.cache_key(str(model), None) != key


def test_a_long_pair_is_cut_to_the_models_length_not_an_error():
    fast = Predictor("bundled", backend="openvino")
    answer = fast.predict("word " * 50_000, "other " * 50_000)
    assert sum(answer["probabilities"].values()) == pytest.approx(1.0)


@pytest.mark.skipif("BF16" not in compiled.capabilities(), reason="this CPU computes no bf16 natively")
def test_a_close_call_is_decided_in_fp32(tiny_bert, monkeypatch):
    """With the guard wider than any margin, every pair is answered by fp32 exactly; with none, bf16's own numbers."""
    fast, exact = Predictor(str(tiny_bert), seed=5), Predictor(str(tiny_bert), seed=5, precision="fp32")
    assert fast.precision == "bf16, fp32 near 50/50"
    monkeypatch.setattr(compiled, "GUARD", 1e9)
    assert fast.predict_batch(PAIRS) == exact.predict_batch(PAIRS)
    monkeypatch.setattr(compiled, "GUARD", 0.0)
    bf16 = [a["probabilities"][fast.labels[1]] for a in fast.predict_batch(PAIRS)]
    fp32 = [a["probabilities"][fast.labels[1]] for a in exact.predict_batch(PAIRS)]
    assert bf16 != fp32 and bf16 == pytest.approx(fp32, abs=0.05)


@pytest.mark.skipif("BF16" not in compiled.capabilities(), reason="this CPU computes no bf16 natively")
def test_an_untrained_head_soon_goes_to_fp32_alone_and_confident_answers_bring_bf16_back(tiny_bert, monkeypatch):
    """Every answer of a random head is a close call: running bf16 first would only double its time."""
    passes = []
    real_run = compiled.CompiledClassifier._run
    monkeypatch.setattr(compiled.CompiledClassifier, "_run",
                        lambda self, model, feed: passes.append(model is self.fast) or real_run(self, model, feed))
    untrained = Predictor(str(tiny_bert), seed=4)
    for pair in PAIRS * 3:
        untrained.predict(*pair)
    assert passes[-5:] == [False] * 5 and untrained.session.close_share > 0.5
    monkeypatch.setattr(compiled, "GUARD", 1e-9)  # now nothing is a close call: the share falls, bf16 comes back
    for pair in PAIRS * 3:
        untrained.predict(*pair)
    assert passes[-3:] == [True] * 3 and untrained.session.close_share < 0.5


def test_threads_answering_at_once_get_the_answers_one_thread_gets():
    from concurrent.futures import ThreadPoolExecutor

    fast = Predictor("bundled", seed=2)
    alone = [fast.predict(*pair) for pair in PAIRS * 4]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda pair: fast.predict(*pair), PAIRS * 4))
    assert together == alone
