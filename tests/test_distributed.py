"""Data-parallel training with torchrun (gloo on CPU): one run folder, written by rank 0 alone."""
import json
import subprocess
import sys
from pathlib import Path

from finetune import runs

REPO = Path(__file__).resolve().parents[1]


def test_two_process_torchrun_training_records_world_size_and_writes_once(tmp_path, tiny_bert):
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "finetune",
         "train", "--model", str(tiny_bert), "--data", "sample", "--max-train-samples", "64", "--max-eval-samples", "32",
         "--epochs", "2", "--batch-size", "8", "--precision", "fp32", "--logging-steps", "1", "--output-dir", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    metrics = json.loads((out / runs.METRICS_FILE).read_text())
    assert metrics["world_size"] == 2
    events, _ = runs.read_events(out)
    assert [e["status"] for e in events if e["type"] == "status"] == ["started", "finished"]
    steps = [e["step"] for e in events if e["type"] == "log"]
    assert steps == sorted(set(steps))  # one writer: no step logged twice
    # 64 rows, 2 processes x 8 per step: 4 steps per epoch
    assert metrics["steps"] == 8 and max(steps) == 8
    assert metrics["final"]["n"] == 32 and len((out / runs.PREDICTIONS_FILE).read_text().splitlines()) == 32
    assert done.stdout.count("finished in") == 1
