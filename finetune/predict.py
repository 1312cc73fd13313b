"""A trained model loaded once, answering sentence pairs with a label and probabilities, one by one or from a file."""
from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from finetune import FinetuneError, data, runs
from finetune.models import LABEL_NAMES, load_classifier, load_tokenizer, resolve_model
from finetune.tokens import encode_pairs

PAIR_COLUMNS = ("sentence1", "sentence2")


class Predictor:
    """Load once, then `predict(s1, s2)` or `predict_batch(pairs)`; inference only, no gradients.

    `seed` matters only for a model without a trained head (a base model): it fixes the head's random weights.
    `backend` "auto" answers through OpenVINO when it is installed (the model exported to ONNX once, then cached),
    else through torch; bench/predict_bench.py measures both against a transformers pipeline.
    `precision` "auto" computes in bf16 where the CPU has it natively and OpenVINO answers, with pairs close to 50/50
    computed again in fp32 (labels always fp32's); "bf16" with torch keeps the weights in bf16 (an answer close to
    50/50 can flip); "fp32" computes everything in fp32.
    """

    def __init__(self, model: str, max_length: int = 128, seed: int | None = None, backend: str = "auto",
                 precision: str = "auto"):
        # The tokenizer first: a model that cannot be found is refused before torch's import costs seconds.
        self.tokenizer = load_tokenizer(model)
        import torch

        from finetune import compiled

        self.torch = torch
        # A fast tokenizer is not thread-safe (its truncation and padding state is shared): the app answers in threads.
        self.tokenizing = threading.Lock()
        self.max_length = max_length
        self.labels = list(LABEL_NAMES)  # load_classifier gives every model MRPC's two labels, in this order
        self.session = self.model = None
        if backend == "openvino" or (backend == "auto" and compiled.available()):
            path = compiled.cache_dir() / "onnx" / f"{compiled.cache_key(resolve_model(model), seed)}.onnx"
            if not path.is_file():  # torch's weights are needed only to be exported, once (they would cost 150 MB)
                compiled.export(load_classifier(model, seed=seed).eval(), self.tokenizer, path)
            self.session = compiled.CompiledClassifier(path, precision)
            self.backend, self.precision = "openvino", self.session.precision
        else:
            self.model = load_classifier(model, seed=seed).eval()
            if precision == "bf16":
                self.model.to(torch.bfloat16)
            self.backend, self.precision = "torch", "bf16" if precision == "bf16" else "fp32"
        self.predict("warm", "up")  # the first pass sets up kernels and buffers: a user should not wait for that

    def _logits(self, chunk: list[tuple[str, str]]):
        with self.tokenizing:
            inputs = encode_pairs(self.tokenizer, [p[0] for p in chunk], [p[1] for p in chunk], self.max_length,
                                  padding=True, return_tensors="np" if self.session else "pt")
        if self.session:
            return self.session.logits(inputs)
        with self.torch.inference_mode():
            return self.model(**inputs).logits.float().numpy()

    def predict_batch(self, pairs: list[tuple[str, str]], batch_size: int = 64) -> list[dict]:
        answers = []
        for start in range(0, len(pairs), batch_size):
            logits = self._logits(pairs[start:start + batch_size]).astype("float64")
            probs = np.exp(logits - logits.max(-1, keepdims=True))
            probs /= probs.sum(-1, keepdims=True)
            answers += [{"label": self.labels[int(p.argmax())],
                         "probabilities": dict(zip(self.labels, p.tolist(), strict=True))} for p in probs]
        return answers

    def predict(self, sentence1: str, sentence2: str) -> dict:
        return self.predict_batch([check_pair(sentence1, sentence2)])[0]


@lru_cache(maxsize=4)
def cached_predictor(model: str, seed: int | None = None) -> Predictor:
    """One Predictor per model (and head seed) for the life of the process: the app answers without reloading."""
    return Predictor(model, seed=seed)


# A finished run's model; with base=True the model it started from, with the same seeded (untrained) head.
run_predictor = runs.run_loader(cached_predictor)


def check_pair(sentence1, sentence2) -> tuple[str, str]:
    """The pair when both are non-blank text; a one-line FinetuneError naming the faulty sentence otherwise."""
    for name, value in (("sentence1", sentence1), ("sentence2", sentence2)):
        if not isinstance(value, str):
            raise FinetuneError(f"{name} must be text, got {type(value).__name__}")
        if not value.strip():
            raise FinetuneError(f"{name} is empty: type both sentences")
    return sentence1, sentence2


def read_pair_frame(path: Path):
    """A .csv, .tsv, .jsonl or .parquet file with columns sentence1 and sentence2 (others are kept), as a DataFrame;
    its rows are checked by data.read_pair_rows, as training data is (empty or missing sentences, bad bytes,
    archives)."""
    import pandas as pd

    return pd.DataFrame(data.read_pair_rows(Path(path)))


PROBABILITY_DIGITS = 4  # what a reader compares; the float's 17 digits say nothing more


def predict_file(predictor: Predictor, path: Path, out_path: Path, max_pairs: int | None = None,
                 answered_by: str = ""):
    """Every pair of the file answered: its rows (other columns kept) with the predicted label, a probability per
    label (p_<label>, rounded to PROBABILITY_DIGITS) and the run that answered; also written as CSV.

    With max_pairs, a longer file is refused before any is answered (the app must not spend minutes on one request)."""
    frame = read_pair_frame(path)
    if max_pairs is not None and len(frame) > max_pairs:
        raise FinetuneError(f"{Path(path).name} has {len(frame)} pairs; the app answers at most {max_pairs} at once: "
                            "split the file")
    answers = predictor.predict_batch(list(zip(frame["sentence1"], frame["sentence2"], strict=True)))
    frame["prediction"] = [answer["label"] for answer in answers]
    for label in predictor.labels:
        frame[f"p_{label}"] = [round(answer["probabilities"][label], PROBABILITY_DIGITS) for answer in answers]
    frame["run"] = answered_by
    frame.to_csv(out_path, index=False)
    return frame
