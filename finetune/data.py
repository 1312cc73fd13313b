"""MRPC as a DatasetDict from the bundled sample, the Hub, Microsoft's files, GLUE TSVs, or CSV/TSV/JSONL/Parquet
files."""
from __future__ import annotations

import codecs
import csv
import io
import json
import math
import random
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finetune import FinetuneError

if TYPE_CHECKING:
    import datasets

LABEL_NAMES = ("not_equivalent", "equivalent")
COLUMNS = ("sentence1", "sentence2", "label", "idx")
SAMPLE_DIR = Path(__file__).resolve().parent.parent / "assets" / "sample"
HUB_DATASET = ("nyu-mll/glue", "mrpc")  # load_dataset(*HUB_DATASET); the short name "glue" no longer resolves
HUB_SOURCES = {"hub", "glue", "nyu-mll/glue"}

MSR_TRAIN, MSR_DEV_IDS, MSR_TEST = "msr_paraphrase_train.txt", "mrpc_dev_ids.tsv", "msr_paraphrase_test.txt"
SPLIT_STEMS = {"train": ("train",), "validation": ("validation", "dev"), "test": ("test",)}
FILE_TYPES = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
# GLUE's TSV header (also Microsoft's) in our column names; GLUE's unlabelled test.tsv has "index" instead of "Quality".
GLUE_NAMES = {"#1 String": "sentence1", "#2 String": "sentence2", "Quality": "label", "index": "idx"}
VALIDATION_FRACTION, SPLIT_SEED = 0.1, 42  # held out of a single file; the seed keeps the split the same every run
UNLABELLED = -1  # what HF's glue test splits carry where labels are withheld
INT32_MAX = 2**31 - 1

EXPECTED = ("expected 'sample', 'hub', a folder with msr_paraphrase_train.txt + mrpc_dev_ids.tsv, a folder with "
            "train.* and validation.* (or GLUE's train.tsv/dev.tsv), or one .csv/.tsv/.jsonl/.parquet file with "
            "columns sentence1, sentence2, label")


class DataError(FinetuneError, ValueError):
    """Data that cannot be used as MRPC; the message names the file, the row and the fault on one line."""


def mrpc_features() -> datasets.Features:
    """The schema of HF's glue/mrpc, which every source is cast to."""
    import datasets

    return datasets.Features({
        "sentence1": datasets.Value("string"),
        "sentence2": datasets.Value("string"),
        "label": datasets.ClassLabel(names=list(LABEL_NAMES)),
        "idx": datasets.Value("int32"),
    })


def load_mrpc(source: str = "sample") -> datasets.DatasetDict:
    """Splits train, validation and (when the source has one) test, with exactly mrpc_features()."""
    if source == "sample":
        if not SAMPLE_DIR.is_dir():
            raise DataError(f"the bundled sample is missing: {SAMPLE_DIR} does not exist")
        return _load_local(SAMPLE_DIR)
    if source in HUB_SOURCES:
        return _load_hub()
    return _load_local(Path(source).expanduser())


def read_pair_rows(path: Path) -> list[dict[str, Any]]:
    """Every row of a .csv, .tsv, .jsonl or .parquet file of pairs to answer, all its columns kept (an id, say), each
    sentence checked as training data is: a bad row is refused with the file, the row and the fault."""
    path = Path(path)
    if path.suffix.lower() not in FILE_TYPES:
        raise DataError(f"unsupported file type {path.suffix or '(none)'!r}: {path.name}; expected a "
                        ".csv, .tsv, .jsonl or .parquet file with columns sentence1 and sentence2")
    records = _read_records(path, ("sentence1", "sentence2"))
    if not records:
        raise _fault(path, None, "contains no data rows")
    for line, row in records:
        row.update({column: _sentence(path, line, row, column) for column in ("sentence1", "sentence2")})
    return [row for _, row in records]


def count_repeated_pairs(dd: datasets.DatasetDict) -> dict[str, int]:
    """Repeated pairs, reported (not refused): per split, rows whose (sentence1, sentence2) came earlier in it, and
    "validation in train", validation pairs also in train (they inflate the validation score). Only non-zero counts."""
    pairs = {split: list(zip(dataset["sentence1"], dataset["sentence2"], strict=True)) for split, dataset in dd.items()}
    found = {split: len(rows) - len(set(rows)) for split, rows in pairs.items()}
    if "train" in pairs and "validation" in pairs:
        found["validation in train"] = len(set(pairs["validation"]) & set(pairs["train"]))
    return {name: count for name, count in found.items() if count}


