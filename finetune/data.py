"""A task's data as a DatasetDict (columns sentence1[, sentence2], label, idx) from the bundled samples, the Hub,
Microsoft's MRPC files, GLUE TSVs, or one's own CSV/TSV/JSONL/Parquet files, with its task (finetune.tasks) read or
detected."""
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
from finetune.tasks import MRPC, REGRESSION, Spec, Task, glue_task, own_task

if TYPE_CHECKING:
    import datasets

LABEL_NAMES = MRPC.labels
COLUMNS = ("sentence1", "sentence2", "label", "idx")
ASSETS = Path(__file__).resolve().parent.parent / "assets"
SAMPLE_DIR = ASSETS / "sample"
SENTIMENT_DIR = ASSETS / "sample-sentiment"
# The bundled samples by source name: their folder, and the task their files are read as unless told otherwise.
SAMPLES = {"sample": (SAMPLE_DIR, Spec("mrpc")),
           "sentiment-sample": (SENTIMENT_DIR, Spec("classification", labels=("negative", "neutral", "positive")))}
HUB_DATASET = ("nyu-mll/glue", "mrpc")  # load_dataset(*HUB_DATASET); the short name "glue" no longer resolves
HUB_SOURCES = {"hub", "glue", "nyu-mll/glue"}
# The columns a file may name its texts and its label by, in the order tried: pairs before single texts.
PAIR_NAMES = (("sentence1", "sentence2"), ("text", "text_pair"), ("question", "sentence"), ("question1", "question2"),
              ("premise", "hypothesis"))
SINGLE_NAMES = ("sentence", "text")
LABEL_COLUMNS = ("label", "labels", "gold_label", "is_duplicate", "score")

MSR_TRAIN, MSR_DEV_IDS, MSR_TEST = "msr_paraphrase_train.txt", "mrpc_dev_ids.tsv", "msr_paraphrase_test.txt"
SPLIT_STEMS = {"train": ("train",), "validation": ("validation", "dev", "validation_matched", "dev_matched"),
               "test": ("test",)}
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
    """Data that cannot be used for its task; the message names the file, the row and the fault on one line."""


def features(task: Task) -> datasets.Features:
    """The schema every source of a task is cast to: HF's glue/mrpc for MRPC, its texts and label for the others."""
    import datasets

    label = datasets.Value("float32") if task.regression else datasets.ClassLabel(names=list(task.labels))
    return datasets.Features({**{column: datasets.Value("string") for column in task.columns}, "label": label,
                              "idx": datasets.Value("int32")})


def mrpc_features() -> datasets.Features:
    """The schema of HF's glue/mrpc."""
    return features(MRPC)


def load_mrpc(source: str = "sample") -> datasets.DatasetDict:
    """Splits train, validation and (when the source has one) test of MRPC, with exactly mrpc_features()."""
    return load_data(source, Spec("mrpc"))[0]


def load_data(source: str = "sample", spec: Spec | None = None) -> tuple[datasets.DatasetDict, Task]:
    """A source's splits (train, validation and, when it has one, test) and its task: the one `spec` names, else
    MRPC for MRPC's sources and detected from own files' columns and labels."""
    spec = spec or Spec()
    if source in SAMPLES:
        folder, own = SAMPLES[source]
        if not folder.is_dir():
            raise DataError(f"the bundled sample is missing: {folder} does not exist")
        return _load_local(folder, spec if spec.task != "auto" else own)
    if source in HUB_SOURCES:
        return _load_hub(glue_task(DEFAULT_HUB if spec.task == "auto" else spec.task))
    return _load_local(Path(source).expanduser(), spec)


DEFAULT_HUB = "mrpc"


