"""Fine-tuning with Trainer from a RunConfig, logging every step to the run folder's event log."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import NamedTuple

from finetune import FinetuneError, durable, runs
from finetune.config import RunConfig
from finetune.tasks import METRIC_KEYS, MRPC, Task

_signalled = {"stop": False, "reason": None}
PARENT_ENV = "FINETUNE_APP_PID"  # set by the app: its training children stop (with a checkpoint) when it is gone
# For tests only: "RANK:STEP" makes process RANK's loss NaN from training step STEP on (a fault no real run has on cue).
NAN_LOSS_ENV = "FINETUNE_TEST_NAN_LOSS"


class NonFiniteLoss(FinetuneError):
    """The loss became NaN or infinite: training stops before that state reaches a checkpoint."""


def _on_signal(signum, frame):
    _signalled["stop"] = True


def _watch_parent(parent: int) -> None:
    """Ask for a stop once the app that launched this process is gone (re-parented), however it ended.

    A child whose app died (kill -9 included) then saves a checkpoint and ends as stopped, rather than training on
    unseen or being killed mid-step; the restarted app shows it as stopped and can resume it. The app is watched by
    its pid and start time, not as this process's parent: under torchrun the parent of a rank is the launcher.
    """
    started = runs.process_start(parent)
    while started is not None and runs.process_start(parent) == started:
        time.sleep(0.25)  # a quarter second: a tiny model trains dozens of steps per second
    _signalled["reason"] = runs.APP_ENDED
    _signalled["stop"] = True


def is_main_process() -> bool:
    """Rank 0 under torchrun / accelerate launch (which set RANK), or a plain single process."""
    return int(os.environ.get("RANK", "0")) == 0


def record(run_dir: Path, kind: str, **fields) -> None:
    """Append to the event log from rank 0 only: one writer, whatever the number of processes."""
    if is_main_process():
        runs.append_event(run_dir, kind, **fields)


def _distributed() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _wait_for_everyone() -> None:
    """Every process reaches this point before any goes on (nothing to wait for in a single process)."""
    if _distributed():
        import torch.distributed as dist

        dist.barrier()


def all_ready(problem: str | None) -> None:
    """Every process says whether it can begin, before they meet in a process group: if any cannot, all raise the
    first problem (in rank order), where one leaving alone would keep the others waiting for it for half an hour.

    Said through torchrun's own store (TORCHELASTIC_USE_AGENT_STORE); without it, this process's problem alone.
    """
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True" or int(os.environ.get("WORLD_SIZE", "1")) == 1:
        if problem:
            raise FinetuneError(problem)
        return
    from datetime import timedelta

    import torch.distributed as dist

    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), is_master=False,
                          timeout=timedelta(minutes=5))
    key = f"finetune/{os.environ.get('TORCHELASTIC_RUN_ID')}/{os.environ.get('TORCHELASTIC_RESTART_COUNT')}/ready/"
    store.set(key + os.environ["RANK"], problem or "")
    said = [store.get(key + str(rank)).decode() for rank in range(int(os.environ["WORLD_SIZE"]))]  # get waits
    first = next((problem for problem in said if problem), None)
    if first:
        raise FinetuneError(first)


def _gathered(value) -> list:
    """`value` from every process, in rank order (a list of one in a single process)."""
    if not _distributed():
        return [value]
    import torch.distributed as dist

    found = [None] * dist.get_world_size()
    dist.all_gather_object(found, value)
    return found


def _peer_lost(err: Exception) -> bool:
    """Whether a collective failed because another process vanished mid-run (kill -9, out of memory, a machine down):
    gloo says "Connection closed by peer" (or reset), NCCL and the rendezvous store raise a DistError."""
    if not _distributed():
        return False
    import torch.distributed as dist

    said = str(err)
    return isinstance(err, dist.DistError) or "closed by peer" in said or "reset by peer" in said


def _rank_zero_gone(run_dir: Path) -> bool:
    """Whether the process that writes the run folder, named in its pid file, is gone (the folder seen from this
    machine): then another process says how the run ended, since rank 0 no longer can."""
    return (run_dir / runs.EVENTS_FILE).is_file() and not runs.pid_alive(run_dir)


def _record_once(run_dir: Path, **status) -> None:
    """How the run ended, said once however many processes saw it end (rank 0 gone, each survivor may say it)."""
    with runs.folder_lock(run_dir):
        said = runs.status_events(runs.read_events(run_dir)[0])
        if not said or said[-1]["status"] not in runs.ENDED:
            runs.append_event(run_dir, "status", **status)


def _stop_everywhere(run_dir: Path) -> bool:
    """A stop request, agreed by all processes so that they leave the training loop at the same step."""
    wanted = _signalled["stop"] or runs.stop_requested(run_dir)
    if _distributed():
        import torch
        import torch.distributed as dist

        flag = torch.tensor([int(wanted)])
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        wanted = bool(flag.item())
    return wanted


def peak_rss_mb() -> float:
    """This process's own peak resident memory. Linux's VmHWM starts afresh at exec; ru_maxrss does not: a training
    started by an app holding 2 GB would report the app's size, not its own."""
    import resource

    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def evaluated_in(step: int, max_steps: int, precision: str) -> str:
    """What an evaluation at `step` was computed in: the last step is scored by finetune.evaluation alone, in fp32
    (make_final_callback); the Trainer's own evaluations, before it, in the training precision."""
    return "fp32" if step >= max_steps else precision


