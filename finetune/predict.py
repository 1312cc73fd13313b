"""A trained model loaded once, answering sentence pairs (or single sentences) with a label and probabilities, or a
score, one by one or from a file."""
from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from finetune import FinetuneError, data, runs
from finetune.models import load_classifier, load_tokenizer, model_task, resolve_model
from finetune.tasks import MRPC, Task
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
                 precision: str = "auto", task: Task | None = None):
        # The tokenizer first: a model that cannot be found is refused before torch's import costs seconds.
        self.tokenizer = load_tokenizer(model)
        import torch

        from finetune import compiled

        self.torch = torch
        # A fast tokenizer is not thread-safe (its truncation and padding state is shared): the app answers in threads.
        self.tokenizing = threading.Lock()
        self.max_length = max_length
        # The task a trained model records; a base model answers with the head of the task it is given (MRPC's).
        self.task = task or model_task(model)
        self.labels = list(self.task.labels)
        self.session = self.model = None
        if backend == "openvino" or (backend == "auto" and compiled.available()):
            head = "" if self.task == MRPC else json.dumps(self.task.to_dict(), sort_keys=True)
            path = compiled.cache_dir() / "onnx" / f"{compiled.cache_key(resolve_model(model), seed, head)}.onnx"
            if not path.is_file():  # torch's weights are needed only to be exported, once (they would cost 150 MB)
                compiled.export(load_classifier(model, seed=seed, task=self.task).eval(), self.tokenizer, path)
            # A score has no close calls to guard: it is computed in fp32.
            self.session = compiled.CompiledClassifier(path, "fp32" if self.task.regression else precision)
            self.backend, self.precision = "openvino", self.session.precision
        else:
            self.model = load_classifier(model, seed=seed, task=self.task).eval()
            if precision == "bf16":
                self.model.to(torch.bfloat16)
            self.backend, self.precision = "torch", "bf16" if precision == "bf16" else "fp32"
        self.waiting: list[_Ask] = []  # pairs asked from other threads, answered in the next pass together
        self.queue_lock, self.passing = threading.Lock(), threading.Lock()
        self.predict("warm", "up" if self.task.pair else None)  # the first pass sets up kernels and buffers

    def _logits(self, chunk: list[tuple[str, str | None]]):
        with self.tokenizing:
            seconds = [p[1] for p in chunk] if self.task.pair else None
            inputs = encode_pairs(self.tokenizer, [p[0] for p in chunk], seconds, self.max_length,
                                  padding=True, return_tensors="np" if self.session else "pt")
        if self.session:
            return self.session.logits(inputs)
        with self.torch.inference_mode():
            return self.model(**inputs).logits.float().numpy()

    def predict_batch(self, pairs: list[tuple[str, str | None]], batch_size: int = 64) -> list[dict]:
        """Each pair's answer: {"label", "probabilities" by label}, or {"score"} for a regression model."""
        answers = []
        for start in range(0, len(pairs), batch_size):
            logits = self._logits(pairs[start:start + batch_size]).astype("float64")
            if self.task.regression:
                answers += [{"score": float(row[0])} for row in logits]
                continue
            probs = np.exp(logits - logits.max(-1, keepdims=True))
            probs /= probs.sum(-1, keepdims=True)
            answers += [{"label": self.labels[int(p.argmax())],
                         "probabilities": dict(zip(self.labels, p.tolist(), strict=True))} for p in probs]
        return answers

    def predict(self, sentence1: str, sentence2: str | None = None) -> dict:
        return self.predict_batch([check_texts(self.task, sentence1, sentence2)])[0]

    def answer(self, sentence1: str, sentence2: str | None = None) -> dict:
        """predict(), for a server answering from many threads: pairs asked while a pass runs wait for it to end and
        are then answered in one pass together (one forward pass of up to TOGETHER pairs instead of one each).

        A thread alone is answered at once; a bad pair is refused in its own thread, before it joins the others."""
        ask = _Ask(check_texts(self.task, sentence1, sentence2))
        with self.queue_lock:
            self.waiting.append(ask)
        while not ask.done.is_set():
            with self.passing:  # whoever holds it answers every pair waiting, its own among them or not
                if not ask.done.is_set():
                    self._answer_waiting()
        if ask.error is not None:
            raise ask.error
        return ask.answer

    def _answer_waiting(self) -> None:
        with self.queue_lock:
            asks, self.waiting = self.waiting[:TOGETHER], self.waiting[TOGETHER:]
        try:
            for ask, answer in zip(asks, self.predict_batch([ask.pair for ask in asks]), strict=True):
                ask.answer = answer
        except Exception as err:  # the pass failed for all of them (not one pair's fault: each was checked)
            for ask in asks:
                ask.error = err
        for ask in asks:
            ask.done.set()