def read_text_rows(path: Path, task: Task = MRPC) -> list[dict[str, Any]]:
    """Every row of a .csv, .tsv, .jsonl or .parquet file of texts to answer for `task` (its columns as training data
    names them; sentence1 and sentence2 for pairs), all other columns kept (an id, say), each text checked as training
    data is: a bad row is refused with the file, the row and the fault. The texts come back as sentence1[, sentence2].
    """
    path = Path(path)
    wanted = "columns sentence1 and sentence2" if task.pair else "a column sentence or text"
    if path.suffix.lower() not in FILE_TYPES:
        raise DataError(f"unsupported file type {path.suffix or '(none)'!r}: {path.name}; expected a "
                        f".csv, .tsv, .jsonl or .parquet file with {wanted}")
    line, found = _header(path)
    texts, _ = _layout(path, line, found, Spec(task.name), task, "test")
    records = _read_records(path, texts)
    if not records:
        raise _fault(path, None, "contains no data rows")
    rows = []
    for line, row in records:
        values = {ours: _sentence(path, line, row, theirs) for ours, theirs in zip(task.columns, texts, strict=True)}
        rows.append({**{k: v for k, v in row.items() if k not in texts}, **values})
    return rows


def read_pair_rows(path: Path) -> list[dict[str, Any]]:
    """read_text_rows for MRPC's pairs."""
    return read_text_rows(path, MRPC)


def count_repeated_pairs(dd: datasets.DatasetDict) -> dict[str, int]:
    """Repeated examples, reported (not refused): per split, rows whose texts came earlier in it, and "validation in
    train", validation examples also in train (they inflate the validation score). Only non-zero counts."""
    columns = [c for c in ("sentence1", "sentence2") if c in next(iter(dd.values())).column_names]
    pairs = {split: list(zip(*(dataset[c] for c in columns), strict=True)) for split, dataset in dd.items()}
    found = {split: len(rows) - len(set(rows)) for split, rows in pairs.items()}
    if "train" in pairs and "validation" in pairs:
        found["validation in train"] = len(set(pairs["validation"]) & set(pairs["train"]))
    return {name: count for name, count in found.items() if count}


def split_counts(dd: datasets.DatasetDict) -> dict:
    """Rows and label counts per split, for display; unlabelled rows (-1) count in rows only. A score's split gives
    its mean, least and most instead of counts."""
    summary = {}
    for split, dataset in dd.items():
        label = dataset.features["label"]
        if hasattr(label, "names"):
            counts = Counter(dataset["label"])
            summary[split] = {"rows": len(dataset), "labels": {name: counts[i] for i, name in enumerate(label.names)}}
        else:
            scores = [value for value in dataset["label"] if value != UNLABELLED]
            summary[split] = {"rows": len(dataset), "scores": {
                "mean": round(sum(scores) / len(scores), 4), "min": round(min(scores), 4),
                "max": round(max(scores), 4)} if scores else {}}
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


def source_label(source: str, task: str | None = None) -> str:
    """A data source as a reader names it: 'the bundled sample', 'GLUE MRPC from the Hub', 'MRPC files in mrpc'."""
    if source == "sample":
        return "the bundled sample"
    if source == "sentiment-sample":
        return "the bundled sentiment sample"
    if source in HUB_SOURCES:
        config = task if task in _glue_names() else HUB_DATASET[1]
        return f"GLUE {config.upper()} from the Hub ({HUB_DATASET[0]}, {config})"
    name = Path(source).name or str(source)
    return f"real MRPC ({name})" if is_real_mrpc(source) else name


def _glue_names() -> tuple[str, ...]:
    from finetune.tasks import GLUE

    return tuple(GLUE)


def hub_cached(config: str = "mrpc") -> bool:
    """Whether load_dataset("nyu-mll/glue", config) has been fetched into this machine's datasets cache."""
    import datasets

    cache = Path(datasets.config.HF_DATASETS_CACHE)
    return any(cache.glob(f"nyu-mll___glue/{config}/*"))


def hub_mrpc_cached() -> bool:
    return hub_cached("mrpc")


