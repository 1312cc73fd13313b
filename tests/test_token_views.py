"""The Tokens tab's views: each token with its segment, and one table row per position."""
import pytest

from finetune.models import load_tokenizer
from finetune.tokens import SEGMENTS, SPECIAL, pair_rows, segments, tokenize_pair


def test_segments_follow_token_type_ids_and_mark_the_special_tokens():
    view = tokenize_pair(load_tokenizer("bundled"), "He left.", "She stayed.")
    assert segments(view) == [("[CLS]", SPECIAL), ("he", SEGMENTS[0]), ("left", SEGMENTS[0]), (".", SEGMENTS[0]),
                              ("[SEP]", SPECIAL), ("she", SEGMENTS[1]), ("stayed", SEGMENTS[1]), (".", SEGMENTS[1]),
                              ("[SEP]", SPECIAL)]


def test_without_token_type_ids_the_first_separator_splits_the_segments(tiny_distilbert):
    view = tokenize_pair(load_tokenizer(str(tiny_distilbert)), "the company", "it said")
    assert "token_type_ids" not in view
    first, second = SEGMENTS
    assert [part for _, part in segments(view)] == [SPECIAL, first, first, SPECIAL, second, second, SPECIAL]


@pytest.mark.parametrize("model", ["bundled", "distilbert"])
def test_pair_rows_hold_the_ids_the_model_reads(model, tiny_distilbert):
    tokenizer = load_tokenizer("bundled" if model == "bundled" else str(tiny_distilbert))
    view = tokenize_pair(tokenizer, "He left.", "She stayed.")
    rows = pair_rows(view)
    assert [r["token"] for r in rows] == view["tokens"] and [r["input_ids"] for r in rows] == view["input_ids"]
    assert [r["position"] for r in rows if r["special"]] == view["special_positions"]
    assert ("token_type_ids" in rows[0]) == (model == "bundled")
