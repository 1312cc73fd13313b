"""On a Hugging Face Space: the Hugging Face cache kept on the persistent disk with the runs, and a warning when the
runs are on a disk that a restart wipes."""
from __future__ import annotations

import os
from pathlib import Path

from finetune import runs


def on_space() -> bool:
    return bool(os.environ.get("SPACE_ID"))


def persistent() -> bool:
    return os.access(runs.SPACE_STORAGE, os.W_OK)


def keep_cache_on_storage() -> Path | None:
    """On a Space with persistent storage, HF_HOME under it (models and datasets fetched once survive a restart),
    unless the operator set HF_HOME. Call before the Hugging Face libraries are imported: they read it then."""
    if not on_space() or not persistent() or os.environ.get("HF_HOME"):
        return None
    home = runs.SPACE_STORAGE / ".huggingface"
    os.environ["HF_HOME"] = str(home)
    return home


def storage_warning() -> str | None:
    """What the page says on a Space whose runs a restart would wipe (no persistent storage, no FINETUNE_RUNS_DIR)."""
    if not on_space() or persistent() or os.environ.get("FINETUNE_RUNS_DIR"):
        return None
    return ("**This Space has no persistent storage:** runs, their models and the downloaded models are kept on a "
            "disk that every restart of the Space wipes. Download a run you want to keep (Evaluate → *Download or "
            "share this run*), or give the Space persistent storage: runs then go to `/data/runs` and the Hugging "
            "Face cache to `/data/.huggingface`.")
