"""Sweeps: a grid, or an Optuna search, over a run's settings. Each trial is an ordinary run folder queued through the
job queue under the sweep's owner; the sweep's state is its sweep.json, advanced from the folders alone, so that a
restarted app (or another CLI) carries it on."""
from __future__ import annotations

import functools
import itertools
import json
import math
import os
import time
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path

from finetune import durable, jobs, runs
from finetune.config import ConfigError, RunConfig, _fault, hyperparameters, value_kind
from finetune.runs import LIVE, WAITING_OR_LIVE, RunState

SWEEP_FILE = "sweep.json"
SWEEPS_DIR = "sweeps"  # under the runs folder: the app's sweeps; their trials are runs beside the others
JOURNAL_FILE = "optuna.journal"  # the Optuna study, on disk so that any process can carry the search on
MAX_TRIALS_ENV = "FINETUNE_MAX_TRIALS"
DEFAULT_MAX_TRIALS = 16
RESUMES_PER_TRIAL = 2  # a trial whose process was killed goes on from its checkpoint, twice at most
RUNNING, FINISHED, STOPPED = "running", "finished", "stopped"
PRUNED = "pruned"  # a trial's state in sweep.json when the sweep stopped it for being behind
WAITING = {state.value for state in WAITING_OR_LIVE} | {RunState.NEW.value}
SETTLED = {RunState.FINISHED.value, PRUNED}  # a trial in these states does not change again
# Not worth sweeping (they change how a run is logged or kept, not what it learns).
NOT_SWEPT = {"logging_steps", "save_total_limit", "device", "processes", "report_to"}


class SweepError(ConfigError):
    """A sweep that cannot be made or acted on as asked."""


def sweepable() -> dict[str, object]:
    """The settings a sweep may vary, by name."""
    return {f.name: f for f in hyperparameters() if f.name not in NOT_SWEPT}


def max_trials() -> int:
    """The most trials one sweep may have: $FINETUNE_MAX_TRIALS, else 16 (a class shares one machine's queue)."""
    value = os.environ.get(MAX_TRIALS_ENV, "").strip()
    if value and (not value.isdigit() or int(value) < 1):
        raise ConfigError(f"{MAX_TRIALS_ENV} must be a whole number >= 1, got {value!r}")
    return int(value) if value else DEFAULT_MAX_TRIALS


def _field(name: str):
    name = name.strip().replace("-", "_")
    known = sweepable()
    if name not in known:
        raise SweepError(f"unknown setting {name!r} for a sweep; one of: {', '.join(known)}")
    return known[name]


def _value(f, text):
    """One value of a setting, of the setting's kind, checked against its bounds."""
    kind = value_kind(f)
    try:
        if kind is bool:
            value = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}[str(text).lower()]
        elif kind is str:
            value = str(text).strip()
        else:
            value = kind(float(text)) if kind is int and float(text) == int(float(text)) else kind(text)
    except (KeyError, ValueError, TypeError):
        said = {int: "a whole number", float: "a number", bool: "true or false"}.get(kind, "a text")
        raise SweepError(f"{f.name}: {text!r} is not {said}") from None
    fault = _fault(f, value)
    if fault:
        raise SweepError(fault)
    return value


