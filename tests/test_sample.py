"""The bundled sample is a faithful miniature of MRPC's task, not of its text: original sentences, MRPC's balance and
overlap statistics, no split leaking into the other, and no shallow cue that gives its labels away more than in MRPC."""
import json
import re
from collections import Counter

import numpy as np
import pytest

from finetune.data import SAMPLE_DIR, load_mrpc

# A shallow model may do better on the sample than on MRPC by at most this much accuracy over the majority answer.
SHALLOW_MARGIN = 0.03
# Pairs showing a surface cue may be paraphrases in a share at most this far from MRPC's share for the same cue.
CUE_MARGIN = 0.08


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def jaccard(a, b) -> float:
    a, b = set(a), set(b)
    return len(a & b) / len(a | b) if a | b else 0.0


def rows(split):
    return [(r["sentence1"], r["sentence2"], r["label"]) for r in split]


def sentences(split) -> list[str]:
    return list(split["sentence1"]) + list(split["sentence2"])


@pytest.fixture(scope="module")
def sample():
    return load_mrpc("sample")


@pytest.fixture(scope="module")
def mrpc():
    from conftest import SHARED_MRPC

    if not (SHARED_MRPC / "msr_paraphrase_train.txt").is_file():
        pytest.skip(f"real MRPC files not found in {SHARED_MRPC}")
    return load_mrpc(str(SHARED_MRPC))


def test_the_sample_has_mrpcs_schema_and_balance(sample):
    assert set(sample) == {"train", "validation"}
    for split in sample.values():
        assert split.column_names == ["sentence1", "sentence2", "label", "idx"]
        labels = Counter(split["label"])
        assert set(labels) == {0, 1} and 0.66 <= labels[1] / len(split) <= 0.70  # MRPC: 67.5 % paraphrases
        assert all(len(words(s)) >= 5 for s in sentences(split))
    assert len(sample["train"]) >= 1400 and len(sample["validation"]) >= 250
    files = sorted(p.name for p in SAMPLE_DIR.iterdir())
    assert files == ["README.md", "train.jsonl", "validation.jsonl"]
    for name in ("train.jsonl", "validation.jsonl"):
        keys = {tuple(json.loads(line)) for line in (SAMPLE_DIR / name).read_text().splitlines()}
        assert keys == {("sentence1", "sentence2", "label")}


def test_no_sentence_of_the_sample_copies_or_lightly_edits_one_of_mrpc(sample, mrpc):
    theirs = [set(words(s)) for split in mrpc.values() for s in sentences(split)]
    exact = {" ".join(sorted(w)) for w in theirs}
    index: dict[str, set[int]] = {}
    for i, ws in enumerate(theirs):
        for w in ws:
            index.setdefault(w, set()).add(i)
    closest = []
    for split in sample.values():
        for sentence in sentences(split):
            mine = set(words(sentence))
            assert " ".join(sorted(mine)) not in exact, sentence
            shared = Counter(i for w in mine for i in index.get(w, ()))
            best = max((jaccard(mine, theirs[i]) for i, _ in shared.most_common(5)), default=0.0)
            closest.append((best, sentence))
    worst = max(closest)
    assert worst[0] < 0.5, f"too close to an MRPC sentence ({worst[0]:.2f}): {worst[1]}"


def test_no_sentence_is_used_twice_and_no_validation_pair_has_a_near_copy_in_train(sample):
    train = [set(words(s)) for s in sentences(sample["train"])]
    validation = sentences(sample["validation"])
    everything = sentences(sample["train"]) + validation
    assert len(set(everything)) == len(everything)
    for sentence in validation:
        mine = set(words(sentence))
        assert max(jaccard(mine, other) for other in train) < 0.5, sentence


def overlap_by_label(pairs) -> dict[int, float]:
    return {label: float(np.mean([jaccard(words(a), words(b)) for a, b, y in pairs if y == label])) for label in (0, 1)}


def test_paraphrases_share_more_words_than_non_paraphrases_as_in_mrpc(sample, mrpc):
    """The old sample taught the opposite (non-paraphrases 0.74, paraphrases 0.53): a near-copy is not a paraphrase."""
    mine, theirs = overlap_by_label(rows(sample["train"])), overlap_by_label(rows(mrpc["train"]))
    assert mine[1] > mine[0] and theirs[1] > theirs[0]
    for label in (0, 1):
        assert abs(mine[label] - theirs[label]) < 0.05, (mine, theirs)


def features(pairs) -> np.ndarray:
    """Word overlap (Jaccard, and the share of sentence 2's words found in sentence 1) and the length ratio."""
    out = []
    for a, b, _ in pairs:
        wa, wb = words(a), words(b)
        ratio = min(len(wa), len(wb)) / max(len(wa), len(wb))
        out.append([jaccard(wa, wb), len(set(wa) & set(wb)) / len(set(wb)), ratio, 1.0])
    return np.asarray(out)


def shallow_gain(pairs, folds: int = 5) -> float:
    """Accuracy over the majority answer of a logistic regression on overlap and length, cross-validated (a 300-pair
    validation split alone moves it by a few points)."""
    x, y = features(pairs), np.asarray([label for *_, label in pairs], dtype=float)
    order = np.random.default_rng(0).permutation(len(pairs))
    right = 0
    for fold in range(folds):
        test = order[fold::folds]
        train = np.setdiff1d(order, test)
        weights = np.zeros(x.shape[1])
        for _ in range(3000):  # plain gradient descent: four features need nothing more
            weights -= 0.5 * x[train].T @ (1 / (1 + np.exp(-x[train] @ weights)) - y[train]) / len(train)
        right += int((((x[test] @ weights) > 0) == y[test]).sum())
    return right / len(pairs) - max(y.mean(), 1 - y.mean())


def test_a_shallow_model_does_no_better_on_the_sample_than_on_mrpc(sample, mrpc):
    on_sample = shallow_gain(rows(sample["train"]) + rows(sample["validation"]))
    on_mrpc = shallow_gain(rows(mrpc["train"]) + rows(mrpc["validation"]))
    print(f"\nshallow baseline over the majority answer: sample {on_sample:+.3f}, MRPC {on_mrpc:+.3f}")
    assert on_sample <= on_mrpc + SHALLOW_MARGIN


CUES = {
    "the same first word": lambda a, b: words(a)[:1] == words(b)[:1],
    "sentence 2 ends with 'said'": lambda a, b: words(b)[-1:] == ["said"],
    "a negation in one sentence only": lambda a, b: bool({"not", "no", "never", "n"} & (set(words(a)) ^ set(words(b)))),
    "a quotation mark": lambda a, b: '"' in a + b,
    "different numbers": lambda a, b: set(re.findall(r"\d+", a)) != set(re.findall(r"\d+", b)),
    "sentence 1 longer": lambda a, b: len(words(a)) > len(words(b)),
    "lengths differ by 6 words or more": lambda a, b: abs(len(words(a)) - len(words(b))) >= 6,
}


@pytest.mark.parametrize("cue", CUES)
def test_no_surface_cue_gives_the_label_away_more_than_in_mrpc(sample, mrpc, cue):
    def share(pairs):
        hits = [label for a, b, label in pairs if CUES[cue](a, b)]
        return np.mean(hits), len(hits)

    mine, n = share(rows(sample["train"]) + rows(sample["validation"]))
    theirs, _ = share(rows(mrpc["train"]) + rows(mrpc["validation"]))
    assert n >= 30 and abs(mine - theirs) <= CUE_MARGIN, (
        f"{cue}: {mine:.2f} of {n} pairs paraphrases, MRPC {theirs:.2f}")
