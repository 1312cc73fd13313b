"""Why a run answers what it answers, beside its base model: token scores and attention weights for one pair."""
from __future__ import annotations

import time
from pathlib import Path

from finetune import runs
from finetune.explainer import (
    Encoded,
    Explainer,
    ExplainError,
    Method,
    method_of,
    run_explainer,
)
from finetune.predict import check_pair

TARGET = "logit of the predicted label minus the other label's (the log-odds the answer follows)"
ATTRIBUTED_AT = ("word embeddings (the position and token type embeddings the model adds are kept); integrated "
                 "gradients start from [PAD]'s embedding at every token but [CLS] and [SEP]")


def _tokens(encoded: Encoded, scores: list[float], words: bool) -> list[dict]:
    """One entry per token (word piece), or per word with its pieces' scores summed; special tokens stay as they are."""
    entries = []
    for i, token in enumerate(encoded.tokens):
        word = encoded.words[i]
        if words and word is not None and i and encoded.words[i - 1] == word:
            entries[-1]["score"] += scores[i]
            entries[-1]["end"] = encoded.spans[i][1]
            continue
        entries.append({"token": token, "segment": encoded.segments[i], "special": encoded.special[i],
                        "score": scores[i], "start": encoded.spans[i][0], "end": encoded.spans[i][1]})
    for entry in entries:
        start, end = entry.pop("start"), entry.pop("end")
        if words and not entry["special"]:  # the word as typed (an uncased tokenizer lowercases its pieces)
            entry["token"] = encoded.texts[entry["segment"]][start:end]
    return entries


def token_scores(explainer: Explainer, sentence1: str, sentence2: str, method=Method.GRADIENT_X_INPUT,
                 words: bool = False) -> dict:
    """Every token of the pair with its score toward the predicted label, and what the scores sum to."""
    method = method_of(method)
    started = time.perf_counter()
    encoded = explainer.encode(*check_pair(sentence1, sentence2))
    found = (explainer.integrated_gradients(encoded) if method is Method.INTEGRATED_GRADIENTS
             else explainer.gradient_x_input(encoded))
    return {"label": found["label"], "probabilities": found["probabilities"], "method": str(method),
            "tokens": _tokens(encoded, found["scores"], words), "target_logit": found["target_logit"],
            "baseline_logit": found["baseline_logit"], "delta": found["delta"], "steps": found["steps"],
            "target": TARGET, "attributed_at": ATTRIBUTED_AT, "seconds": round(time.perf_counter() - started, 3)}


def explain_pair(run_dir: Path, sentence1: str, sentence2: str, method=Method.GRADIENT_X_INPUT,
                 words: bool = False) -> dict:
    """The run's token scores, and its base model's under "base"."""
    check_pair(sentence1, sentence2)
    method = method_of(method)
    tuned = token_scores(run_explainer(run_dir), sentence1, sentence2, method, words)
    return {**tuned, "base": token_scores(run_explainer(run_dir, base=True), sentence1, sentence2, method, words)}


def _whole(name: str, value) -> int:
    try:
        if float(value) == int(float(value)):
            return int(float(value))
    except (TypeError, ValueError, OverflowError):
        pass
    raise ExplainError(f"{name} must be a whole number, got {value!r}")


def attention_weights(explainer: Explainer, sentence1: str, sentence2: str, layer: int = -1, head: int = -1) -> dict:
    """The full (tokens x tokens) attention matrix of a layer's head (head -1: the mean over heads); rows sum to 1."""
    layer, head = _whole("layer", layer), _whole("head", head)
    encoded = explainer.encode(*check_pair(sentence1, sentence2))
    weights, layer = explainer.attention(encoded, layer, head)
    return {"tokens": encoded.tokens, "segments": encoded.segments, "special": encoded.special, "layer": layer,
            "head": head, "layers": explainer.layers, "heads": explainer.heads, "weights": weights.tolist()}


def attention_pair(run_dir: Path, sentence1: str, sentence2: str, layer: int = -1, head: int = -1) -> dict:
    """The run's attention weights, and its base model's under "base"."""
    check_pair(sentence1, sentence2)
    tuned = attention_weights(run_explainer(run_dir), sentence1, sentence2, layer, head)
    return {**tuned, "base": attention_weights(run_explainer(run_dir, base=True), sentence1, sentence2, layer, head)}


def run_folder(name: str) -> Path:
    """A finished run from the command line: its folder, or its name in the runs folder."""
    folder = Path(name).expanduser()
    if not folder.is_dir():
        return runs.finished_run(name)
    if not (folder / runs.MODEL_DIR / "config.json").is_file() or not (folder / runs.CONFIG_FILE).is_file():
        raise runs.RunError(f"{name} is not a finished run folder: explaining needs its {runs.MODEL_DIR}/ and "
                            f"{runs.CONFIG_FILE} (the base model is the one it started from)")
    return folder


def describe(result: dict) -> str:
    """The run's and the base model's token scores as plain text: each sentence on a line, scores after the tokens."""
    lines = []
    for name, found in (("fine-tuned run", result), ("base model, untrained head", result["base"])):
        figures = f"target {found['target_logit']:+.3f}"
        if found["delta"] is not None:
            figures += (f", at the baseline {found['baseline_logit']:+.3f}, delta {found['delta']:+.2g} "
                        f"({found['steps']} steps)")
        lines.append(f"{name}: {found['label']} ({found['probabilities'][found['label']]:.3f}); "
                     f"{found['method']}, {figures}")
        for segment in (0, 1):
            shown = " ".join(f"{t['token']}({t['score']:+.2f})" for t in found["tokens"] if t["segment"] == segment)
            lines.append(f"  sentence {segment + 1}: {shown}")
    return "\n".join(lines)
