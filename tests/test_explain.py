"""The explain views on real parts: integrated gradients' completeness on the bundled MiniLM, the tokenizer's own
tokens, attention rows that sum to 1, edits that flip the answer when asked again, slices that add up, a projection
computed once, and the command line."""
import json
import math

import numpy as np
import pytest
from test_cli import cli

from finetune import FinetuneError, projection
from finetune.counterfactual import BUDGET, WANTED, one_word_edits, search
from finetune.data import load_mrpc
from finetune.explain import attention_weights, token_scores
from finetune.explainer import Explainer, ExplainError
from finetune.predict import cached_predictor
from finetune.projection import run_projection
from finetune.slices import slices
from finetune.tokens import tokenize_pair

PAIR = ("Revenue for the quarter rose 5 percent to $2.1 billion, the company said on Tuesday.",
        "The company said on Tuesday that quarterly revenue had increased by 5 percent to $2.1 billion.")
SENATOR = ("The senator voted for the bill on Tuesday.", "The senator voted against the bill on Tuesday.")


@pytest.fixture(scope="module")
def explainer():
    """The bundled MiniLM with the seeded head a run of it starts from (its base model)."""
    return Explainer("bundled", seed=42)


def _margin_without_words(explainer, sentence1, sentence2, target):
    """The model's margin on the baseline as plain ids: [PAD] at every token but [CLS] and [SEP]."""
    import torch

    encoded = explainer.encode(sentence1, sentence2)
    inputs = {key: value.clone() for key, value in encoded.inputs.items()}
    inputs["input_ids"][0, ~torch.tensor(encoded.special)] = explainer.tokenizer.pad_token_id
    with torch.inference_mode():
        logits = explainer.model(**inputs).logits[0]
    return float(logits[target] - logits[1 - target])


def test_integrated_gradients_add_up_to_the_change_of_the_answer_within_a_small_delta(explainer):
    found = token_scores(explainer, *SENATOR, "integrated_gradients")
    change = found["target_logit"] - found["baseline_logit"]
    scores = [token["score"] for token in found["tokens"]]
    assert sum(scores) - change == pytest.approx(found["delta"], abs=1e-7)
    # 32 Gauss-Legendre steps: measured 3e-5 here, 0.1 % of the change and 0.06 % of the scores' total size
    assert abs(found["delta"]) < 0.01 * abs(change) and abs(found["delta"]) < 1e-3 * sum(map(abs, scores))
    # Both ends are the model's own answers: at the input the log-odds of its probabilities, at the baseline the answer
    # to [PAD] in place of every word.
    label, other = found["label"], next(name for name in found["probabilities"] if name != found["label"])
    odds = found["probabilities"][label] / found["probabilities"][other]
    assert found["target_logit"] == pytest.approx(math.log(odds), abs=1e-5)
    target = list(found["probabilities"]).index(label)
    assert found["baseline_logit"] == pytest.approx(_margin_without_words(explainer, *SENATOR, target), abs=1e-5)
    assert all(token["score"] == 0 for token in found["tokens"] if token["special"])  # kept in the baseline


def test_more_steps_change_integrated_gradients_little_and_shrink_the_delta(explainer):
    encoded = explainer.encode(*SENATOR)
    coarse, fine = explainer.integrated_gradients(encoded, 32, most=32), explainer.integrated_gradients(encoded, 64)
    largest = max(abs(score) for score in fine["scores"])
    assert np.allclose(coarse["scores"], fine["scores"], atol=0.01 * largest)
    assert abs(fine["delta"]) < abs(coarse["delta"])


def test_gradient_x_input_is_one_pass_toward_the_predicted_label(explainer):
    found = token_scores(explainer, *PAIR)
    assert found["method"] == "gradient_x_input" and found["baseline_logit"] is None and found["delta"] is None
    assert found["target_logit"] > 0  # the predicted label's logit is the larger one
    assert any(token["score"] > 0 for token in found["tokens"]) and any(token["score"] < 0 for token in found["tokens"])


