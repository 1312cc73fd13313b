"""A finished run answering pairs: the tuned model beside its base, cached, and whole files of pairs."""
import pandas as pd
import pytest

from finetune import FinetuneError
from finetune.predict import cached_predictor, predict_file, read_pairs, run_predictor


def test_the_base_model_keeps_the_runs_seeded_head_and_differs_from_the_tuned_one(tiny_run):
    pair = ("The cat sat on the mat.", "A cat was sitting on the mat.")
    tuned = run_predictor(tiny_run).predict(*pair)
    base = run_predictor(tiny_run, base=True).predict(*pair)
    again = run_predictor(tiny_run, base=True).predict(*pair)
    assert base == again  # the same seeded head every time, not a fresh random one
    assert tuned["probabilities"] != base["probabilities"]
    assert run_predictor(tiny_run) is run_predictor(tiny_run)  # loaded once
    assert cached_predictor.cache_info().currsize >= 2


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_a_file_of_pairs_is_answered_row_by_row_and_written_as_csv(tiny_run, tmp_path, suffix):
    frame = pd.DataFrame({"id": [7, 8], "sentence1": ["He left.", "It rained."], "sentence2": ["He went away.", "Sun."]})
    path = tmp_path / f"pairs{suffix}"
    {".csv": lambda: frame.to_csv(path, index=False), ".tsv": lambda: frame.to_csv(path, sep="\t", index=False),
     ".jsonl": lambda: frame.to_json(path, orient="records", lines=True), ".parquet": lambda: frame.to_parquet(path)}[suffix]()
    answered = predict_file(run_predictor(tiny_run), path, tmp_path / "out.csv")
    written = pd.read_csv(tmp_path / "out.csv")
    assert list(written.columns) == ["id", "sentence1", "sentence2", "prediction", "p_equivalent"]
    assert written["id"].tolist() == [7, 8] and set(written["prediction"]) <= {"equivalent", "not_equivalent"}
    one = run_predictor(tiny_run).predict("He left.", "He went away.")
    assert answered["p_equivalent"][0] == pytest.approx(one["probabilities"]["equivalent"], abs=1e-5)


@pytest.mark.parametrize("name, content, words", [
    ("pairs.txt", "a b", "expected a .csv"),
    ("pairs.csv", "first,second\nx,y\n", "no column sentence1, sentence2"),
    ("pairs.jsonl", "{broken", "cannot be read"),
])
def test_an_unusable_file_is_refused_with_its_name(tmp_path, name, content, words):
    (tmp_path / name).write_text(content)
    with pytest.raises(FinetuneError, match=words) as caught:
        read_pairs(tmp_path / name)
    assert name in str(caught.value)