def _load_hub(task: Task) -> tuple[datasets.DatasetDict, Task]:
    import datasets

    from finetune.hub import use_cache_when_offline

    name = f"{HUB_DATASET[0]} {task.glue}"
    offline = use_cache_when_offline()
    try:
        dd = datasets.load_dataset(HUB_DATASET[0], task.glue)
    except OSError as error:  # ConnectionError offline; FileNotFoundError and HTTP errors online
        if offline:
            raise DataError(f"cannot load {name}: the Hugging Face Hub cannot be reached and nothing is cached; use "
                            "the bundled sample ('sample') or a local folder of files") from error
        raise DataError(f"cannot load {name} from the Hub: {error}") from error
    # MNLI's matched validation and test are its validation and test; the mismatched ones are left out.
    test = task.validation.replace("validation", "test")
    splits = {"train": dd["train"], "validation": dd[task.validation], **({"test": dd[test]} if test in dd else {})}
    renamed = {theirs: ours for theirs, ours in zip(task.text_names, task.columns, strict=True) if theirs != ours}
    splits = {split: rows.rename_columns(renamed).select_columns([*task.columns, "label", "idx"])
              for split, rows in splits.items()}
    return datasets.DatasetDict(splits).cast(features(task)), task


def _load_local(path: Path, spec: Spec) -> tuple[datasets.DatasetDict, Task]:
    if path.is_dir():
        return _load_folder(path, spec)
    if not path.exists():
        raise DataError(f"no such file or folder: {path}; {EXPECTED}")
    if path.suffix.lower() not in FILE_TYPES:
        raise DataError(f"unsupported file type {path.suffix or '(none)'!r}: {path}; {EXPECTED}")
    return _split_single_file(path, spec)


def _load_folder(folder: Path, spec: Spec) -> tuple[datasets.DatasetDict, Task]:
    if (folder / MSR_TRAIN).is_file():
        if spec.task not in ("auto", "mrpc"):
            raise DataError(f"{folder} holds Microsoft's MRPC files, not data for task {spec.task}")
        return _load_microsoft(folder), MRPC
    files = {split: _split_file(folder, split) for split in SPLIT_STEMS}
    if files["train"] is None:
        raise DataError(f"no data files recognised in {folder}; {EXPECTED}")
    if files["validation"] is None:
        raise DataError(f"{folder} has {files['train'].name} but no validation.* or dev.* file; {EXPECTED}")
    reader = _Reader(files["train"], spec)
    return _dataset_dict({split: reader.read(path, split) for split, path in files.items() if path is not None},
                         reader.task), reader.task


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
    reader = _Reader(train_path, Spec("mrpc"))
    examples = reader.examples(train_path, records, "train")
    splits = {"train": _subset(examples, [not dev for dev in in_dev]), "validation": _subset(examples, in_dev)}
    if (folder / MSR_TEST).is_file():
        splits["test"] = reader.read(folder / MSR_TEST, "test")
    return _dataset_dict(splits, MRPC)


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


def _split_single_file(path: Path, spec: Spec) -> tuple[datasets.DatasetDict, Task]:
    """Stratified by label (a class's rows held out in proportion), so both splits keep the file's class balance; a
    score's rows are held out at random."""
    reader = _Reader(path, spec)
    examples = reader.read(path, "train")
    rng = random.Random(SPLIT_SEED)
    held_out = set()
    strata = [None] if reader.task.regression else sorted(set(examples["label"]))
    for label in strata:
        members = [i for i, value in enumerate(examples["label"]) if label is None or value == label]
        rng.shuffle(members)
        held_out.update(members[:round(len(members) * VALIDATION_FRACTION)])
    if not held_out:
        raise DataError(f"{path} has only {len(examples['label'])} rows, too few to hold out "
                        f"{VALIDATION_FRACTION:.0%} for validation; give a folder with train.* and validation.* "
                        "instead")
    in_validation = [i in held_out for i in range(len(examples["label"]))]
    return _dataset_dict({"train": _subset(examples, [not held for held in in_validation]),
                          "validation": _subset(examples, in_validation)}, reader.task), reader.task


def _dataset_dict(splits: dict[str, dict[str, list]], task: Task) -> datasets.DatasetDict:
    import datasets

    schema = features(task)
    return datasets.DatasetDict({split: datasets.Dataset.from_dict(examples, features=schema)
                                 for split, examples in splits.items()})


