"""python -m finetune train|evaluate|predict|explain|tokenize|data|push: the headless face of the same core the app
uses."""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import fields, replace
from pathlib import Path

from finetune import FinetuneError
from finetune.config import PRESETS, RunConfig, value_kind

_BOOLEANS = {"yes": True, "true": True, "on": True, "1": True, "no": False, "false": False, "off": False, "0": False}
_UNSET = object()  # a flag given as its "unset" word (--max-train-samples all): None, even where the preset sets one


def _boolean(text: str) -> bool:
    if text.lower() not in _BOOLEANS:
        raise ValueError(text)
    return _BOOLEANS[text.lower()]


_boolean.__name__ = "yes or no"


def _flag_type(kind, unset_word=None):
    def parse(text):
        if unset_word is not None and text == unset_word:
            return _UNSET
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
    parse.__name__ = kind.__name__
    return parse


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    """One flag per RunConfig field, from the field's own label, help and choices: the CLI and the form read one
    table."""
    parser.add_argument("--config", metavar="FILE", help="a run configuration (a run's config.json, or one written by "
                        "hand): the flags given with it override its settings")
    for f in fields(RunConfig):
        kind, unset = value_kind(f), f.metadata["unset"]
        kind = _boolean if kind is bool else kind
        from_preset = f.metadata["hyperparameter"] and f.name != "seed"
        shown = " (preset's value if not given)" if from_preset else f" (default {f.default})"
        shown += f"; '{unset.word}' for {unset.meaning}" if unset else ""
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=_flag_type(kind, unset.word if unset else None),
                            default=None, metavar="yes|no" if kind is _boolean else None,
                            choices=tuple(PRESETS) if f.name == "preset" else f.metadata["choices"],
                            help=f.metadata["help"] + shown)


