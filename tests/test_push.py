"""Pushing a run to the Hub: refused in one line without a token (for real); with one, what a faked HfApi receives.

The Hub is out of reach here, so the upload itself is checked on a fake that records the calls."""
from pathlib import Path

import pytest

from finetune import publish, runs

TOKEN = "hf_fakeTokenForTests0123456789"


class FakeHfApi:
    """Records create_repo / create_commit as HfApi would receive them."""

    def __init__(self):
        self.calls = []

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))
        return f"https://huggingface.co/{repo_id}"

    def create_commit(self, repo_id, operations, **kwargs):
        self.calls.append(("create_commit", repo_id, {op.path_in_repo: Path(op.path_or_fileobj) for op in operations}))


def test_without_a_token_the_cli_refuses_in_one_line(listed_run, capsys):
    from finetune.cli import main

    assert main(["push", listed_run.name, "--repo-id", "someone/mrpc"]) == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {publish.NO_TOKEN}"]


def test_without_a_token_the_core_refuses_before_any_upload(listed_run):
    api = FakeHfApi()
    with pytest.raises(publish.PushError, match="needs a Hugging Face token"):
        publish.push_run(listed_run, "someone/mrpc", api=api)
    assert api.calls == []


def test_with_a_token_the_model_at_the_top_card_metrics_and_settings_go_up_in_one_commit(listed_run, monkeypatch,
                                                                                         capsys):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    api = FakeHfApi()
    url = publish.push_run(listed_run, "someone/mrpc-minilm", private=True, api=api)
    assert url == "https://huggingface.co/someone/mrpc-minilm"
    (create, repo_id, options), (commit, commit_repo, files) = api.calls
    assert (create, commit) == ("create_repo", "create_commit")
    assert repo_id == commit_repo == "someone/mrpc-minilm"
    assert options["private"] is True and options["exist_ok"] is True
    model_files = {p.name for p in (listed_run / runs.MODEL_DIR).iterdir()}
    assert set(files) == model_files | {"README.md", "metrics.json", "run_config.json"}
    assert files["config.json"] == listed_run / "model" / "config.json"  # the model's, at the top of the repo
    assert files["run_config.json"] == listed_run / "config.json"
    assert not any("checkpoint" in name for name in files)
    assert TOKEN not in capsys.readouterr().out


def test_the_cli_pushes_with_a_token_through_huggingface_hub(listed_run, monkeypatch, capsys):
    from finetune.cli import main

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    api = FakeHfApi()
    monkeypatch.setattr("huggingface_hub.HfApi", lambda token: api if token == TOKEN else None)
    assert main(["push", str(listed_run), "--repo-id", "someone/mrpc"]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == f"pushed {listed_run.name} to https://huggingface.co/someone/mrpc"
    assert TOKEN not in out.out + out.err
    assert api.calls[0][2]["private"] is False


@pytest.mark.parametrize("repo_id", ["", "no-owner", "a/b/c", "someone/bad name"])
def test_a_bad_repo_id_is_refused(listed_run, repo_id, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with pytest.raises(publish.PushError, match="repo id must be USER/NAME"):
        publish.push_run(listed_run, repo_id, api=FakeHfApi())


def test_the_hub_out_of_reach_is_one_line(listed_run, monkeypatch):
    """A real HfApi in offline mode (as here, with no network): the error is the Hub's, in one line."""
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with pytest.raises(publish.PushError, match="^the Hub refused or could not be reached: ") as err:
        publish.push_run(listed_run, "someone/mrpc")
    assert "\n" not in str(err.value) and TOKEN not in str(err.value)


def test_an_unfinished_run_is_refused(listed_run, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    (listed_run / runs.METRICS_FILE).unlink()
    with pytest.raises(publish.PushError, match="has not finished"):
        publish.push_run(listed_run, "someone/mrpc", api=FakeHfApi())


def test_the_evaluate_tab_says_what_is_needed_without_a_token_and_pushes_with_one(listed_run, monkeypatch):
    import gradio as gr

    from finetune.ui import evaluate

    assert evaluate.token_status() == f"No token: {publish.NO_TOKEN}."
    with pytest.raises(gr.Error, match="needs a Hugging Face token"):
        evaluate.push(listed_run.name, "someone/mrpc", True)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    api = FakeHfApi()
    monkeypatch.setattr("huggingface_hub.HfApi", lambda token: api)
    assert TOKEN not in evaluate.token_status()
    assert evaluate.push(listed_run.name, "someone/mrpc", True) == (
        f"Pushed **{listed_run.name}** to [https://huggingface.co/someone/mrpc](https://huggingface.co/someone/mrpc).")
    assert api.calls[0][2]["private"] is True
