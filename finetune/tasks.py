"""What a run learns: its text columns (one or two), its label names or a score, its metrics and main metric; the GLUE
tasks built in, own data's task detected from its columns and labels."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from finetune import FinetuneError

# Every dataset is held with these columns whatever its files call them: sentence2 only for a task of pairs, label an
# integer (a class) or a float (a score), idx the row's number.
TEXT_COLUMNS = ("sentence1", "sentence2")
CLASSIFICATION, REGRESSION = "classification", "regression"
DEFAULT = "mrpc"
# Every metric a task may have, in the order they are shown, and how a reader names them.
METRIC_NAMES = {"accuracy": "accuracy", "f1": "F1", "macro_f1": "macro F1", "matthews_correlation": "Matthews corr.",
                "pearson": "Pearson", "spearmanr": "Spearman"}
METRIC_KEYS = tuple(METRIC_NAMES)


def figures_text(figures: dict, digits: int = 3) -> str:
    """'accuracy 0.812, F1 0.872': the metrics present in `figures`, in METRIC_KEYS' order."""
    return ", ".join(f"{METRIC_NAMES[k]} {figures[k]:.{digits}f}" for k in METRIC_KEYS if figures.get(k) is not None)


class TaskError(FinetuneError, ValueError):
    """A task that is not known, or that the data or the run does not fit."""


@dataclass(frozen=True)
class Task:
    """One task: enough to read its data, build its model's head, score it and name its answers."""

    name: str  # a GLUE config ("mrpc", "sst2", ...), else "classification" or "regression" (own data)
    title: str  # what a reader is told the model learns
    pair: bool  # two texts per example, or one
    labels: tuple[str, ...] = ()  # the class names in id order; empty for a score (regression)
    metrics: tuple[str, ...] = ("accuracy",)
    main_metric: str = "accuracy"
    text_names: tuple[str, ...] = TEXT_COLUMNS  # the texts as the task's own files name them, for display
    glue: str | None = None  # the nyu-mll/glue config that holds it on the Hub
    validation: str = "validation"  # the Hub's split scored as validation (MNLI has two)

    @property
    def regression(self) -> bool:
        return not self.labels

    @property
    def columns(self) -> tuple[str, ...]:
        """The texts' columns in our datasets."""
        return TEXT_COLUMNS if self.pair else TEXT_COLUMNS[:1]

    @property
    def num_labels(self) -> int:
        return len(self.labels) or 1

    @property
    def is_glue(self) -> bool:
        return self.glue is not None

    def describe(self) -> str:
        """One line: 'sentence pairs, 2 labels: not_equivalent, equivalent' or 'single sentence, a score'."""
        kind = "sentence pairs" if self.pair else "single sentence"
        what = "a score (regression)" if self.regression else f"{len(self.labels)} labels: {', '.join(self.labels)}"
        return f"{kind}, {what}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Task:
        known = {name: values[name] for name in cls.__dataclass_fields__ if name in values}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in known.items()})


def _glue(name, title, pair, labels, metrics=("accuracy",), main=None, text_names=TEXT_COLUMNS,
          validation="validation"):
    return Task(name=name, title=title, pair=pair, labels=labels, metrics=metrics, main_metric=main or metrics[0],
                text_names=text_names if pair else text_names[:1], glue=name, validation=validation)