class _Reader:
    """Reads a source's split files the way its train file decided: which columns hold the texts and the label, and
    the task (given, or detected from the train file's labels)."""

    def __init__(self, train_path: Path, spec: Spec):
        self.spec = spec
        self.glue = glue_task(spec.task) if spec.task not in ("auto", "classification", "regression") else None
        line, found = _header(train_path)
        self.texts, self.label = _layout(train_path, line, found, spec, self.glue, "train")
        self.task = self.glue
        if self.task is None:
            records = _read_records(train_path, (*self.texts, self.label))
            self.task = _detect(train_path, records, self.texts, self.label, spec)
            self._train = records
        else:
            self._train = None

    def read(self, path: Path, split: str) -> dict[str, list]:
        if self._train is not None and split == "train":
            records, self._train = self._train, None
        else:
            line, found = _header(path)
            _layout(path, line, found, Spec(self.task.name, self.texts, self.label), self.task, split)
            required = self.texts if split == "test" and self.label not in found else (*self.texts, self.label)
            records = _read_records(path, required)
        return self.examples(path, records, split)

    def examples(self, path: Path, records: list[tuple[int, dict[str, Any]]], split: str) -> dict[str, list]:
        """Validated columns; idx defaults to the row's 0-based position among the file's data rows."""
        if not records:
            raise _fault(path, None, "contains no data rows")
        examples: dict[str, list] = {name: [] for name in (*self.task.columns, "label", "idx")}
        label_of = _score if self.task.regression else _class_label
        for position, (line, row) in enumerate(records):
            for ours, theirs in zip(self.task.columns, self.texts, strict=True):
                examples[ours].append(_sentence(path, line, row, theirs))
            examples["label"].append(label_of(path, line, row.get(self.label, UNLABELLED), self.task,
                                              split == "test"))
            examples["idx"].append(_idx(path, line, row.get("idx", position)))
        return examples


def _header(path: Path) -> tuple[int | None, list[str]]:
    """The column names of a data file, and the line that names them."""
    _refuse_packed(path)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        for line, text in _lines(path):
            if text.strip():
                try:
                    row = json.loads(text)
                except json.JSONDecodeError:
                    break  # the reader says what is wrong with the line
                return line, list(row) if isinstance(row, dict) else []
        return None, []
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return None, _canonical(pq.read_schema(path).names)
        except (pa.ArrowException, OSError):
            return None, []  # the reader says why
    with open(path, "rb") as file:
        for number, raw in enumerate(file, start=1):  # the first line that is not blank, as the reader takes it
            try:
                first = raw.decode("utf-8").lstrip("\ufeff").rstrip("\r\n")
            except UnicodeDecodeError:
                return None, []  # the reader says where the bytes are not UTF-8
            if first.strip():
                names = next(csv.reader([first])) if suffix == ".csv" else first.split("\t")
                return number, _canonical([name.strip() for name in names])
    return None, []  # the reader says the file is empty


def _layout(path: Path, line: int | None, found: list[str], spec: Spec, glue: Task | None,
            split: str) -> tuple[tuple[str, ...], str]:
    """The file's columns holding the texts (one or two) and the label: as the spec names them, else the first known
    names the file has (a GLUE task's own names first)."""
    if not found:
        return (glue.text_names if glue else ("sentence1", "sentence2")), spec.label_column or "label"
    if spec.text_columns:
        candidates = [spec.text_columns]
    else:
        pairs = [glue.text_names] if glue and glue.pair else []
        singles = [glue.text_names] if glue and not glue.pair else []
        if glue is None or glue.pair:
            pairs += [names for names in PAIR_NAMES if names not in pairs]
        if glue is None or not glue.pair:
            singles += [(name,) for name in (*SINGLE_NAMES, "sentence1") if (name,) not in singles]
        candidates = pairs + singles
    texts = next((names for names in candidates if all(name in found for name in names)), candidates[0])
    pair = next((names for names in PAIR_NAMES if all(name in found for name in names)), None)
    if glue is not None and not glue.pair and not spec.text_columns and pair:
        raise _fault(path, line, f"task {glue.name} takes single sentences (one text column), but the file has two: "
                                 f"{_names(pair)}; name the one to use with --text-columns (Text columns)")
    label = spec.label_column or next((name for name in LABEL_COLUMNS if name in found), "label")
    if glue is not None and len(texts) != (2 if glue.pair else 1):
        kind = "pairs (two text columns)" if glue.pair else "single sentences (one text column)"
        raise _fault(path, line, f"task {glue.name} takes {kind}, got {len(texts)} text column(s): "
                                 f"{_names(texts)}")
    expected = (*texts, *((label,) if split != "test" else ()))
    _check_columns(path, line, found, expected)
    return tuple(texts), label


