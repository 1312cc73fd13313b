"""The smallest edits of a pair that flip a model's answer: one-word edits first, then two, under a fixed budget."""
from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path

from finetune.predict import check_pair, run_predictor
from finetune.tokens import clip_pair

BUDGET = 256  # candidate pairs asked at most (4 batches of 64 through the Predictor: about 2 s here)
ONE_WORD_SHARE = 192  # of which one-word edits; the rest pairs up the one-word edits that moved the answer most
WANTED = 5  # edits returned at most

WORD = re.compile(r"\d+(?:[.,]\d+)*|[A-Za-z]+(?:'[A-Za-z]+)?")
NUMBER = re.compile(r"\d")
AUXILIARIES = {"is", "are", "was", "were", "will", "would", "can", "could", "should", "do", "does", "did", "has",
               "have", "had", "may", "might", "must", "shall"}
CONTRACTIONS = {"won't": "will", "can't": "can", "cannot": "can", "shan't": "shall"}  # the rest drop their "n't"
# Past tenses news text uses that "-ed" rules miss: "rose" -> "did not rise".
IRREGULAR_PAST = {"said": "say", "rose": "rise", "fell": "fall", "won": "win", "lost": "lose", "made": "make",
                  "took": "take", "gave": "give", "told": "tell", "sold": "sell", "bought": "buy", "left": "leave",
                  "met": "meet", "held": "hold", "came": "come", "saw": "see", "found": "find", "became": "become",
                  "began": "begin", "paid": "pay", "sent": "send", "spent": "spend", "built": "build", "grew": "grow",
                  "went": "go", "knew": "know", "thought": "think", "brought": "bring", "wrote": "write", "ran": "run",
                  "got": "get", "kept": "keep", "led": "lead", "chose": "choose", "drove": "drive"}
NOT_A_SUBJECT = AUXILIARIES | {"the", "a", "an", "to", "be", "been", "being", "not", "never", "and", "or"}
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
STOCK_NAME = "Smith"  # a name to swap in when the other sentence offers none


@dataclass(frozen=True)
class Change:
    """One span of one sentence (0 or 1) replaced by `text` ("" deletes it)."""
    sentence: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Edit:
    changes: tuple[Change, ...]
    description: str

    def apply(self, pair: tuple[str, str]) -> tuple[str, str]:
        texts = list(pair)
        for change in sorted(self.changes, key=lambda c: c.start, reverse=True):  # right to left: offsets stay valid
            text = texts[change.sentence]
            start, end = change.start, change.end
            if not change.text:  # a deleted word takes one neighbouring space with it
                if start and text[start - 1] == " ":
                    start -= 1
                elif end < len(text) and text[end] == " ":
                    end += 1
            texts[change.sentence] = text[:start] + change.text + text[end:]
        return texts[0], texts[1]

    def overlaps(self, other: Edit) -> bool:
        return any(a.sentence == b.sentence and a.start < b.end and b.start < a.end
                   for a in self.changes for b in other.changes)


def _words(text: str) -> list[re.Match]:
    return list(WORD.finditer(text))


def _one(sentence: int, word: re.Match, text: str, what: str) -> Edit:
    return Edit((Change(sentence, word.start(), word.end(), text),), what)


def _where(sentence: int) -> str:
    return f"in sentence {sentence + 1}"


def base_form(word: str, vocabulary) -> str | None:
    """The bare form of a past-tense verb ("voted" -> "vote", "stopped" -> "stop", "rose" -> "rise"): for "-ed", the
    form the tokenizer's vocabulary knows as a whole word; None where there is none (so no made-up word is offered)."""
    if word in IRREGULAR_PAST:
        return IRREGULAR_PAST[word]
    if not word.endswith("ed") or len(word) < 5:
        return None
    stem = word[:-2]
    if word.endswith("ied"):
        options = [word[:-3] + "y"]
    elif stem[-1] == stem[-2]:  # "passed", "stopped"
        options = [stem, stem[:-1]]
    elif stem[-2] in "aeiou" and stem[-1] not in "aeiouwxy":  # "voted", "based": a silent e, most often
        options = [stem + "e", stem]
    else:
        options = [stem, stem + "e"]
    return next((option for option in options if option in vocabulary), None)


