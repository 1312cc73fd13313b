"""The tokenizer's view of a pair and of a padded batch, on the bundled model's real tokenizer."""
import pytest

from finetune.models import load_tokenizer
from finetune.tokens import padded_batch, tokenize_pair

PAIR = ("Amrozi accused his brother of deliberately distorting his evidence.",
        "Referring to him as only the witness, Amrozi accused his brother of deliberately distorting his evidence.")


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("bundled")


def test_pair_has_cls_sep_and_segments_that_switch_after_the_first_sep(tokenizer):
    view = tokenize_pair(tokenizer, *PAIR)
    tokens, types = view["tokens"], view["token_type_ids"]
    first_sep = tokens.index("[SEP]")
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert set(types[: first_sep + 1]) == {0} and set(types[first_sep + 1:]) == {1}
    assert view["special_positions"] == [0, first_sep, len(tokens) - 1]
    assert view["attention_mask"] == [1] * len(tokens)
    assert len(view["input_ids"]) == len(tokens)
    assert "amrozi" in " ".join(tokens).replace(" ##", "")  # uncased WordPiece


def test_truncation_keeps_pairs_within_max_length(tokenizer):
    view = tokenize_pair(tokenizer, "word " * 400, "other " * 400, max_length=64)
    assert len(view["input_ids"]) == 64 and view["tokens"][-1] == "[SEP]"


def test_padded_batch_pads_every_row_to_the_longest_with_mask_zeros(tokenizer):
    pairs = [("A short one.", "Tiny."), PAIR, ("Medium length sentence here.", "And its partner.")]
    batch = padded_batch(tokenizer, pairs)
    longest = max(batch["lengths"])
    assert batch["shape"] == [3, longest]
    for row, length in enumerate(batch["lengths"]):
        assert batch["attention_mask"][row] == [1] * length + [0] * (longest - length)
        assert batch["tokens"][row][length:] == [batch["pad_token"]] * (longest - length)
        assert batch["input_ids"][row][length:] == [tokenizer.pad_token_id] * (longest - length)


def test_tokenizers_without_segments_leave_token_type_ids_out(tiny_distilbert):
    view = tokenize_pair(load_tokenizer(str(tiny_distilbert)), "A court", "the city")
    assert "token_type_ids" not in view
    assert view["tokens"] == ["[CLS]", "a", "court", "[SEP]", "the", "city", "[SEP]"]


def test_clipping_long_texts_keeps_exactly_what_pair_truncation_keeps(tiny_bert):
    from transformers import AutoTokenizer

    from finetune.tokens import encode_pairs

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    first, second = "the cat sat on the mat . " * 300, "a dog ran in the park , " * 200  # 2,100 and 1,400 words
    clipped = encode_pairs(tokenizer, first, second, 64)
    assert clipped["input_ids"] == tokenizer(first, second, truncation=True, max_length=64)["input_ids"]
    assert len(clipped["input_ids"]) == 64


def test_a_hundred_thousand_character_pair_is_cut_to_the_model_length_in_a_moment(tiny_bert):
    import resource

    from transformers import AutoTokenizer

    from finetune.tokens import tokenize_pair

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    view = tokenize_pair(tokenizer, "word " * 20_000, "other " * 20_000, max_length=128)  # unclipped: > 20 GB
    assert len(view["input_ids"]) == 128 and view["tokens"][0] == "[CLS]"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 500_000  # KB: no quadratic blow-up


@pytest.mark.parametrize("words1, words2", [(300, 200), (200, 300), (250, 250), (5, 400), (400, 5), (60, 58)])
def test_clipping_matches_plain_truncation_whichever_text_is_longer(tiny_bert, words1, words2):
    from transformers import AutoTokenizer

    from finetune.tokens import encode_pairs

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    first, second = "the cat sat on the mat . " * words1, "a dog ran in the park , " * words2
    for limit in (16, 63, 64):
        plain = tokenizer(first, second, truncation=True, max_length=limit)
        clipped = encode_pairs(tokenizer, first, second, limit)
        assert clipped["input_ids"] == plain["input_ids"] and clipped["token_type_ids"] == plain["token_type_ids"]
