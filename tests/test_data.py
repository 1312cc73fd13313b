"""Loading MRPC from every supported source, and one clear DataError for every kind of bad data."""
from __future__ import annotations

import csv
import json
import re
import shutil
import time
from pathlib import Path

import datasets
import pandas as pd
import pytest

from finetune import data
from finetune.data import DataError, count_repeated_pairs, load_mrpc, mrpc_features, split_counts

REAL_MRPC = Path(__file__).resolve().parents[2] / "shared" / "data" / "mrpc"
BOM = "\ufeff"
GLUE_HEADER = ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"]
FORMATS = [".csv", ".tsv", ".jsonl", ".parquet"]
VALIDATION_IDX_SEED_42 = [2, 12, 37, 41]  # pairs(50) split with seed 42


@pytest.fixture
def real_mrpc() -> Path:
    if not (REAL_MRPC / data.MSR_TRAIN).is_file():
        pytest.skip(f"Microsoft's MRPC files are not at {REAL_MRPC}")
    return REAL_MRPC


def pairs(n: int, positives: int | None = None) -> list[dict]:
    """n rows, the first `positives` (default half) labelled 1; sentences carry a literal quote."""
    positives = n // 2 if positives is None else positives
    return [{"sentence1": f'He said " row {i} .', "sentence2": f"Row {i} , said he .", "label": int(i < positives)}
            for i in range(n)]


def write_pairs(path: Path, rows: list[dict]) -> Path:
    """rows written in the format the suffix names, the way a user's tools would write them."""
    frame = pd.DataFrame(rows)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".tsv":
        write_lines(path, ["\t".join(frame.columns)] + ["\t".join(map(str, r)) for r in frame.itertuples(index=False)])
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        write_lines(path, [json.dumps(row) for row in rows])
    return path