# The most pairs answered in one pass. On 2 busy cores a pass of 32 MRPC pairs cost the bundled model 14 ms a pair, a
# pass of one 59 ms; a larger pass gains little more and makes the pairs that arrive meanwhile wait longer.
TOGETHER = 32


class _Ask:
    """One thread's pair, waiting for its answer (or the error of the pass it was in)."""

    def __init__(self, pair: tuple[str, str | None]):
        self.pair, self.answer, self.error, self.done = pair, None, None, threading.Event()


@lru_cache(maxsize=4)
def cached_predictor(model: str, seed: int | None = None, task: Task | None = None) -> Predictor:
    """One Predictor per model (and head seed, and task for a base model) for the life of the process: the app
    answers without reloading."""
    return Predictor(model, seed=seed, task=task)


# A finished run's model; with base=True the model it started from, with the same seeded (untrained) head.
run_predictor = runs.run_loader(cached_predictor)


def check_texts(task: Task, sentence1, sentence2=None) -> tuple[str, str | None]:
    """The texts the task takes: a pair checked by check_pair; for a single-sentence task sentence1 alone, and a
    second sentence refused in one line."""
    if task.pair:
        return check_pair(sentence1, sentence2)
    if isinstance(sentence2, str) and sentence2.strip():
        raise FinetuneError(f"this model answers single sentences ({task.describe()}): leave sentence2 empty")
    if not isinstance(sentence1, str):
        raise FinetuneError(f"sentence1 must be text, got {type(sentence1).__name__}")
    if not sentence1.strip():
        raise FinetuneError("sentence1 is empty: type a sentence")
    return sentence1, None


def check_pair(sentence1, sentence2) -> tuple[str, str]:
    """The pair when both are non-blank text; a one-line FinetuneError naming the faulty sentence otherwise."""
    for name, value in (("sentence1", sentence1), ("sentence2", sentence2)):
        if value is None:
            raise FinetuneError(f"{name} is empty: type both sentences")
        if not isinstance(value, str):
            raise FinetuneError(f"{name} must be text, got {type(value).__name__}")
        if not value.strip():
            raise FinetuneError(f"{name} is empty: type both sentences")
    return sentence1, sentence2


def read_pair_frame(path: Path, task: Task = MRPC):
    """A .csv, .tsv, .jsonl or .parquet file of the task's texts (sentence1 and sentence2 for pairs; others columns
    are kept), as a DataFrame; its rows are checked by data.read_text_rows, as training data is (empty or missing
    sentences, bad bytes, archives)."""
    import pandas as pd

    return pd.DataFrame(data.read_text_rows(Path(path), task))


PROBABILITY_DIGITS = 4  # what a reader compares; the float's 17 digits say nothing more


def predict_file(predictor: Predictor, path: Path, out_path: Path, max_pairs: int | None = None,
                 answered_by: str = ""):
    """Every pair of the file answered: its rows (other columns kept) with the predicted label, a probability per
    label (p_<label>, rounded to PROBABILITY_DIGITS) and the run that answered; also written as CSV.

    With max_pairs, a longer file is refused before any is answered (the app must not spend minutes on one request)."""
    frame = read_pair_frame(path, predictor.task)
    if max_pairs is not None and len(frame) > max_pairs:
        raise FinetuneError(f"{Path(path).name} has {len(frame)} pairs; the app answers at most {max_pairs} at once: "
                            "split the file")
    seconds = frame["sentence2"] if predictor.task.pair else [None] * len(frame)
    answers = predictor.predict_batch(list(zip(frame["sentence1"], seconds, strict=True)))
    if predictor.task.regression:
        frame["prediction"] = [round(answer["score"], PROBABILITY_DIGITS) for answer in answers]
    else:
        frame["prediction"] = [answer["label"] for answer in answers]
    for label in predictor.labels:
        frame[f"p_{label}"] = [round(answer["probabilities"][label], PROBABILITY_DIGITS) for answer in answers]
    frame["run"] = answered_by
    frame.to_csv(out_path, index=False)
    return frame
