"""The model card a finished run leaves: Hub metadata (ModelCardData, model-index) and the figures, from a real run."""
import json

import yaml
from huggingface_hub import ModelCard

from finetune import runs
from finetune.card import card_for_run, model_card
from finetune.config import RunConfig
from finetune.data import is_real_mrpc


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_a_finished_run_has_a_model_card_with_hub_metadata(tiny_run, tiny_bert):
    text = (tiny_run / "README.md").read_text()
    meta = _front_matter(text)
    metrics = runs.read_metrics(tiny_run)
    assert meta["pipeline_tag"] == "text-classification" and "license" not in meta  # a local model's is unknown
    assert meta["library_name"] == "transformers" and "mrpc" in meta["tags"]
    assert meta["metrics"] == ["accuracy", "f1"]
    assert "base_model" not in meta  # a local folder: nothing on the Hub to link to
    assert "datasets" not in meta  # the bundled sample is not GLUE MRPC
    results = meta["model-index"][0]["results"][0]
    assert results["task"]["type"] == "text-classification"
    assert results["dataset"]["split"] == "validation[:48]"
    assert {m["type"]: m["value"] for m in results["metrics"]} == {
        "accuracy": round(metrics["final"]["accuracy"], 4), "f1": round(metrics["final"]["f1"], 4)}
    # huggingface_hub reads it back as the same card
    assert ModelCard.load(tiny_run / "README.md").data.eval_results[0].metric_value == results["metrics"][0]["value"]


def test_the_card_shows_metrics_per_epoch_hyperparameters_references_and_how_to_load(tiny_run):
    text = (tiny_run / "README.md").read_text()
    metrics = runs.read_metrics(tiny_run)
    assert (f"| **this model** | the bundled sample, 48 validation pairs | **{metrics['final']['accuracy']:.4f}** | "
            f"**{metrics['final']['f1']:.4f}** |") in text  # what its figures were measured on
    assert "| course bert-base-uncased | real MRPC, 408 validation pairs | 0.858 | 0.900 |" in text
    assert "| always 'equivalent' | real MRPC, 408 validation pairs | 0.684 | 0.812 |" in text
    for epoch in metrics["per_epoch"]:
        assert f"| {epoch['epoch']:g} | {epoch['step']} | {epoch['accuracy']:.4f} | {epoch['f1']:.4f} |" in text
    assert "| learning rate | 0.001 |" in text and "| batch size (per process) | 16 |" in text
    assert "| processes | 1 |" in text and "| training pairs | 64 |" in text
    assert 'pipeline("text-classification", model=' in text
    assert metrics["hardware"].removeprefix("Device: ") in text
    assert "/tmp" not in text.split("## How to use")[0]  # the server's folders are not published


def test_real_mrpc_runs_name_glue_and_the_bundled_base_model(tiny_run, tmp_path, mrpc_dir):
    config = RunConfig.load(tiny_run / runs.CONFIG_FILE)
    metrics = runs.read_metrics(tiny_run)
    for data in ("hub", str(mrpc_dir)):
        assert is_real_mrpc(data)
        meta = model_card(tiny_run, RunConfig(**{**config.to_dict(), "model": "bundled", "data": data,
                                                "max_eval_samples": None}), metrics).data.to_dict()
        assert meta["base_model"] == "sentence-transformers/all-MiniLM-L6-v2" and meta["license"] == "apache-2.0"
        assert meta["datasets"] == ["nyu-mll/glue"]
        dataset = meta["model-index"][0]["results"][0]["dataset"]
        assert (dataset["type"], dataset["config"], dataset["split"]) == ("nyu-mll/glue", "mrpc", "validation")
    assert not is_real_mrpc("sample")


def test_a_run_that_predates_cards_gets_one_when_asked(tiny_run, tmp_path):
    import shutil

    old = tmp_path / tiny_run.name
    shutil.copytree(tiny_run, old)
    (old / "README.md").unlink()
    assert card_for_run(old).read_text() == (tiny_run / "README.md").read_text().replace(str(tiny_run), str(old))
    assert json.loads((old / runs.METRICS_FILE).read_text()) == runs.read_metrics(tiny_run)