def split_counts(dd: datasets.DatasetDict) -> dict:
    """Rows and label counts per split, for display; unlabelled rows (-1) count in rows only."""
    summary = {}
    for split, dataset in dd.items():
        counts = Counter(dataset["label"])
        summary[split] = {"rows": len(dataset), "labels": {name: counts[i] for i, name in enumerate(LABEL_NAMES)}}
    return summary


def is_real_mrpc(source: str) -> bool:
    """Whether the source is GLUE MRPC itself: the Hub's, Microsoft's files, or GLUE's TSVs of MRPC (not the sample, not
    someone's own pairs): what the course's and the majority's reference figures were measured on."""
    if source in HUB_SOURCES:
        return True
    folder = Path(source).expanduser()
    if (folder / MSR_TRAIN).is_file() and (folder / MSR_DEV_IDS).is_file():
        return True
    try:
        with open(folder / "dev.tsv", encoding="utf-8-sig") as dev:
            header = dev.readline().rstrip("\n").split("\t")
    except OSError:
        return False
    return (folder / "train.tsv").is_file() and header[:1] == ["Quality"] and "#1 String" in header


def source_label(source: str) -> str:
    """A data source as a reader names it: 'the bundled sample', 'GLUE MRPC from the Hub', 'MRPC files in mrpc'."""
    if source == "sample":
        return "the bundled sample"
    if source in HUB_SOURCES:
        return f"GLUE MRPC from the Hub ({'/'.join(HUB_DATASET)})"
    name = Path(source).name or str(source)
    return f"real MRPC ({name})" if is_real_mrpc(source) else name


def hub_mrpc_cached() -> bool:
    """Whether load_dataset("nyu-mll/glue", "mrpc") has been fetched into this machine's datasets cache."""
    import datasets

    cache = Path(datasets.config.HF_DATASETS_CACHE)
    return any(cache.glob("nyu-mll___glue/mrpc/*"))


def _load_hub() -> datasets.DatasetDict:
    import datasets

    from finetune.hub import use_cache_when_offline

    offline = use_cache_when_offline()
    try:
        dd = datasets.load_dataset(*HUB_DATASET)
    except OSError as error:  # ConnectionError offline; FileNotFoundError and HTTP errors online
        if offline:
            raise DataError(f"cannot load {'/'.join(HUB_DATASET)}: the Hugging Face Hub cannot be reached and nothing "
                            "is cached; use the bundled sample ('sample') or a local folder of MRPC files") from error
        raise DataError(f"cannot load {'/'.join(HUB_DATASET)} from the Hub: {error}") from error
    return dd.select_columns(list(COLUMNS)).cast(mrpc_features())


def _load_local(path: Path) -> datasets.DatasetDict:
    if path.is_dir():
        return _load_folder(path)
    if not path.exists():
        raise DataError(f"no such file or folder: {path}; {EXPECTED}")
    if path.suffix.lower() not in FILE_TYPES:
        raise DataError(f"unsupported file type {path.suffix or '(none)'!r}: {path}; {EXPECTED}")
    return _split_single_file(path)


def _load_folder(folder: Path) -> datasets.DatasetDict:
    if (folder / MSR_TRAIN).is_file():
        return _load_microsoft(folder)
    files = {split: _split_file(folder, split) for split in SPLIT_STEMS}
    if files["train"] is None:
        raise DataError(f"no MRPC files recognised in {folder}; {EXPECTED}")
    if files["validation"] is None:
        raise DataError(f"{folder} has {files['train'].name} but no validation.* or dev.* file; {EXPECTED}")
    return _dataset_dict({split: _read_split(path, split) for split, path in files.items() if path is not None})


def _split_file(folder: Path, split: str) -> Path | None:
    """The one file in folder named for split (train.csv, dev.tsv, ...), or None."""
    found = [folder / f"{stem}{suffix}" for stem in SPLIT_STEMS[split] for suffix in FILE_TYPES]
    found = [path for path in found if path.is_file()]
    if len(found) > 1:
        raise DataError(f"more than one {split} file in {folder}: {', '.join(p.name for p in found)}; keep one")
    return found[0] if found else None


def _load_microsoft(folder: Path) -> datasets.DatasetDict:
    """HF's glue/mrpc recipe: validation = rows whose ID pair is in the dev ids, train = the rest, idx = file row."""
    ids_path = folder / MSR_DEV_IDS
    if not ids_path.is_file():
        raise DataError(f"{folder} has {MSR_TRAIN} but not {MSR_DEV_IDS}, which says which rows form validation")
    dev_ids = _dev_ids(ids_path)
    train_path = folder / MSR_TRAIN
    records = _read_records(train_path, required=("sentence1", "sentence2", "label", "#1 ID", "#2 ID"))
    in_dev = [(row["#1 ID"], row["#2 ID"]) in dev_ids for _, row in records]
    examples = _examples(train_path, records, "train")
    splits = {"train": _subset(examples, [not dev for dev in in_dev]), "validation": _subset(examples, in_dev)}
    if (folder / MSR_TEST).is_file():
        splits["test"] = _read_split(folder / MSR_TEST, "test")
    return _dataset_dict(splits)


