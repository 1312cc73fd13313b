"""MRPC data as the Data tab shows it: what the DatasetDict prints, label balance, and filtered pages of rows."""
from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path

from finetune import data
from finetune.data import LABEL_NAMES, DataError, load_mrpc

ALL_LABELS = "all"


def _version(source: str) -> float:
    """A local source's modification time, so an edited file is read again; 0 for sample and hub."""
    path = Path(source).expanduser()
    return os.stat(path).st_mtime if source not in {"sample", "hub"} and path.exists() else 0.0


@lru_cache(maxsize=8)
def _load(source: str, version: float):
    dd = load_mrpc(source)
    return dd, {split: dataset.to_pandas() for split, dataset in dd.items()}


def load(source: str):
    """The DatasetDict of `source` (loaded once per version of it) and a pandas frame per split."""
    return _load(str(source).strip(), _version(str(source).strip()))


def overview(source: str) -> dict:
    """What `print(raw_datasets)` and `.features` show, and the label balance of each split."""
    dd, frames = load(source)
    balance = []
    for split, frame in frames.items():
        for label, name in enumerate(LABEL_NAMES):
            count = int((frame["label"] == label).sum())
            share = round(count / max(len(frame), 1), 3)
            balance.append({"split": split, "label": name, "rows": count, "share": share})
    features = dd[next(iter(dd))].features
    listed = "\n".join(f"{name}: {feature!r}" for name, feature in features.items())
    return {"repr": str(dd), "features": listed, "splits": list(dd), "balance": balance}


def repeats(source: str) -> dict[str, int]:
    """Repeated pairs per split and validation pairs also in train (see data.count_repeated_pairs)."""
    return data.count_repeated_pairs(load(source)[0])


def page(source: str, split: str, number: int = 1, size: int = 10, label: str = ALL_LABELS, query: str = "") -> dict:
    """One page of rows of a split, filtered by label name and by a case-insensitive text search in either sentence."""
    frames = load(source)[1]
    if split not in frames:
        raise DataError(f"no split {split!r}; this data has {', '.join(frames)}")
    frame = frames[split]
    if label != ALL_LABELS:
        frame = frame[frame["label"] == LABEL_NAMES.index(label)]
    if query.strip():
        hit = frame["sentence1"].str.contains(query.strip(), case=False, regex=False)
        frame = frame[hit | frame["sentence2"].str.contains(query.strip(), case=False, regex=False)]
    size = max(1, int(size))
    pages = max(1, math.ceil(len(frame) / size))
    number = min(max(1, int(number)), pages)
    shown = frame.iloc[(number - 1) * size: number * size]
    rows = [{"idx": int(r.idx), "sentence1": r.sentence1, "sentence2": r.sentence2,
             "label": LABEL_NAMES[r.label] if r.label in (0, 1) else "(no label)"} for r in shown.itertuples()]
    return {"rows": rows, "matching": len(frame), "page": number, "pages": pages}


def pairs(source: str, split: str = "train", count: int = 20) -> list[dict]:
    """The first rows of a split, for picking a few pairs to batch."""
    return page(source, split, 1, count)["rows"]
