"""Device and precision: CUDA (bf16 from Ampere on, else fp16), Apple MPS, the CPU (bf16 with AMX / AVX512-BF16).

No GPU here: CUDA and MPS are faked by patching what torch reports; the CPU is this machine's own."""
import pytest
import torch

from finetune import device
from finetune.config import ConfigError, RunConfig
from finetune.snippet import training_code
from finetune.train import _training_arguments


@pytest.fixture
def cuda(monkeypatch):
    """A machine with CUDA GPUs of a chosen compute capability (default: two A100s, 8.0)."""
    def fake(capability=(8, 0), count=2, name="NVIDIA A100-SXM4-40GB"):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: capability)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: name)
    return fake


@pytest.fixture
def mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)


@pytest.fixture
def plain_cpu(monkeypatch):
    """A CPU without AMX or AVX512-BF16 (most laptops)."""
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)


def test_ampere_gpu_trains_in_bf16_and_older_ones_in_fp16(cuda):
    cuda((8, 0))
    assert device.resolve_hardware() == {
        "device": "cuda", "precision": "bf16",
        "hardware": "Device: cuda (2 × NVIDIA A100-SXM4-40GB, compute capability 8.0), "
                    "precision bf16 (mixed precision)"}
    cuda((7, 5), count=1, name="Tesla T4")
    assert device.resolve_hardware()["precision"] == "fp16"
    with pytest.raises(ConfigError, match="compute capability 8.0.*7.5: use fp16 or fp32"):
        device.resolve_hardware("auto", "bf16")


def test_several_gpus_mean_one_process_each_by_default(cuda):
    cuda(count=4)
    assert device.default_processes() == 4
    cuda(count=1)
    assert device.default_processes() == 1


def test_apple_mps_is_taken_when_there_is_no_cuda_and_trains_in_fp32(mps):
    assert device.resolve_hardware() == {"device": "mps", "precision": "fp32",
                                 "hardware": "Device: mps (Apple silicon GPU), precision fp32"}


def test_cpu_trains_in_bf16_only_with_native_support(monkeypatch, plain_cpu):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    cores = device.cpu_cores()
    assert device.resolve_hardware()["hardware"] == f"Device: cpu ({cores} cores), precision fp32"
    assert "emulated" in device.resolve_hardware("auto", "bf16")["hardware"]
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert device.resolve_hardware()["hardware"] == f"Device: cpu ({cores} cores), precision bf16 (AVX512-BF16)"
    with pytest.raises(ConfigError, match="fp16 needs a GPU"):
        device.resolve_hardware("cpu", "fp16")


def test_this_machine_is_described_as_it_is():
    described = device.resolve_hardware()
    assert described["device"] == device.detect_device()
    assert described["hardware"].startswith(f"Device: {described['device']}")


def test_cpu_can_be_chosen_over_a_gpu_and_maps_to_use_cpu(cuda, tmp_path):
    cuda()
    assert device.resolve_hardware("cpu")["device"] == "cpu"
    config = RunConfig.from_preset("course", device="cpu")
    assert _training_arguments(config, tmp_path, "fp32", "cpu").use_cpu is True
    assert "use_cpu=True" in training_code(config)


def test_asking_for_a_device_this_machine_lacks_is_refused_in_one_line(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="device cuda: no CUDA GPU"):
        device.resolve_device("cuda")
    with pytest.raises(ConfigError, match="device mps: .*not available"):
        device.resolve_device("mps")


def test_unknown_device_is_refused_by_the_config():
    with pytest.raises(ConfigError, match="device must be one of auto, cpu, cuda, mps"):
        RunConfig(device="tpu").validate()


def test_a_run_records_its_device_and_precision(tiny_run):
    from finetune import runs

    metrics = runs.read_metrics(tiny_run)
    assert metrics["device"] == device.detect_device() and metrics["precision"] == "fp32"  # the tiny run asks for fp32
    assert metrics["hardware"].startswith(f"Device: {metrics['device']} (")
    assert metrics["hardware"].endswith("precision fp32")
    started = next(e for e in runs.read_events(tiny_run)[0] if e.get("status") == "started")
    assert started["hardware"] == metrics["hardware"]


def test_the_train_tab_shows_the_device_line_and_one_line_when_a_device_is_missing(monkeypatch):
    from finetune.ui.train import hardware_line

    assert hardware_line("auto", "auto") == device.resolve_hardware()["hardware"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert hardware_line("cuda", "auto").startswith("**device cuda: no CUDA GPU")
