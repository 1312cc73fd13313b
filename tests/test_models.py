"""Model resolution: the bundled MiniLM, local folders, run folders, and Hub ids with no network."""
import time

import pytest

from finetune.models import (
    ModelError,
    bundled_model_dir,
    load_classifier,
    load_tokenizer,
    resolve_model,
)


def test_bundled_is_the_installed_minilm():
    folder = bundled_model_dir()
    assert (folder / "model.safetensors").is_file()
    model = load_classifier("bundled", seed=0)
    assert model.config.num_hidden_layers == 6 and model.config.hidden_size == 384
    assert model.config.id2label == {0: "not_equivalent", 1: "equivalent"}


def test_same_seed_gives_the_same_classifier_head():
    a, b = load_classifier("bundled", seed=3), load_classifier("bundled", seed=3)
    c = load_classifier("bundled", seed=4)
    assert (a.classifier.weight == b.classifier.weight).all()
    assert not (a.classifier.weight == c.classifier.weight).all()


def test_run_folder_resolves_to_its_final_model(tmp_path, tiny_bert):
    (tmp_path / "model").symlink_to(tiny_bert)
    assert resolve_model(str(tmp_path)) == str(tmp_path / "model")
    assert resolve_model(str(tiny_bert)) == str(tiny_bert)


def test_missing_or_empty_folders_are_clear_errors(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model(str(tmp_path / "nope"))
    with pytest.raises(ModelError, match="holds no model"):
        resolve_model(str(tmp_path))


def test_hub_id_offline_and_not_cached_fails_fast_naming_the_bundled_model():
    started = time.monotonic()
    with pytest.raises(ModelError, match="the bundled model \\('bundled'"):
        load_tokenizer("bert-base-uncased")
    assert time.monotonic() - started < 30  # no retry loop: a hang guard, not a speed check


def test_unreachable_hub_switches_to_cache_only_mode(monkeypatch):
    from finetune import hub

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens
    hub.hub_reachable.cache_clear()
    try:
        assert hub.use_cache_when_offline() is True
        import huggingface_hub.constants

        assert huggingface_hub.constants.HF_HUB_OFFLINE is True
    finally:
        hub.hub_reachable.cache_clear()