def make_callback(run_dir: Path, echo: bool, precision: str, evaluation_batches: int):
    """A TrainerCallback that writes the event log (rank 0 only), with a time left from finetune.eta, and honours stop
    requests; `precision` is the training precision, that of the Trainer's own evaluations."""
    from transformers import TrainerCallback

    from finetune.eta import Eta

    class RunCallback(TrainerCallback):
        stopped = False
        paused = False  # an evaluation or a checkpoint since the last step ended

        def on_train_begin(self, args, state, control, **kwargs):
            self.eta = Eta(state.max_steps, state.max_steps / args.num_train_epochs, evaluation_batches)
            if state.is_world_process_zero:
                runs.append_event(run_dir, "progress", step=state.global_step, max_steps=state.max_steps,
                                  epoch=state.epoch or 0.0, num_train_epochs=args.num_train_epochs)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            common = {"step": state.global_step, "max_steps": state.max_steps, "epoch": round(state.epoch or 0.0, 4)}
            if "eval_loss" in logs:
                event = runs.append_event(run_dir, "eval", **common, loss=logs["eval_loss"],
                                          **{k: logs[f"eval_{k}"] for k in METRIC_KEYS if f"eval_{k}" in logs},
                                          precision=evaluated_in(state.global_step, state.max_steps, precision))
            elif "loss" in logs:
                event = runs.append_event(run_dir, "log", **common, loss=logs["loss"],
                                          learning_rate=logs.get("learning_rate"), grad_norm=logs.get("grad_norm"),
                                          eta_seconds=self.eta.seconds_left(state.global_step))
            else:
                return
            if echo:
                print(runs.describe_event(event), flush=True)

        def on_step_begin(self, args, state, control, **kwargs):
            if self.paused:
                self.eta.pause(time.monotonic())
                self.paused = False

        def on_evaluate(self, args, state, control, **kwargs):
            self.paused = True

        def on_save(self, args, state, control, **kwargs):
            self.paused = True

        def on_step_end(self, args, state, control, **kwargs):
            self.eta.step(time.monotonic(), state.global_step)
            # At the last step the run is finished whatever was asked: it ends with its model and final figures.
            if state.global_step < state.max_steps and _stop_everywhere(run_dir):
                self.stopped = True
                control.should_training_stop = True
                control.should_save = True

    return RunCallback()


def _injected_fault(loss, step: int):
    """The loss, or NaN where NAN_LOSS_ENV (tests only) asks for it at this process and step."""
    rank, _, at = os.environ.get(NAN_LOSS_ENV, "").partition(":")
    if rank.isdigit() and at.isdigit() and int(rank) == int(os.environ.get("RANK", "0")) and step >= int(at):
        return loss * float("nan")
    return loss