def test_tokens_and_segments_are_the_tokenizers_and_pieces_merge_into_the_words_typed(explainer):
    pair = ('Amrozi accused his brother, whom he called "the witness", of deliberately distorting his evidence.',
            'Referring to him as only "the witness", Amrozi accused his brother of deliberately distorting his '
            'evidence.')
    view = tokenize_pair(explainer.tokenizer, *pair, explainer.max_length)
    pieces = token_scores(explainer, *pair)["tokens"]
    assert [token["token"] for token in pieces] == view["tokens"]
    assert [token["segment"] for token in pieces] == view["token_type_ids"]
    assert [i for i, token in enumerate(pieces) if token["special"]] == view["special_positions"]
    words = token_scores(explainer, *pair, words=True)["tokens"]
    assert "am" in view["tokens"] and "##ro" in view["tokens"]  # Amrozi is three pieces...
    assert [t["token"] for t in words if t["segment"] == 0][:3] == ["[CLS]", "Amrozi", "accused"]  # ...and one word
    assert sum(t["score"] for t in words) == pytest.approx(sum(t["score"] for t in pieces), abs=1e-5)


def test_a_blank_sentence_is_refused_and_a_huge_one_is_cut_to_the_models_length(explainer):
    with pytest.raises(FinetuneError, match="sentence2 is empty"):
        token_scores(explainer, "He left.", "   ")
    found = token_scores(explainer, "word " * 20_000, "another " * 20_000)
    assert len(found["tokens"]) == explainer.max_length == 128


@pytest.mark.parametrize("head", [-1, 0, 11])
def test_attention_rows_sum_to_one(explainer, head):
    found = attention_weights(explainer, *PAIR, layer=-1, head=head)
    weights = np.array(found["weights"])
    assert found["layer"] == 5 and weights.shape == (len(found["tokens"]), len(found["tokens"]))
    assert np.allclose(weights.sum(axis=1), 1, atol=1e-5) and (weights >= 0).all()


def test_a_layer_or_head_out_of_range_is_refused_naming_the_range(explainer):
    with pytest.raises(ExplainError, match="layers 0 to 5"):
        attention_weights(explainer, *PAIR, layer=6)
    with pytest.raises(ExplainError, match=r"heads 0 to 11 \(-1: their mean\)"):
        attention_weights(explainer, *PAIR, head=12)
    with pytest.raises(ExplainError, match="unknown method 'lime'"):
        token_scores(explainer, *PAIR, "lime")


def test_one_word_edits_negate_change_numbers_and_names_borrow_words_and_delete():
    edits = {edit.description: edited for edit, edited in one_word_edits(
        ("He did not sell 5 shares on Monday.", "He didn't buy 6 shares from Smith on Monday."))}
    assert edits['remove "not" in sentence 1'] == ("He did sell 5 shares on Monday.",
                                                   "He didn't buy 6 shares from Smith on Monday.")
    assert edits['''"didn't" → "did" in sentence 2'''][1] == "He did buy 6 shares from Smith on Monday."
    assert edits['"5" → "6" in sentence 1'][0] == "He did not sell 6 shares on Monday."
    assert edits['"Monday" → "Tuesday" in sentence 2'][1] == "He didn't buy 6 shares from Smith on Tuesday."
    assert edits['"sell" → "buy" (from sentence 2) in sentence 1'][0] == "He did not buy 5 shares on Monday."
    assert edits['delete "shares" in sentence 1'][0] == "He did not sell 5 on Monday."


def test_a_bare_past_tense_verb_is_negated_only_into_words_the_tokenizer_knows():
    from finetune.models import load_tokenizer

    vocabulary = load_tokenizer("bundled").get_vocab()
    pair = ("The senator voted for the bill and opposed the tax.", "The company's shares rose, as planned.")
    negated = {edit.description: edited for edit, edited in one_word_edits(pair, vocabulary=vocabulary)
               if "did not" in edit.description}
    assert negated == {  # the first verb of each sentence; "planned" follows "as" but is not the first
        '"voted" → "did not vote" in sentence 1': ("The senator did not vote for the bill and opposed the tax.",
                                                     pair[1]),
        '"rose" → "did not rise" in sentence 2': (pair[0], "The company's shares did not rise, as planned.")}
    # Without the vocabulary only the irregular verbs, whose bare forms are listed, are negated: no made-up word
    assert [edit.description for edit, _ in one_word_edits(pair) if "did not" in edit.description] == [
        '"rose" → "did not rise" in sentence 2']
    # after an auxiliary (its own "not" covers it), and words that only end in "ed": nothing to negate
    assert not any("did not" in edit.description for edit, _ in one_word_edits(
        ("The bill was voted down.", "Some hundred people indeed."),
        vocabulary=vocabulary))


