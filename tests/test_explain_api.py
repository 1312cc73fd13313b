"""The explain endpoints through gradio_client against the real app: /explain, /attention, /counterfactual."""
import shutil

import numpy as np
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

SENATOR = ("The senator voted for the bill on Tuesday.", "The senator voted against the bill on Tuesday.")


@pytest.fixture(scope="module")
def served(app_server, bundled_run):
    """The app with a finished run of the bundled model in its runs folder, and a client on it."""
    shutil.copytree(bundled_run, app_server.runs_dir / bundled_run.name)
    return bundled_run.name, Client(app_server.url, verbose=False)


def test_explain_scores_every_token_for_the_run_and_its_base(served):
    run, client = served
    found = client.predict(*SENATOR, run, api_name="/explain")
    view = client.predict(*SENATOR, api_name="/tokenize")
    for answer in (found, found["base"]):
        assert [t["token"] for t in answer["tokens"]] == view["tokens"]
        assert [t["segment"] for t in answer["tokens"]] == view["token_type_ids"]
        assert [i for i, t in enumerate(answer["tokens"]) if t["special"]] == view["special_positions"]
        assert answer["method"] == "gradient_x_input" and answer["delta"] is None and answer["seconds"] > 0
        assert answer["label"] == max(answer["probabilities"], key=answer["probabilities"].get)
    assert found["label"] == client.predict(*SENATOR, run, api_name="/predict")["label"]


def test_integrated_gradients_through_the_api_report_both_ends_and_a_small_delta(served):
    run, client = served
    found = client.predict(*SENATOR, run, "integrated_gradients", api_name="/explain")
    for answer in (found, found["base"]):
        total = sum(t["score"] for t in answer["tokens"])
        change = answer["target_logit"] - answer["baseline_logit"]
        assert total - change == pytest.approx(answer["delta"], abs=1e-6)
        assert abs(answer["delta"]) < 1e-3 * sum(abs(t["score"]) for t in answer["tokens"])


def test_attention_rows_sum_to_one_for_the_run_and_its_base(served):
    run, client = served
    found = client.predict(*SENATOR, run, 2, -1, api_name="/attention")
    for answer in (found, found["base"]):
        weights = np.array(answer["weights"])
        assert answer["layer"] == 2 and answer["head"] == -1 and weights.shape == (len(answer["tokens"]),) * 2
        assert np.allclose(weights.sum(axis=1), 1, atol=1e-5)


def test_each_counterfactual_flips_the_runs_answer_when_asked_again(served):
    run, client = served
    found = client.predict(*SENATOR, run, api_name="/counterfactual")
    assert found["edits"] and 0 < found["forwards"] <= 1 + 256 + 10
    for edit in found["edits"]:
        again = client.predict(edit["sentence1"], edit["sentence2"], run, api_name="/predict")
        assert again["label"] == edit["label"] != found["original"]["label"]


@pytest.mark.parametrize("endpoint, args, words", [
    ("/explain", ("  ", "A cat."), "sentence1 is empty: type both sentences"),
    ("/attention", ("A cat.", ""), "sentence2 is empty: type both sentences"),
    ("/counterfactual", ("", "A cat."), "sentence1 is empty: type both sentences"),
    ("/explain", ("A cat.", "A dog.", "nope"), "no run named 'nope'"),
    ("/counterfactual", ("A cat.", "A dog.", "../../etc"), "no run named '../../etc'"),
    ("/explain", ("A cat.", "A dog.", "", "lime"), "unknown method 'lime'"),
    ("/attention", ("A cat.", "A dog.", "", 0, 12), "heads 0 to 11"),
    ("/attention", ("A cat.", "A dog.", "", 9, -1), "layers 0 to 5"),
])
def test_bad_requests_are_refused_in_one_line(served, endpoint, args, words):
    with pytest.raises(AppError, match=words):
        served[1].predict(*args, api_name=endpoint)


def test_a_huge_pair_is_cut_to_the_models_length(served):
    run, client = served
    found = client.predict("word " * 20_000, "another " * 20_000, run, api_name="/explain")
    assert len(found["tokens"]) == len(found["base"]["tokens"]) == 128
    assert client.predict("word " * 20_000, "another " * 20_000, run, api_name="/counterfactual")["forwards"] > 1
