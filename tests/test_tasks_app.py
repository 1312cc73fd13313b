"""Runs of other tasks than MRPC in the app, through gradio_client as a script uses it: /train on the sentiment
sample followed to the end, /predict with one sentence or for a score, and their refusals in one line."""
import shutil

import pytest
from conftest import follow
from gradio_client import Client
from gradio_client.exceptions import AppError


@pytest.fixture(scope="module")
def client(app_server):
    return Client(app_server.url, verbose=False)


def listed(app_server, run_dir):
    target = app_server.runs_dir / run_dir.name
    if not target.exists():
        shutil.copytree(run_dir, target)
    return target.name


def test_a_training_on_the_sentiment_sample_ends_with_its_labels_and_metrics(client, tiny_bert):
    settings = {"epochs": 1, "batch_size": 16, "learning_rate": 1e-3, "precision": "fp32", "max_train_samples": 48}
    run = client.predict(str(tiny_bert), "sentiment-sample", "default", settings, api_name="/train")["run"]
    final = follow(client, run, lambda s: s["state"] not in {"queued", "starting", "running"})
    assert final["state"] == "finished", final
    assert {"accuracy", "macro_f1"} <= set(final["metrics"]) and final["metrics"]["n"] == 120
    assert len(final["metrics"]["confusion_matrix"]) == 3
    assert {"accuracy", "macro_f1"} <= set(final["evaluations"][-1])
    answer = client.predict("The soup was cold and the waiter was rude.", "", run, api_name="/predict")
    assert {c["label"] for c in answer["confidences"]} == {"negative", "neutral", "positive"}
    with pytest.raises(AppError, match="this model answers single sentences .* leave sentence2 empty"):
        client.predict("The soup was cold.", "It was late.", run, api_name="/predict")


def test_a_score_run_answers_a_number_and_a_pair_run_needs_both_sentences(client, app_server, score_run, tiny_run):
    score = client.predict("the cat 3 .", "a dog 3 .", listed(app_server, score_run), api_name="/predict")
    assert set(score) == {"score"} and isinstance(score["score"], float)
    with pytest.raises(AppError, match="sentence2 is empty: type both sentences"):
        client.predict("the cat 3 .", "", listed(app_server, tiny_run), api_name="/predict")


def test_tokenize_takes_one_sentence_as_a_single_segment(client):
    view = client.predict("He left.", "", api_name="/tokenize")
    assert view["tokens"] == ["[CLS]", "he", "left", ".", "[SEP]"] and view["token_type_ids"] == [0] * 5
