"""Every GLUE task and one's own data: the task read or detected from files, GLUE TSVs and the Hub; the shipped
metrics; and a run of each kind (pair or single sentence × two labels, several, or a score) through the CLI, from
training to evaluate, predict and a transformers pipeline."""
import csv
import json
import random

import datasets
import pytest
from test_cli import run_main

from finetune.data import DataError, load_data, split_counts
from finetune.metrics import baseline, score
from finetune.tasks import GLUE, MRPC, Spec, TaskError, own_task

TOPICS = {"finance": ["The bank raised its interest rate", "Shares fell after the results", "The market closed up"],
          "sports": ["The team won the final", "She scored twice in the match", "The race went to a photo finish"],
          "weather": ["Heavy rain is due tomorrow", "It will be sunny and warm", "Snow fell overnight"]}


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def topics_csv(path, rows=90):
    """One text column, three string labels, in the order finance, sports, weather."""
    chosen = [(f"{random.Random(i).choice(TOPICS[name])} ({i}).", name) for i in range(rows // 3) for name in TOPICS]
    return write_csv(path, ["text", "label"], chosen)


def scores_csv(path, rows=80):
    """Two texts and a score from 0 to 5 with decimals: regression."""
    rng = random.Random(0)
    chosen = [(f"A man plays the guitar {i}.", f"Someone plays music {i}.", round(rng.uniform(0, 5), 2))
              for i in range(rows)]
    return write_csv(path, ["sentence1", "sentence2", "score"], chosen)


# --- the task: read, detected, or refused in one line ---

def test_one_text_and_string_labels_are_a_classification_in_the_order_found(tmp_path):
    dd, task = load_data(str(topics_csv(tmp_path / "topics.csv")))
    assert (task.name, task.pair, task.labels) == ("classification", False, ("finance", "sports", "weather"))
    assert task.describe() == "single sentence, 3 labels: finance, sports, weather"
    assert dd["train"].column_names == ["sentence1", "label", "idx"]
    assert split_counts(dd)["validation"]["labels"] == {"finance": 3, "sports": 3, "weather": 3}  # 10 % of each
    named = load_data(str(tmp_path / "topics.csv"), Spec.parse(labels="weather,sports,finance"))[1]
    assert named.labels == ("weather", "sports", "finance")


def test_numbers_with_decimals_are_a_score_and_whole_numbers_classes_in_numeric_order(tmp_path):
    dd, task = load_data(str(scores_csv(tmp_path / "scores.csv")))
    assert (task.name, task.pair, task.regression, task.metrics) == ("regression", True, True,
                                                                     ("pearson", "spearmanr"))
    assert dd["train"].features["label"].dtype == "float32"
    write_csv(tmp_path / "stars.csv", ["text", "label"], [(f"Review {i}.", [10, 2, 1][i % 3]) for i in range(30)])
    assert load_data(str(tmp_path / "stars.csv"))[1].labels == ("1", "2", "10")
    assert load_data(str(tmp_path / "stars.csv"), Spec.parse("regression"))[1].regression


def test_pairs_labelled_0_and_1_stay_mrpc_and_named_pairs_are_their_own_task(tmp_path):
    write_csv(tmp_path / "pairs.csv", ["sentence1", "sentence2", "label"],
              [(f"A {i} .", f"B {i} .", i % 2) for i in range(20)])
    assert load_data(str(tmp_path / "pairs.csv"))[1] == MRPC
    write_csv(tmp_path / "nli.csv", ["premise", "hypothesis", "label"],
              [(f"A {i} .", f"B {i} .", ["entailment", "neutral", "contradiction"][i % 3]) for i in range(30)])
    dd, task = load_data(str(tmp_path / "nli.csv"))
    assert task.pair and task.labels == ("entailment", "neutral", "contradiction")
    assert task.metrics == ("accuracy", "macro_f1") and dd["train"].column_names[:2] == ["sentence1", "sentence2"]
    assert load_data(str(tmp_path / "nli.csv"), Spec.parse("mnli"))[1] == GLUE["mnli"]


@pytest.mark.parametrize("write, spec, fault", [
    (lambda p: write_csv(p, ["text", "label"], [("a", "x"), ("b", "x")]), Spec(), "take 1 value"),
    (lambda p: write_csv(p, ["text", "label"], [(f"t{i}", "pos" if i % 2 else "neg") for i in range(20)]),
     Spec.parse(labels="negative,positive"), "row 2: label must be 0 or 1, got 'neg' (or a label name: negative"),
    (lambda p: write_csv(p, ["sentence1", "sentence2", "score"], [("a", "b", "1.5"), ("c", "d", "")]),
     Spec.parse("regression"), "row 3: label must be a number (a score), got nothing"),
    (lambda p: write_csv(p, ["sentence1", "sentence2", "label"], [("a", "b", 1), ("c", "d", 0)]),
     Spec.parse("sst2"), "task sst2 takes single sentences (one text column), but the file has two"),
    (lambda p: write_csv(p, ["text", "label"], [("a", 1), ("b", 0)]), Spec.parse("rte"),
     "missing column(s) 'sentence1', 'sentence2'"),
    (lambda p: write_csv(p, ["body", "label"], [("a", 1), ("b", 0)]), Spec(), "missing column(s) 'sentence1'"),
])
def test_data_that_does_not_fit_its_task_is_refused_with_file_row_and_fault(tmp_path, write, spec, fault):
    path = write(tmp_path / "data.csv")
    with pytest.raises(DataError, match=f"bad data in {path}.*{fault}".replace("(", r"\(").replace(")", r"\)")):
        load_data(str(path), spec)


def test_named_columns_override_detection(tmp_path):
    write_csv(tmp_path / "tickets.csv", ["subject", "body", "team"],
              [(f"Subject {i}", f"Body {i}", ["billing", "tech"][i % 2]) for i in range(20)])
    dd, task = load_data(str(tmp_path / "tickets.csv"), Spec.parse(text_columns="body", label_column="team"))
    assert (task.pair, task.labels) == (False, ("billing", "tech"))
    assert dd["train"][0]["sentence1"].startswith("Body")


def test_unknown_names_are_refused_listing_the_known_ones(capsys):
    with pytest.raises(TaskError, match="unknown task 'sst-3'; known: mrpc, sst2, cola, qqp, stsb, mnli, qnli, rte"):
        Spec.parse("sst-3")
    code, _, err = run_main(capsys, "train", "--task", "sst-3")
    assert code == 2 and "invalid choice: 'sst-3'" in err and "Traceback" not in err


def test_glue_tsv_folders_are_read_with_the_task_named(tmp_path):
    sst2 = tmp_path / "SST-2"
    sst2.mkdir()
    for name, rows in (("train.tsv", 20), ("dev.tsv", 6)):
        (sst2 / name).write_text("sentence\tlabel\n" + "".join(f"a film {i} \t{i % 2}\n" for i in range(rows)))
    dd, task = load_data(str(sst2), Spec.parse("sst2"))
    assert task == GLUE["sst2"] and dd["validation"].num_rows == 6 and dd["train"].features["label"].names == [
        "negative", "positive"]
    mnli = tmp_path / "MNLI"
    mnli.mkdir()
    header = "index\tpromptID\tsentence1\tsentence2\tlabel1\tgold_label\n"
    gold = ("entailment", "neutral", "contradiction")
    for name in ("train.tsv", "dev_matched.tsv"):
        (mnli / name).write_text(header + "".join(f"{i}\t7\tA {i}.\tB {i}.\t{gold[i % 3]}\t{gold[i % 3]}\n"
                                                  for i in range(9)))
    dd, task = load_data(str(mnli), Spec.parse("mnli"))
    assert task == GLUE["mnli"] and dd["validation"]["label"] == [0, 1, 2] * 3
    stsb = tmp_path / "STS-B"
    stsb.mkdir()
    for name in ("train.tsv", "dev.tsv"):
        (stsb / name).write_text("index\tsentence1\tsentence2\tscore\n" + "".join(
            f"{i}\tA man {i}.\tA person {i}.\t{i / 2:.2f}\n" for i in range(10)))
    assert load_data(str(stsb), Spec.parse("stsb"))[0]["validation"]["label"][3] == pytest.approx(1.5)


def test_the_hub_path_loads_a_glue_config_offline_from_the_cache_or_refuses_at_once(monkeypatch,
                                                                                   hub_offline_and_uncached):
    with pytest.raises(DataError, match="cannot load nyu-mll/glue sst2: the Hugging Face Hub cannot be reached and "
                                        "nothing is cached"):
        load_data("hub", Spec.parse("sst2"))
    from finetune import hub

    calls = []
    rows = {"sentence": ["A fine film ."], "label": [1], "idx": [0]}
    pairs = {"premise": ["A ."], "hypothesis": ["B ."], "label": [2], "idx": [0]}

    def cached(name, config):
        calls.append((name, config))
        if config == "mnli":
            split = datasets.Dataset.from_dict(pairs)
            return datasets.DatasetDict({"train": split, "validation_matched": split, "validation_mismatched": split,
                                         "test_matched": split})
        return datasets.DatasetDict({"train": datasets.Dataset.from_dict(rows),
                                     "validation": datasets.Dataset.from_dict(rows)})

    monkeypatch.setattr(hub, "use_cache_when_offline", lambda: True)
    monkeypatch.setattr(datasets, "load_dataset", cached)
    dd, task = load_data("hub", Spec.parse("sst2"))
    assert task == GLUE["sst2"] and dd["train"].column_names == ["sentence1", "label", "idx"]
    dd, task = load_data("hub", Spec.parse("mnli"))
    assert list(dd) == ["train", "validation", "test"]
    assert dd["validation"].features["label"].names[2] == "contradiction"
    assert calls == [("nyu-mll/glue", "sst2"), ("nyu-mll/glue", "mnli")]


# --- the shipped metrics, as evaluate's glue module computes them ---

def test_each_tasks_metrics_and_a_baseline_from_the_data():
    assert score([1, 0, 1], [1, 1, 1]) == {"accuracy": 2 / 3, "f1": 0.8}  # MRPC as before
    assert score([1, 1, 0, 0], [1, 0, 1, 0], GLUE["cola"]) == {"matthews_correlation": 0.0}
    assert score([1, 0, 1, 0], [1, 0, 1, 0], GLUE["cola"]) == {"matthews_correlation": 1.0}
    three = own_task(False, ("a", "b", "c"), ("text",))
    # F1 per class: a 1.0, b 2/3, c 2/3.
    assert score([0, 1, 2, 2], [0, 1, 1, 2], three) == pytest.approx({"accuracy": 0.75, "macro_f1": (1 + 4 / 3) / 3})
    figures = score([1.0, 2.0, 3.0, 4.0], [1.5, 2.5, 2.0, 5.0], GLUE["stsb"])
    assert figures["pearson"] == pytest.approx(0.8305, abs=1e-4) and figures["spearmanr"] == pytest.approx(0.8)
    assert baseline([0, 2, 2, 1], [2, 2, 0], three) == {"answer": "always 'c'", "accuracy": 2 / 3,
                                                         "macro_f1": pytest.approx((0.8 + 0 + 0) / 2)}
    assert baseline([1.0, 3.0], [2.0, 5.0], GLUE["stsb"])["answer"] == "always 2.00 (the training mean)"


# --- a run of each kind, through the CLI ---

def train_tiny(capsys, model, data, out, *extra):
    code, said, err = run_main(capsys, "train", "--model", model, "--data", data, "--output-dir", out, "--epochs",
                               "1", "--batch-size", "8", "--precision", "fp32", "--logging-steps", "2", *extra)
    assert code == 0, err
    return said, json.loads((out / "metrics.json").read_text())


@pytest.mark.parametrize("kind", ["single-3", "pair-3", "pair-score", "single-score", "single-2"])
def test_a_run_of_each_kind_trains_answers_and_evaluates_with_its_task(tmp_path, capsys, tiny_bert, kind):
    if kind == "single-3":
        data = topics_csv(tmp_path / "data.csv")
    elif kind == "pair-3":
        data = write_csv(tmp_path / "data.csv", ["sentence1", "sentence2", "label"],
                         [(f"the cat {i} .", f"a dog {i} .", ["same", "other", "unrelated"][i % 3]) for i in range(60)])
    elif kind == "pair-score":
        data = scores_csv(tmp_path / "data.csv")
    elif kind == "single-score":
        data = write_csv(tmp_path / "data.csv", ["text", "score"], [(f"the cat {i} .", i / 7) for i in range(60)])
    else:
        data = write_csv(tmp_path / "data.csv", ["sentence", "label"], [(f"the cat {i} .", i % 2) for i in range(60)])
    said, metrics = train_tiny(capsys, tiny_bert, data, tmp_path / "run")
    task = metrics["task"]
    pair, labels = kind.startswith("pair"), {"3": 3, "score": 0, "2": 2}[kind.split("-")[1]]
    assert task["pair"] is pair and len(task["labels"]) == labels
    assert f"task {task['name']}: " in said
    assert set(task["metrics"]) <= set(metrics["final"]) and metrics["main_metric"] == task["main_metric"]
    assert metrics["baseline"]["answer"].startswith("always")
    config = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert config["finetune_task"]["name"] == task["name"]
    if labels:
        assert list(config["id2label"].values()) == task["labels"]
        assert len(metrics["final"]["confusion_matrix"]) == labels
    texts = ["the cat 3 .", "a dog 3 ."] if pair else ["the cat 3 ."]
    code, out, err = run_main(capsys, "predict", "--model", tmp_path / "run", *texts)
    assert code == 0, err
    answer = json.loads(out)
    assert ("score" in answer) if not labels else answer["label"] in task["labels"]
    code, _, err = run_main(capsys, "predict", "--model", tmp_path / "run", *(texts[:1] if pair else [*texts, "b"]))
    assert code == 2 and ("sentence2 is empty" if pair else "leave sentence2 empty") in err
    code, out, err = run_main(capsys, "evaluate", "--model", tmp_path / "run", "--data", data, "--json")
    assert code == 0, err
    assert {k: v for k, v in json.loads(out).items() if k in task["metrics"]} == pytest.approx(
        {k: metrics["final"][k] for k in task["metrics"]})


def test_a_pipeline_answers_with_the_runs_label_names(tmp_path, capsys, tiny_bert):
    from transformers import pipeline

    train_tiny(capsys, tiny_bert, topics_csv(tmp_path / "topics.csv"), tmp_path / "run")
    answer = pipeline("text-classification", model=str(tmp_path / "run" / "model"))("the team won .")
    assert answer[0]["label"] in ("finance", "sports", "weather")


def test_the_bundled_model_learns_the_sentiment_sample_well_above_its_baseline(tmp_path, capsys):
    said, metrics = train_tiny(capsys, "bundled", "sentiment-sample", tmp_path / "run", "--epochs", "3",
                               "--batch-size", "32", "--learning-rate", "1e-4", "--precision", "auto")
    assert "the bundled sentiment sample, task classification: single sentence, 3 labels: negative, neutral, " \
           "positive; 480 training and 120 validation rows" in said
    assert metrics["baseline"] == {"answer": "always 'negative'", "accuracy": pytest.approx(1 / 3),
                                   "macro_f1": pytest.approx(0.5 / 3)}
    assert metrics["final"]["accuracy"] > 0.7 and metrics["final"]["macro_f1"] > 0.7  # measured 0.88 at demo
    card = (tmp_path / "run" / "README.md").read_text()
    assert "Labels: 0 `negative`, 1 `neutral`, 2 `positive`" in card and "macro F1" in card
    assert "| baseline: always 'negative' | the same rows | 0.3333 | 0.1667 |" in card

