"""Shared fixtures: an isolated runs folder and environment per test, real MRPC files, a tiny random BERT."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_MRPC = REPO.parent / "shared" / "data" / "mrpc"
SAMPLE = REPO / "assets" / "sample"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Each test gets its own runs folder and never touches the user's Hugging Face cache or the network."""
    monkeypatch.setenv("FINETUNE_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)


@pytest.fixture
def mrpc_dir() -> Path:
    if not (SHARED_MRPC / "msr_paraphrase_train.txt").is_file():
        pytest.skip(f"real MRPC files not found in {SHARED_MRPC}")
    return SHARED_MRPC


def _words() -> list[str]:
    text = " ".join(json.loads(line)[key] for f in SAMPLE.glob("*.jsonl")
                    for line in f.read_text().splitlines() for key in ("sentence1", "sentence2"))
    return sorted(set(re.findall(r"[a-z]+|[0-9]|[^\sa-z0-9]", text.lower())))


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A 2-layer random BERT with a hand-made vocabulary: fast where real weights add nothing."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *_words()]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizer(vocab=str(folder / "vocab.txt")).save_pretrained(folder)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=2)
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_distilbert(tmp_path_factory) -> Path:
    """A random DistilBERT: its tokenizer makes no token_type_ids."""
    from transformers import DistilBertConfig, DistilBertForSequenceClassification, DistilBertTokenizer

    folder = tmp_path_factory.mktemp("tiny-distilbert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *_words()]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    DistilBertTokenizer(vocab=str(folder / "vocab.txt")).save_pretrained(folder)
    config = DistilBertConfig(vocab_size=len(vocab), dim=32, n_layers=1, n_heads=2, hidden_dim=64, max_position_embeddings=128)
    DistilBertForSequenceClassification(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_bert) -> Path:
    """A finished run of the tiny BERT (in-process, seconds); copy it into a test's runs folder to list it there."""
    from finetune.config import RunConfig
    from finetune.train import train

    run_dir = tmp_path_factory.mktemp("finished") / "20260101-000000-tiny-bert"
    train(RunConfig.from_preset("default", model=str(tiny_bert), data="sample", epochs=2, batch_size=16, learning_rate=1e-3,
                                logging_steps=5, precision="fp32", max_train_samples=64, max_eval_samples=48), run_dir)
    return run_dir
