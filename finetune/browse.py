"""A source's data as the Data tab shows it: its task, what the DatasetDict prints, label balance (or a score's
spread), and filtered pages of rows."""
from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path

from finetune import data
from finetune.data import DataError, load_data
from finetune.tasks import Spec

ALL_LABELS = "all"
NO_LABEL = "(no label)"
SCORE_BINS = 5  # a score's spread is shown in this many equal ranges


def _version(source: str) -> float:
    """A local source's modification time, so an edited file is read again; 0 for the samples and the Hub."""
    path = Path(source).expanduser()
    return os.stat(path).st_mtime if source not in {*data.SAMPLES, "hub"} and path.exists() else 0.0


@lru_cache(maxsize=8)
def _load(source: str, version: float, task: str):
    dd, found = load_data(source, Spec.parse(task))
    return dd, {split: dataset.to_pandas() for split, dataset in dd.items()}, found


def load(source: str, task: str = "auto"):
    """The DatasetDict of `source` read for `task` (loaded once per version of it), a pandas frame per split, and
    the task read or detected."""
    source = str(source).strip()
    return _load(source, _version(source), (task or "auto").strip().lower())


def label_names(source: str, task: str = "auto") -> list[str]:
    """The class names to filter rows by; none for a score."""
    return list(load(source, task)[2].labels)


def _balance(frames: dict, found) -> list[dict]:
    balance = []
    for split, frame in frames.items():
        if found.regression:
            scores = frame["label"][frame["label"] != data.UNLABELLED]
            low, high = (float(scores.min()), float(scores.max())) if len(scores) else (0.0, 0.0)
            width = (high - low) / SCORE_BINS or 1.0
            for i in range(SCORE_BINS):
                start = low + i * width
                inside = (scores >= start) & ((scores < start + width) if i < SCORE_BINS - 1 else scores <= high)
                count = int(inside.sum())
                balance.append({"split": split, "label": f"{start:.2f}–{start + width:.2f}", "rows": count,
                                "share": round(count / max(len(frame), 1), 3)})
            continue
        for label, name in enumerate(found.labels):
            count = int((frame["label"] == label).sum())
            balance.append({"split": split, "label": name, "rows": count,
                            "share": round(count / max(len(frame), 1), 3)})
    return balance


def overview(source: str, task: str = "auto") -> dict:
    """The task read or detected (in one line), what `print(raw_datasets)` and `.features` show, and the label
    balance of each split (a score's rows per range of scores)."""
    dd, frames, found = load(source, task)
    features = dd[next(iter(dd))].features
    listed = "\n".join(f"{name}: {feature!r}" for name, feature in features.items())
    return {"task": found.name, "described": found.describe(), "pair": found.pair, "labels": list(found.labels),
            "repr": str(dd), "features": listed, "splits": list(dd), "balance": _balance(frames, found)}


def repeats(source: str, task: str = "auto") -> dict[str, int]:
    """Repeated examples per split and validation examples also in train (see data.count_repeated_pairs)."""
    return data.count_repeated_pairs(load(source, task)[0])


def page(source: str, split: str, number: int = 1, size: int = 10, label: str = ALL_LABELS, query: str = "",
         task: str = "auto") -> dict:
    """One page of rows of a split, filtered by label name and by a case-insensitive text search in its texts."""
    _, frames, found = load(source, task)
    if split not in frames:
        raise DataError(f"no split {split!r}; this data has {', '.join(frames)}")
    frame = frames[split]
    if label != ALL_LABELS and not found.regression:
        if label not in found.labels:
            raise DataError(f"no label {label!r}; this data has {', '.join(found.labels)}")
        frame = frame[frame["label"] == found.labels.index(label)]
    if query.strip():
        hits = [frame[column].str.contains(query.strip(), case=False, regex=False) for column in found.columns]
        frame = frame[hits[0] | hits[1]] if len(hits) == 2 else frame[hits[0]]
    size = max(1, int(size))
    pages = max(1, math.ceil(len(frame) / size))
    number = min(max(1, int(number)), pages)
    shown = frame.iloc[(number - 1) * size: number * size]
    rows = [{"idx": int(r["idx"]), **{column: r[column] for column in found.columns},
             "label": _label_text(r["label"], found)} for _, r in shown.iterrows()]
    return {"rows": rows, "matching": len(frame), "page": number, "pages": pages}


def _label_text(value, found) -> str:
    if found.regression:
        return NO_LABEL if value == data.UNLABELLED else f"{value:.2f}"
    return found.labels[int(value)] if 0 <= int(value) < len(found.labels) else NO_LABEL


def pairs(source: str, split: str = "train", count: int = 20, task: str = "auto") -> list[dict]:
    """The first rows of a split, for picking a few examples to batch."""
    return page(source, split, 1, count, task=task)["rows"]