def _non_finite_anywhere(loss) -> str | None:
    """None while every process's loss is finite, else the first bad one ("nan on process 1 of 2"); every process gets
    the same answer at the same step, so all stop together rather than some waiting for the others forever."""
    import torch

    bad = not torch.isfinite(loss).all()
    if not _distributed():
        return f"{loss.item()}" if bad else None
    import torch.distributed as dist

    flag = torch.tensor([int(bad)], device=loss.device)  # one number per step: cheap, even on gloo
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    if not flag.item():
        return None
    values = _gathered(loss.item())
    rank = next(rank for rank, value in enumerate(values) if value != value or abs(value) == float("inf"))
    return f"{values[rank]} on process {rank} of {len(values)}"


def _guarded_trainer(base):
    """Trainer that stops at the first non-finite loss of any process, before the optimizer applies it to the
    weights."""

    class GuardedTrainer(base):
        def training_step(self, model, inputs, *args, **kwargs):
            step = self.state.global_step + 1
            loss = _injected_fault(super().training_step(model, inputs, *args, **kwargs), step)
            said = _non_finite_anywhere(loss)
            if said:  # raised before the optimizer applies the non-finite gradients
                kept = _gathered(_kept(self.args.output_dir))[0]  # rank 0's: the run folder is its
                raise NonFiniteLoss(f"loss became {said} at step {step}; {kept}: lower the learning rate")
            return loss

    return GuardedTrainer