def _dev_ids(path: Path) -> set[tuple[str, str]]:
    ids = set()
    for line, text in _lines(path):
        fields = text.split("\t")
        if len(fields) < 2:
            raise _fault(path, line, f"expected two tab-separated IDs (#1 ID, #2 ID), found {len(fields)} field")
        ids.add((fields[0], fields[1]))
    return ids


def _subset(examples: dict[str, list], keep: list[bool]) -> dict[str, list]:
    return {name: [value for value, kept in zip(values, keep, strict=True) if kept]
            for name, values in examples.items()}


def _split_single_file(path: Path) -> datasets.DatasetDict:
    """Stratified by label, so both splits keep the file's class balance."""
    examples = _read_split(path, "train")
    rng = random.Random(SPLIT_SEED)
    held_out = set()
    for label in sorted(set(examples["label"])):
        members = [i for i, value in enumerate(examples["label"]) if value == label]
        rng.shuffle(members)
        held_out.update(members[:round(len(members) * VALIDATION_FRACTION)])
    if not held_out:
        raise DataError(f"{path} has only {len(examples['label'])} rows, too few to hold out "
                        f"{VALIDATION_FRACTION:.0%} for validation; give a folder with train.* and validation.* "
                        "instead")
    in_validation = [i in held_out for i in range(len(examples["label"]))]
    return _dataset_dict({"train": _subset(examples, [not held for held in in_validation]),
                          "validation": _subset(examples, in_validation)})


def _dataset_dict(splits: dict[str, dict[str, list]]) -> datasets.DatasetDict:
    import datasets

    features = mrpc_features()
    return datasets.DatasetDict({split: datasets.Dataset.from_dict(examples, features=features)
                                 for split, examples in splits.items()})


def _read_split(path: Path, split: str) -> dict[str, list]:
    return _examples(path, _read_records(path, _required(split)), split)


def _required(split: str) -> tuple[str, ...]:
    # A test file may come without labels, as GLUE's own test.tsv does.
    return ("sentence1", "sentence2") if split == "test" else ("sentence1", "sentence2", "label")


# --- reading: each reader returns (row number as a user sees it, {column: raw value}) per data row ---

def _read_records(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, Any]]]:
    _refuse_packed(path)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        return _read_jsonl(path, required)
    if suffix == ".parquet":
        return _read_parquet(path, required)
    return _read_delimited(path, required, "," if suffix == ".csv" else "\t")


# The first bytes of compressed files and archives, which a renamed .csv can hide.
PACKED = {b"\x1f\x8b": "gzip", b"PK\x03\x04": "zip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz",
          b"7z\xbc\xaf\x27\x1c": "7z", b"\x28\xb5\x2f\xfd": "zstd", b"Rar!": "rar"}


def _refuse_packed(path: Path) -> None:
    with open(path, "rb") as file:
        head = file.read(262)
    kinds = [kind for magic, kind in PACKED.items() if head.startswith(magic)]
    if head[257:262] == b"ustar":  # tar's mark sits after the first member's name
        kinds.append("tar")
    if kinds:
        raise _fault(path, None, f"a {kinds[0]} compressed file or archive; unpack it and give the "
                                 f"{path.suffix or 'data'} file itself")


def _read_delimited(path: Path, required: tuple[str, ...], delimiter: str) -> list[tuple[int, dict[str, Any]]]:
    rows = _csv_rows(path) if delimiter == "," else [(line, text.split("\t")) for line, text in _lines(path)]
    if not rows:
        raise _fault(path, None, f"the file is empty; expected a header line naming {_names(required)}")
    header_line, header = rows[0]
    columns = _canonical([name.strip() for name in header])
    _check_columns(path, header_line, columns, required)
    hint = "a comma inside an unquoted sentence?" if delimiter == "," else "a tab inside a sentence?"
    records = []
    for line, fields in rows[1:]:
        if len(fields) != len(columns):
            raise _fault(path, line, f"found {len(fields)} fields, expected {len(columns)} ({hint})")
        records.append((line, dict(zip(columns, fields, strict=True))))
    return records


