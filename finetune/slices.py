"""Where a model is right and wrong: accuracy and F1 by word overlap, by length and by differing numbers."""
from __future__ import annotations

import re
from pathlib import Path

from finetune import report
from finetune.metrics import score

WORD = re.compile(r"\w+")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# On real MRPC's 408 validation pairs these bins hold 29, 168, 130 and 81 pairs; the share labelled equivalent climbs
# from 24 % to 89 % across them: the shortcut a model can learn instead of meaning.
OVERLAP_BINS = ((0.0, "under 50 %"), (0.5, "50–70 %"), (0.7, "70–85 %"), (0.85, "85 % or more"))
LENGTH_BINS = ((0, "under 30 words"), (30, "30–39 words"), (40, "40–49 words"), (50, "50 words or more"))
NUMBER_KINDS = ("no numbers", "the same numbers", "different numbers")


def overlap(sentence1: str, sentence2: str) -> float:
    """The share of sentence 2's words (lowercased) that also occur in sentence 1."""
    first = {word.lower() for word in WORD.findall(sentence1)}
    second = [word.lower() for word in WORD.findall(sentence2)]
    return sum(word in first for word in second) / len(second) if second else 0.0


def _bin(value: float, bins) -> str:
    return [name for start, name in bins if value >= start][-1]


def _numbers(text: str) -> set[str]:
    return {number.replace(",", "") for number in NUMBER.findall(text)}


def numbers_kind(sentence1: str, sentence2: str) -> str:
    """Whether the pair carries numbers, and whether the two sentences carry the same ones ("2,000" is "2000")."""
    first, second = _numbers(sentence1), _numbers(sentence2)
    return NUMBER_KINDS[0] if not first | second else NUMBER_KINDS[1] if first == second else NUMBER_KINDS[2]


def slice_of(sentence1: str, sentence2: str) -> dict[str, str]:
    """The pair's bin in each slicing."""
    length = len(WORD.findall(sentence1)) + len(WORD.findall(sentence2))
    return {"overlap": _bin(overlap(sentence1, sentence2), OVERLAP_BINS), "length": _bin(length, LENGTH_BINS),
            "numbers": numbers_kind(sentence1, sentence2)}


def _figures(name: str, labels: list[int], predictions: list[int]) -> dict:
    n = len(labels)
    figures = score(predictions, labels) if n else {"accuracy": None, "f1": None}
    return {"slice": name, "n": n, **figures, "equivalent": sum(labels) / n if n else None,
            "predicted_equivalent": sum(predictions) / n if n else None}


def slices(rows: list[dict], predictions: list[int] | None = None) -> dict[str, list[dict]]:
    """For each slicing, one row per bin (in order, empty bins too): n, accuracy, F1, and the shares of pairs labelled
    and predicted equivalent. Every pair falls in one bin of each slicing, so each slicing's n adds up to len(rows).

    `rows` have sentence1, sentence2 and label; the predictions are given, or each row's own "prediction" (as
    predictions.jsonl and evaluation's answered rows have them)."""
    predictions = [row["prediction"] for row in rows] if predictions is None else predictions
    where = [slice_of(row["sentence1"], row["sentence2"]) for row in rows]
    names = {"overlap": [name for _, name in OVERLAP_BINS], "length": [name for _, name in LENGTH_BINS],
             "numbers": list(NUMBER_KINDS)}
    out = {}
    for slicing, bins in names.items():
        members = {name: [i for i, found in enumerate(where) if found[slicing] == name] for name in bins}
        out[slicing] = [_figures(name, [int(rows[i]["label"]) for i in chosen], [int(predictions[i]) for i in chosen])
                        for name, chosen in members.items()]
    return out


def check_sliceable(task, name: str) -> None:
    """Slices by overlap, length and numbers are a pair's, their figures two labels': refused in one line else."""
    if not task.pair or len(task.labels) != 2:
        from finetune import FinetuneError

        raise FinetuneError(f"slices (by word overlap, length and numbers) are computed for runs on sentence pairs "
                            f"with two labels; {name} learned {task.describe()}")


def run_slices(run_dir: Path) -> dict[str, list[dict]]:
    """The slices of a finished run's final validation answers (predictions.jsonl)."""
    from finetune import runs

    check_sliceable(runs.run_task(run_dir), f"run {Path(run_dir).name}")
    return slices(report.predictions(run_dir))


def format_slices(found: dict[str, list[dict]]) -> str:
    """The slices as plain text for the command line: one line per bin."""
    lines = []
    for slicing, bins in found.items():
        lines.append(f"by {slicing}:")
        for row in bins:
            figures = (f"accuracy {row['accuracy']:.3f}  F1 {row['f1']:.3f}  "
                       f"labelled equivalent {row['equivalent']:.0%}  "
                       f"predicted equivalent {row['predicted_equivalent']:.0%}" if row["n"] else "")
            lines.append(f"  {row['slice']:<18} n={row['n']:<4} {figures}")
    return "\n".join(lines)


def split_slices(model: str, source: str, split: str = "validation", batch_size: int = 64) -> dict[str, list[dict]]:
    """The slices of a model's answers on a split of a data source, answered by evaluation's one path."""
    from finetune.data import load_mrpc
    from finetune.evaluation import evaluate_model
    from finetune.models import model_task

    check_sliceable(model_task(model), f"model {model}")
    _, answered = evaluate_model(model, load_mrpc(source)[split], batch_size=batch_size)
    return slices(answered)
