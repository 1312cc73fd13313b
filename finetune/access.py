"""What the web app may read and serve on the server: its limits and allowed folders, set by the operator's environment.

The web app is shared (a class on one Space or one laptop), so a page may load data only from the sample, the Hub,
its own uploads and the folders in $FINETUNE_DATA_DIRS, and models only from the bundled one, Hub ids, its runs and
the folders in $FINETUNE_MODEL_DIRS. The command line is not limited: its user owns the machine.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from finetune import FinetuneError, runs
from finetune.data import HUB_SOURCES, SAMPLES

DATA_DIRS_ENV = "FINETUNE_DATA_DIRS"
MODEL_DIRS_ENV = "FINETUNE_MODEL_DIRS"
MAX_FILE_SIZE_ENV = "FINETUNE_MAX_FILE_SIZE"
MAX_FILE_SIZE = "10mb"  # far above MRPC (1.5 MB for all its splits), far below what fills a small server's disk
QUEUE_SIZE_ENV = "FINETUNE_QUEUE_SIZE"
# Requests that may wait; beyond that one is refused at once ("queue full"), not left hanging. Sized for classes: 100
# students each with a question and a page's timers waiting fit many times over. Refusing sooner is no kindness: a
# refused client asks again at once, and those retries take the CPU (a trivial Gradio app under 100 clients answered
# 398 in 30 s with a queue of 64, 1,078 with 1,000).
QUEUE_SIZE = 1000
# Pages (and gradio_client Clients) whose state the app keeps, the least recently used forgotten first. Gradio keeps
# 10,000 by default, and each costs about 0.5 MB here (its copy of the page's 303 blocks): 5 GB. A thousand open pages
# is ten classes; about 0.5 GB.
SESSIONS = 1000
MAX_FILE_PAIRS = 2000  # the Playground answers a file in one request: about 20 s of the bundled model on 2 cores
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
# A Hub id: "name" or "owner/name", letters, digits, "-", "_", "."; never a path.
HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?")


class AccessError(FinetuneError):
    """A request for something the web app does not serve."""


def _roots(variable: str) -> list[Path]:
    """The folders listed in an environment variable (separated like PATH), resolved; none when it is unset."""
    items = os.environ.get(variable, "").split(os.pathsep)
    return [Path(item).expanduser().resolve() for item in items if item.strip()]


def data_roots() -> list[Path]:
    """The folders the operator lets the page load data from ($FINETUNE_DATA_DIRS)."""
    return _roots(DATA_DIRS_ENV)


def upload_dir() -> Path:
    """Where Gradio keeps the files users upload (and the files the app hands back)."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()).resolve()


def _inside(path: Path, roots: list[Path]) -> bool:
    """Whether path, with its symlinks and `..` resolved, is one of roots or under one."""
    resolved = path.expanduser().resolve()
    return any(resolved == root or resolved.is_relative_to(root) for root in roots)


def check_data(source: str) -> str:
    """The source when the page may load it: sample, hub, an upload, or a file or folder under $FINETUNE_DATA_DIRS,
    given by its path or by its name under one of those folders ("mrpc" for DIR/mrpc), then as a full path."""
    source = str(source or "").strip()
    if source in SAMPLES or source in HUB_SOURCES:
        return source
    if source and not Path(source).is_absolute():
        named = [root / source for root in data_roots() if (root / source).exists()]
        if named and _inside(named[0], data_roots()):
            return str(named[0].resolve())
    if source and _inside(Path(source), [upload_dir(), *data_roots()]):
        return source
    if not data_roots():
        raise AccessError(f"data {source!r} is not one this app serves: use the bundled sample, the Hub, or an "
                          "uploaded file (the operator has allowed no server folders)")
    raise AccessError(f"data {source!r} is not one this app serves: use the bundled sample, the Hub, an uploaded "
                      f"file, or one of the files and folders in {', '.join(map(str, data_roots()))}")


def data_choices() -> list[tuple[str, str]]:
    """(shown name, source) of what the page may load from the allowed folders: their files and folders, one level
    down, that hold data the loader reads."""
    from finetune.data import FILE_TYPES

    found = []
    for root in data_roots():
        if not root.is_dir():
            continue
        for item in sorted(root.iterdir()):
            if item.name.startswith("."):
                continue
            if item.is_dir() or item.suffix.lower() in FILE_TYPES:
                found.append((f"{item.name} (in {root})", str(item.resolve())))
    return found


def check_model(name: str) -> str:
    """name when the page may load it: 'bundled', a Hub id, a run of this app, a folder under $FINETUNE_MODEL_DIRS."""
    name = str(name or "").strip()
    path = Path(name).expanduser()
    # An existing path is judged as a path even when it looks like a Hub id ("runs", "assets"), as from_pretrained
    # would.
    if path.exists() and _inside(path, [runs.runs_dir().resolve(), *_roots(MODEL_DIRS_ENV)]):
        return name
    if name == "bundled" or (not path.exists() and HUB_ID.fullmatch(name) and ".." not in name):
        return name
    raise AccessError(f"model {name!r} is not one this app loads: use 'bundled', a Hub id (such as bert-base-uncased) "
                      f"or a finished run; the command line (python -m finetune) takes any model folder")


def max_file_size() -> str:
    """The largest upload, as Gradio's launch(max_file_size=...) takes it: '10mb' unless $FINETUNE_MAX_FILE_SIZE
    says."""
    return os.environ.get(MAX_FILE_SIZE_ENV, "").strip() or MAX_FILE_SIZE


def queue_size() -> int:
    """How many requests may wait in the app's queue before more are refused as 'queue full'."""
    value = os.environ.get(QUEUE_SIZE_ENV, "").strip()
    if value and not (value.isdigit() and int(value) > 0):
        raise AccessError(f"${QUEUE_SIZE_ENV} must be a whole number above 0, got {value!r}")
    return int(value) if value else QUEUE_SIZE


def blocked_paths() -> list[str]:
    """Never served over HTTP whatever else allows it: the runs (checkpoints, pids, logs), the source, the data folders.

    Gradio's own $GRADIO_BLOCKED_PATHS is kept, since passing blocked_paths to launch() replaces it.
    """
    own = [runs.runs_dir().resolve(), PACKAGE_ROOT / "finetune", PACKAGE_ROOT / "app.py", PACKAGE_ROOT / "tests",
           *data_roots()]
    # A blocked folder holding the upload folder would block the uploads and the answer files too.
    own = [path for path in own if not upload_dir().is_relative_to(path)]
    extra = [item.strip() for item in os.environ.get("GRADIO_BLOCKED_PATHS", "").split(",") if item.strip()]
    return [str(path) for path in own] + extra


def launch_settings() -> dict:
    """The keyword arguments of demo.launch() that set what the app serves and accepts."""
    return {"max_file_size": max_file_size(), "allowed_paths": [], "blocked_paths": blocked_paths(),
            "state_session_capacity": SESSIONS}


def real_mrpc_choices() -> list[tuple[str, str]]:
    """(shown name, source) of real MRPC at hand for the page: the Hub when it answers or its copy is cached, and
    MRPC folders among the allowed ones."""
    from finetune.data import hub_mrpc_cached, is_real_mrpc
    from finetune.hub import hub_reachable

    found = [("GLUE MRPC from the Hub (nyu-mll/glue)", "hub")] if hub_reachable() or hub_mrpc_cached() else []
    return found + [(name, source) for name, source in data_choices() if is_real_mrpc(source)]