def _detect(path: Path, records: list[tuple[int, dict[str, Any]]], texts: tuple[str, ...], label: str,
            spec: Spec) -> Task:
    """Own data's task from its train file: a score when told so or when the labels are numbers not all whole;
    else classes named as given, or in the order found (whole numbers in numeric order); MRPC for pairs labelled
    0/1 when nothing else is said, as every pair file was before tasks."""
    values = [row.get(label) for _, row in records if not _blank(row.get(label))]
    numbers = [_number(value) for value in values]
    pair = len(texts) == 2
    if spec.task == REGRESSION or (spec.task == "auto" and values and None not in numbers
                                   and any(not n.is_integer() for n in numbers)):
        return own_task(pair, None, texts)
    if spec.labels:
        names = spec.labels
    elif values and None not in numbers:
        names = tuple(str(int(n)) for n in sorted(set(numbers)))
    else:
        names = tuple(dict.fromkeys(str(value).strip() for value in values))
    if spec.task == "auto" and pair and not spec.labels and set(names) <= {"0", "1"}:
        return MRPC
    if len(names) < 2:
        raise _fault(path, None, f"the labels take {len(names)} value ({_names(names)}): a classifier needs at least "
                                 "two; for a score say --task regression")
    return own_task(pair, names, texts)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


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

def _sentence(path: Path, line: int, row: dict[str, Any], column: str) -> str:
    value = row[column]
    if _missing(value):
        raise _fault(path, line, f"{column} is missing (null/NaN)")
    if not isinstance(value, str):
        raise _fault(path, line, f"{column} must be text, got {_quote(value)}")
    if not value.strip():
        raise _fault(path, line, f"{column} is empty")
    return value


def _class_label(path: Path, line: int, value: Any, task: Task, test: bool) -> int:
    """A class's id from its number (0 to N-1) or its name; a test split may leave it out (-1)."""
    names = task.labels
    if _blank(value):
        value = None
    if not _missing(value) and str(value).strip() in names:
        return names.index(str(value).strip())
    label = _integer(value)
    if label is not None and (0 <= label < len(names) or (test and label == UNLABELLED)):
        return label
    if test and _missing(value):
        return UNLABELLED
    numbers = "0 or 1" if len(names) == 2 else f"0 to {len(names) - 1}"
    expected = f"{numbers}{', or -1 (unlabelled)' if test else ''}"
    worded = isinstance(value, str) and _number(value) is None  # a name that is not one of the labels
    named = f" (or a label name: {', '.join(names)})" if worded and names != tuple(map(str, range(len(names)))) else ""
    got = "nothing (null/NaN)" if _missing(value) else _quote(value)
    raise _fault(path, line, f"label must be {expected}, got {got}{named}")


def _blank(value: Any) -> bool:
    """No label: null, NaN, or an empty field."""
    return _missing(value) or (isinstance(value, str) and not value.strip())


def _score(path: Path, line: int, value: Any, task: Task, test: bool) -> float:
    value = None if _blank(value) else value
    number = None if _missing(value) else _number(value)
    if number is None:
        if test and (_missing(value) or value == UNLABELLED):
            return float(UNLABELLED)
        got = "nothing (null/NaN)" if _missing(value) else _quote(value)
        raise _fault(path, line, f"label must be a number (a score), got {got}")
    return number


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
