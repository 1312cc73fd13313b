"""A finished run as a zip: model, card, metrics, config, events and predictions; never the checkpoints."""
import shutil
import zipfile

import pytest

from finetune import runs
from finetune.export import EXPORTS_DIR, zip_run


def test_zip_holds_the_final_model_card_metrics_config_and_events_but_not_checkpoints(listed_run):
    path = zip_run(listed_run)
    assert path == runs.runs_dir() / EXPORTS_DIR / f"{listed_run.name}.zip"
    names = set(zipfile.ZipFile(path).namelist())
    top = {f"{listed_run.name}/{name}" for name in ("README.md", "config.json", "metrics.json", "events.jsonl",
                                                    "predictions.jsonl", "model/config.json", "model/model.safetensors",
                                                    "model/tokenizer.json")}
    assert top <= names
    assert not any("/checkpoints/" in name for name in names)
    assert (listed_run / runs.CHECKPOINTS_DIR).is_dir()  # they exist, and stay behind
    assert zipfile.ZipFile(path).read(f"{listed_run.name}/metrics.json") == (listed_run / "metrics.json").read_bytes()


def test_the_zipped_model_loads_and_answers(listed_run, tmp_path):
    from finetune.predict import Predictor

    zipfile.ZipFile(zip_run(listed_run, tmp_path / "out")).extractall(tmp_path / "unzipped")
    answer = Predictor(str(tmp_path / "unzipped" / listed_run.name)).predict("He left.", "He went away.")
    assert answer == Predictor(str(listed_run)).predict("He left.", "He went away.")


def test_the_exports_folder_is_not_listed_as_a_run(listed_run):
    zip_run(listed_run)
    assert runs.list_runs() == [listed_run]


def test_a_run_without_a_final_model_is_refused(listed_run):
    shutil.rmtree(listed_run / runs.MODEL_DIR)
    with pytest.raises(runs.RunError, match="no final model to download"):
        zip_run(listed_run)


def test_the_evaluate_tab_zips_into_gradios_own_folder_which_it_serves(listed_run):
    import gradio as gr
    from gradio.utils import get_upload_folder, is_in_or_equal

    from finetune.ui.evaluate import download

    path = download(listed_run.name)
    assert is_in_or_equal(path, get_upload_folder()) and zipfile.ZipFile(path).testzip() is None
    with pytest.raises(gr.Error, match="pick a finished run"):
        download(None)