@dataclass
class Space:
    """What a sweep varies: settings with listed values (a grid), and settings with a range (searched by Optuna)."""

    grid: dict[str, list] = field(default_factory=dict)
    search: dict[str, dict] = field(default_factory=dict)  # name -> {"low", "high", "log"}
    trials: int | None = None

    @classmethod
    def parse(cls, grid: list[str] = (), search: list[str] = (), trials: int | None = None) -> Space:
        """From 'learning_rate=5e-5,1e-4' and 'learning_rate=1e-5:3e-4:log' as the CLI and the page write them."""
        space = cls(trials=trials)
        for text in grid or ():
            name, _, values = str(text).partition("=")
            f = _field(name)
            listed = [v for v in (part.strip() for part in values.split(",")) if v]
            space.grid[f.name] = list(dict.fromkeys(_value(f, v) for v in listed))
        for text in search or ():
            name, _, bounds = str(text).partition("=")
            f = _field(name)
            parts = [p.strip() for p in bounds.split(":")]
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in ("log", "linear")):
                raise SweepError(f"{f.name}: a range is LOW:HIGH or LOW:HIGH:log, got {bounds!r}")
            if value_kind(f) not in (int, float):
                raise SweepError(f"{f.name} is not a number: list its values with a grid instead of a range")
            space.search[f.name] = {"low": _value(f, parts[0]), "high": _value(f, parts[1]),
                                    "log": len(parts) == 3 and parts[2] == "log"}
        return space.check()

    @classmethod
    def from_dict(cls, data: dict) -> Space:
        """From {"grid": {setting: [values]}, "search": {setting: {"low", "high", "log"}}, "trials": N} (the API's)."""
        if not isinstance(data, dict) or set(data) - {"grid", "search", "trials"}:
            raise SweepError('a sweep\'s space is {"grid": {setting: [values]}, "search": {setting: {"low": L, '
                             '"high": H, "log": true}}, "trials": N}')
        grid = [f"{k}={','.join(map(str, v))}" for k, v in (data.get("grid") or {}).items()]
        search = [f"{k}={r['low']}:{r['high']}{':log' if r.get('log') else ''}"
                  for k, r in (data.get("search") or {}).items()]
        return cls.parse(grid, search, data.get("trials"))

    def to_dict(self) -> dict:
        return {"grid": self.grid, "search": self.search, "trials": self.trials}

    @property
    def kind(self) -> str:
        return "optuna" if self.search else "grid"

    def count(self) -> int:
        """How many trials the sweep has."""
        return self.trials if self.search else math.prod(len(v) for v in self.grid.values())

    def check(self) -> Space:
        if not self.grid and not self.search:
            raise SweepError("a sweep needs a setting to vary: a grid (learning_rate=5e-5,1e-4) or a range with a "
                             "number of trials (learning_rate=1e-5:3e-4:log)")
        both = set(self.grid) & set(self.search)
        if both:
            raise SweepError(f"{', '.join(both)} is given both as a grid and as a range: choose one")
        for name, values in self.grid.items():
            if len(values) < 2:
                raise SweepError(f"{name}: a grid needs at least two different values, got {values or 'none'}")
        for name, bounds in self.search.items():
            if bounds["low"] >= bounds["high"]:
                raise SweepError(f"{name}: the range's low end ({bounds['low']:g}) must be below its high end "
                                 f"({bounds['high']:g})")
            if bounds["log"] and bounds["low"] <= 0:
                raise SweepError(f"{name}: a log range must start above 0")
        if self.search and not self.trials:
            raise SweepError("a search over a range needs a number of trials (--trials N)")
        if self.search and self.trials < 2:
            raise SweepError(f"a search needs at least 2 trials, got {self.trials}")
        if not self.search and self.trials:
            raise SweepError("--trials is for a search over a range; a grid runs every combination once")
        limit = max_trials()
        if self.count() > limit:
            raise SweepError(f"{self.count()} trials asked, more than the limit of {limit} "
                             f"(${MAX_TRIALS_ENV}): fewer values or trials")
        return self

    def grid_settings(self) -> list[dict]:
        """Every combination of the grid, in order (the first setting varying slowest)."""
        names = list(self.grid)
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(self.grid[n] for n in names))]


def space_from_form(setting: str, values: str, second: str | None = None, second_values: str = "",
                    trials: int | None = None) -> Space:
    """The page's two rows: each a setting and its values (comma-separated: a grid) or a range (LOW:HIGH[:log]:
    searched by Optuna for `trials` trials)."""
    grid, search = [], []
    for name, text in ((setting, values), (second, second_values)):
        if not name or name == NO_SECOND:
            continue
        (search if ":" in (text or "") else grid).append(f"{name}={text or ''}")
    return Space.parse(grid, search, int(trials) if search and trials else None)


NO_SECOND = "(none)"


def trial_config(base: RunConfig, settings: dict) -> RunConfig:
    return replace(base, **settings).normalized()


# ---------------------------------------------------------------------------------------------------------- folders

def sweeps_dir() -> Path:
    return runs.runs_dir() / SWEEPS_DIR


def list_sweeps() -> list[Path]:
    """The app's sweep folders, newest first."""
    folder = sweeps_dir()
    found = [p for p in folder.iterdir() if (p / SWEEP_FILE).is_file()] if folder.is_dir() else []
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def find_sweep(name: str) -> Path:
    """The sweep called `name` under the runs folder; plain names only."""
    name = str(name or "").strip()
    folder = sweeps_dir() / name
    if not name or Path(name).name != name or name in {".", ".."} or not (folder / SWEEP_FILE).is_file():
        raise runs.RunError(f"no sweep named {name!r} in {sweeps_dir()}")
    return folder