def _emit(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def config_from_args(args) -> RunConfig:
    """The RunConfig that the train command describes: --config's file or else the preset, then each flag given on top
    (a --preset given with --config puts that preset's settings over the file's first)."""
    given = {f.name: getattr(args, f.name) for f in fields(RunConfig) if getattr(args, f.name) is not None}
    given = {name: None if value is _UNSET else value for name, value in given.items()}
    preset = given.pop("preset", None)
    if args.config:
        config = RunConfig.load(Path(args.config))
        if preset:
            config = replace(config, **PRESETS[preset], preset=preset)
    else:
        config = RunConfig.from_preset(preset or "default")
    return replace(config, **given).normalized()


def torchrun_command(processes: int) -> list[str]:
    """How one process starts N data-parallel ones on this machine: torchrun, through this Python."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
            "-m", "finetune"]


def _processes(config: RunConfig) -> int:
    """The processes this run trains with: the config's, else one per GPU where there are several, else 1."""
    from finetune.config import ConfigError
    from finetune.device import default_processes

    launched = os.environ.get("WORLD_SIZE")
    if launched is None:
        return config.processes or default_processes()
    if config.processes not in (0, int(launched)):
        raise ConfigError(f"processes is {config.processes} but torchrun started {launched}: "
                          "give the same number to both")
    return int(launched)


def _train_setup(args) -> tuple[RunConfig, Path, object]:
    """The run's config, folder and loaded inputs (None on a resume), checked before any process of the run trains;
    with --processes N outside torchrun, this process becomes torchrun here."""
    from finetune import runs
    from finetune.train import is_main_process, prepare_inputs, record

    if _alone_under_accelerate():
        raise runs.RunError("accelerate launch started this process alone, without torchrun or MPI (MULTI_CPU or --cpu "
                            "with several processes or machines): it would train a run of its own; use "
                            "distributed_type MULTI_GPU, which trains on the CPU where there is no GPU, or torchrun")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not (args.output_dir or args.resume):
        raise runs.RunError("with several processes (torchrun, accelerate launch) give --output-dir, "
                            "so all of them share one run folder")
    inputs = None
    if args.resume:
        run_dir = Path(args.resume)
        if not (run_dir / runs.CONFIG_FILE).is_file():
            raise runs.RunError(f"{run_dir} is not a run folder (no {runs.CONFIG_FILE}){_on_this_machine()}")
        if runs.last_checkpoint(run_dir) is None:
            raise runs.RunError(f"{run_dir} has no complete checkpoint to resume from{_on_this_machine()}")
        config = RunConfig.load(run_dir / runs.CONFIG_FILE)
    else:
        config = config_from_args(args)
        given = Path(args.output_dir) if args.output_dir else None
        if (is_main_process() and given and given.exists()
                and any(p.name not in runs.LAUNCH_FILES for p in given.iterdir())):
            raise runs.RunError(f"{given} is not empty; choose another --output-dir, "
                                f"or continue a stopped run with --resume {given}")
    processes = _processes(config)  # a disagreement with torchrun is refused before anything loads
    config = replace(config, processes=processes)  # recorded, so that a resume starts as many
    if not args.resume:
        try:  # the model and the data, checked before any run folder is made: a run that cannot begin leaves none
            inputs = prepare_inputs(config)
        except FinetuneError as err:
            if given and runs.is_run_dir(given):  # the app's queued run: its page shows why it failed
                record(given, "status", status=runs.Transition.FAILED, reason=str(err))
            raise
        if is_main_process():
            from finetune.data import source_label

            print(f"data: {source_label(config.data, inputs.task.name)}, task {inputs.task.name}: "
                  f"{inputs.task.describe()}; {len(inputs.raw['train'])} training and "
                  f"{len(inputs.raw['validation'])} validation rows", flush=True)
        run_dir = given or runs.new_run_dir(config.model)
    if processes > 1 and "WORLD_SIZE" not in os.environ:
        # Become torchrun (same process id, so the app's pid file and SIGTERM still reach the run); its ranks read the
        # run's config.json, the one description of the run.
        if not args.resume:
            run_dir.mkdir(parents=True, exist_ok=True)
            config.save(run_dir / runs.CONFIG_FILE)
        again = ["train", "--resume", str(run_dir)] if args.resume else [
            "train", "--config", str(run_dir / runs.CONFIG_FILE), "--output-dir", str(run_dir)]
        sys.stdout.flush()
        os.execv(sys.executable, [*torchrun_command(processes), *again])
    return config, run_dir, inputs


WORLD_SIZE_VARIABLES = {"WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"}  # torchrun's, MPIs'


def _alone_under_accelerate() -> bool:
    """accelerate launch asked for several processes (it sets MASTER_ADDR then) but started this one alone, with
    neither torchrun nor MPI around it: accelerate 1.16 does so for MULTI_CPU without MPI, and for --cpu."""
    return ("ACCELERATE_MIXED_PRECISION" in os.environ and "MASTER_ADDR" in os.environ
            and not WORLD_SIZE_VARIABLES & os.environ.keys())


def _on_this_machine() -> str:
    """What a resume on several machines needs, said by a process other than rank 0."""
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    if rank == 0:
        return ""
    return (f" for process {rank} of {world}: to resume on several machines, each needs rank 0's run folder as it is "
            "now (a shared disk, or a copy)")


def cmd_train(args) -> int:
    from finetune import runs
    from finetune.train import all_ready, is_main_process, train

    try:
        config, run_dir, inputs = _train_setup(args)
    except FinetuneError as err:
        all_ready(str(err))
        raise
    all_ready(None)
    if is_main_process():
        print(f"run folder: {run_dir}", flush=True)
    metrics = train(config, run_dir, resume=bool(args.resume), echo=is_main_process(), inputs=inputs)
    if not is_main_process():
        return 0
    if not metrics:
        print(f"stopped; continue with: python -m finetune train --resume {run_dir}")
        return 0
    from finetune.tasks import figures_text

    final = metrics["final"]
    print(f"finished in {metrics['train_seconds']:.0f} s: validation {figures_text(final, 4)} (n={final['n']}); "
          f"model in {run_dir / runs.MODEL_DIR}")
    return 0


def cmd_evaluate(args) -> int:
    from finetune import runs
    from finetune.evaluation import score_run, score_split

    run_dir = runs.run_folder(args.model)
    if run_dir and runs.state_of(run_dir)[0] is runs.RunState.FINISHED:
        result = score_run(run_dir, args.data, args.split)  # kept in the run: the Evaluate tab shows it too
    else:
        result = score_split(args.model, args.data, args.split, batch_size=args.batch_size)
    from finetune.tasks import METRIC_KEYS, figures_text

    figures = {key: result[key] for key in (*METRIC_KEYS, "confusion_matrix", "n", "loss") if key in result}
    if args.slices:
        from finetune.slices import split_slices

        figures["slices"] = split_slices(args.model, args.data, args.split, args.batch_size)
    if args.json:
        _emit(figures)
    else:
        print(f"{result['label']}, {args.split}: {figures_text(result, 4)}  n={result['n']}")
        if len(result.get("confusion_matrix", [])) == 2:
            (tn, fp), (fn, tp) = result["confusion_matrix"]
            print(f"confusion [[tn fp] [fn tp]] = [[{tn} {fp}] [{fn} {tp}]]")
        elif "confusion_matrix" in result:
            print(f"confusion (rows: true label, columns: predicted) = {result['confusion_matrix']}")
        if args.slices:
            from finetune.slices import format_slices

            print(format_slices(figures["slices"]))
    return 0


def cmd_explain(args) -> int:
    from finetune.explain import describe, explain_pair, run_folder

    run_dir = run_folder(args.model)
    result = explain_pair(run_dir, args.sentence1, args.sentence2, args.method, words=args.words)
    if args.flip:
        from finetune.counterfactual import search_run

        result["counterfactual"] = search_run(run_dir, args.sentence1, args.sentence2)
    if args.json:
        _emit(result)
    else:
        print(describe(result))
    return 0


def cmd_predict(args) -> int:
    from finetune.predict import Predictor

    _emit(Predictor(args.model).predict(args.sentence1, args.sentence2))
    return 0


def cmd_tokenize(args) -> int:
    from finetune.models import load_tokenizer
    from finetune.tokens import tokenize_pair

    _emit(tokenize_pair(load_tokenizer(args.model), args.sentence1, args.sentence2, args.max_length))
    return 0


def cmd_data(args) -> int:
    from finetune.data import load_data, split_counts
    from finetune.tasks import Spec

    dataset, task = load_data(args.data, Spec.parse(args.task, args.text_columns, args.label_column, args.labels))
    _emit({"task": task.name, "described": task.describe(), **split_counts(dataset)})
    return 0


def cmd_lr_find(args) -> int:
    from finetune.lr_find import lr_find

    found = lr_find(config_from_args(args), steps=args.steps)
    if args.json:
        _emit(found)
        return 0
    said = f"{found['suggestion']:.2g}" if found["suggestion"] else "none (the loss never fell: try more steps)"
    print(f"{found['steps']} steps in {found['seconds']:.0f} s, rates {found['learning_rates'][0]:.1e} to "
          f"{found['learning_rates'][-1]:.1e}; suggested learning rate: {said}")
    for rate, loss in list(zip(found["learning_rates"], found["losses"], strict=True))[::max(found["steps"] // 20, 1)]:
        print(f"  {rate:9.2e}  {loss:.4f}")
    return 0


def cmd_sweep(args) -> int:
    """Make the sweep and carry it through in this process (the job queue, the trials its children), printing each
    trial as it ends and the table at the end; Ctrl-C stops it as the page's Stop does."""
    import time

    from finetune import sweep

    config = config_from_args(args)
    space = sweep.Space.parse(args.grid, args.search, args.trials)
    config = sweep.check_trials(config, space)
    folder = Path(args.output_dir).resolve() if args.output_dir else None
    if folder is not None:
        if folder.exists() and any(folder.iterdir()):
            raise sweep.SweepError(f"{folder} is not empty; choose another --output-dir")
        os.environ["FINETUNE_RUNS_DIR"] = str(folder)  # the trials' runs go beside sweep.json, and the queue is there
    _, said = sweep.estimate(config, space)
    print(f"sweep: {said}", file=sys.stderr, flush=True)
    sweep_dir = sweep.create(config, space, folder=folder, runs_root=folder)
    print(f"sweep {sweep_dir}", file=sys.stderr, flush=True)
    shown: set[int] = set()
    try:
        while True:
            doc = sweep.advance(sweep_dir)
            for trial in doc["trials"]:
                if trial["number"] not in shown and trial["state"] not in sweep.WAITING:
                    shown.add(trial["number"])
                    value = trial.get("value")
                    print(f"trial {trial['number'] + 1}/{doc['total']} {trial['state']}: {_settings_text(trial)}  "
                          f"{doc['main_metric']} {value if value is None else f'{value:.4f}'}  "
                          f"{trial.get('seconds')} s  ({trial['run']})", file=sys.stderr, flush=True)
            if doc["state"] != sweep.RUNNING:
                break
            time.sleep(0.5)  # often enough to prune a trial at its first evaluations
    except KeyboardInterrupt:
        print("stopping the sweep: its live trial saves a checkpoint", file=sys.stderr, flush=True)
        sweep.stop(sweep_dir)
        while any(t["state"] in sweep.WAITING for t in sweep.advance(sweep_dir)["trials"]):
            time.sleep(1.0)
        doc = sweep.read(sweep_dir)
    summary = sweep.summary(doc)
    if args.json:
        _emit(summary)
    else:
        _print_trials(summary)
    return 0 if doc["state"] == sweep.FINISHED else 130


def _settings_text(trial: dict) -> str:
    return " ".join(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"
                    for name, value in trial["settings"].items())


def _print_trials(summary: dict) -> None:
    main, varied = summary["main_metric"], [*summary["space"]["grid"], *summary["space"]["search"]]
    print(f"sweep {summary['sweep']} ({summary['kind']}, {summary['state']}): {summary['made']} of "
          f"{summary['total']} trials")
    for row in summary["trials"]:
        settings = _settings_text({"settings": {name: row[name] for name in varied}})
        value = "-" if row[main] is None else f"{row[main]:.4f}"
        seconds = "-" if row["seconds"] is None else f"{row['seconds']:.0f} s"
        print(f"{'*' if row['best'] else ' '} {row['trial']:>3}  {settings:<40}  {row['state']:<11}  {main} {value}  "
              f"{seconds:>6}  {row['run']}")
    if summary["best"]:
        print(f"best (*): trial {summary['best']['trial']}, {main} {summary['best'][main]:.4f} "
              f"({summary['best']['run']})")


def cmd_push(args) -> int:
    from finetune import runs
    from finetune.publish import push_run

    run_dir = runs.run_folder(args.run)
    if run_dir is None:
        raise runs.RunError(f"{args.run} is not a run folder (nor a run in {runs.runs_dir()})")
    url = push_run(run_dir, args.repo_id, private=args.private)
    print(f"pushed {run_dir.name} to {url}")
    return 0


def _quiet_progress_bars() -> None:
    """Progress bars written to a log file are noise: the event log already tells the progress. Said through the
    environment, which the libraries read when (and only if) they are imported: importing them here took seconds."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # huggingface_hub's, and transformers' with them
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")


class _OneLineParser(argparse.ArgumentParser):
    """A flag argparse refuses is one line, as every other user error is: the message, not the whole usage."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (--help lists the flags)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="python -m finetune", description="Fine-tune a BERT-family model on GLUE MRPC.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="fine-tune a model; leaves a run folder with the model and metrics")
    _add_config_options(train)
    train.add_argument("--output-dir",
                       help="the run folder to create (default: a new folder under $FINETUNE_RUNS_DIR or ./runs)")
    train.add_argument("--resume", metavar="RUN_DIR",
                       help="continue a stopped or interrupted run from its last checkpoint")
    train.set_defaults(handler=cmd_train)

    evaluate = sub.add_parser("evaluate", help="a trained model's metrics (accuracy, F1, ... as its task has them) and "
                              "confusion matrix on a split")
    evaluate.add_argument("--model", required=True, help="a run folder or a model folder")
    evaluate.add_argument("--data", default="sample", help="as for train (default sample); read as the model's task")
    evaluate.add_argument("--split", default="validation", choices=("train", "validation", "test"))
    evaluate.add_argument("--batch-size", type=int, default=64)
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--slices", action="store_true",
                          help="also accuracy and F1 by word overlap, by length and by differing numbers")
    evaluate.set_defaults(handler=cmd_evaluate)

    explain = sub.add_parser("explain", help="which tokens decided a run's answer, beside its base model's")
    explain.add_argument("--model", required=True, help="a finished run: its folder, or its name in $FINETUNE_RUNS_DIR")
    explain.add_argument("--method", default="gradient_x_input", choices=("gradient_x_input", "integrated_gradients"))
    explain.add_argument("--words", action="store_true", help="word pieces merged into words (their scores summed)")
    explain.add_argument("--flip", action="store_true", help="also the smallest edits that flip the run's answer")
    explain.add_argument("--json", action="store_true", help="print one JSON object")
    explain.add_argument("sentence1")
    explain.add_argument("sentence2")
    explain.set_defaults(handler=cmd_explain)

    predict = sub.add_parser("predict", help="the model's answer: is sentence 2 a paraphrase of sentence 1? (or its "
                             "own task's label or score)")
    predict.add_argument("--model", required=True, help="a run folder or a model folder")
    predict.add_argument("sentence1")
    predict.add_argument("sentence2", nargs="?", help="left out for a model of single sentences")
    predict.set_defaults(handler=cmd_predict)

    tokenize = sub.add_parser("tokenize", help="tokens, input_ids, token_type_ids and attention_mask of a pair (or "
                              "of one sentence)")
    tokenize.add_argument("--model", default="bundled", help="whose tokenizer (default bundled)")
    tokenize.add_argument("--max-length", type=int, default=None)
    tokenize.add_argument("sentence1")
    tokenize.add_argument("sentence2", nargs="?", help="left out for a single sentence")
    tokenize.set_defaults(handler=cmd_tokenize)

    finder = sub.add_parser("lr-find", help="the learning-rate range test: a short training with a growing rate, the "
                            "loss against it, and a suggested rate (nothing is saved)")
    _add_config_options(finder)
    finder.add_argument("--steps", type=int, default=100, help="batches to train, the rate growing from 1e-7 to 1 "
                        "(default 100; it stops early once the loss blows up)")
    finder.add_argument("--json", action="store_true", help="print one JSON object: learning_rates, losses, "
                        "suggestion, ...")
    finder.set_defaults(handler=cmd_lr_find)

    sweeper = sub.add_parser("sweep", help="train a run per combination of a grid, or trials of an Optuna search over "
                             "ranges; a sweep.json with every trial and the best")
    _add_config_options(sweeper)
    sweeper.add_argument("--grid", action="append", default=[], metavar="SETTING=V1,V2,...",
                         help="values to try for a setting (repeat for a second setting: every combination is run)")
    sweeper.add_argument("--search", action="append", default=[], metavar="SETTING=LOW:HIGH[:log]",
                         help="a range searched by Optuna (TPE; a trial behind the median at an epoch is pruned)")
    sweeper.add_argument("--trials", type=int, default=None, help="trials of a search (with --search)")
    sweeper.add_argument("--output-dir", help="the sweep's folder: sweep.json and the trials' run folders (default: "
                         "sweeps/NAME in the runs folder, the trials beside the other runs)")
    sweeper.add_argument("--json", action="store_true", help="print the sweep's summary as one JSON object")
    sweeper.set_defaults(handler=cmd_sweep)

    push = sub.add_parser("push", help="upload a finished run's model, model card and metrics to the Hugging Face Hub")
    push.add_argument("run", help="a run folder, or the name of a run in $FINETUNE_RUNS_DIR")
    push.add_argument("--repo-id", required=True, help="USER/NAME or ORG/NAME; created if it does not exist")
    push.add_argument("--private", action="store_true", help="make a new repo private")
    push.set_defaults(handler=cmd_push)

    data = sub.add_parser("data", help="the task read or detected, and the splits, rows and label balance of a data "
                          "source")
    data.add_argument("--data", default="sample")
    for f in fields(RunConfig):
        if f.name in ("task", "text_columns", "label_column", "labels"):
            data.add_argument(f"--{f.name.replace('_', '-')}", default=None, choices=f.metadata["choices"],
                              help=f.metadata["help"])
    data.set_defaults(handler=cmd_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not sys.stderr.isatty():
        _quiet_progress_bars()
    try:
        return args.handler(args)
    except FinetuneError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