def make_checkpoint_callback(keep: int):
    """A TrainerCallback that makes every checkpoint trustworthy through public hooks only.

    Each checkpoint is marked complete (runs.CHECKPOINT_MARKER) once every process has written its part, so a save cut
    short is never resumed from; at most `keep` are kept, always with the best by F1; non-finite weights never reach
    one. The last step is neither evaluated nor saved by the Trainer: make_final_callback saves the model and scores it
    once, in fp32. Trainer calls its DefaultFlowCallback before the callbacks it is given, so the flags set here are
    the last word; pass this callback after make_callback's, whose stop request asks for a save.
    """
    import torch
    from transformers import TrainerCallback
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints

    def folder(args, state) -> Path:
        return Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"

    class CheckpointCallback(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            self._before_saving(args, state, control, model)

        def on_epoch_end(self, args, state, control, model=None, **kwargs):
            self._before_saving(args, state, control, model)

        def _before_saving(self, args, state, control, model):
            if state.global_step >= state.max_steps:
                control.should_evaluate = control.should_save = False
            if not control.should_save:
                return
            if not all(torch.isfinite(p).all() for p in model.parameters()):
                raise NonFiniteLoss(f"weights became non-finite at step {state.global_step}; "
                                    f"{_kept(args.output_dir)}: lower the learning rate")
            if state.is_world_process_zero and (folder(args, state) / runs.CHECKPOINT_MARKER).is_file():
                # The same step saved again (a stop at an epoch's end): unmarked on disk before its files are rewritten.
                durable.remove(folder(args, state) / runs.CHECKPOINT_MARKER)

        def on_save(self, args, state, control, **kwargs):
            _wait_for_everyone()  # every process's files (its rng state) are in the folder before it is marked
            if state.is_world_process_zero:
                runs.mark_complete(folder(args, state))
                rotate_checkpoints(output_dir=args.output_dir, save_total_limit=keep,
                                   best_model_checkpoint=state.best_model_checkpoint, use_mtime=False)

    return CheckpointCallback()


def make_order_callback():
    """A TrainerCallback that makes each epoch's length-grouped order a function of the seed and the epoch alone.

    Trainer's length-grouped sampler draws its order from torch's global generator when an epoch begins. A run resumed
    mid-epoch draws it from a new process's state (then restores the checkpoint's), so it trained on other batches
    than the uninterrupted run did and ended with other figures. Seeding at each epoch's last step and after each
    evaluation (before a checkpoint records the generator: any DataLoader's iterator draws from it) and at each
    epoch's beginning gives both the same order, so a stop and a resume change nothing.
    """
    import math

    import torch
    from transformers import TrainerCallback

    def seed(args, state):
        torch.manual_seed(args.seed + math.floor((state.epoch or 0.0) + 1e-6))

    class SeededEpochs(TrainerCallback):
        def on_epoch_begin(self, args, state, control, **kwargs):
            seed(args, state)

        def on_step_end(self, args, state, control, **kwargs):
            # An epoch's last step: a stop may save now.
            if abs((state.epoch or 0.0) - round(state.epoch or 0.0)) < 1e-9:
                seed(args, state)

        def on_epoch_end(self, args, state, control, **kwargs):
            seed(args, state)

        def on_evaluate(self, args, state, control, **kwargs):
            seed(args, state)  # the evaluation's DataLoader drew from the generator, and a checkpoint follows

    return SeededEpochs()


def make_final_callback(run_dir: Path, validation, tokenizer):
    """A TrainerCallback that, once the last step is done, saves the model to model/ and scores it on `validation`
    with finetune.evaluation (rank 0; the others wait in the Trainer's next collective): the predictions file, and the
    figures logged through the Trainer, so that the event log, log_history and trackers get them as they get its own
    evaluations, before the trackers close at on_train_end. Set `.trainer` to the Trainer it belongs to."""
    from transformers import TrainerCallback

    class FinalEvaluation(TrainerCallback):
        trainer = None
        final = None  # the metrics, once scored

        def on_epoch_end(self, args, state, control, **kwargs):  # called once more after the last step, always
            if state.global_step < state.max_steps or not state.is_world_process_zero:
                return
            self.finish()

        def finish(self):
            """Save the model as it is now and score it: at the last step, or when early stopping ends the run."""
            from finetune.evaluation import evaluate_model

            self.trainer.save_model(str(run_dir / runs.MODEL_DIR))
            tokenizer.save_pretrained(str(run_dir / runs.MODEL_DIR))
            durable.sync_tree(run_dir / runs.MODEL_DIR)  # on disk before metrics.json and "finished" say it is there
            self.final, answers = evaluate_model(str(run_dir / runs.MODEL_DIR), validation)
            _write_predictions(run_dir, answers)
            self.trainer.log({"eval_loss": self.final["loss"],
                              **{f"eval_{k}": self.final[k] for k in METRIC_KEYS if k in self.final}})

    return FinalEvaluation()


def make_early_stopping_callback(run_dir: Path, patience: int, main_metric: str, final_evaluation):
    """Stop once the task's main metric has not improved for `patience` evaluations in a row: the best weights seen
    (kept in memory) are put back, then the run ends as at its last step, saved and scored by `final_evaluation`; an
    event says where it stopped and why."""
    from transformers import TrainerCallback

    class EarlyStopping(TrainerCallback):
        best, best_step, behind, best_weights, stopped_at = None, None, 0, None, None

        def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
            value = (metrics or {}).get(f"eval_{main_metric}")
            if value is None or self.stopped_at is not None:
                return
            if self.best is None or value > self.best:
                self.best, self.best_step, self.behind = value, state.global_step, 0
                self.best_weights = {k: v.detach().clone().cpu() for k, v in model.state_dict().items()}
                return
            self.behind += 1
            if self.behind < patience or state.global_step >= state.max_steps:
                return
            control.should_training_stop = True
            self.stopped_at = state.global_step
            model.load_state_dict(self.best_weights)
            if state.is_world_process_zero:
                runs.append_event(run_dir, "early_stop", step=state.global_step, max_steps=state.max_steps,
                                  epoch=round(state.epoch or 0.0, 4), metric=main_metric, best=self.best,
                                  best_step=self.best_step, patience=patience)
                final_evaluation.finish()

    return EarlyStopping()


def _remove_incomplete_checkpoints(run_dir: Path) -> None:
    """Checkpoint folders a save left unmarked: never resumed from, and not to be counted when rotating."""
    for folder in (run_dir / runs.CHECKPOINTS_DIR).glob("checkpoint-*"):
        if folder.is_dir() and not runs.checkpoint_complete(folder):
            shutil.rmtree(folder, ignore_errors=True)


def _kept(checkpoints: str) -> str:
    last = runs.last_checkpoint(Path(checkpoints).parent)
    return f"the last good checkpoint, {last.name}, is kept" if last else "no checkpoint was saved before it"


def prepare_model(model, config: RunConfig, device: str):
    """The run's dropout and frozen word embeddings applied to a freshly loaded classifier; plain attention on a CPU.

    Dropout is set on the modules, not in the saved config: the model a run saves behaves as its base model does
    when someone fine-tunes it further. On a CPU with dropout off, PyTorch's fused attention has a slow backward
    pass (28 % of a MiniLM step in bf16, against 5 % for the plain products), so training there uses transformers'
    "eager" attention; with dropout on both already take the plain path.
    """
    import torch

    if config.dropout is not None:
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = config.dropout
    if config.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    if device == "cpu":
        model.set_attn_implementation("eager")
    return model


def _training_arguments(config: RunConfig, run_dir: Path, precision: str, device: str, task: Task = MRPC):
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(run_dir / runs.CHECKPOINTS_DIR),
        num_train_epochs=config.epochs,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a fraction of all steps
        eval_strategy="steps" if config.eval_steps else "epoch",
        eval_steps=config.eval_steps,
        save_strategy="epoch",
        logging_strategy="steps",
        logging_steps=config.logging_steps,
        logging_first_step=True,
        save_total_limit=None,  # rotated by make_checkpoint_callback once a checkpoint is marked complete
        metric_for_best_model=task.main_metric,  # the best checkpoint is kept on top of the last save_total_limit
        greater_is_better=True,
        seed=config.seed,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=device == "cpu",
        train_sampling_strategy=config.sampling,
        report_to=config.report_to,  # "none" by default: the run folder's event log is the record
        disable_tqdm=not sys.stderr.isatty(),
        dataloader_num_workers=0,
        # True (the default) multiplies the loss by the number of processes for any model whose forward takes
        # **kwargs, expecting it to divide by num_items_in_batch; a classifier's loss is already a per-batch mean, so
        # under torchrun the loss and its gradient came out twice as large. DDP's gradient averaging is all it needs.
        average_tokens_across_devices=False,
    )


