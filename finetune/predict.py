"""A trained model loaded once, answering sentence pairs with a label and probabilities, one by one or from a file."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from finetune import FinetuneError, runs
from finetune.config import RunConfig
from finetune.models import LABEL_NAMES, load_classifier, load_tokenizer, resolve_model
from finetune.tokens import encode_pairs

PAIR_COLUMNS = ("sentence1", "sentence2")


class Predictor:
    """Load once, then `predict(s1, s2)` or `predict_batch(pairs)`; inference only, no gradients.

    `seed` matters only for a model without a trained head (a base model): it fixes the head's random weights.
    `backend` "auto" answers through ONNX Runtime when it is installed (the model exported once, then cached: about
    3x faster single pairs than eager torch on a CPU, same answers; bench/predict_bench.py), else through torch.
    `precision` applies to torch: "bf16" keeps the weights in bf16 (faster on AMX / AVX512-BF16 CPUs, but an answer
    close to 50/50 can flip), "fp32" otherwise.
    """

    def __init__(self, model: str, max_length: int = 128, seed: int | None = None, backend: str = "auto",
                 precision: str = "fp32"):
        import torch

        from finetune import ort

        self.torch = torch
        self.tokenizer = load_tokenizer(model)
        self.model = load_classifier(model, seed=seed).eval()
        self.max_length = max_length
        labels = self.model.config.id2label
        self.labels = [labels.get(i, labels.get(str(i), name)) for i, name in enumerate(LABEL_NAMES)]
        self.session = None
        if backend == "onnx" or (backend == "auto" and ort.available()):
            path = ort.cache_dir() / "onnx" / f"{ort.cache_key(resolve_model(model), seed)}.onnx"
            if not path.is_file():
                ort.export(self.model, self.tokenizer, path)
            self.session, self.model = ort.OrtClassifier(path), None  # the torch weights are not needed any more
            self.backend, self.precision = "onnxruntime", "fp32"
        else:
            if precision == "bf16":
                self.model.to(torch.bfloat16)
            self.backend, self.precision = "torch", precision
        self.predict("warm", "up")  # the first pass sets up kernels and buffers: a user should not wait for that

    def _logits(self, chunk: list[tuple[str, str]]):
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
            answers += [{"label": self.labels[int(p.argmax())], "probabilities": dict(zip(self.labels, p.tolist()))}
                        for p in probs]
        return answers

    def predict(self, sentence1: str, sentence2: str) -> dict:
        return self.predict_batch([(sentence1, sentence2)])[0]


@lru_cache(maxsize=4)
def cached_predictor(model: str, seed: int | None = None) -> Predictor:
    """One Predictor per model (and head seed) for the life of the process: the app answers without reloading."""
    return Predictor(model, seed=seed)


def run_predictor(run_dir: Path, base: bool = False) -> Predictor:
    """A finished run's model; with base=True the model it started from, with the same seeded (untrained) head."""
    if not base:
        return cached_predictor(str(Path(run_dir) / runs.MODEL_DIR))
    config = RunConfig.load(Path(run_dir) / runs.CONFIG_FILE)
    return cached_predictor(config.model, config.seed)


def read_pairs(path: Path):
    """A .csv, .tsv, .jsonl or .parquet file with columns sentence1 and sentence2 (others are kept), as a DataFrame."""
    import pandas as pd

    path = Path(path)
    readers = {".csv": pd.read_csv, ".tsv": lambda p: pd.read_csv(p, sep="\t"),
               ".jsonl": lambda p: pd.read_json(p, lines=True), ".parquet": pd.read_parquet}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise FinetuneError(f"{path.name}: expected a .csv, .tsv, .jsonl or .parquet file")
    try:
        frame = reader(path)
    except (ValueError, OSError) as err:
        raise FinetuneError(f"{path.name} cannot be read: {str(err).splitlines()[0]}") from err
    missing = [column for column in PAIR_COLUMNS if column not in frame.columns]
    if missing:
        raise FinetuneError(f"{path.name} has no column {', '.join(missing)} (it has {', '.join(map(str, frame.columns))})")
    return frame


def predict_file(predictor: Predictor, path: Path, out_path: Path):
    """Every pair of the file answered: its rows with prediction and p_equivalent added, also written as CSV."""
    frame = read_pairs(path)
    answers = predictor.predict_batch(list(zip(frame["sentence1"].astype(str), frame["sentence2"].astype(str))))
    frame["prediction"] = [answer["label"] for answer in answers]
    frame["p_equivalent"] = [answer["probabilities"][predictor.labels[1]] for answer in answers]
    frame.to_csv(out_path, index=False)
    return frame