def _lines(path: Path) -> list[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers; line endings as universal newlines, like HF's reader."""
    text = _decode(path).replace("\r\n", "\n").replace("\r", "\n")
    return [(number, line) for number, line in enumerate(text.split("\n"), start=1) if line]


def _csv_rows(path: Path) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(_decode(path), newline=""))
    rows, start = [], 1
    try:
        for fields in reader:
            if any("\n" in field or "\r" in field for field in fields):
                raise _fault(path, start, f'a field runs from line {start} to line {reader.line_num}: a stray " '
                                          'probably merged rows (double it as "" or quote the whole field)')
            if fields:
                rows.append((start, fields))
            start = reader.line_num + 1
    except csv.Error as error:
        raise _fault(path, start, f"unreadable CSV: {error}") from error
    return rows


def _decode(path: Path) -> str:
    data = path.read_bytes()
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = bom + error.start
        line = data.count(b"\n", 0, offset) + 1
        raise _fault(path, line, f"not UTF-8: byte 0x{data[offset]:02x} at byte offset {offset}; "
                                 "save the file as UTF-8") from error


def _read_jsonl(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, Any]]]:
    records = []
    for line, text in _lines(path):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as error:
            raise _fault(path, line, f"not valid JSON ({error.msg} at column {error.colno}); expected one JSON "
                                     "object per line (JSON Lines)") from error
        if not isinstance(row, dict):
            raise _fault(path, line, f"expected a JSON object per line (JSON Lines), got {type(row).__name__}")
        _check_columns(path, line, list(row), required)
        records.append((line, row))
    return records


def _read_parquet(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise _fault(path, None, f"not a readable Parquet file: {error}") from error
    columns = _canonical(table.column_names)
    _check_columns(path, None, columns, required)
    # Parquet has no lines: a row is the record's 1-based position.
    return list(enumerate(table.rename_columns(columns).to_pylist(), start=1))


def _canonical(columns: list[str]) -> list[str]:
    """GLUE/Microsoft header names mapped to ours; other headers are kept as they are."""
    if "#1 String" in columns:
        return [GLUE_NAMES.get(name, name) for name in columns]
    return columns


def _check_columns(path: Path, line: int | None, found: list[str], required: tuple[str, ...]) -> None:
    missing = [name for name in required if name not in found]
    if missing:
        raise _fault(path, line, f"missing column(s) {_names(missing)}; found {_names(found) or 'none'}, "
                                 f"expected {_names(required)}")


# --- validation: every row, one fault reported ---

def _examples(path: Path, records: list[tuple[int, dict[str, Any]]], split: str) -> dict[str, list]:
    """Validated columns; idx defaults to the row's 0-based position among the file's data rows."""
    if not records:
        raise _fault(path, None, "contains no data rows")
    allowed = {0, 1, UNLABELLED} if split == "test" else {0, 1}
    examples: dict[str, list] = {name: [] for name in COLUMNS}
    for position, (line, row) in enumerate(records):
        examples["sentence1"].append(_sentence(path, line, row, "sentence1"))
        examples["sentence2"].append(_sentence(path, line, row, "sentence2"))
        examples["label"].append(_label(path, line, row.get("label", UNLABELLED), allowed))
        examples["idx"].append(_idx(path, line, row.get("idx", position)))
    return examples


def _sentence(path: Path, line: int, row: dict[str, Any], column: str) -> str:
    value = row[column]
    if _missing(value):
        raise _fault(path, line, f"{column} is missing (null/NaN)")
    if not isinstance(value, str):
        raise _fault(path, line, f"{column} must be text, got {_quote(value)}")
    if not value.strip():
        raise _fault(path, line, f"{column} is empty")
    return value


def _label(path: Path, line: int, value: Any, allowed: set[int]) -> int:
    label = _integer(value)
    if label not in allowed:
        expected = "0, 1 or -1 (unlabelled)" if UNLABELLED in allowed else "0 or 1"
        got = "nothing (null/NaN)" if _missing(value) else _quote(value)
        raise _fault(path, line, f"label must be {expected}, got {got}")
    return label


def _idx(path: Path, line: int, value: Any) -> int:
    idx = _integer(value)
    if idx is None or not 0 <= idx <= INT32_MAX:
        raise _fault(path, line, f"idx must be a whole number from 0 to {INT32_MAX}, got {_quote(value)}")
    return idx


def _integer(value: Any) -> int | None:
    """1, "1", " 1 ", 1.0 and "1.0" (pandas writes labels as floats when a column has NaN) all give 1."""
    if isinstance(value, bool) or _missing(value):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _quote(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _names(names: list[str] | tuple[str, ...]) -> str:
    return ", ".join(repr(name) for name in names)


def _fault(path: Path, line: int | None, message: str) -> DataError:
    where = f"{path}, row {line}" if line is not None else str(path)
    return DataError(f"bad data in {where}: {message}")