class Inputs(NamedTuple):
    """What a run trains on: the model's tokenizer, the raw splits and their tokenized form, and their task."""

    tokenizer: object
    raw: object
    tokenized: object
    task: Task


def prepare_inputs(config: RunConfig) -> Inputs:
    """The tokenizer and the data of a run, loaded and checked (FinetuneError on a model or data that cannot be
    used)."""
    from finetune.models import load_tokenizer

    tokenizer = load_tokenizer(config.model)
    return Inputs(tokenizer, *_prepare_data(config, tokenizer))


def _prepare_data(config: RunConfig, tokenizer):
    from finetune.data import load_data
    from finetune.tokens import tokenize_dataset

    raw, task = load_data(config.data, config.spec())
    if "validation" not in raw:
        raise FinetuneError(f"data {config.data} has no validation split to evaluate on")
    for split, limit in (("train", config.max_train_samples), ("validation", config.max_eval_samples)):
        if limit is not None and limit < len(raw[split]):
            raw[split] = raw[split].select(range(limit))
    if config.batch_size > len(raw["train"]):
        raise FinetuneError(f"batch size {config.batch_size} is larger than the {len(raw['train'])} training pairs of "
                            f"{config.data}: not one full step per epoch")
    return raw, tokenize_dataset(raw, tokenizer, config.max_length), task


def _per_epoch(state, precision: str) -> list[dict]:
    """The Trainer's evaluations after each epoch but the last, then the final one, each with what it was computed
    in."""
    return [{"epoch": round(h["epoch"], 4), "step": h["step"],
             **{k: h[f"eval_{k}"] for k in METRIC_KEYS if f"eval_{k}" in h},
             "loss": h["eval_loss"], "precision": evaluated_in(h["step"], state.max_steps, precision)}
            for h in state.log_history if "eval_loss" in h]


