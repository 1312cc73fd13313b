"""Prediction benchmark: the playground's Predictor against a plain `transformers` pipeline, same model, same pairs.

    python bench/predict_bench.py --json bench-predict.json                      # bundled model, sample pairs
    python bench/predict_bench.py --model runs/RUN/model --data ../shared/data/mrpc

Single pairs are timed one by one, end to end (tokenizing, the forward pass, the answer), after a warm-up; the batch
figure answers every pair in batches of 64. Answers are compared with the fp32 pipeline's, pair by pair.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WARMUP = 20
BATCH = 64


def percentiles(times_ms: list[float]) -> dict:
    cuts = statistics.quantiles(times_ms, n=100)
    return {"p50_ms": round(statistics.median(times_ms), 2), "p95_ms": round(cuts[94], 2),
            "mean_ms": round(statistics.fmean(times_ms), 2)}


def measure(answer_one, answer_all, pairs: list[tuple[str, str]], rounds: int) -> tuple[dict, list]:
    """Latency of answer_one over every pair `rounds` times, and answer_all's throughput over all pairs (whose
    (label, probabilities) answers are returned too)."""
    for s1, s2 in pairs[:WARMUP]:
        answer_one(s1, s2)
    times = []
    for _ in range(rounds):
        for s1, s2 in pairs:
            started = time.perf_counter()
            answer_one(s1, s2)
            times.append((time.perf_counter() - started) * 1000)
    answer_all(pairs[:BATCH])
    started = time.perf_counter()
    answers = answer_all(pairs)
    seconds = time.perf_counter() - started
    figures = {**percentiles(times), "calls": len(times), "batch_pairs_per_second": round(len(pairs) / seconds, 1)}
    return figures, answers


def bench_predictor(model: str, seed: int, pairs, rounds: int, backend: str, precision: str) -> tuple[dict, list]:
    from finetune.predict import Predictor

    started = time.perf_counter()
    predictor = Predictor(model, seed=seed, backend=backend, precision=precision)
    load = time.perf_counter() - started
    def batch(ps):
        return [(a["label"], a["probabilities"]) for a in predictor.predict_batch(ps, BATCH)]

    figures, answers = measure(predictor.predict, batch, pairs, rounds)
    figures.update(load_seconds=round(load, 2), backend=predictor.backend, precision=predictor.precision)
    return figures, answers


def bench_pipeline(model: str, seed: int, pairs, rounds: int) -> tuple[dict, list]:
    """The course's way to use a fine-tuned model: `pipeline("text-classification")`, fp32, defaults."""
    from transformers import pipeline

    from finetune.models import load_classifier, load_tokenizer

    started = time.perf_counter()
    classifier = pipeline("text-classification", model=load_classifier(model, seed=seed),
                          tokenizer=load_tokenizer(model))
    load = time.perf_counter() - started

    def one(s1, s2):
        return classifier({"text": s1, "text_pair": s2})

    def many(ps):
        scored = classifier([{"text": s1, "text_pair": s2} for s1, s2 in ps], batch_size=BATCH, top_k=None)
        return [(max(a, key=lambda x: x["score"])["label"], {x["label"]: x["score"] for x in a}) for a in scored]

    figures, answers = measure(one, many, pairs, rounds)
    return {**figures, "load_seconds": round(load, 2), "backend": "transformers pipeline", "precision": "fp32"}, answers


def table(results: dict) -> str:
    rows = [f"{'':<10}{'p50 ms':>9}{'p95 ms':>9}{'batch pairs/s':>15}{'load s':>8}  backend"]
    for name in ("baseline", "finetune"):
        r = results[name]
        rows.append(f"{name:<10}{r['p50_ms']:>9.2f}{r['p95_ms']:>9.2f}{r['batch_pairs_per_second']:>15.1f}"
                    f"{r['load_seconds']:>8.2f}  {r['backend']} ({r['precision']})")
    base, ours = results["baseline"], results["finetune"]
    rows.append(f"finetune vs pipeline: {base['p50_ms'] / ours['p50_ms']:.2f}x faster single pairs (p50), "
                f"{ours['batch_pairs_per_second'] / base['batch_pairs_per_second']:.2f}x batch throughput; "
                f"same answer on {results['same_answers']}/{results['pairs']} pairs, probabilities at most "
                f"{results['max_probability_difference']:.4f} apart")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bundled",
                        help="as for python -m finetune predict (a run's model folder, ...)")
    parser.add_argument("--data", default="sample", help="whose validation pairs to answer (as for train --data)")
    parser.add_argument("--seed", type=int, default=42, help="seeds the head of a model that has none yet")
    parser.add_argument("--rounds", type=int, default=3, help="times each pair is timed alone")
    parser.add_argument("--max-pairs", type=int, default=408)
    parser.add_argument("--backend", default="auto", choices=["auto", "openvino", "torch"],
                        help="the Predictor's backend")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                        help="the Predictor's precision")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    from finetune.data import load_mrpc

    validation = load_mrpc(args.data)["validation"]
    pairs = list(zip(validation["sentence1"], validation["sentence2"], strict=True))[:args.max_pairs]
    # The baseline runs first so that whatever warms up in the process (allocator, thread pool) favours it, not us.
    baseline, expected = bench_pipeline(args.model, args.seed, pairs, args.rounds)
    ours, answers = bench_predictor(args.model, args.seed, pairs, args.rounds, args.backend, args.precision)
    results = {"baseline": baseline, "finetune": ours, "pairs": len(pairs), "model": args.model, "data": args.data,
               "same_answers": sum(a[0] == b[0] for a, b in zip(answers, expected, strict=True)),
               "max_probability_difference": round(max(abs(a[1][label] - b[1][label])
                                                       for a, b in zip(answers, expected, strict=True)
                                                       for label in b[1]), 6)}
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
