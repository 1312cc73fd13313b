"""What durable files cost: one event appended with and without its fsync, and a short training of the bundled model
with and without every fsync (checkpoints, the final model, metrics, the event log), back to back, alternating.

    python bench/durable_bench.py                  # 300 events, 3 trainings each way
    python bench/durable_bench.py --trainings 5 --json bench-durable.json

"Without" replaces os.fsync by a no-op in this process: the same code, minus the waits for the disk.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

REAL_FSYNC = os.fsync
waited = {"seconds": 0.0}  # time spent inside os.fsync: the overhead itself, less noisy than two wall times


def timed_fsync(descriptor: int) -> None:
    started = time.perf_counter()
    REAL_FSYNC(descriptor)
    waited["seconds"] += time.perf_counter() - started


@contextmanager
def fsync(enabled: bool):
    """os.fsync timed, or a no-op while the block runs."""
    os.fsync = timed_fsync if enabled else (lambda descriptor: None)
    waited["seconds"] = 0.0
    try:
        yield
    finally:
        os.fsync = REAL_FSYNC


def event_ms(folder: Path, count: int, enabled: bool) -> float:
    """Milliseconds per append_event of a typical log event."""
    from finetune import runs

    with fsync(enabled):
        started = time.perf_counter()
        for step in range(count):
            runs.append_event(folder, "log", step=step, max_steps=count, epoch=0.5, loss=0.6931, learning_rate=5e-5,
                              grad_norm=1.23, eta_seconds=42.0)
        return (time.perf_counter() - started) / count * 1000


def training_seconds(folder: Path, enabled: bool) -> float:
    """Wall seconds of a short training of the bundled model: 8 steps, a checkpoint after the first epoch."""
    from finetune.config import RunConfig
    from finetune.train import train

    config = RunConfig.from_preset("default", model="bundled", data="sample", epochs=2, batch_size=16,
                                   max_train_samples=64, max_eval_samples=64, logging_steps=1, precision="fp32")
    with fsync(enabled):
        started = time.perf_counter()
        train(config, folder)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--trainings", type=int, default=3, help="trainings each way, alternating")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="durable-bench-") as scratch:
        scratch = Path(scratch)
        for enabled in (True, False):
            (scratch / f"events-{enabled}").mkdir()
            results[f"event_ms_{'fsync' if enabled else 'no_fsync'}"] = round(
                event_ms(scratch / f"events-{enabled}", args.events, enabled), 3)
        training_seconds(scratch / "warm-up", False)  # the first training pays for imports and the page cache
        times, in_fsync = {True: [], False: []}, []
        for n in range(args.trainings):
            for enabled in (True, False) if n % 2 == 0 else (False, True):
                times[enabled].append(training_seconds(scratch / f"train-{n}-{enabled}", enabled))
                if enabled:
                    in_fsync.append(waited["seconds"])
        checkpoint_mb = sum(p.stat().st_size for p in (scratch / "train-0-True").rglob("*") if p.is_file()) / 2**20
    results.update(training_seconds_fsync=[round(t, 2) for t in times[True]],
                   training_seconds_no_fsync=[round(t, 2) for t in times[False]],
                   fsync_seconds=[round(t, 2) for t in in_fsync], run_folder_mb=round(checkpoint_mb, 1),
                   load_average=os.getloadavg()[0])
    median_on, median_off = statistics.median(times[True]), statistics.median(times[False])
    print(f"one event: {results['event_ms_fsync']:.3f} ms with its fsync, {results['event_ms_no_fsync']:.3f} ms "
          f"without")
    print(f"a short training ({results['run_folder_mb']:.0f} MB written): median {median_on:.2f} s with fsyncs, "
          f"{median_off:.2f} s without; {statistics.median(in_fsync):.2f} s of it waiting in fsync (median); "
          f"load average {results['load_average']:.1f}")
    print(json.dumps(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
