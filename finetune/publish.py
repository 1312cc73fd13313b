"""Push a finished run to the Hugging Face Hub: its final model, model card, metrics and settings, in one commit."""
from __future__ import annotations

import re
from pathlib import Path

from finetune import FinetuneError, runs

NO_TOKEN = ("pushing to the Hub needs a Hugging Face token with write access: create one at "
            "https://huggingface.co/settings/tokens, then set HF_TOKEN or run `hf auth login` on the server")
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")


class PushError(FinetuneError):
    """A push that cannot be made: no token, a bad repo id, or the Hub refusing or out of reach."""


def hub_token() -> str | None:
    """HF_TOKEN, else the token `hf auth login` saved; never printed."""
    from huggingface_hub import get_token

    return get_token()


def upload_plan(run_dir: Path) -> dict[str, Path]:
    """path in the repo -> file in the run: the model at the top (so from_pretrained(repo_id) loads it) and the card."""
    from finetune.card import CARD_FILE, card_for_run

    run_dir = Path(run_dir)
    model_dir = run_dir / runs.MODEL_DIR
    if not (model_dir / "config.json").is_file() or runs.read_metrics(run_dir) is None:
        raise PushError(f"run {run_dir.name} has not finished: only a finished run has a model to push")
    card_for_run(run_dir)
    plan = {p.relative_to(model_dir).as_posix(): p for p in sorted(model_dir.rglob("*")) if p.is_file()}
    # The RunConfig is renamed: config.json at the top of a model repo is the model's.
    plan.update({CARD_FILE: run_dir / CARD_FILE, runs.METRICS_FILE: run_dir / runs.METRICS_FILE,
                 "run_config.json": run_dir / runs.CONFIG_FILE})
    return plan


def push_run(run_dir: Path, repo_id: str, private: bool = False, api=None) -> str:
    """Create the model repo (if need be) and commit the run's files to it; return the repo's URL."""
    from huggingface_hub import CommitOperationAdd, HfApi

    repo_id = (repo_id or "").strip()
    if not REPO_ID.match(repo_id):
        raise PushError(f"repo id must be USER/NAME (or ORG/NAME), got {repo_id!r}")
    token = hub_token()
    if not token:
        raise PushError(NO_TOKEN)
    plan = upload_plan(run_dir)
    api = api or HfApi(token=token)
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(path)) for name, path in plan.items()]
        api.create_commit(repo_id, operations, commit_message=f"finetune run {Path(run_dir).name}", repo_type="model")
    except Exception as err:  # the Hub's errors (HTTP, offline, auth) all end the push the same way: one line
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise PushError(f"the Hub refused or could not be reached: {first}") from err
    return str(url)
