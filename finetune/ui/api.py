"""The endpoints for gradio_client: /predict, /tokenize, /train, /sweep, /status, /sweep_status, /stop, /resume,
/delete, /runs, and the explain views' /explain, /attention and /counterfactual."""
import gradio as gr

from finetune import jobs, runs, sweep, uploads
from finetune.access import check_data, check_model
from finetune.config import RunConfig
from finetune.models import load_tokenizer
from finetune.predict import TOGETHER, check_pair, check_texts, run_predictor
from finetune.status import all_statuses, status_of
from finetune.tasks import GLUE
from finetune.tokens import tokenize_pair
from finetune.ui.common import user_errors
from finetune.ui.explain_api import attention, counterfactual, explain


@user_errors
def predict(sentence1: str, sentence2: str = "", run: str = "") -> dict:
    """Is sentence2 a paraphrase of sentence1? The label and a confidence per label, from `run` (default: the latest
    finished); its own labels for a run of another task, sentence2 left empty for a run of single sentences, and
    {"score"} for a run that predicts a score."""
    if (sentence2 or "").strip():
        check_pair(sentence1, sentence2)
    run_dir = runs.finished_run(run)
    answer = run_predictor(run_dir).answer(*check_texts(runs.run_task(run_dir), sentence1, sentence2))
    if "score" in answer:
        return {"score": answer["score"]}
    ranked = sorted(answer["probabilities"].items(), key=lambda item: item[1], reverse=True)
    return {"label": answer["label"], "confidences": [{"label": name, "confidence": p} for name, p in ranked]}


@user_errors
def tokenize(sentence1: str, sentence2: str = "", model: str = "bundled") -> dict:
    """The pair's (or, sentence2 empty, the sentence's) tokens, input_ids, token_type_ids and attention_mask, and
    where the special tokens are."""
    if not (sentence2 or "").strip():
        check_texts(GLUE["sst2"], sentence1)
        return tokenize_pair(load_tokenizer(check_model(model)), sentence1, None)
    check_pair(sentence1, sentence2)
    return tokenize_pair(load_tokenizer(check_model(model)), sentence1, sentence2)


def _config(model: str, data: str, preset: str, settings: dict | None, owner: str) -> RunConfig:
    """A run's settings from an API call; a file uploaded to the app (/gradio_api/upload) counts against the owner's
    uploads, as from the page."""
    model, data = check_model(model), uploads.admit(owner, check_data(data))
    return RunConfig.from_preset(preset, model=model, data=data, **(settings or {}))


@user_errors
def train(model: str = "bundled", data: str = "sample", preset: str = "demo", settings: dict | None = None,
          owner: str = "") -> dict:
    """Queue a training run (the preset, then any RunConfig fields in `settings`); returns at once the run's id and
    the owner token that /stop, /resume and /delete need (`owner`: reuse a token of yours, else a new one is made)."""
    owner = owner or runs.new_owner_token()
    config = _config(model, data, preset, settings, owner)
    run_dir = jobs.start(config, owner=owner)
    return {"run": run_dir.name, "owner": owner}


@user_errors
def sweep_runs(model: str = "bundled", data: str = "sample", preset: str = "demo", settings: dict | None = None,
               space: dict | None = None, owner: str = "") -> dict:
    """Queue a sweep: `space` is {"grid": {setting: [values]}} and/or {"search": {setting: {"low", "high", "log"}},
    "trials": N}; every trial is a run of the preset and `settings` with the trial's values. Returns the sweep's name,
    its first runs and the owner token that /stop needs."""
    owner = owner or runs.new_owner_token()
    config = _config(model, data, preset, settings, owner)
    folder = sweep.create(config, sweep.Space.from_dict(space or {}), owner=owner)
    return {"sweep": folder.name, "runs": [t["run"] for t in sweep.read(folder)["trials"]], "owner": owner}


@user_errors
def sweep_status(name: str) -> dict:
    """The sweep's state, its trials table (settings, state, main metric, seconds, run; the best marked) and best."""
    return sweep.summary(sweep.read(sweep.find_sweep(name)))


@user_errors
def status(run: str) -> dict:
    """The run's state (queued with its queue_position, starting, running, ...), step, max_steps, epoch, latest loss,
    evaluations, final metrics and ETA."""
    return status_of(runs.find_run(run)).to_dict()


@user_errors
def stop(run: str, owner: str = "") -> dict:
    """Ask the run to save a checkpoint and stop (a queued one leaves the queue); returns its status. Given a sweep's
    name, the sweep stops (its live trial too, its queued ones leave the queue); returns the sweep's status."""
    if sweep.is_sweep(run):
        return sweep.summary(sweep.stop(sweep.find_sweep(run), owner=owner))
    jobs.stop(runs.find_run(run), owner=owner)
    return status_of(runs.find_run(run)).to_dict()


@user_errors
def resume(run: str, owner: str = "") -> dict:
    """Queue a stopped, interrupted or failed run to continue from its last checkpoint; returns its status."""
    return status_of(jobs.resume(runs.find_run(run), owner=owner)).to_dict()


@user_errors
def delete(run: str, owner: str = "") -> list[dict]:
    """Remove a run that is not queued or live, folder and all; returns the remaining runs."""
    jobs.delete(runs.find_run(run), owner=owner)
    return [status.to_dict() for status in all_statuses()]


@user_errors
def list_runs() -> list[dict]:
    """Every run's status, newest first."""
    return [status.to_dict() for status in all_statuses()]


# The views that compute alone (tokens, explanations) two at a time, the cores of a small server; more only slows
# each one down.
INFERENCE = {"concurrency_limit": 2, "concurrency_id": "inference"}
# Questions are answered together (Predictor.answer): a class's questions wait in threads for the pass under way to
# end, then go in the next one. Gradio's own batching (batch=True) would do it with fewer threads, but an error there
# fails the whole batch: one student's empty sentence would fail everyone's answer.
ANSWERING = {"concurrency_limit": TOGETHER, "concurrency_id": "answering"}


def create_api() -> None:
    gr.api(predict, api_name="predict", **ANSWERING)
    gr.api(tokenize, api_name="tokenize", **INFERENCE)
    for fn in (explain, attention, counterfactual):
        gr.api(fn, api_name=fn.__name__, **INFERENCE)
    for fn in (train, status, stop, resume, delete, sweep_status):
        gr.api(fn, api_name=fn.__name__)
    gr.api(sweep_runs, api_name="sweep")
    gr.api(list_runs, api_name="runs")