def test_every_edit_returned_flips_the_answer_when_asked_again():
    predictor = cached_predictor("bundled", 42)  # a base model: its close calls flip, a good test of the search
    found = search(predictor, *SENATOR)
    original = found["original"]["label"]
    assert original == predictor.predict(*SENATOR)["label"]
    assert 1 <= len(found["edits"]) <= WANTED
    for edit in found["edits"]:
        assert edit["label"] != original
        assert predictor.predict(edit["sentence1"], edit["sentence2"])["label"] == edit["label"]
        assert (edit["sentence1"], edit["sentence2"]) != SENATOR
    assert [edit["words"] for edit in found["edits"]] == sorted(edit["words"] for edit in found["edits"])
    assert found["candidates"] <= BUDGET and found["forwards"] <= 1 + BUDGET + 2 * WANTED


def test_slices_add_up_to_the_split_and_show_mrpcs_overlap_shortcut(mrpc_dir):
    rows = list(load_mrpc(str(mrpc_dir))["validation"])
    found = slices(rows, [1] * len(rows))  # the always-"equivalent" baseline
    assert set(found) == {"overlap", "length", "numbers"}
    for bins in found.values():
        assert sum(row["n"] for row in bins) == len(rows) == 408
        for row in bins:  # answering "equivalent" always is right exactly as often as the label says so
            assert row["accuracy"] == pytest.approx(row["equivalent"])
    shares = [row["equivalent"] for row in found["overlap"]]
    assert shares == sorted(shares) and shares[0] < 0.3 and shares[-1] > 0.85


def test_the_projection_is_computed_once_and_kept_in_the_run_folder(listed_run, monkeypatch):
    first = run_projection(listed_run)
    assert (listed_run / "explain" / "projection.json").is_file()
    assert first["n"] == 48 == len(first["run"]["points"]) == len(first["base"]["points"]) == len(first["labels"])
    assert all(0 < share < 1 for which in ("run", "base") for share in first[which]["explained"])
    monkeypatch.setattr(projection, "_project", lambda run_dir: pytest.fail("computed again"))
    assert run_projection(listed_run) == first


def test_the_command_line_explains_a_run_beside_its_base_and_slices_an_evaluation(tiny_run):
    explained = cli("explain", "--model", tiny_run, *SENATOR, "--method", "integrated_gradients", "--json")
    found = json.loads(explained.stdout)
    assert found["method"] == found["base"]["method"] == "integrated_gradients"
    assert abs(found["delta"]) <= 1e-3 * max(abs(found["target_logit"] - found["baseline_logit"]), 1e-3)
    assert [t["token"] for t in found["tokens"]] == [t["token"] for t in found["base"]["tokens"]]
    evaluated = json.loads(cli("evaluate", "--model", tiny_run, "--data", "sample", "--slices", "--json").stdout)
    assert all(sum(row["n"] for row in bins) == evaluated["n"] for bins in evaluated["slices"].values())
    refused = cli("explain", "--model", "nope", *SENATOR, check=False)
    assert refused.returncode == 2 and refused.stderr.startswith("error: no run named 'nope'")


def test_the_drawings_escape_what_was_typed_and_keep_the_sentences_apart(explainer):
    from finetune.ui.explain_views import attention_html, scores_html

    pair = ("<script>alert(1)</script> left.", "He <b>stayed</b>.")
    drawn = scores_html(token_scores(explainer, *pair, words=True), "run")
    assert "<script>" not in drawn and "<b>stayed" not in drawn and "&lt;" in drawn and "&gt;" in drawn
    assert drawn.count('class="explain-segment"') == 2
    found = attention_weights(explainer, *pair)
    heat = attention_html(found, "run")
    first = sum(segment == 0 and not special
                for segment, special in zip(found["segments"], found["special"], strict=False))
    assert "<script>" not in heat and heat.count("<tr>") == 1 + first  # the header, then one row per sentence-1 token


def test_pooled_vectors_computed_beside_explanations_are_only_their_own(tiny_bert):
    import threading

    shared = Explainer(str(tiny_bert), seed=1)
    pairs = [(f"pair {i} has words", "another sentence here") for i in range(200)]
    alone = shared.pooled(pairs)
    done = threading.Event()

    def explain_meanwhile():
        while not done.is_set():
            token_scores(shared, *SENATOR)

    helper = threading.Thread(target=explain_meanwhile)
    helper.start()
    try:
        beside = shared.pooled(pairs)
    finally:
        done.set()
        helper.join()
    assert beside.shape == alone.shape and np.allclose(beside, alone, atol=1e-5)