def negations(pair, words, vocabulary=frozenset()):
    """Insert "not" after an auxiliary, or take a negation away ("did not" -> "did", "didn't" -> "did"); negate each
    sentence's first bare past-tense verb ("voted" -> "did not vote") where `vocabulary` knows its bare form."""
    for s, found in enumerate(words):
        negated_verb = False
        for i, word in enumerate(found):
            lower = word.group().lower()
            following = found[i + 1].group().lower() if i + 1 < len(found) else ""
            if lower in AUXILIARIES and following != "not":
                yield _one(s, word, word.group() + " not", f'"{word.group()}" → "{word.group()} not" {_where(s)}')
            elif lower == "not":
                yield _one(s, word, "", f'remove "not" {_where(s)}')
            elif lower in CONTRACTIONS or lower.endswith("n't"):
                plain = CONTRACTIONS.get(lower) or word.group()[:-3]
                yield _one(s, word, plain, f'"{word.group()}" → "{plain}" {_where(s)}')
            elif not negated_verb and i and word.group() == lower and found[i - 1].group().lower() not in NOT_A_SUBJECT:
                bare = base_form(lower, vocabulary)
                if bare:
                    negated_verb = True
                    yield _one(s, word, f"did not {bare}", f'"{word.group()}" → "did not {bare}" {_where(s)}')


def _nearby(options: list[str], position: float, count: int, lengths: int) -> list[str]:
    """The options whose place in their sentence is nearest to `position` (0 to 1), at most `count`."""
    ranked = sorted(range(len(options)), key=lambda j: abs(j / max(lengths, 1) - position))
    return [options[j] for j in ranked[:count]]


def numbers(pair, words):
    """A number swapped for one of the other sentence's, or for its integer part plus one."""
    for s, found in enumerate(words):
        others = [w.group() for w in words[1 - s] if NUMBER.match(w.group())]
        for word in found:
            if not NUMBER.match(word.group()):
                continue
            digits = re.match(r"\d+", word.group())
            bumped = str(int(digits.group()) + 1) + word.group()[digits.end():]
            for new in dict.fromkeys([*others, bumped]):
                if new != word.group():
                    yield _one(s, word, new, f'"{word.group()}" → "{new}" {_where(s)}')


def names(pair, words):
    """A capitalised word after the first (a name, a place, a day) swapped for another."""
    for s, found in enumerate(words):
        others = [w.group() for w in words[1 - s][1:] if w.group()[0].isupper() and w.group() != "I"]
        for word in found[1:]:
            name = word.group()
            if not name[0].isupper() or name == "I":
                continue
            following = [series[(series.index(name) + 1) % len(series)]
                         for series in (WEEKDAYS, MONTHS) if name in series]
            for new in dict.fromkeys([*following, *others, STOCK_NAME]):
                if new != name:
                    yield _one(s, word, new, f'"{name}" → "{new}" {_where(s)}')


def borrowings(pair, words, per_word: int = 3):
    """A word absent from the other sentence replaced by one of the other's absent from this one, nearest in place."""
    lowered = [{w.group().lower() for w in found} for found in words]
    for s, found in enumerate(words):
        offered = list(dict.fromkeys(w.group() for w in words[1 - s] if w.group().lower() not in lowered[s]))
        for i, word in enumerate(found):
            if word.group().lower() in lowered[1 - s]:
                continue
            for new in _nearby(offered, i / max(len(found), 1), per_word, len(offered)):
                yield _one(s, word, new, f'"{word.group()}" → "{new}" (from sentence {2 - s}) {_where(s)}')


def deletions(pair, words):
    for s, found in enumerate(words):
        for word in found:
            yield _one(s, word, "", f'delete "{word.group()}" {_where(s)}')


