"""What the tabs share: user errors shown as gr.Error, whom an upload counts against, and the run lists of the
dropdowns."""
from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

import gradio as gr

from finetune import FinetuneError
from finetune.runs import RunState
from finetune.status import RunStatus, all_statuses
from finetune.tasks import METRIC_KEYS

NO_RUN_YET = ("No finished run yet. Start one in the **Train** tab (the *demo* preset takes about a minute), "
              "or from a terminal: `python -m finetune train --preset demo`.")


def user_errors(fn):
    """Run fn; a FinetuneError (bad setting, data, model or run) becomes a gr.Error with its one-line message."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except FinetuneError as err:
            raise gr.Error(str(err), print_exception=False) from None
    return wrapper


def session_owner(token: str | None, request: gr.Request | None) -> str:
    """Whom an upload counts against: the page's owner token, else (a request made without one) its Gradio session."""
    return token or f"session-{getattr(request, 'session_hash', None) or 'none'}"


SHORT = {"accuracy": "acc", "f1": "F1", "macro_f1": "macro F1", "matthews_correlation": "MCC", "pearson": "Pearson",
         "spearmanr": "Spearman"}


def run_label(status: RunStatus) -> str:
    metrics = status.metrics
    scored = "".join(f" · {SHORT[k]} {metrics[k]:.3f}" for k in METRIC_KEYS if (metrics or {}).get(k) is not None)
    return f"{status.run} · {status.state}{scored}"


def run_choices(finished_only: bool = False) -> list[tuple[str, str]]:
    """(label, run name) pairs for a dropdown, newest first."""
    return [(run_label(s), s.run) for s in all_statuses() if not finished_only or s.state is RunState.FINISHED]


def finished_runs_dropdown(selected: str | None = None) -> dict:
    """A dropdown update listing the finished runs, keeping `selected` when it is still there, else the newest."""
    choices = run_choices(finished_only=True)
    names = [name for _, name in choices]
    return gr.update(choices=choices, value=selected if selected in names else (names[0] if names else None))


def gradio_temp_dir() -> Path:
    """Where Gradio keeps the files it serves (GRADIO_TEMP_DIR, else the system's temp folder): a zip made there
    can be downloaded whatever the runs folder is, and is cleaned with Gradio's own files."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio") / "finetune-exports"
