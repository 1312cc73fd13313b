"""ONNX Runtime for prediction: a classifier exported once to ONNX (cached on disk) answers single pairs fastest on a CPU."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import threading
import warnings
from pathlib import Path

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None


def cache_dir() -> Path:
    """$FINETUNE_CACHE_DIR, else $XDG_CACHE_HOME/finetune, else ~/.cache/finetune."""
    if os.environ.get("FINETUNE_CACHE_DIR"):
        return Path(os.environ["FINETUNE_CACHE_DIR"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "finetune"


def cache_key(source: str, seed: int | None) -> str:
    """Changes when the weights change (a run folder trained again), so a stale export is never used."""
    import onnxruntime
    import torch

    stamp = {"source": str(Path(source).resolve()) if Path(source).exists() else source, "seed": seed,
             "torch": torch.__version__, "onnxruntime": onnxruntime.__version__}
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
    partial = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.partial")
    axes = {name: {0: "batch", 1: "tokens"} for name in names} | {"logits": {0: "batch"}}
    # The TorchScript exporter: no extra dependency (the dynamo one needs onnxscript) and it handles BERT's graph.
    # The exporter warns about tracing details of transformers' code that do not change the answers: not for users.
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.float().eval(), tuple(example[name] for name in names), str(partial), input_names=names,
                          output_names=["logits"], dynamic_axes=axes, opset_version=17, dynamo=False)
    os.replace(partial, path)
    return path


class OrtClassifier:
    """Logits for a tokenized batch, from an ONNX Runtime session on the CPU."""

    def __init__(self, path: Path):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = os.cpu_count() or 1
        # Idle threads sleep rather than spin: a training running beside the app needs those cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def logits(self, encoded):
        """A numpy array of shape (pairs, 2), from the tokenizer's numpy output."""
        return self.session.run(["logits"], {name: encoded[name].astype("int64") for name in self.inputs})[0]
