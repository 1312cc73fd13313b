"""Side-by-side training benchmark: the course's recipe, then the project's default, same model, data and seed.

    python bench/train_bench.py --data ../shared/data/mrpc --json bench-train.json
    python bench/train_bench.py --data sample --quick        # a smoke run: a subset, one epoch

Each recipe runs as `python -m finetune train` in its own process, so its peak memory is its own.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECIPES = {"baseline": "course", "default": "default"}


def run_recipe(preset: str, args, folder: Path) -> dict:
    command = [sys.executable, "-m", "finetune", "train", "--preset", preset, "--model", args.model,
               "--data", args.data, "--seed", str(args.seed), "--output-dir", str(folder)]
    if args.quick:
        command += ["--epochs", "1", "--max-train-samples", "256"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{preset} recipe failed:\n{done.stdout[-2000:]}")
    metrics = json.loads((folder / "metrics.json").read_text())
    return {
        "preset": preset, "wall_seconds": round(wall, 1), "train_seconds": metrics["train_seconds"],
        "samples_per_second": metrics["train_samples_per_second"], "peak_rss_mb": metrics["peak_rss_mb"],
        "eval_accuracy": metrics["final"]["accuracy"], "eval_f1": metrics["final"]["f1"],
        "per_epoch": [{k: e[k] for k in ("epoch", "accuracy", "f1")} for e in metrics["per_epoch"]],
        "precision": metrics["precision"], "train_rows": metrics["train_rows"], "steps": metrics["steps"],
    }


def table(results: dict) -> str:
    rows = [f"{'recipe':<10}{'wall s':>9}{'train s':>9}{'samples/s':>11}{'peak MB':>9}{'accuracy':>10}{'F1':>8}"
            "  precision"]
    for name, r in results.items():
        rows.append(f"{name:<10}{r['wall_seconds']:>9.1f}{r['train_seconds']:>9.1f}{r['samples_per_second']:>11.2f}"
                    f"{r['peak_rss_mb']:>9.0f}{r['eval_accuracy']:>10.4f}{r['eval_f1']:>8.4f}  {r['precision']}")
    base, default = results["baseline"], results["default"]
    rows.append(f"default vs course: {base['wall_seconds'] / default['wall_seconds']:.2f}x less wall time, "
                f"{base['train_seconds'] / default['train_seconds']:.2f}x less training time, "
                f"F1 {100 * (default['eval_f1'] - base['eval_f1']):+.1f} points, accuracy "
                f"{100 * (default['eval_accuracy'] - base['eval_accuracy']):+.1f} points")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="sample", help="as for python -m finetune train")
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quick", action="store_true", help="256 training rows, one epoch")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="train-bench-") as scratch:
        results = {}
        for name, preset in RECIPES.items():
            print(f"running the {preset} recipe ...", flush=True)
            results[name] = run_recipe(preset, args, Path(scratch) / name)
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
