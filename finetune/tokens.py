"""What the tokenizer makes of sentence pairs: one pair in detail, a padded batch, and a whole DatasetDict."""
from __future__ import annotations

MODEL_INPUTS = ("input_ids", "token_type_ids", "attention_mask")
MAX_TOKENS = 512  # BERT's position embeddings; also the cap for tokenizers that state no limit (they say 10**30)


def token_limit(tokenizer) -> int:
    """The most tokens a pair is cut to: the tokenizer's model_max_length, at most MAX_TOKENS."""
    return min(tokenizer.model_max_length or MAX_TOKENS, MAX_TOKENS)


# Below this many characters per allowed token a text cannot hold enough tokens to slow truncation down.
CLIP_CHARS_PER_TOKEN = 8


def clip_pair(tokenizer, first: str, second: str, max_length: int | None) -> tuple[str, str]:
    """The starts of two texts that pair truncation turns into exactly the same tokens as the whole texts.

    The fast tokenizer truncates a *pair* in time and memory that grow with the square of its length (a pair of
    10,000 words takes 27 s and 2.7 GB, 50,000 words exhaust 24 GB), while one text alone tokenizes in linear time.
    Each text keeps a margin of two tokens beyond the limit, and the longer one a token more, so truncation still
    takes from the same side and a word cut at the end does not matter.
    """
    limit = max_length or token_limit(tokenizer)
    if max(len(first), len(second)) <= CLIP_CHARS_PER_TOKEN * limit:
        return first, second
    spans = [tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
             for text in (first, second)]
    clipped = []
    for text, mine, other in ((first, *spans), (second, *reversed(spans))):
        keep = limit + 2 + (len(mine) > len(other))
        clipped.append(text if len(mine) <= keep else text[:mine[keep - 1][1]])
    return clipped[0], clipped[1]


def encode_pairs(tokenizer, firsts, seconds, max_length: int | None = None, **kwargs):
    """tokenizer(firsts, seconds, truncation=True) with every pair clipped first: safe for any length of input.
    Seconds None (or all None): single texts, which tokenize in linear time unclipped."""
    max_length = max_length or token_limit(tokenizer)
    if seconds is None or (not isinstance(seconds, str) and all(second is None for second in seconds)):
        return tokenizer(firsts, truncation=True, max_length=max_length, **kwargs)
    if isinstance(firsts, str):
        firsts, seconds = clip_pair(tokenizer, firsts, seconds, max_length)
    else:
        clipped = [clip_pair(tokenizer, a, b, max_length) for a, b in zip(firsts, seconds, strict=True)]
        firsts, seconds = [a for a, _ in clipped], [b for _, b in clipped]
    return tokenizer(firsts, seconds, truncation=True, max_length=max_length, **kwargs)


def tokenize_pair(tokenizer, sentence1: str, sentence2: str | None, max_length: int | None = None) -> dict:
    """Tokens and the three id lists for one pair (or one sentence, sentence2 None), with the positions of the special
    tokens.

    `token_type_ids` is left out for tokenizers that have none (DistilBERT's, for one).
    """
    encoded = encode_pairs(tokenizer, sentence1, sentence2, max_length)
    ids = encoded["input_ids"]
    view = {"tokens": tokenizer.convert_ids_to_tokens(ids)}
    view.update({key: list(encoded[key]) for key in MODEL_INPUTS if key in encoded})
    special = set(tokenizer.all_special_ids)
    view["special_positions"] = [i for i, token_id in enumerate(ids) if token_id in special]
    return view


def padded_batch(tokenizer, pairs: list[tuple[str, str]], max_length: int | None = None) -> dict:
    """The batch DataCollatorWithPadding builds from these pairs: each row padded to the longest one."""
    from transformers import DataCollatorWithPadding

    features = [
        {k: v for k, v in encode_pairs(tokenizer, s1, s2, max_length).items() if k in MODEL_INPUTS}
        for s1, s2 in pairs
    ]
    batch = DataCollatorWithPadding(tokenizer=tokenizer, return_tensors="np")(features)
    out = {key: batch[key].tolist() for key in MODEL_INPUTS if key in batch}
    out["tokens"] = [tokenizer.convert_ids_to_tokens(row) for row in out["input_ids"]]
    out["lengths"] = [len(f["input_ids"]) for f in features]
    out["shape"] = list(batch["input_ids"].shape)
    out["pad_token"] = tokenizer.pad_token
    return out


def tokenize_dataset(dataset_dict, tokenizer, max_length: int | None = None):
    """The course's batched `map`: adds the model inputs (and `length`, for length-grouped batching)."""

    def encode(batch):
        encoded = encode_pairs(tokenizer, batch["sentence1"], batch.get("sentence2"), max_length)
        encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
        return encoded

    return dataset_dict.map(encode, batched=True, desc="Tokenizing")


def collator(tokenizer):
    """Dynamic padding: each batch padded to its own longest pair, not to max_length."""
    from transformers import DataCollatorWithPadding

    return DataCollatorWithPadding(tokenizer=tokenizer)


SPECIAL = "special"
SEGMENTS = ("sentence 1 (type 0)", "sentence 2 (type 1)")


def segment_ids(view: dict) -> list[int]:
    """Each token's sentence, 0 or 1, as token_type_ids say ([CLS] and the first [SEP] belong to sentence 1).

    Without token_type_ids (DistilBERT) it is read from the position of the first separator.
    """
    separator = view["special_positions"][1] if len(view["special_positions"]) > 1 else len(view["tokens"])
    return view.get("token_type_ids") or [int(i > separator) for i in range(len(view["tokens"]))]


def segments(view: dict) -> list[tuple[str, str]]:
    """Each token of tokenize_pair's view with its part: special, sentence 1 or sentence 2."""
    special, types = set(view["special_positions"]), segment_ids(view)
    return [(token, SPECIAL if i in special else SEGMENTS[types[i]]) for i, token in enumerate(view["tokens"])]


def pair_rows(view: dict) -> list[dict]:
    """One row per position: the token, its input_id, token_type_id (where the model has them), attention_mask."""
    special = set(view["special_positions"])
    return [{"position": i, "token": token, **{key: view[key][i] for key in MODEL_INPUTS if key in view},
             "special": i in special} for i, token in enumerate(view["tokens"])]