def write_lines(path: Path, lines: list[str], prefix: str = "") -> Path:
    path.write_text(prefix + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def glue_rows(n: int, start_id: int = 100) -> list[str]:
    return ["\t".join([str(i % 2), str(start_id + i), str(start_id + 500 + i), f'" Quoted {i} .', f"Plain {i} ."])
            for i in range(n)]


def assert_mrpc_schema(dd: datasets.DatasetDict) -> None:
    for split in dd.values():
        assert split.column_names == ["sentence1", "sentence2", "label", "idx"]
        assert split.features == mrpc_features()


# --- Microsoft's original files, split the way HF's glue/mrpc builder splits them ---

def test_microsoft_files_give_hf_train_and_validation(real_mrpc):
    dd = load_mrpc(str(real_mrpc))

    assert set(dd) == {"train", "validation"}  # msr_paraphrase_test.txt is not shipped there
    assert_mrpc_schema(dd)
    assert split_counts(dd) == {
        "train": {"rows": 3668, "labels": {"not_equivalent": 1194, "equivalent": 2474}},
        "validation": {"rows": 408, "labels": {"not_equivalent": 129, "equivalent": 279}},
    }
    assert dd["validation"][0] == {
        "sentence1": "He said the foodservice pie business doesn 't fit the company 's long-term growth strategy .",
        "sentence2": '" The foodservice pie business does not fit our long-term growth strategy .',
        "label": 1,
        "idx": 9,
    }


def test_microsoft_files_match_hf_builder_row_for_row(real_mrpc):
    """The reference is HF's own recipe: DictReader with quoting off, BOM skipped, dev ids by (#1 ID, #2 ID)."""
    with open(real_mrpc / data.MSR_DEV_IDS, encoding="utf8") as f:
        dev_ids = [[row[0], row[1]] for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    expected = {"train": [], "validation": []}
    with open(real_mrpc / data.MSR_TRAIN, encoding="utf8") as f:
        f.seek(3)
        for n, row in enumerate(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)):
            split = "validation" if [row["#1 ID"], row["#2 ID"]] in dev_ids else "train"
            expected[split].append({"sentence1": row["#1 String"], "sentence2": row["#2 String"],
                                    "label": int(row["Quality"]), "idx": n})

    dd = load_mrpc(str(real_mrpc))

    assert dd["train"].to_list() == expected["train"]
    assert dd["validation"].to_list() == expected["validation"]


def test_real_train_file_loads_fast(real_mrpc):
    load_mrpc(str(real_mrpc))  # the first call pays for imports
    started = time.perf_counter()
    load_mrpc(str(real_mrpc))
    assert time.perf_counter() - started < 1.5


def test_microsoft_test_file_becomes_labelled_test_split(real_mrpc, tmp_path):
    for name in (data.MSR_TRAIN, data.MSR_DEV_IDS):
        shutil.copy(real_mrpc / name, tmp_path / name)
    write_lines(tmp_path / data.MSR_TEST, ["\t".join(GLUE_HEADER)] + glue_rows(3), prefix=BOM)

    dd = load_mrpc(str(tmp_path))

    assert set(dd) == {"train", "validation", "test"}
    assert_mrpc_schema(dd)
    assert dd["test"]["label"] == [0, 1, 0]
    assert dd["test"]["idx"] == [0, 1, 2]
    assert dd["test"][0]["sentence1"] == '" Quoted 0 .'
    assert len(dd["train"]) == 3668


def test_microsoft_train_file_without_dev_ids_says_what_is_missing(tmp_path):
    write_lines(tmp_path / data.MSR_TRAIN, ["\t".join(GLUE_HEADER)] + glue_rows(3), prefix=BOM)

    with pytest.raises(DataError, match="mrpc_dev_ids.tsv"):
        load_mrpc(str(tmp_path))


# --- GLUE's TSV folder ---

def test_glue_tsv_folder_with_labelled_test(tmp_path):
    header = "\t".join(GLUE_HEADER)
    write_lines(tmp_path / "train.tsv", [header] + glue_rows(4), prefix=BOM)
    write_lines(tmp_path / "dev.tsv", [header] + glue_rows(2))
    write_lines(tmp_path / "test.tsv", [header] + glue_rows(3))

    dd = load_mrpc(str(tmp_path))

    assert_mrpc_schema(dd)
    assert {split: len(dd[split]) for split in dd} == {"train": 4, "validation": 2, "test": 3}
    assert dd["train"]["label"] == [0, 1, 0, 1]
    assert dd["train"]["idx"] == [0, 1, 2, 3]
    assert dd["validation"][1]["sentence2"] == "Plain 1 ."


def test_glue_unlabelled_test_tsv_gets_label_minus_one_and_idx_from_index(tmp_path):
    header = "\t".join(GLUE_HEADER)
    write_lines(tmp_path / "train.tsv", [header] + glue_rows(4))
    write_lines(tmp_path / "dev.tsv", [header] + glue_rows(2))
    write_lines(tmp_path / "test.tsv", ["index\t#1 ID\t#2 ID\t#1 String\t#2 String",
                                        '7\t1\t2\t" A .\tB .', "8\t3\t4\tC .\tD ."])

    test = load_mrpc(str(tmp_path))["test"]

    assert test.to_list() == [{"sentence1": '" A .', "sentence2": "B .", "label": -1, "idx": 7},
                              {"sentence1": "C .", "sentence2": "D .", "label": -1, "idx": 8}]
    assert split_counts({"test": test}) == {"test": {"rows": 2, "labels": {"not_equivalent": 0, "equivalent": 0}}}


# --- one file, or one file per split, in each format ---

@pytest.mark.parametrize("suffix", FORMATS)
def test_single_file_splits_90_10_stratified(tmp_path, suffix):
    rows = [dict(row, source="dropped") for row in pairs(40, positives=30)]
    path = write_pairs(tmp_path / f"pairs{suffix}", rows)

    dd = load_mrpc(str(path))

    assert_mrpc_schema(dd)
    assert split_counts(dd) == {"train": {"rows": 36, "labels": {"not_equivalent": 9, "equivalent": 27}},
                            "validation": {"rows": 4, "labels": {"not_equivalent": 1, "equivalent": 3}}}
    assert sorted([*dd["train"]["idx"], *dd["validation"]["idx"]]) == list(range(40))
    assert list(dd["train"]["idx"]) == sorted(dd["train"]["idx"])
    first = dd["train"][0]
    assert rows[first["idx"]]["sentence1"] == first["sentence1"]


def test_single_file_split_is_a_seeded_shuffle_the_same_every_time(tmp_path):
    path = write_pairs(tmp_path / "pairs.csv", pairs(50))
    held_out = list(load_mrpc(str(path))["validation"]["idx"])
    assert held_out == list(load_mrpc(str(path))["validation"]["idx"])
    assert held_out == VALIDATION_IDX_SEED_42  # not simply the first rows of each class


def test_sentences_are_kept_exactly_as_written(tmp_path):
    write_lines(tmp_path / "train.tsv", ["sentence1\tsentence2\tlabel", ' " Spaced " \t\'Single\' , "double" .\t1'])
    write_pairs(tmp_path / "dev.csv", [{"sentence1": ' Lead', "sentence2": 'trail " ', "label": 0}])

    dd = load_mrpc(str(tmp_path))

    assert dd["train"][0]["sentence1"] == ' " Spaced " '
    assert dd["train"][0]["sentence2"] == '\'Single\' , "double" .'
    assert dd["validation"][0]["sentence2"] == 'trail " '


def test_single_file_keeps_its_own_idx(tmp_path):
    rows = [dict(row, idx=1000 + i) for i, row in enumerate(pairs(20))]
    dd = load_mrpc(str(write_pairs(tmp_path / "pairs.jsonl", rows)))
    assert sorted([*dd["train"]["idx"], *dd["validation"]["idx"]]) == list(range(1000, 1020))


def test_single_file_too_small_to_hold_out_validation(tmp_path):
    with pytest.raises(DataError, match="too few"):
        load_mrpc(str(write_pairs(tmp_path / "pairs.csv", pairs(4))))


@pytest.mark.parametrize("suffix", FORMATS)
@pytest.mark.parametrize("validation_stem", ["validation", "dev"])
def test_folder_of_split_files(tmp_path, suffix, validation_stem):
    write_pairs(tmp_path / f"train{suffix}", pairs(6))
    write_pairs(tmp_path / f"{validation_stem}{suffix}", pairs(4))
    write_pairs(tmp_path / f"test{suffix}", pairs(2))

    dd = load_mrpc(str(tmp_path))

    assert_mrpc_schema(dd)
    assert {split: len(dd[split]) for split in dd} == {"train": 6, "validation": 4, "test": 2}
    assert dd["validation"].to_list()[0] == {"sentence1": 'He said " row 0 .', "sentence2": "Row 0 , said he .",
                                             "label": 1, "idx": 0}


def test_test_file_without_labels_is_unlabelled(tmp_path):
    write_pairs(tmp_path / "train.csv", pairs(4))
    write_pairs(tmp_path / "validation.csv", pairs(2))
    write_pairs(tmp_path / "test.csv", [{"sentence1": "A .", "sentence2": "B ."}])
    assert load_mrpc(str(tmp_path))["test"]["label"] == [-1]


def test_labels_written_as_text_or_floats_are_accepted(tmp_path):
    write_lines(tmp_path / "train.csv", ["sentence1,sentence2,label", "A .,B .,1.0", "C .,D ., 0"])
    write_pairs(tmp_path / "validation.parquet", [dict(row, label=float(row["label"])) for row in pairs(2)])

    dd = load_mrpc(str(tmp_path))

    assert dd["train"]["label"] == [1, 0]
    assert dd["validation"]["label"] == [1, 0]


def test_row_numbers_are_editor_lines_despite_blank_lines_and_crlf(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_bytes(b"sentence1\tsentence2\tlabel\r\nA .\tB .\t1\r\n\r\nC .\tD .\t7\r\n")
    with pytest.raises(DataError, match="row 4: label must be 0 or 1, got '7'"):
        load_mrpc(str(path))


# --- bad data: one DataError naming the file, the row and the fault ---

def csv_stray_quote(path: Path) -> None:
    # An unquoted sentence that starts with " (as MRPC's do) swallows the following lines.
    write_lines(path, ["sentence1,sentence2,label", "A .,B .,1", '" C .,D .,0', "E .,F .,1", "G .,H .,0"])


def non_utf8(path: Path) -> None:
    path.write_bytes(b"sentence1,sentence2,label\nA .,B .,1\nCaf\xe9 .,D .,0\n")


def bad_label_in_microsoft_file(path: Path) -> None:
    write_lines(path, ["\t".join(GLUE_HEADER), "1\t1\t2\tA .\tB .", "yes\t3\t4\tC .\tD ."], prefix=BOM)


BAD_DATA = {
    "label out of range": ("train.csv", lambda p: write_lines(p, ["sentence1,sentence2,label", "A .,B .,1",
                                                                    "C .,D .,2"]), 3, "label must be 0 or 1, got '2'"),
    "label null in JSON": ("train.jsonl", lambda p: write_lines(p, [
        json.dumps({"sentence1": "A .", "sentence2": "B .", "label": None})]), 1, "got nothing (null/NaN)"),
    "label NaN in parquet": ("train.parquet", lambda p: write_pairs(p, [
        {"sentence1": "A .", "sentence2": "B .", "label": 1.0},
        {"sentence1": "C .", "sentence2": "D .", "label": float("nan")}]), 2, "got nothing (null/NaN)"),
    "label not a number": ("train.tsv", bad_label_in_microsoft_file, 3, "label must be 0 or 1, got 'yes'"),
    "empty sentence": ("train.csv", lambda p: write_lines(p, ["sentence1,sentence2,label", ",B .,1"]), 2,
                       "sentence1 is empty"),
    "whitespace-only sentence": ("train.tsv", lambda p: write_lines(p, ["sentence1\tsentence2\tlabel",
                                                                        "A .\t   \t1"]), 2, "sentence2 is empty"),
    "null sentence": ("train.parquet", lambda p: write_pairs(p, [{"sentence1": None, "sentence2": "B .",
                                                                  "label": 1}]), 1, "sentence1 is missing"),
    "sentence not text": ("train.jsonl", lambda p: write_lines(p, [
        json.dumps({"sentence1": 5, "sentence2": "B .", "label": 1})]), 1, "sentence1 must be text, got 5"),
    "missing column": ("train.csv", lambda p: write_lines(p, ["sentence1,sentence2,quality", "A .,B .,1"]), 1,
                       ("missing column(s) 'label'; found 'sentence1', 'sentence2', 'quality', "
                        "expected 'sentence1', 'sentence2', 'label'")),
    "missing key in a JSON row": ("train.jsonl", lambda p: write_lines(p, [
        json.dumps({"sentence1": "A .", "sentence2": "B .", "label": 1}),
        json.dumps({"sentence1": "C .", "label": 0})]), 2, "missing column(s) 'sentence2'"),
    "invalid JSON": ("train.jsonl", lambda p: write_lines(p, ['{"sentence1": "A ."']), 1, "not valid JSON"),
    "non-UTF-8 bytes": ("train.csv", non_utf8, 3, "not UTF-8: byte 0xe9 at byte offset 39"),
    "stray quote merging rows": ("train.csv", csv_stray_quote, 3, "stray \" probably merged rows"),
    "tab inside a sentence": ("train.tsv", lambda p: write_lines(p, ["sentence1\tsentence2\tlabel",
                                                                     "A .\tB .\t1", "C\t.\tD .\t0"]), 3,
                              "found 4 fields, expected 3 (a tab inside a sentence?)"),
    "bad idx": ("train.csv", lambda p: write_lines(p, ["sentence1,sentence2,label,idx", "A .,B .,1,first"]), 2,
                "idx must be a whole number"),
}


@pytest.mark.parametrize("case", BAD_DATA, ids=list(BAD_DATA))
def test_bad_data_is_one_error_naming_file_row_and_fault(tmp_path, case):
    name, write, row, fault = BAD_DATA[case]
    path = tmp_path / name
    write(path)
    write_pairs(tmp_path / "validation.jsonl", pairs(2))

    with pytest.raises(DataError) as raised:
        load_mrpc(str(tmp_path))

    message = str(raised.value)
    assert message.startswith(f"bad data in {path}, row {row}: ")
    assert fault in message
    assert "\n" not in message


def test_bad_row_in_microsoft_train_file_names_its_line(tmp_path):
    bad_label_in_microsoft_file(tmp_path / data.MSR_TRAIN)
    write_lines(tmp_path / data.MSR_DEV_IDS, ["1\t2"])
    with pytest.raises(DataError, match=r"msr_paraphrase_train.txt, row 3: label must be 0 or 1, got 'yes'"):
        load_mrpc(str(tmp_path))


def test_stray_quote_error_says_where_the_merged_field_ends(tmp_path):
    csv_stray_quote(tmp_path / "pairs.csv")
    with pytest.raises(DataError, match="from line 3 to line 5"):
        load_mrpc(str(tmp_path / "pairs.csv"))


@pytest.mark.parametrize("suffix", FORMATS)
def test_header_without_rows_is_an_error(tmp_path, suffix):
    path = tmp_path / f"pairs{suffix}"
    if suffix == ".parquet":
        pd.DataFrame({"sentence1": [], "sentence2": [], "label": []}).to_parquet(path)
    elif suffix == ".jsonl":
        path.write_text("\n")
    else:
        write_lines(path, ["sentence1,sentence2,label".replace(",", "\t" if suffix == ".tsv" else ",")])
    with pytest.raises(DataError, match=re.escape(f"bad data in {path}: contains no data rows")):
        load_mrpc(str(path))


def test_empty_file_is_an_error(tmp_path):
    (tmp_path / "pairs.csv").write_text("")
    with pytest.raises(DataError, match="the file is empty"):
        load_mrpc(str(tmp_path / "pairs.csv"))


# --- sources that are not data at all ---

@pytest.mark.parametrize("make, fault", [
    (lambda tmp: tmp / "absent.csv", "no such file or folder"),
    (lambda tmp: write_lines(tmp / "pairs.xlsx", ["x"]), "unsupported file type '.xlsx'"),
    (lambda tmp: write_lines(tmp / "notes.md", ["x"]).parent, "no data files recognised"),
    (lambda tmp: write_pairs(tmp / "train.csv", pairs(4)).parent, "has train.csv but no validation.* or dev.*"),
])
def test_unrecognised_source_says_what_was_expected(tmp_path, make, fault):
    with pytest.raises(DataError, match=fault) as raised:
        load_mrpc(str(make(tmp_path)))
    assert "msr_paraphrase_train.txt" in str(raised.value)


def test_two_files_for_one_split_is_ambiguous(tmp_path):
    for name in ("train.csv", "train.jsonl", "dev.csv"):
        write_pairs(tmp_path / name, pairs(4))
    with pytest.raises(DataError, match="more than one train file"):
        load_mrpc(str(tmp_path))


# --- the bundled sample and the Hub ---

def test_sample_has_train_and_validation_with_both_labels():
    if not data.SAMPLE_DIR.is_dir():
        pytest.skip(f"no bundled sample at {data.SAMPLE_DIR}")
    dd = load_mrpc("sample")

    assert_mrpc_schema(dd)
    for split in ("train", "validation"):
        assert all(count > 0 for count in split_counts(dd)[split]["labels"].values())


def test_hub_offline_without_cache_fails_fast_pointing_to_sample(hub_offline_and_uncached):
    started = time.perf_counter()
    with pytest.raises(DataError,
                       match="cannot be reached and nothing is cached; use the bundled sample \\('sample'\\)"):
        load_mrpc("hub")
    assert time.perf_counter() - started < 10


@pytest.mark.parametrize("source", ["hub", "glue", "nyu-mll/glue"])
def test_hub_sources_load_nyu_mll_glue_mrpc_cast_to_mrpc_features(monkeypatch, source):
    from finetune import hub

    calls = []
    hub_copy = datasets.Dataset.from_dict({"sentence1": ["A ."], "sentence2": ["B ."], "label": [1], "idx": [0],
                                           "extra": ["x"]})

    def fake_load_dataset(*args):
        calls.append(args)
        return datasets.DatasetDict({"train": hub_copy, "validation": hub_copy})

    monkeypatch.setattr(hub, "use_cache_when_offline", lambda: False)
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)

    dd = load_mrpc(source)

    assert calls == [("nyu-mll/glue", "mrpc")]
    assert_mrpc_schema(dd)


def test_repeated_pairs_are_counted_per_split_and_across_train_and_validation(tmp_path):
    rows = [{"sentence1": f"s{i}", "sentence2": f"t{i}", "label": i % 2} for i in range(6)]
    (tmp_path / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows + rows[:2]))
    (tmp_path / "validation.jsonl").write_text("\n".join(json.dumps(r) for r in rows[5:] + [rows[5]]))
    assert count_repeated_pairs(load_mrpc(str(tmp_path))) == {"train": 2, "validation": 1, "validation in train": 1}
    assert count_repeated_pairs(load_mrpc("sample")) == {}


@pytest.mark.parametrize("head, kind", [(b"BZh91AY&SY", "bzip2"), (b"\xfd7zXZ\x00\x00", "xz"),
                                        (b"Rar!\x1a\x07", "rar")])
def test_a_compressed_file_is_refused_by_its_first_bytes_whatever_its_name(tmp_path, head, kind):
    (tmp_path / "pairs.tsv").write_bytes(head + bytes(300))
    with pytest.raises(DataError, match=f"pairs.tsv: a {kind} compressed file or archive; unpack it"):
        load_mrpc(str(tmp_path / "pairs.tsv"))