def is_sweep(name: str) -> bool:
    try:
        find_sweep(name)
        return True
    except runs.RunError:
        return False


def read(sweep_dir: Path) -> dict:
    return json.loads((Path(sweep_dir) / SWEEP_FILE).read_text())


def _write(sweep_dir: Path, doc: dict) -> None:
    durable.write_text(Path(sweep_dir) / SWEEP_FILE, json.dumps(doc, indent=2) + "\n")


def _runs_root(sweep_dir: Path, doc: dict) -> Path:
    return (Path(sweep_dir) / doc["runs_root"]).resolve()


def trial_of(run_dir: Path) -> dict | None:
    """{"sweep", "trial", "folder"} for a sweep's trial (folder: the sweep's, relative to the run's), else None."""
    try:
        return json.loads((Path(run_dir) / runs.TRIAL_FILE).read_text())
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------------------- start

def check_trials(base: RunConfig, space: Space) -> RunConfig:
    """Refuse, before anything starts, a model or data that is not there and a trial's settings out of bounds (a
    batch size above max train samples); return the base settings normalized."""
    base = base.normalized()
    jobs._check_sources(base)
    for settings in space.grid_settings() if not space.search else [_corner(space, "low"), _corner(space, "high")]:
        trial_config(base, settings)
    return base


def create(base: RunConfig, space: Space, owner: str | None = None, folder: Path | None = None,
           runs_root: Path | None = None) -> Path:
    """A new sweep folder (sweep.json, and the Optuna study for a search), every trial's settings checked first; its
    first trials queued at once."""
    base = check_trials(base, space)
    with jobs._lock:
        jobs._refuse_second_run(owner)
        if folder is None:
            folder = _new_sweep_dir()
        else:
            folder.mkdir(parents=True, exist_ok=True)
            if (folder / SWEEP_FILE).exists():
                raise SweepError(f"{folder} already holds a sweep; choose another folder")
        runs_root = (runs_root or runs.runs_dir()).resolve()
        from finetune.data import load_data

        main_metric = load_data(base.data, base.spec())[1].main_metric
        doc = {"name": folder.name, "kind": space.kind, "created": round(time.time(), 3), "state": RUNNING,
               "space": space.to_dict(), "base": base.to_dict(), "main_metric": main_metric, "total": space.count(),
               "runs_root": os.path.relpath(runs_root, folder.resolve()), "trials": [], "best": None}
        if owner:
            runs.set_owner(folder, owner)
        _write(folder, doc)
    advance(folder)
    return folder


def _corner(space: Space, end: str) -> dict:
    settings = {name: values[0] for name, values in space.grid.items()}
    return {**settings, **{name: bounds[end] for name, bounds in space.search.items()}}


def _new_sweep_dir() -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        candidate = sweeps_dir() / (f"sweep-{stamp}" + (f"-{n}" if n else ""))
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            continue
    raise runs.RunError(f"cannot make a new sweep folder in {sweeps_dir()}")


def owner_active(owner: str | None) -> str | None:
    """The name of a running sweep of this owner, if any: one sweep or run at a time per owner."""
    if not owner:
        return None
    for folder in list_sweeps():
        if runs.owned(folder) and runs.is_owner(folder, owner) and read(folder)["state"] == RUNNING:
            return folder.name
    return None


# ---------------------------------------------------------------------------------------------------------- advance

def _trial_facts(run_dir: Path, main: str) -> dict:
    """What a trial's run folder says: state, why, its figures, its evaluations and how long it took."""
    if not runs.is_run_dir(run_dir):
        return {"state": RunState.FAILED.value, "reason": "its run folder is gone", "evals": []}
    events = runs.read_events(run_dir)[0]
    state, reason = runs.state_of(run_dir, events)
    evals = [e for e in events if e["type"] == "eval" and e.get(main) is not None]
    # From its launch: a trial's cost includes its process starting and the model loading.
    began = next((e["time"] for e in events if e["type"] == "status" and e["status"] in ("starting", "started")), None)
    ended = events[-1]["time"] if events and state not in WAITING_OR_LIVE else time.time()
    metrics = runs.read_metrics(run_dir) if state is RunState.FINISHED else None
    final = (metrics or {}).get("final") or {}
    early = next((e for e in events if e["type"] == "early_stop"), None)
    return {"state": state.value, "reason": reason, "evals": evals,
            "value": final.get(main, evals[-1][main] if evals else None),
            "metrics": {k: v for k, v in final.items() if isinstance(v, (int, float))} or None,
            "seconds": round(ended - began, 1) if began else None,
            "step": evals[-1]["step"] if evals else None,
            "early_stop": {k: early[k] for k in ("step", "epoch", "best_step") if k in early} if early else None}