def _write_predictions(run_dir: Path, answers: list[dict]) -> None:
    durable.write_text(run_dir / runs.PREDICTIONS_FILE, "".join(json.dumps(row) + "\n" for row in answers))


def train(config: RunConfig, run_dir: Path, resume: bool = False, echo: bool = False,
          inputs: Inputs | None = None) -> dict:
    """Train (or resume) the run in `run_dir` to the end, a stop request or a failure; return metrics.json's content.

    `inputs` are prepare_inputs(config) when the caller already loaded them. Every outcome is recorded in the event
    log; user-caused failures raise FinetuneError after that.
    """
    config.validate()
    run_dir = Path(run_dir)
    checkpoint = runs.last_checkpoint(run_dir) if resume else None
    if resume and checkpoint is None:
        raise runs.RunError(f"{run_dir} has no complete checkpoint to resume from")
    if is_main_process():
        run_dir.mkdir(parents=True, exist_ok=True)
        if not resume:
            config.save(run_dir / runs.CONFIG_FILE)
        durable.remove(run_dir / runs.STOP_FILE, missing_ok=True)
        runs.record_pid(run_dir, os.getpid())
        if resume:
            _remove_incomplete_checkpoints(run_dir)
    previous = signal.signal(signal.SIGTERM, _on_signal)
    _signalled.update(stop=False, reason=None)
    if os.environ.get(PARENT_ENV, "").isdigit():
        threading.Thread(target=_watch_parent, args=(int(os.environ[PARENT_ENV]),), daemon=True).start()
    try:
        with contextlib.ExitStack() as scratch:
            return _train(config, run_dir, checkpoint, echo, inputs, scratch)
    except FinetuneError as err:
        record(run_dir, "status", status="failed", reason=str(err))
        raise
    except KeyboardInterrupt:
        record(run_dir, "status", status="stopped", reason="interrupted by the user",
               checkpoint=str(runs.last_checkpoint(run_dir) or ""))
        raise
    except Exception as err:
        if _peer_lost(err):
            reason = ("another process of the run ended without warning (killed, or its machine went down); "
                      f"{_kept(str(run_dir / runs.CHECKPOINTS_DIR))}")
            if is_main_process() or _rank_zero_gone(run_dir):
                _record_once(run_dir, status=runs.Transition.INTERRUPTED, reason=reason,
                             checkpoint=str(runs.last_checkpoint(run_dir) or ""))
            raise runs.RunError(reason) from err
        if is_main_process():  # the others' tracebacks go to their own stderr: the run folder may not be theirs
            durable.write_text(run_dir / "error.log", traceback.format_exc())
        reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        record(run_dir, "status", status="failed", reason=reason, details=str(run_dir / "error.log"))
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def _sees_run_folder(run_dir: Path) -> bool:
    """Whether this process sees the run folder rank 0 writes (one machine, or a shared disk): the same pid file, which
    rank 0 wrote before the processes met."""
    def mark() -> str | None:
        with contextlib.suppress(OSError):
            return (run_dir / runs.PID_START_FILE).read_text()
        return None

    return _gathered(mark())[0] == mark()


def _meet(args, run_dir: Path, checkpoint: Path | None, scratch: contextlib.ExitStack) -> None:
    """The processes meet (the arguments' devices begin the process group) and agree on where they stand.

    A process on another machine, which does not see rank 0's run folder, writes what Trainer saves per process (its
    RNG state) into a scratch folder removed at the end: only rank 0 writes into a run folder. Resuming processes must
    start from the same checkpoint: each reads its own copy (a shared disk, or rank 0's folder copied to each machine).
    """
    if args.world_size == 1:
        return
    _wait_for_everyone()
    if not _sees_run_folder(run_dir):
        args.output_dir = scratch.enter_context(tempfile.TemporaryDirectory(prefix="finetune-rank-"))
    found = _gathered(checkpoint.name if checkpoint else None)
    if len(set(found)) > 1:
        raise runs.RunError(f"the processes would resume from different checkpoints ({', '.join(map(str, found))} in "
                            "rank order): give every machine a copy of rank 0's run folder as it is now")


