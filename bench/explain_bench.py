"""Explain benchmark: how long each explain view takes for a finished run and its base model, on a ~60-token pair.

    python bench/explain_bench.py --run /tmp/explain-real --json bench/results-explain.json

Each view is timed end to end as the API calls it (tokenizing, the passes, building the answer), after the models are
loaded (the loads are timed apart): gradient x input plus attention for run and base together, integrated gradients
(32 steps) for run and base, the counterfactual search through the run's Predictor, and the run's slices plus its
projection of the validation pairs, the first time (the kept projection is moved aside, then put back) and again.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# 62 tokens with the bundled model's tokenizer: an MRPC-like pair of two news sentences.
SENTENCE1 = ("Shares of the company rose 5 percent to $21.40 on Tuesday after it said quarterly revenue had climbed to "
             "$2.1 billion.")
SENTENCE2 = ("The company's stock gained 5 percent on Tuesday, closing at $21.40, after it reported revenue of $2.1 "
             "billion for the quarter.")
PAIR = (SENTENCE1, SENTENCE2)


def timed(fn, rounds: int) -> tuple[dict, object]:
    times, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    cuts = statistics.quantiles(times, n=20) if len(times) > 1 else times * 19
    return {"p50_s": round(statistics.median(times), 3), "p95_s": round(cuts[18], 3), "rounds": rounds}, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a finished run folder (its base model is explained beside it)")
    parser.add_argument("--rounds", type=int, default=20,
                        help="timed calls of the quick views (IG and flips: a quarter)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    import torch

    from finetune.counterfactual import search_run
    from finetune.explain import attention_pair, explain_pair
    from finetune.explainer import run_explainer
    from finetune.predict import run_predictor
    from finetune.projection import EXPLAIN_DIR, PROJECTION_FILE, run_projection
    from finetune.slices import run_slices

    run = Path(args.run)
    started = time.perf_counter()
    tokens = len(run_explainer(run).encode(*PAIR).tokens)
    run_explainer(run, base=True)
    run_predictor(run)
    figures = {"run": str(run), "pair_tokens": tokens, "load_seconds": round(time.perf_counter() - started, 2)}
    figures["torch_threads"] = torch.get_num_threads()
    slow = max(args.rounds // 4, 3)

    explain_pair(run, *PAIR)  # warm-up: kernels and buffers
    figures["gradient_x_input_and_attention"], _ = timed(
        lambda: (explain_pair(run, *PAIR), attention_pair(run, *PAIR, -1, -1)), args.rounds)
    figures["integrated_gradients"], found = timed(lambda: explain_pair(run, *PAIR, "integrated_gradients"), slow)
    figures["integrated_gradients"]["delta"] = {"run": found["delta"], "base": found["base"]["delta"]}
    figures["counterfactual"], flips = timed(lambda: search_run(run, *PAIR), slow)
    figures["counterfactual"].update(forwards=flips["forwards"], edits=len(flips["edits"]))

    kept = run / EXPLAIN_DIR / PROJECTION_FILE
    aside = kept.with_name("projection.bench-aside.json")
    if kept.is_file():
        shutil.move(kept, aside)
    try:
        figures["slices_and_projection_first"], _ = timed(lambda: (run_slices(run), run_projection(run)), 1)
    finally:
        if aside.is_file():
            shutil.move(aside, kept)
    figures["slices_and_projection_again"], _ = timed(lambda: (run_slices(run), run_projection(run)), args.rounds)

    for name, value in figures.items():
        print(f"{name:32} {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
