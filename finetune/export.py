"""A finished run as one zip to download: the final model, its card, metrics, config, events and predictions."""
from __future__ import annotations

import zipfile
from pathlib import Path

from finetune import durable, runs

EXPORTS_DIR = ".exports"  # under the runs folder: not a run folder, so the run lists skip it
# Checkpoints (with their optimizer states, twice the model's size) stay behind: the zip is for using the model.
TOP_FILES = ("README.md", runs.CONFIG_FILE, runs.METRICS_FILE, runs.EVENTS_FILE, runs.PREDICTIONS_FILE, runs.LOG_FILE)
STORED = {".safetensors", ".bin", ".pt"}  # weights barely compress: storing them saves seconds per zip


def export_files(run_dir: Path) -> list[Path]:
    """The files that go into the zip, relative to the run folder."""
    run_dir = Path(run_dir)
    model = sorted(p.relative_to(run_dir) for p in (run_dir / runs.MODEL_DIR).rglob("*") if p.is_file())
    return [Path(name) for name in TOP_FILES if (run_dir / name).is_file()] + model


def zip_run(run_dir: Path, out_dir: Path | None = None) -> Path:
    """Write RUN.zip (into out_dir, by default the runs folder's .exports/) and return its path; the run must have
    finished."""
    from finetune.card import card_for_run

    run_dir = Path(run_dir)
    if not (run_dir / runs.MODEL_DIR / "config.json").is_file():
        raise runs.RunError(f"run {run_dir.name} has no final model to download: only a finished run has one")
    card_for_run(run_dir)
    out_dir = Path(out_dir) if out_dir else run_dir.parent / EXPORTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{run_dir.name}.zip"
    partial = target.with_suffix(".zip.part")  # a download never finds half a zip
    with zipfile.ZipFile(partial, "w") as archive:
        for name in export_files(run_dir):
            method = zipfile.ZIP_STORED if name.suffix in STORED else zipfile.ZIP_DEFLATED
            archive.write(run_dir / name, f"{run_dir.name}/{name.as_posix()}", compress_type=method)
    return durable.publish(partial, target)
