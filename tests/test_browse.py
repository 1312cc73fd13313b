"""The Data tab's views of MRPC: the DatasetDict as printed, label balance, filtered pages, re-read when a file
changes."""
import pytest

from finetune import browse
from finetune.data import DataError


def test_overview_shows_the_datasetdict_features_and_label_balance():
    view = browse.overview("sample")
    assert view["repr"].startswith("DatasetDict({")
    assert "num_rows: 1500" in view["repr"] and "num_rows: 300" in view["repr"]
    assert "ClassLabel(names=['not_equivalent', 'equivalent']" in view["features"]
    assert view["splits"] == ["train", "validation"]
    counts = {(b["split"], b["label"]): b["rows"] for b in view["balance"]}
    assert counts[("train", "equivalent")] + counts[("train", "not_equivalent")] == 1500
    assert all(0 <= b["share"] <= 1 for b in view["balance"])


def test_pages_filter_by_label_and_text_and_stay_in_range():
    everything = browse.page("sample", "train", 1, 10)
    assert everything["matching"] == 1500 and everything["pages"] == 150 and len(everything["rows"]) == 10
    assert [r["idx"] for r in everything["rows"]] == list(range(10))
    negatives = browse.page("sample", "train", 1, 50, label="not_equivalent")
    assert negatives["matching"] == browse.overview("sample")["balance"][0]["rows"]
    assert {r["label"] for r in negatives["rows"]} == {"not_equivalent"}
    found = browse.page("sample", "validation", 1, 10, query="PERCENT")
    assert found["matching"] > 0
    assert all("percent" in (r["sentence1"] + r["sentence2"]).lower() for r in found["rows"])
    beyond = browse.page("sample", "train", 99, 400)
    assert beyond["page"] == beyond["pages"] == 4 and len(beyond["rows"]) == 300
    assert browse.page("sample", "train", 1, 10, query="no sentence says this")["rows"] == []


def test_an_edited_file_is_read_again_and_a_missing_split_is_named(tmp_path):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("sentence1,sentence2,label\n" + "".join(f"a{i},b{i},{i % 2}\n" for i in range(20)))
    assert sum(b["rows"] for b in browse.overview(str(pairs))["balance"]) == 20
    pairs.write_text("sentence1,sentence2,label\n" + "".join(f"a{i},b{i},{i % 2}\n" for i in range(40)))
    assert sum(b["rows"] for b in browse.overview(str(pairs))["balance"]) == 40
    with pytest.raises(DataError, match="no split 'test'"):
        browse.page(str(pairs), "test")


def test_pairs_to_batch_are_the_first_rows():
    assert [p["idx"] for p in browse.pairs("sample", "train", 3)] == [0, 1, 2]
