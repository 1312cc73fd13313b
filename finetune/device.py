"""Which device trains and at what precision: CUDA, Apple MPS or CPU, bf16 where the hardware does it natively."""
from __future__ import annotations

import os

from finetune.config import ConfigError

AMPERE = (8, 0)  # the first CUDA compute capability with native bf16; older GPUs do fp16 mixed precision


def _mps_available() -> bool:
    import torch

    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def detect_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if _mps_available():
        return "mps"
    return "cpu"


def resolve_device(requested: str = "auto") -> str:
    """The device to train on: the one asked for, if this machine has it; 'auto' takes the best one there is."""
    import torch

    if requested == "auto":
        return detect_device()
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device cuda: no CUDA GPU is visible to torch {torch.__version__} here; use auto or cpu")
    if requested == "mps" and not _mps_available():
        raise ConfigError("device mps: Apple's Metal (MPS) is not available here (it needs a Mac with Apple silicon); "
                          "use auto or cpu")
    return requested


def cpu_cores() -> int:
    """The cores this process may run on (a container's share, not the whole machine's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_bf16_feature() -> str | None:
    """AMX or AVX512-BF16, whichever the CPU has: without them bf16 on a CPU is emulated and slower than fp32."""
    import torch

    if torch.cpu._is_amx_tile_supported():
        return "AMX"
    if torch.cpu._is_avx512_bf16_supported():
        return "AVX512-BF16"
    return None


def cpu_has_bf16() -> bool:
    return cpu_bf16_feature() is not None


def cuda_capability() -> tuple[int, int]:
    import torch

    return tuple(torch.cuda.get_device_capability())


def resolve_precision(requested: str, device: str) -> str:
    """fp32, bf16 or fp16 for this device; 'auto' picks the fastest one that keeps results sound."""
    if requested == "auto":
        if device == "cuda":
            return "bf16" if cuda_capability() >= AMPERE else "fp16"
        if device == "cpu":
            return "bf16" if cpu_has_bf16() else "fp32"
        return "fp32"  # MPS: mixed precision through Trainer there is young; fp32 is the sound choice
    if requested == "fp16" and device == "cpu":
        raise ConfigError("precision fp16 needs a GPU; on a CPU use bf16 or fp32")
    if requested == "bf16" and device == "cuda" and cuda_capability() < AMPERE:
        major, minor = cuda_capability()
        raise ConfigError(f"precision bf16 needs a GPU of compute capability 8.0 (Ampere) or newer; this one is "
                          f"{major}.{minor}: use fp16 or fp32")
    return requested


def default_processes() -> int:
    """One process per GPU where there are several (data-parallel), else one."""
    import torch

    return max(1, torch.cuda.device_count() if torch.cuda.is_available() else 0)


def _device_detail(device: str) -> str:
    import torch

    if device == "cuda":
        count = torch.cuda.device_count()
        major, minor = cuda_capability()
        return f"cuda ({count} × {torch.cuda.get_device_name(0)}, compute capability {major}.{minor})"
    if device == "mps":
        return "mps (Apple silicon GPU)"
    return f"cpu ({cpu_cores()} cores)"


def _precision_detail(precision: str, device: str) -> str:
    if device == "cpu" and precision == "bf16":
        return f"bf16 ({cpu_bf16_feature() or 'emulated: no AMX or AVX512-BF16, slower than fp32'})"
    if device == "cuda" and precision in ("bf16", "fp16"):
        return f"{precision} (mixed precision)"
    return precision


def resolve_hardware(device: str = "auto", precision: str = "auto") -> dict:
    """What a run with these settings trains on here: device, precision and one line saying both and why."""
    device = resolve_device(device)
    precision = resolve_precision(precision, device)
    line = f"Device: {_device_detail(device)}, precision {_precision_detail(precision, device)}"
    return {"device": device, "precision": precision, "hardware": line}