def _train(config: RunConfig, run_dir: Path, checkpoint: Path | None, echo: bool, inputs: Inputs | None,
           scratch: contextlib.ExitStack) -> dict:
    from transformers import PrinterCallback, Trainer

    from finetune.device import resolve_hardware
    from finetune.metrics import baseline, make_compute_metrics
    from finetune.models import load_classifier
    from finetune.tokens import collator

    hardware = resolve_hardware(config.device, config.precision)
    device, precision = hardware["device"], hardware["precision"]
    record(run_dir, "status", status="resumed" if checkpoint else "started", pid=os.getpid(), device=device,
           precision=precision, hardware=hardware["hardware"], checkpoint=str(checkpoint or ""))
    tokenizer, raw, tokenized, task = inputs or prepare_inputs(config)
    model = prepare_model(load_classifier(config.model, seed=config.seed, task=task), config, device)
    args = _training_arguments(config, run_dir, precision, device, task)
    _meet(args, run_dir, checkpoint, scratch)
    batches = -(-len(tokenized["validation"]) // config.eval_batch_size)
    callback = make_callback(run_dir, echo and args.disable_tqdm, precision, batches)
    final_evaluation = make_final_callback(run_dir, raw["validation"], tokenizer)
    early = ([make_early_stopping_callback(run_dir, config.early_stopping_patience, task.main_metric, final_evaluation)]
             if config.early_stopping_patience else [])
    trainer = _guarded_trainer(Trainer)(
        model=model, args=args, train_dataset=tokenized["train"], eval_dataset=tokenized["validation"],
        processing_class=tokenizer, data_collator=collator(tokenizer),
        compute_metrics=make_compute_metrics(task),
        # In this order: a stop request asks for a save, which the checkpoint callback then checks.
        callbacks=[callback, make_checkpoint_callback(config.save_total_limit), final_evaluation, *early,
                   *([make_order_callback()] if config.sampling == "group_by_length" else [])])
    final_evaluation.trainer = trainer
    if args.disable_tqdm:
        trainer.remove_callback(PrinterCallback)  # raw log dicts; the event log (echoed or not) says it better
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    seconds = time.perf_counter() - started
    if callback.stopped:
        record(run_dir, "status", status="stopped", step=trainer.state.global_step,
               reason=_signalled["reason"] or runs.stop_reason(run_dir),
               checkpoint=str(runs.last_checkpoint(run_dir) or ""))
        return {}
    if trainer.is_world_process_zero():
        _finish(run_dir, config, {
            "model": config.model, "data": config.data, "task": task.to_dict(), "main_metric": task.main_metric,
            "preset": config.preset, "device": device,
            "precision": precision, "hardware": hardware["hardware"], "world_size": args.world_size,
            "train_rows": len(tokenized["train"]), "validation_rows": final_evaluation.final["n"],
            "final": final_evaluation.final, "per_epoch": _per_epoch(trainer.state, precision),
            "baseline": baseline(raw["train"]["label"], raw["validation"]["label"], task),
            "train_seconds": round(seconds, 2),
            "train_samples_per_second": result.metrics.get("train_samples_per_second"),
            "train_loss": result.metrics.get("train_loss"), "steps": trainer.state.global_step,
            "peak_rss_mb": peak_rss_mb(),
        })
    _wait_for_everyone()  # the other processes return what rank 0 wrote
    return runs.read_metrics(run_dir)


def _finish(run_dir: Path, config: RunConfig, metrics: dict) -> None:
    from finetune.card import write_model_card

    durable.write_text(run_dir / runs.METRICS_FILE, json.dumps(metrics, indent=2) + "\n")
    write_model_card(run_dir, config, metrics)
    runs.append_event(run_dir, "status", status="finished", seconds=metrics["train_seconds"],
                      **{k: metrics["final"][k] for k in METRIC_KEYS if k in metrics["final"]})
