"""One torch copy of a classifier (plain attention) per model and seed: token scores, attention weights, pooled
vectors."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

import numpy as np

from finetune import FinetuneError, runs
from finetune.device import cpu_has_bf16
from finetune.models import load_classifier, load_tokenizer
from finetune.tasks import MRPC, Task
from finetune.tokens import encode_pairs, segment_ids

MAX_LENGTH = 128  # the Playground's answers read this many tokens (the Predictor's max_length): explain the same input
# Integrated gradients take 32 Gauss-Legendre points; where the completeness error (delta) is above 1 % of the change
# (plus 1e-4), twice as many, up to 64. On a MiniLM fine-tuned on MRPC, 32 points left deltas of 0.2 % to 4 % of the
# change on the Playground's examples, 64 points 0.05 % at most; on the base model 32 points leave about 1e-5.
IG_STEPS, IG_MOST_STEPS, IG_TOLERANCE = 32, 64, 0.01
# A quarter of the cores (one on 2): a training beside the app keeps its share. More threads than free cores is far
# worse than fewer: beside a training on 2 cores, 2 threads took 2.0 s for gradient x input and 9.0 s for integrated
# gradients where 1 thread took 0.06 s and 1.4 s (their barriers wait for a core the training holds).
THREADS = max(1, (os.cpu_count() or 1) // 4)


class Method(StrEnum):
    GRADIENT_X_INPUT = "gradient_x_input"
    INTEGRATED_GRADIENTS = "integrated_gradients"


class ExplainError(FinetuneError):
    """A request the explain views cannot answer as asked (an unknown method, a layer or head out of range)."""


def method_of(name) -> Method:
    try:
        return Method(str(name or Method.GRADIENT_X_INPUT))
    except ValueError:
        raise ExplainError(f"unknown method {name!r}: use {' or '.join(Method)}") from None


@dataclass
class Encoded:
    """A pair as the model reads it, with what the views need to show each token."""
    inputs: dict  # torch tensors of batch 1
    tokens: list[str]
    segments: list[int]  # 0: [CLS], sentence 1 and its [SEP]; 1: sentence 2 and the last [SEP] (token_type_ids)
    special: list[bool]
    words: list[tuple[int, int] | None]  # (segment, word index) of each token; None for special tokens
    spans: list[tuple[int, int]]  # character offsets of each token in its own sentence
    texts: tuple[str, str]


class Explainer:
    """A classifier with plain ("eager") attention, which is the path that returns attention weights, frozen: only the
    input embeddings get gradients, so the backward pass is cheap and threads can share the model."""

    def __init__(self, model: str, seed: int | None = None, max_length: int = MAX_LENGTH, task: Task | None = None):
        import torch

        # For the whole process; the Playground answers through OpenVINO, its own threads.
        torch.set_num_threads(THREADS)
        self.torch = torch
        self.max_length = max_length
        self.tokenizer = load_tokenizer(model)
        self.tokenizing = threading.Lock()  # a fast tokenizer's truncation state is shared: one thread at a time
        self.model = load_classifier(model, seed=seed, task=task).eval()
        self.model.set_attn_implementation("eager")  # sdpa returns no attention weights (an empty tuple, a warning)
        self.model.requires_grad_(False)
        self.labels = list((task or MRPC).labels)
        self.layers = self.model.config.num_hidden_layers
        self.heads = self.model.config.num_attention_heads

    def encode(self, sentence1: str, sentence2: str) -> Encoded:
        with self.tokenizing:
            encoded = encode_pairs(self.tokenizer, sentence1, sentence2, self.max_length, return_tensors="pt",
                                   return_offsets_mapping=True)
        spans = [tuple(span) for span in encoded.pop("offset_mapping")[0].tolist()]
        ids = encoded["input_ids"][0].tolist()
        special_ids = set(self.tokenizer.all_special_ids)
        special = [token_id in special_ids for token_id in ids]
        view = {"tokens": self.tokenizer.convert_ids_to_tokens(ids),
                "special_positions": [i for i, is_special in enumerate(special) if is_special]}
        if "token_type_ids" in encoded:
            view["token_type_ids"] = encoded["token_type_ids"][0].tolist()
        segments = segment_ids(view)
        word_ids = encoded.word_ids(0)
        words = [None if special[i] or word is None else (segments[i], word) for i, word in enumerate(word_ids)]
        return Encoded(dict(encoded), view["tokens"], segments, special, words, spans, (sentence1, sentence2))

    def _forward(self, encoded: Encoded, embeddings, attentions: bool = False):
        """Logits (and attention weights) from word embeddings: the model adds the position and type embeddings."""
        inputs = {key: value.expand(len(embeddings), -1) for key, value in encoded.inputs.items() if key != "input_ids"}
        return self.model(inputs_embeds=embeddings, output_attentions=attentions, **inputs)

    def _word_embeddings(self, encoded: Encoded):
        return self.model.get_input_embeddings()(encoded.inputs["input_ids"])

    def _baseline(self, encoded: Encoded):
        """[PAD]'s word embedding (zeros for a model without one) in place of every token but [CLS] and [SEP]."""
        embeddings = self._word_embeddings(encoded)
        pad_id = self.tokenizer.pad_token_id
        pad = (self.model.get_input_embeddings().weight[pad_id] if pad_id is not None
               else self.torch.zeros(embeddings.shape[-1]))
        keep = self.torch.tensor(encoded.special).view(1, -1, 1)
        return self.torch.where(keep, embeddings, pad.expand_as(embeddings))

    @staticmethod
    def margin(logits, target: int):
        """The target label's logit minus the other's: the log-odds that decide a two-label answer."""
        return logits[..., target] - logits[..., 1 - target]

    def _answer(self, logits) -> dict:
        probabilities = self.torch.softmax(logits.double(), -1)[0].tolist()
        label = int(np.argmax(probabilities))
        return {"label": self.labels[label], "probabilities": dict(zip(self.labels, probabilities, strict=False)),
                "target": label}

    def gradient_x_input(self, encoded: Encoded) -> dict:
        """One forward and one backward: the margin's gradient at each word embedding, dotted with that embedding."""
        embeddings = self._word_embeddings(encoded).requires_grad_(True)
        with self.torch.enable_grad():
            logits = self._forward(encoded, embeddings).logits
            answer = self._answer(logits.detach())
            target = self.margin(logits[0], answer["target"])
            (gradient,) = self.torch.autograd.grad(target, embeddings)
        scores = (gradient * embeddings.detach())[0].sum(-1)
        return {**answer, "scores": scores.tolist(), "target_logit": float(target.detach()), "baseline_logit": None,
                "delta": None, "steps": None}

    def integrated_gradients(self, encoded: Encoded, steps: int = IG_STEPS, most: int = IG_MOST_STEPS) -> dict:
        """The margin's gradient averaged along the straight path from the baseline to the input (Gauss-Legendre points,
        as captum's default), times input minus baseline; delta = sum of scores - (margin at input - at baseline).
        A delta above IG_TOLERANCE of the change is computed again with twice the steps, up to `most`."""
        torch = self.torch
        with torch.inference_mode():
            ends = torch.cat([self._baseline(encoded), self._word_embeddings(encoded)])
            end_logits = self._forward(encoded, ends).logits
        answer = self._answer(end_logits[1:])
        baseline, embeddings = ends[:1].clone(), ends[1:].clone()
        at_input, at_baseline = (float(self.margin(end_logits[i], answer["target"])) for i in (1, 0))
        while True:
            scores = self._path_integral(encoded, baseline, embeddings, answer["target"], steps)
            delta = float(scores.sum()) - (at_input - at_baseline)
            if steps >= most or abs(delta) <= IG_TOLERANCE * abs(at_input - at_baseline) + 1e-4:
                break
            steps *= 2
        return {**answer, "scores": scores.tolist(), "target_logit": at_input, "baseline_logit": at_baseline,
                "delta": delta, "steps": steps}

    def _path_integral(self, encoded: Encoded, baseline, embeddings, target: int, steps: int, batch: int = 16):
        torch = self.torch
        points, weights = np.polynomial.legendre.leggauss(steps)
        alphas, weights = (torch.tensor(values, dtype=torch.float32) for values in ((points + 1) / 2, weights / 2))
        total = torch.zeros_like(embeddings[0])
        for start in range(0, steps, batch):
            alpha = alphas[start:start + batch].view(-1, 1, 1)
            path = (baseline + alpha * (embeddings - baseline)).requires_grad_(True)
            with torch.enable_grad():
                margin = self.margin(self._forward(encoded, path).logits, target).sum()
                (gradient,) = torch.autograd.grad(margin, path)
            total += (gradient * weights[start:start + batch].view(-1, 1, 1)).sum(0)
        return (total * (embeddings - baseline)[0]).sum(-1)

    def attention(self, encoded: Encoded, layer: int, head: int):
        """The (tokens x tokens) weights of one layer's head, or their mean over heads for head -1."""
        if not -self.layers <= layer < self.layers:
            raise ExplainError(f"layer {layer} is out of range: this model has layers 0 to {self.layers - 1}")
        if not -1 <= head < self.heads:
            raise ExplainError(f"head {head} is out of range: this model has heads 0 to {self.heads - 1} "
                               "(-1: their mean)")
        with self.torch.inference_mode():
            weights = self._forward(encoded, self._word_embeddings(encoded), attentions=True).attentions[layer][0]
        return (weights.mean(0) if head == -1 else weights[head]).double().numpy(), layer % self.layers

    def pooled(self, pairs: list[tuple[str, str]], batch: int = 32) -> np.ndarray:
        """What the classification head reads for each pair (BERT: the pooled [CLS] vector), in the pairs' order.

        In bf16 where the CPU computes it natively: 2.2 times as fast for MRPC's 408 validation pairs, the vectors
        within 0.03 of fp32's (correlation 0.99997): nothing a 2-D picture shows."""
        torch = self.torch
        fast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_has_bf16())
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))  # less padding per batch
        seen, me = [], threading.get_ident()
        # The model is shared: record only this thread's passes, not those of an explanation asked meanwhile.
        hook = self.model.classifier.register_forward_hook(
            lambda module, args, output: seen.append(args[0]) if threading.get_ident() == me else None)
        try:
            with torch.inference_mode(), fast:
                for start in range(0, len(order), batch):
                    chunk = [pairs[i] for i in order[start:start + batch]]
                    with self.tokenizing:
                        inputs = encode_pairs(self.tokenizer, [a for a, _ in chunk], [b for _, b in chunk],
                                              self.max_length, padding=True, return_tensors="pt")
                    self.model(**inputs)
        finally:
            hook.remove()
        vectors = torch.cat([v[:, 0] if v.dim() == 3 else v  # a head reading all tokens: [CLS]
                             for v in seen]).float().numpy()
        out = np.empty_like(vectors)
        out[order] = vectors
        return out


@lru_cache(maxsize=4)
def cached_explainer(model: str, seed: int | None = None, task: Task | None = None) -> Explainer:
    """One torch copy per model (and head seed), shared by every explain view: the app never loads it twice."""
    return Explainer(model, seed=seed, task=task)


_run_explainer = runs.run_loader(cached_explainer)


def run_explainer(run_dir: Path, base: bool = False) -> Explainer:
    """A finished run's model; with base=True the model it started from, with the same seeded (untrained) head.
    Only for a run of sentence pairs and labels: its views (attention between the sentences, flips, slices by
    overlap) are a pair's."""
    check_explainable(run_dir)
    return _run_explainer(run_dir, base)


def check_explainable(run_dir: Path) -> None:
    """A one-line FinetuneError for a run that Explain does not cover yet: single sentences, or a score."""
    task = runs.run_task(run_dir)
    if not task.pair or task.regression:
        raise FinetuneError(f"Explain covers runs on sentence pairs with labels (MRPC and the like) for now; run "
                            f"{Path(run_dir).name} learned {task.describe()}: see its answers in the Evaluate tab")