def _epoch_step(event: dict) -> int:
    """Where an evaluation was, in hundredths of an epoch: trials of different batch sizes compare at the same epoch."""
    return int(round(float(event.get("epoch", 0)) * 100))


def _study(sweep_dir: Path, doc: dict, made: int):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(Path(sweep_dir) / JOURNAL_FILE)))
    seed = int(doc["base"].get("seed", 42)) + made  # a new sampler each time: a new seed, or the same first guess
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(2, doc["total"] // 3))
    # A trial whose validation is below the median of earlier trials at the same epoch stops there.
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    return optuna.create_study(study_name=doc["name"], storage=storage, direction="maximize", sampler=sampler,
                               pruner=pruner, load_if_exists=True)


def _suggest(trial, space: dict) -> dict:
    settings = {name: trial.suggest_categorical(name, values) for name, values in space["grid"].items()}
    fields_by_name = {f.name: f for f in fields(RunConfig)}
    for name, bounds in space["search"].items():
        if value_kind(fields_by_name[name]) is int:
            settings[name] = trial.suggest_int(name, int(bounds["low"]), int(bounds["high"]), log=bounds["log"])
        else:
            settings[name] = trial.suggest_float(name, bounds["low"], bounds["high"], log=bounds["log"])
    return settings


def advance(sweep_dir: Path) -> dict:
    """One look at the sweep: trials' states and figures from their folders; for a search, evaluations reported to
    Optuna, a trial behind the others pruned, ended trials told; the next trials queued while slots allow; the best
    marked; sweep.json rewritten if anything changed. Safe to call from any process, any number of times."""
    sweep_dir = Path(sweep_dir)
    with jobs._lock, runs.folder_lock(sweep_dir):
        doc = read(sweep_dir)
        before = json.dumps(doc, sort_keys=True)
        main, root = doc["main_metric"], _runs_root(sweep_dir, doc)
        study = None
        for trial in doc["trials"]:
            if trial["state"] in SETTLED and (doc["kind"] != "optuna" or trial.get("told")):
                continue  # a finished or pruned trial's folder has nothing new: not read again every 2 s
            run_dir = root / trial["run"]
            facts = _trial_facts(run_dir, main)
            evals = facts.pop("evals")
            trial.update(facts)
            state = RunState(trial["state"])
            resumes = trial.get("resumes", 0)
            if state is RunState.STOPPED and facts["reason"] == runs.APP_ENDED and jobs.take_over(run_dir):
                trial["state"] = RunState.QUEUED.value  # its app gone: this app carries it on, as any such run
                continue
            # Its process killed by no one's choice: it goes on from its checkpoint.
            if (doc["state"] == RUNNING and state is RunState.INTERRUPTED and resumes < RESUMES_PER_TRIAL
                    and runs.last_checkpoint(run_dir) is not None):
                runs.enqueue(run_dir, resume=True)
                trial["resumes"] = resumes + 1
                trial["state"] = RunState.QUEUED.value
                continue
            if doc["kind"] != "optuna" or trial.get("told"):
                continue
            new = [e for e in evals if _epoch_step(e) not in trial.setdefault("reported", [])]
            if new or state not in WAITING_OR_LIVE:
                study = study or _study(sweep_dir, doc, len(doc["trials"]))
            if new:
                import optuna

                live = optuna.trial.Trial(study, trial["optuna_id"])
                for e in new:
                    live.report(float(e[main]), _epoch_step(e))
                    trial["reported"].append(_epoch_step(e))
                if state in LIVE and not trial.get("pruned") and doc["state"] == RUNNING and live.should_prune():
                    why = (f"pruned by the sweep: validation {main} {new[-1][main]:.4f} at epoch "
                           f"{new[-1].get('epoch', 0):.2f} is below the median of the earlier trials there")
                    trial["pruned"], trial["reason"] = True, why
                    try:
                        jobs.halt(run_dir, reason=why)
                    except runs.RunError:
                        pass  # it ended meanwhile
            if state not in WAITING_OR_LIVE:
                _tell(study, trial, state)
        if doc["state"] == RUNNING:
            _queue_next(sweep_dir, doc, root)
        if doc["state"] == RUNNING and len(doc["trials"]) >= doc["total"] and not any(
                t["state"] in WAITING for t in doc["trials"]):
            doc["state"], doc["ended"] = FINISHED, round(time.time(), 3)
        for trial in doc["trials"]:
            if trial.get("pruned") and trial["state"] == RunState.STOPPED.value:
                trial["state"] = PRUNED
        doc["best"] = best_trial(doc)
        if json.dumps(doc, sort_keys=True) != before:
            _write(sweep_dir, doc)
    jobs.schedule()
    return doc


def _tell(study, trial: dict, state: RunState) -> None:
    from optuna.trial import TrialState

    if state is RunState.FINISHED and trial.get("value") is not None:
        study.tell(trial["optuna_id"], float(trial["value"]))
    elif trial.get("pruned"):
        study.tell(trial["optuna_id"], state=TrialState.PRUNED)
    else:
        study.tell(trial["optuna_id"], state=TrialState.FAIL)
    trial["told"] = True


def _queue_next(sweep_dir: Path, doc: dict, root: Path) -> None:
    """Queue trials while fewer than max_jobs() of the sweep's wait or train: the others' runs keep their turn."""
    waiting = sum(1 for t in doc["trials"] if t["state"] in WAITING)
    while waiting < jobs.max_jobs() and len(doc["trials"]) < doc["total"]:
        number = len(doc["trials"])
        entry = {"number": number}
        if doc["kind"] == "optuna":
            study = _study(sweep_dir, doc, number)
            asked = study.ask()
            entry.update(optuna_id=asked._trial_id, settings=_suggest(asked, doc["space"]), reported=[])
        else:
            entry["settings"] = Space.from_dict(doc["space"]).grid_settings()[number]
        base = RunConfig(**doc["base"])
        config = trial_config(base, entry["settings"])
        run_dir = runs.new_run_dir(f"{doc['name']}-t{number + 1}", parent=root).resolve()
        config.save(run_dir / runs.CONFIG_FILE)
        folder = os.path.relpath(Path(sweep_dir).resolve(), run_dir)
        durable.write_text(run_dir / runs.TRIAL_FILE, json.dumps({"sweep": doc["name"], "trial": number,
                                                                  "folder": folder}))
        if runs.owned(sweep_dir):
            durable.write_text(run_dir / runs.OWNER_FILE, (Path(sweep_dir) / runs.OWNER_FILE).read_text())
        runs.enqueue(run_dir, resume=False)
        entry.update(run=run_dir.name, state=RunState.QUEUED.value)
        doc["trials"].append(entry)
        waiting += 1


def best_trial(doc: dict) -> int | None:
    """The finished (not pruned) trial with the highest main metric."""
    done = [t for t in doc["trials"] if t["state"] == RunState.FINISHED.value and t.get("value") is not None]
    return max(done, key=lambda t: t["value"])["number"] if done else None


def advance_all() -> None:
    """The app's scheduler calls this: every running sweep of the runs folder moves on."""
    for folder in list_sweeps():
        try:
            if read(folder)["state"] == RUNNING:
                advance(folder)
        except (OSError, ValueError, KeyError, ConfigError, runs.RunError) as err:
            print(f"sweep {folder.name}: {type(err).__name__}: {err}", flush=True)


def stop(sweep_dir: Path, owner: str | None = None) -> dict:
    """End the sweep: its live trial stops (with a checkpoint), its queued ones leave the queue, no new one begins."""
    sweep_dir = Path(sweep_dir)
    if not runs.is_owner(sweep_dir, owner):
        raise runs.RunError(f"sweep {sweep_dir.name} belongs to another session: only the page or API client that "
                            "started it can stop it")
    with jobs._lock, runs.folder_lock(sweep_dir):
        doc = read(sweep_dir)
        if doc["state"] != RUNNING:
            raise runs.RunError(f"sweep {sweep_dir.name} is {doc['state']}: nothing to stop")
        root = _runs_root(sweep_dir, doc)
        for trial in doc["trials"]:
            if runs.state_of(root / trial["run"])[0] in WAITING_OR_LIVE:
                jobs.halt(root / trial["run"], reason="its sweep was stopped")
        doc["state"], doc["ended"] = STOPPED, round(time.time(), 3)
        _write(sweep_dir, doc)
    return advance(sweep_dir)


# ---------------------------------------------------------------------------------------------------------- tables

def trials_table(doc: dict) -> list[dict]:
    """One row per trial: its settings, state, main metric, time and run; the best marked."""
    rows = []
    for t in doc["trials"]:
        early = t.get("early_stop")
        row = {"trial": t["number"] + 1, **t["settings"], "state": t["state"], doc["main_metric"]: t.get("value"),
               "seconds": t.get("seconds"), "run": t["run"], "best": t["number"] == doc.get("best"),
               "stopped early": f"at step {early['step']}, kept step {early['best_step']}" if early else ""}
        rows.append(row)
    return rows


def summary(doc: dict) -> dict:
    """What `sweep --json` prints and /sweep_status returns."""
    best = next((t for t in doc["trials"] if t["number"] == doc.get("best")), None)
    return {"sweep": doc["name"], "kind": doc["kind"], "state": doc["state"], "main_metric": doc["main_metric"],
            "space": doc["space"], "total": doc["total"], "made": len(doc["trials"]),
            "trials": trials_table(doc),
            "best": {"trial": best["number"] + 1, "run": best["run"], "settings": best["settings"],
                     doc["main_metric"]: best["value"]} if best else None}


def estimate(base: RunConfig, space: Space, root: Path | None = None) -> tuple[float | None, str]:
    """About how long the sweep takes on this machine: the pace of the latest finished run of the same model here
    (wall time per pair trained, evaluations included), times each trial's pairs and epochs."""
    reference = None
    for run_dir in runs.list_runs(root):
        if runs.state_of(run_dir)[0] is not RunState.FINISHED:
            continue
        metrics, config = runs.read_metrics(run_dir) or {}, _config_of(run_dir)
        if config and config.model == base.model and metrics.get("train_rows"):
            events = runs.read_events(run_dir)[0]
            began = next((e["time"] for e in events if e["type"] == "status" and e["status"] == "started"), None)
            if began and not any(e["type"] == "status" and e["status"] == "resumed" for e in events):
                # Per pair trained (steps x batch: a run that stopped early trained fewer than its epochs say).
                trained = metrics.get("steps", 0) * config.batch_size * metrics.get("world_size", 1)
                pace = (events[-1]["time"] - began) / (trained or metrics["train_rows"] * config.epochs)
                same_batch = config.batch_size == base.batch_size
                if reference is None or (same_batch and not reference[2]):
                    reference = (run_dir.name, pace, same_batch, metrics["train_rows"])
                if same_batch:
                    break
    if reference is None:
        return None, (f"no run of {base.model} has finished in this runs folder yet, so its time cannot be told "
                      "before the first trial ends")
    name, pace, _, rows = reference
    rows = _train_rows(base) or rows
    settings = space.grid_settings() if not space.search else [{}] * space.count()
    total = sum(pace * min(rows, trial_config(base, s).max_train_samples or rows) * trial_config(base, s).epochs
                for s in settings)
    from finetune.eta import in_words

    return total, (f"{space.count()} runs, about {in_words(total)} one after another on this machine (from the pace "
                   f"of run {name}: {1 / pace:.0f} pairs a second, evaluations included)")


def _config_of(run_dir: Path) -> RunConfig | None:
    try:
        return RunConfig.load(run_dir / runs.CONFIG_FILE)
    except (ConfigError, TypeError):
        return None


def _train_rows(config: RunConfig) -> int | None:
    spec = config.spec()
    return _rows(config.data, spec.task, spec.text_columns, spec.label_column, spec.labels)


@functools.lru_cache(maxsize=32)  # the page asks at each change of its form: read a data source once
def _rows(data: str, *spec) -> int | None:
    from finetune import FinetuneError
    from finetune.data import load_data
    from finetune.tasks import Spec

    try:
        return len(load_data(data, Spec(*spec))[0]["train"])
    except (FinetuneError, OSError, KeyError):
        return None
