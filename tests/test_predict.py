"""A finished run answering pairs: the tuned model beside its base, cached, and whole files of pairs."""
import gzip
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from finetune import FinetuneError
from finetune.predict import cached_predictor, predict_file, read_pair_frame, run_predictor


def test_the_base_model_keeps_the_runs_seeded_head_and_differs_from_the_tuned_one(tiny_run):
    pair = ("The cat sat on the mat.", "A cat was sitting on the mat.")
    tuned = run_predictor(tiny_run).predict(*pair)
    base = run_predictor(tiny_run, base=True).predict(*pair)
    again = run_predictor(tiny_run, base=True).predict(*pair)
    assert base == again  # the same seeded head every time, not a fresh random one
    assert tuned["probabilities"] != base["probabilities"]
    assert run_predictor(tiny_run) is run_predictor(tiny_run)  # loaded once
    assert cached_predictor.cache_info().currsize >= 2


def test_pairs_asked_while_a_pass_runs_are_answered_together_in_the_next_and_a_bad_one_alone(tiny_run, monkeypatch):
    predictor = run_predictor(tiny_run)
    pairs = [("The cat sat on the mat.", "A cat was sitting on the mat."), ("He left.", "She stayed."),
             ("Revenue rose.", "The weather was sunny.")] * 4
    alone = [predictor.predict(*pair) for pair in pairs]
    passes, batch = [], predictor.predict_batch
    monkeypatch.setattr(predictor, "predict_batch", lambda asked: passes.append(len(asked)) or batch(asked))

    def ask(pair):
        try:
            return predictor.answer(*pair)
        except FinetuneError as err:
            return str(err)

    with ThreadPoolExecutor(len(pairs) + 1) as pool, predictor.passing:  # a pass under way: the askers wait for it
        answers = [pool.submit(ask, pair) for pair in [*pairs, ("", "x")]]
        refused = answers[-1].result(timeout=30)  # refused in its own thread, without waiting for the pass
        while len(predictor.waiting) < len(pairs):
            time.sleep(0.01)
    answers = [answer.result(timeout=30) for answer in answers[:-1]]

    assert passes == [len(pairs)] and refused == "sentence1 is empty: type both sentences"
    for answer, expected in zip(answers, alone, strict=True):
        assert answer["label"] == expected["label"]
        assert answer["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-4)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_a_file_of_pairs_is_answered_row_by_row_and_written_as_csv(tiny_run, tmp_path, suffix):
    frame = pd.DataFrame({"id": [7, 8], "sentence1": ["He left.", "It rained."],
                          "sentence2": ["He went away.", "Sun."]})
    path = tmp_path / f"pairs{suffix}"
    {".csv": lambda: frame.to_csv(path, index=False), ".tsv": lambda: frame.to_csv(path, sep="\t", index=False),
     ".jsonl": lambda: frame.to_json(path, orient="records", lines=True),
     ".parquet": lambda: frame.to_parquet(path)}[suffix]()
    answered = predict_file(run_predictor(tiny_run), path, tmp_path / "out.csv", answered_by=tiny_run.name)
    written = pd.read_csv(tmp_path / "out.csv")
    assert list(written.columns) == ["id", "sentence1", "sentence2", "prediction", "p_not_equivalent", "p_equivalent",
                                     "run"]
    assert written["id"].tolist() == [7, 8] and set(written["prediction"]) <= {"equivalent", "not_equivalent"}
    assert written["run"].tolist() == [tiny_run.name] * 2
    one = run_predictor(tiny_run).predict("He left.", "He went away.")
    assert answered["p_equivalent"][0] == round(one["probabilities"]["equivalent"], 4)
    assert all(len(line.split(",")[4].split(".")[-1]) <= 4
               for line in (tmp_path / "out.csv").read_text().splitlines()[1:])


@pytest.mark.parametrize("name, content, words", [
    ("pairs.txt", "a b", "expected a .csv"),
    ("pairs.csv", "first,second\nx,y\n", "missing column.*'sentence1', 'sentence2'"),
    ("pairs.jsonl", "{broken", "row 1: not valid JSON"),
    ("pairs.csv", "sentence1,sentence2\nHe left.,  \n", "row 2: sentence2 is empty"),
    ("pairs.jsonl", '{"sentence1": "He left.", "sentence2": NaN}', "row 1: sentence2 is missing"),
    ("pairs.tsv", "sentence1\tsentence2\nHe left.\tHe went.\nOnly one field\n", "row 3: found 1 fields"),
])
def test_an_unusable_file_is_refused_with_its_name(tmp_path, name, content, words):
    (tmp_path / name).write_text(content)
    with pytest.raises(FinetuneError, match=words) as caught:
        read_pair_frame(tmp_path / name)
    assert name in str(caught.value)


def test_a_file_longer_than_the_limit_is_refused_before_any_answer(tiny_run, tmp_path):
    six = pd.DataFrame({"sentence1": ["He left."] * 6, "sentence2": ["He went."] * 6})
    six.to_csv(tmp_path / "six.csv", index=False)
    with pytest.raises(FinetuneError, match="six.csv has 6 pairs; the app answers at most 5"):
        predict_file(run_predictor(tiny_run), tmp_path / "six.csv", tmp_path / "out.csv", max_pairs=5)
    assert not (tmp_path / "out.csv").exists()
    assert len(predict_file(run_predictor(tiny_run), tmp_path / "six.csv", tmp_path / "out.csv", max_pairs=6)) == 6


@pytest.mark.parametrize("content, words", [
    (b"sentence1,sentence2\nCaf\xe9,Cafe\n", "row 2: not UTF-8: byte 0xe9"),
    (gzip.compress(b"sentence1,sentence2\na,b\n"), "a gzip compressed file or archive"),
    (b"PK\x03\x04" + bytes(40), "a zip compressed file or archive"),
])
def test_bad_bytes_and_archives_named_csv_are_refused_by_their_content(tmp_path, content, words):
    (tmp_path / "pairs.csv").write_bytes(content)
    with pytest.raises(FinetuneError, match=words):
        read_pair_frame(tmp_path / "pairs.csv")


@pytest.mark.parametrize("pair, words", [(("", "x"), "sentence1 is empty"), (("x", " \n\t"), "sentence2 is empty"),
                                         (("x", None), "sentence2 is empty")])
def test_a_blank_or_missing_sentence_is_refused_before_the_model(tiny_run, pair, words):
    with pytest.raises(FinetuneError, match=words):
        run_predictor(tiny_run).predict(*pair)


def test_huge_emoji_and_non_latin_sentences_are_answered(tiny_run):
    predictor = run_predictor(tiny_run)
    for pair in [("word " * 20_000, "x" * 100_000), ("🙂🙃 مرحبا بالعالم", "你好，世界 — Привет"),
                 ("\u202etext", "a\u0000b")]:
        answer = predictor.predict(*pair)
        assert sum(answer["probabilities"].values()) == pytest.approx(1)
