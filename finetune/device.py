"""Which device trains and at what precision: CUDA, Apple MPS or CPU, bf16 where the hardware does it natively."""
from __future__ import annotations

from finetune.config import ConfigError


def detect_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def cpu_has_bf16() -> bool:
    """AMX or AVX512-BF16: without them bf16 on a CPU is emulated and slower than fp32."""
    import torch

    return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())


def resolve_precision(requested: str, device: str) -> str:
    """fp32, bf16 or fp16 for this device; 'auto' picks the fastest one that keeps results sound."""
    import torch

    if requested == "auto":
        if device == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        if device == "cpu":
            return "bf16" if cpu_has_bf16() else "fp32"
        return "fp32"
    if requested == "fp16" and device == "cpu":
        raise ConfigError("precision fp16 needs a GPU; on a CPU use bf16 or fp32")
    return requested