GLUE = {task.name: task for task in (
    _glue("mrpc", "MRPC: is sentence 2 a paraphrase of sentence 1?", True, ("not_equivalent", "equivalent"),
          ("accuracy", "f1"), "f1"),
    _glue("sst2", "SST-2: is the sentence's sentiment positive?", False, ("negative", "positive"),
          text_names=("sentence",)),
    _glue("cola", "CoLA: is the sentence grammatical English?", False, ("unacceptable", "acceptable"),
          ("matthews_correlation",), text_names=("sentence",)),
    _glue("qqp", "QQP: do the two questions ask the same thing?", True, ("not_duplicate", "duplicate"),
          ("accuracy", "f1"), "f1", text_names=("question1", "question2")),
    _glue("stsb", "STS-B: how similar are the two sentences (0 to 5)?", True, (), ("pearson", "spearmanr"),
          "pearson"),
    _glue("mnli", "MNLI: does the premise entail the hypothesis, contradict it, or neither?", True,
          ("entailment", "neutral", "contradiction"), text_names=("premise", "hypothesis"),
          validation="validation_matched"),
    _glue("qnli", "QNLI: does the sentence answer the question?", True, ("entailment", "not_entailment"),
          text_names=("question", "sentence")),
    _glue("rte", "RTE: does sentence 1 entail sentence 2?", True, ("entailment", "not_entailment")),
    _glue("wnli", "WNLI: does sentence 2 follow from sentence 1 (pronouns resolved)?", True,
          ("not_entailment", "entailment")),
)}
MRPC = GLUE["mrpc"]
KNOWN = (*GLUE, CLASSIFICATION, REGRESSION)


def glue_task(name: str) -> Task:
    """A GLUE task by name; an unknown name is refused, listing the known ones."""
    key = str(name).strip().lower().replace("-", "")
    if key not in GLUE:
        raise TaskError(f"unknown task {name!r}; known: {', '.join(KNOWN)}")
    return GLUE[key]


def check_name(name: str | None) -> None:
    """Refuse a task name that is neither 'auto', a GLUE task, 'classification' nor 'regression'."""
    if name in (None, "", "auto", CLASSIFICATION, REGRESSION):
        return
    glue_task(name)


def own_task(pair: bool, labels: tuple[str, ...] | None, text_names: tuple[str, ...]) -> Task:
    """The task of one's own data: classification over `labels` (accuracy, and F1 of the second label for two, macro
    F1 for more), or regression (labels None: Pearson and Spearman)."""
    if labels is None:
        return Task(REGRESSION, "predict a score", pair, (), ("pearson", "spearmanr"), "pearson", text_names)
    metrics = ("accuracy", "f1") if len(labels) == 2 else ("accuracy", "macro_f1")
    return Task(CLASSIFICATION, f"classify into {', '.join(labels)}", pair, tuple(labels), metrics, "accuracy",
                text_names)


def of_model_config(config) -> Task:
    """The task a saved model was trained for: its own record (written at training), else read from its id2label:
    MRPC's two labels, or classification over its labels (pairs, as every run before tasks were)."""
    recorded = getattr(config, "finetune_task", None)
    if isinstance(recorded, dict):
        return Task.from_dict(recorded)
    names = tuple(str(config.id2label[i]) for i in sorted(config.id2label, key=int)) if config.id2label else ()
    if getattr(config, "problem_type", None) == "regression" or getattr(config, "num_labels", 2) == 1:
        return own_task(True, None, TEXT_COLUMNS)
    if names in ((), ("LABEL_0", "LABEL_1"), MRPC.labels):
        return MRPC
    return own_task(True, names, TEXT_COLUMNS)


@dataclass
class Spec:
    """What the user said of their data's task: a name (or 'auto'), the text and label columns, the label names."""

    task: str = "auto"
    text_columns: tuple[str, ...] = ()
    label_column: str | None = None
    labels: tuple[str, ...] = ()

    @classmethod
    def parse(cls, task: str | None = None, text_columns: str | None = None, label_column: str | None = None,
              labels: str | None = None) -> Spec:
        """From the CLI's or the form's text: comma-separated lists, blanks meaning 'detect'."""
        check_name((task or "auto").strip().lower() or "auto")
        texts = tuple(c.strip() for c in (text_columns or "").split(",") if c.strip())
        if len(texts) > 2:
            raise TaskError(f"at most two text columns, got {len(texts)}: {', '.join(texts)}")
        names = tuple(n.strip() for n in (labels or "").split(",") if n.strip())
        if len(set(names)) != len(names):
            raise TaskError(f"label names repeat: {', '.join(names)}")
        return cls((task or "auto").strip().lower() or "auto", texts, (label_column or "").strip() or None, names)
