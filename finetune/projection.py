"""What fine-tuning did to the representation: the validation pairs' pooled vectors, base and run, projected by PCA."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np

from finetune import durable, report, runs
from finetune.explainer import run_explainer

EXPLAIN_DIR = "explain"  # in the run folder: what the explain views computed once for this run
PROJECTION_FILE = "projection.json"
COMPUTING = threading.Lock()  # two requests for a run not cached yet compute it once


def pca(vectors: np.ndarray, components: int = 2) -> tuple[np.ndarray, list[float]]:
    """The vectors' coordinates on their first principal components, and the share of variance each explains."""
    centred = vectors - vectors.mean(0)
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    variance = singular ** 2
    return centred @ axes[:components].T, (variance[:components] / variance.sum()).tolist()


def _stamp(run_dir: Path) -> list[int]:
    """Changes when the run's answers are written again: a stale cache is then computed anew."""
    found = (Path(run_dir) / runs.PREDICTIONS_FILE).stat()
    return [found.st_size, found.st_mtime_ns]


def _project(run_dir: Path) -> dict:
    started = time.perf_counter()
    rows = report.predictions(run_dir)
    pairs = [(row["sentence1"], row["sentence2"]) for row in rows]
    views = {}
    for name, base in (("run", False), ("base", True)):
        points, explained = pca(run_explainer(run_dir, base=base).pooled(pairs))
        views[name] = {"points": np.round(points, 4).tolist(), "explained": [round(share, 4) for share in explained]}
    return {"n": len(rows), "labels": [int(row["label"]) for row in rows],
            "predictions": [int(row["prediction"]) for row in rows], **views, "stamp": _stamp(run_dir),
            "seconds": round(time.perf_counter() - started, 2)}


def _write_atomically(path: Path, data: dict) -> None:
    path.parent.mkdir(exist_ok=True)
    durable.write_text(path, json.dumps(data))


def cached_projection(run_dir: Path) -> dict | None:
    """The kept projection, if there is one and it is current: the page shows it without computing anything."""
    path = Path(run_dir) / EXPLAIN_DIR / PROJECTION_FILE
    if not path.is_file():
        return None
    cached = json.loads(path.read_text(encoding="utf-8"))
    return cached if cached.get("stamp") == _stamp(run_dir) else None


def run_projection(run_dir: Path) -> dict:
    """The projection of a finished run's validation pairs, computed once and kept in RUN/explain/projection.json."""
    with COMPUTING:
        projection = cached_projection(run_dir)
        if projection is None:
            projection = _project(run_dir)
            _write_atomically(Path(run_dir) / EXPLAIN_DIR / PROJECTION_FILE, projection)
        return projection
