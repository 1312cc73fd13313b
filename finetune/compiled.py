"""The Playground's fast path: the classifier exported to ONNX once (cached on disk) and compiled by OpenVINO, in bf16
where the CPU computes it natively, with fp32 deciding the pairs close to 50/50 so that every answer is fp32's."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import threading
import warnings
from pathlib import Path

import numpy as np

from finetune import durable

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# A pair whose two bf16 logits are closer than this is answered again in fp32. Over 1,608 MRPC pairs (a trained
# all-MiniLM-L6-v2) bf16 moved the margin by 0.009 on average and 0.27 at most, and flipped 3 labels; with this guard
# 6 % of pairs are recomputed, no label differs from fp32's and no probability by more than 0.018.
GUARD = 1.5


def available() -> bool:
    return importlib.util.find_spec("openvino") is not None and importlib.util.find_spec("onnx") is not None


def cache_dir() -> Path:
    """$FINETUNE_CACHE_DIR, else $XDG_CACHE_HOME/finetune, else ~/.cache/finetune."""
    if os.environ.get("FINETUNE_CACHE_DIR"):
        return Path(os.environ["FINETUNE_CACHE_DIR"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "finetune"


def cache_key(source: str, seed: int | None, head: str = "") -> str:
    """Changes when the weights change (a run folder trained again) or the head does (a base model given another
    task's head), so a stale export is never used."""
    import torch

    stamp = {"source": str(Path(source).resolve()) if Path(source).exists() else source, "seed": seed,
             "torch": torch.__version__, **({"head": head} if head else {})}
    folder = Path(source)
    if folder.is_dir():
        stamp["files"] = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()
                                if p.suffix in {".safetensors", ".bin", ".json"})
    return hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:24]


def export(model, tokenizer, path: Path) -> Path:
    """Write the fp32 model as ONNX with batch and sequence length left free; renamed into place only when complete."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    example = tokenizer("an example", "another one", return_tensors="pt")
    names = [name for name in INPUTS if name in example]
    partial = durable.partial_path(path)
    axes = {name: {0: "batch", 1: "tokens"} for name in names} | {"logits": {0: "batch"}}
    # The TorchScript exporter: no extra dependency (the dynamo one needs onnxscript) and it handles BERT's graph.
    # The exporter warns about tracing details of transformers' code that do not change the answers: not for users.
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.float().eval(), tuple(example[name] for name in names), str(partial), input_names=names,
                          output_names=["logits"], dynamic_axes=axes, opset_version=17, dynamo=False)
    return durable.publish(partial, path)


def capabilities(core=None) -> list[str]:
    """What OpenVINO's CPU plugin computes natively here ("BF16" on AMX / AVX512-BF16 CPUs)."""
    if core is None:
        import openvino

        core = openvino.Core()
    return list(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


class CompiledClassifier:
    """Logits for a tokenized batch from OpenVINO on the CPU: bf16 where the CPU has it, fp32 for close calls.

    bf16 answers a single MRPC pair about 1.5x faster than fp32 on an AVX512-BF16 CPU, and can move a logit margin a
    little: where the bf16 margin is within GUARD of the boundary the pair is computed again in fp32, so labels are
    fp32's; probabilities elsewhere stay within about 0.02 of fp32's (bench/predict_bench.py reports the largest).
    Each thread gets its own infer requests: the app answers from several threads at once.
    """

    def __init__(self, path: Path, precision: str = "auto"):
        import openvino

        core = openvino.Core()
        # Compiled once per model and machine; a later start maps the compiled model from the cache, its weights then
        # in file pages the system can reclaim rather than in the app's own memory.
        core.set_property({"CACHE_DIR": str(cache_dir() / "openvino")})
        common = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": os.cpu_count() or 1}
        self.exact = core.compile_model(str(path), "CPU", {**common, "INFERENCE_PRECISION_HINT": "f32"})
        self.fast = (core.compile_model(str(path), "CPU", {**common, "INFERENCE_PRECISION_HINT": "bf16"})
                     if precision in ("auto", "bf16") and "BF16" in capabilities(core) else None)
        self.precision = "bf16, fp32 near 50/50" if self.fast else "fp32"
        self.inputs = [port.get_any_name() for port in self.exact.inputs]
        self.local = threading.local()
        self.close_share = 0.0

    def _run(self, compiled, feed: dict) -> np.ndarray:
        requests = self.local.__dict__.setdefault("requests", {})
        request = requests.get(id(compiled)) or requests.setdefault(id(compiled), compiled.create_infer_request())
        # A copy: the request reuses its buffer.
        return np.array(request.infer(feed)[compiled.outputs[0]], dtype="float32")

    def logits(self, encoded) -> np.ndarray:
        """A numpy array of shape (pairs, labels), from the tokenizer's numpy output."""
        feed = {name: np.asarray(encoded[name], dtype="int64") for name in self.inputs}
        if self.fast is None:
            return self._run(self.exact, feed)
        if self.close_share > 0.5:  # most answers are close calls (an untrained head): a bf16 pass would only add time
            logits = self._run(self.exact, feed)
            self._note(_close(logits))
            return logits
        logits = self._run(self.fast, feed)
        close = _close(logits)
        self._note(close)
        if close.any():
            logits[close] = self._run(self.exact, {name: values[close] for name, values in feed.items()})
        return logits

    def _note(self, close: np.ndarray) -> None:
        """A running share of close calls: above one half, pairs go to fp32 directly, until confident answers return."""
        self.close_share = 0.8 * self.close_share + 0.2 * float(close.mean())


def _close(logits: np.ndarray) -> np.ndarray:
    """Rows whose two highest logits are nearer than GUARD."""
    top_two = np.sort(logits, axis=-1)[:, -2:]
    return top_two[:, 1] - top_two[:, 0] < GUARD