def one_word_edits(pair: tuple[str, str], limit: int = ONE_WORD_SHARE,
                   vocabulary=frozenset()) -> list[tuple[Edit, tuple[str, str]]]:
    """Up to `limit` distinct one-word edits, taken in turn from each kind so that none crowds the others out;
    `vocabulary` (the tokenizer's words) lets bare past-tense verbs be negated."""
    words = [_words(text) for text in pair]
    kinds = [negations(pair, words, vocabulary),
             *(kind(pair, words) for kind in (numbers, names, borrowings, deletions))]
    chosen, seen = [], {pair}
    for edit in itertools.chain.from_iterable(itertools.zip_longest(*kinds)):
        if edit is None:
            continue
        edited = edit.apply(pair)
        if edited in seen or not all(text.strip() for text in edited):
            continue
        seen.add(edited)
        chosen.append((edit, edited))
        if len(chosen) == limit:
            break
    return chosen


def two_word_edits(pair, moved: list[Edit], limit: int) -> list[tuple[Edit, tuple[str, str]]]:
    """Pairs of the given one-word edits that touch different words, in the given order."""
    chosen = []
    for first, second in itertools.combinations(moved, 2):
        if first.overlaps(second):
            continue
        edit = Edit(first.changes + second.changes, f"{first.description}; {second.description}")
        chosen.append((edit, edit.apply(pair)))
        if len(chosen) == limit:
            break
    return chosen


def search(predictor, sentence1: str, sentence2: str, budget: int = BUDGET, wanted: int = WANTED) -> dict:
    """Edits that flip the predictor's label, smallest first, each asked again to confirm it; `forwards` counts every
    pair the model answered (the original, the candidates, the confirmations)."""
    with predictor.tokenizing:  # only what the model reads can change its answer: 100,000 characters are cut first
        pair = clip_pair(predictor.tokenizer, *check_pair(sentence1, sentence2), predictor.max_length)
        vocabulary = predictor.tokenizer.get_vocab()
    original = predictor.predict(*pair)
    label = original["label"]
    candidates = one_word_edits(pair, min(ONE_WORD_SHARE, budget), vocabulary)
    answers = predictor.predict_batch([edited for _, edited in candidates])
    forwards = 1 + len(candidates)
    found = [(1, edit, edited, answer) for (edit, edited), answer in zip(candidates, answers, strict=False)
             if answer["label"] != label]
    if len(found) < wanted and budget > len(candidates):
        kept = [(edit, answer) for (edit, _), answer in zip(candidates, answers, strict=False)
                if answer["label"] == label]
        kept.sort(key=lambda item: item[1]["probabilities"][label])  # the edits that moved the answer most first
        room = budget - len(candidates)
        paired = int((1 + math.sqrt(1 + 8 * room)) / 2)  # the most edits whose pairs, k(k-1)/2, fit in the room left
        pairs = two_word_edits(pair, [edit for edit, _ in kept[:paired]], room)
        answers = predictor.predict_batch([edited for _, edited in pairs])
        forwards += len(pairs)
        found += [(2, edit, edited, answer) for (edit, edited), answer in zip(pairs, answers, strict=False)
                  if answer["label"] != label]
    # smallest first, then the most confident flips
    found.sort(key=lambda item: (item[0], -item[3]["probabilities"][item[3]["label"]]))
    shortlist = found[:2 * wanted]  # a few spare ones, in case a flip does not hold when asked alone
    again = [predictor.predict(*edited) for _, _, edited, _ in shortlist]
    forwards += len(shortlist)
    edits = [{"sentence1": edited[0], "sentence2": edited[1], "edit": edit.description, "words": size,
              "label": answer["label"], "probabilities": answer["probabilities"]}
             for (size, edit, edited, _), answer in zip(shortlist, again, strict=False)
             if answer["label"] != label][:wanted]
    return {"original": {"label": label, "probabilities": original["probabilities"]}, "edits": edits,
            "forwards": forwards, "candidates": forwards - 1 - len(shortlist), "budget": budget}


def search_run(run_dir: Path, sentence1: str, sentence2: str) -> dict:
    """search() with the run's Predictor: the one the Playground answers with (OpenVINO where installed)."""
    check_pair(sentence1, sentence2)
    return search(run_predictor(run_dir), sentence1, sentence2)
