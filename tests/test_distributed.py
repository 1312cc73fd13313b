"""Data-parallel training with torchrun (gloo on CPU): one run folder, written by rank 0 alone."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, wait_for

from finetune import runs


def test_two_process_torchrun_training_records_world_size_and_writes_once(tmp_path, tiny_bert):
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "finetune",
         "train", "--model", str(tiny_bert), "--data", "sample", "--max-train-samples", "64",
         "--max-eval-samples", "32",
         "--epochs", "2", "--batch-size", "8", "--precision", "fp32", "--logging-steps", "1", "--output-dir", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    metrics = json.loads((out / runs.METRICS_FILE).read_text())
    assert metrics["world_size"] == 2
    events, _ = runs.read_events(out)
    assert [e["status"] for e in events if e["type"] == "status"] == ["started", "finished"]
    steps = [e["step"] for e in events if e["type"] == "log"]
    assert steps == sorted(set(steps))  # one writer: no step logged twice
    # 64 rows, 2 processes x 8 per step: 4 steps per epoch
    assert metrics["steps"] == 8 and max(steps) == 8
    assert metrics["final"]["n"] == 32 and len((out / runs.PREDICTIONS_FILE).read_text().splitlines()) == 32
    assert done.stdout.count("finished in") == 1


def _first_logged_loss(run_dir: Path) -> float:
    return next(e["loss"] for e in runs.read_events(run_dir)[0] if e["type"] == "log")


def test_two_processes_log_the_loss_one_process_does_for_the_same_global_batch(tmp_path, tiny_bert):
    """Trainer multiplied a classifier's per-batch mean loss by the number of processes (about 2 ln 2 = 1.39 at the
    first step under torchrun): the same seed and global batch (16 pairs, 8 per process) must start from the same
    loss."""
    from finetune.config import RunConfig
    from finetune.train import train

    common = {"model": str(tiny_bert), "data": "sample", "max_train_samples": 32, "max_eval_samples": 16, "epochs": 1,
              "precision": "fp32", "logging_steps": 1, "seed": 5}
    train(RunConfig.from_preset("default", **common, batch_size=16), tmp_path / "one")
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "finetune",
         "train", *(f"--{key.replace('_', '-')}={value}" for key, value in common.items()), "--batch-size", "8",
         "--output-dir", str(tmp_path / "two")],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    one, two = _first_logged_loss(tmp_path / "one"), _first_logged_loss(tmp_path / "two")
    assert two == pytest.approx(one, rel=0.1), (one, two)


def _processes_of(run_dir: Path) -> list[int]:
    """Processes whose command line names the run folder: torchrun and every rank it started."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(run_dir) in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _wait(run_dir, predicate, seconds=240):
    return wait_for(run_dir, predicate, seconds, log_lines=60)


def _all_gone(run_dir, seconds=60):
    import time

    deadline = time.monotonic() + seconds
    while _processes_of(run_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not _processes_of(run_dir)


def _launched_pid(run_dir) -> int:
    return [e for e in runs.read_events(run_dir)[0] if e.get("status") == "starting"][-1]["pid"]


def test_the_app_runs_two_processes_stops_them_by_request_and_by_sigterm_and_resumes(tiny_bert):
    """processes=2 from the app: torchrun under the launched pid; a stop request and a SIGTERM each reach both ranks."""
    import os
    import signal

    from finetune import jobs
    from finetune.config import RunConfig

    # 120 steps in 4 epochs (each ends with an evaluation and a checkpoint): room for two stops, little to finish.
    config = RunConfig.from_preset("course", model=str(tiny_bert), data="sample", epochs=4, batch_size=8,
                                   max_train_samples=480, max_eval_samples=16, logging_steps=1, processes=2)
    run_dir = jobs.start(config)
    try:
        _wait(run_dir, lambda s: s.state == "running" and s.step >= 2)
        assert len(_processes_of(run_dir)) == 3  # torchrun and its two ranks
        launcher = (Path("/proc") / str(_launched_pid(run_dir)) / "cmdline").read_bytes().split(b"\0")
        assert launcher[1:5] == [b"-m", b"torch.distributed.run", b"--standalone", b"--nproc_per_node"]
        jobs.stop(run_dir)
        first = _wait(run_dir, lambda s: s.state not in runs.LIVE)
        assert first.state == "stopped" and first.resumable, runs.log_tail(run_dir, 60)
        assert _all_gone(run_dir)

        jobs.resume(run_dir)
        _wait(run_dir, lambda s: s.state == "running" and s.step > first.step)
        os.kill(_launched_pid(run_dir), signal.SIGTERM)  # what the app sends to a run still starting up
        second = _wait(run_dir, lambda s: s.state not in runs.LIVE)
        assert second.state == "stopped" and second.resumable, runs.log_tail(run_dir, 60)
        assert _all_gone(run_dir)

        jobs.resume(run_dir)
        done = _wait(run_dir, lambda s: s.state not in runs.LIVE, seconds=400)
        assert done.state == "finished", runs.log_tail(run_dir, 60)
    finally:
        for pid in _processes_of(run_dir):
            os.kill(pid, signal.SIGKILL)
    metrics = json.loads((run_dir / runs.METRICS_FILE).read_text())
    assert metrics["world_size"] == 2 and metrics["steps"] == 4 * 480 // 16
    assert RunConfig.load(run_dir / runs.CONFIG_FILE).processes == 2
    statuses = [e["status"] for e in runs.read_events(run_dir)[0] if e["type"] == "status"]
    assert statuses == ["queued", "starting", "started", "stopped", "queued", "starting", "resumed", "stopped",
                        "queued", "starting", "resumed", "finished"]


def test_processes_that_disagree_with_torchrun_are_refused_in_one_line(tmp_path, monkeypatch, capsys):
    from finetune.cli import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["train", "--processes", "3", "--output-dir", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == "error: processes is 3 but torchrun started 2: give the same number to both\n"


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


TWO_NODE_FLAGS = ["--max-train-samples", "32", "--max-eval-samples", "16", "--epochs", "2", "--batch-size", "8",
                  "--precision", "fp32", "--logging-steps", "1", "--seed", "7", "--learning-rate", "1e-3"]


def _node_launcher(port: int, *train: str) -> list[str]:
    """One of two torchrun launchers, each the only one of its node, meeting at 127.0.0.1:port (c10d rendezvous)."""
    return [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
            "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", f"test-{port}",
            "--local-addr", "127.0.0.1", "--max-restarts", "0", "-m", "finetune", "train", *train]


def _two_nodes(outs: list[Path], *flags: str, resume: bool = False, env: dict | None = None, stagger: float = 0.0):
    """`train` on two torchrun launchers, each with its own folder (two machines without a shared disk): `--output-dir`
    or, with `resume`, `--resume`; the second starts `stagger` seconds after the first; the launchers' outcomes."""
    import os
    import time

    port, launched = _free_port(), []
    for out in outs:
        time.sleep(stagger if launched else 0)
        launched.append(subprocess.Popen(_node_launcher(port, *flags, "--resume" if resume else "--output-dir",
                                                        str(out)), cwd=REPO, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}))
    return _outcomes(launched)


def _figures(run_dir: Path) -> dict:
    """What a run learned: its final figures and every loss it logged, by step."""
    metrics = json.loads((run_dir / runs.METRICS_FILE).read_text())
    losses = {f"loss at step {e['step']}": e["loss"] for e in runs.read_events(run_dir)[0] if e["type"] == "log"}
    return {"world_size": metrics["world_size"], "steps": metrics["steps"], **losses,
            **{key: metrics["final"][key] for key in ("accuracy", "f1", "loss")}}


def _accelerate_config(folder: Path, machine: int, port: int) -> Path:
    """accelerate's config file for one of two machines: torchrun underneath (MULTI_GPU; on a CPU-only machine the
    Trainer trains on the CPU with gloo), a static rendezvous at the main machine, whose rank 0 keeps the run folder."""
    path = folder / f"machine{machine}.yaml"
    path.write_text(f"compute_environment: LOCAL_MACHINE\ndistributed_type: MULTI_GPU\nnum_machines: 2\n"
                    f"num_processes: 2\nmachine_rank: {machine}\nmain_process_ip: 127.0.0.1\n"
                    f"main_process_port: {port}\nrdzv_backend: static\nsame_network: true\nmixed_precision: 'no'\n")
    return path


def _accelerate_two_machines(folder: Path, *flags: str) -> list[subprocess.CompletedProcess]:
    """`accelerate launch --config_file machineN.yaml` for machines 0 and 1 at once, each with its own --output-dir."""
    port = _free_port()
    launched = [subprocess.Popen([sys.executable, "-m", "accelerate.commands.launch", "--config_file",
                                  str(_accelerate_config(folder, machine, port)), "-m", "finetune", "train", *flags,
                                  "--output-dir", str(folder / f"machine{machine}")],
                                 cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for machine in (0, 1)]
    return _outcomes(launched)


def _outcomes(launched: list[subprocess.Popen]) -> list[subprocess.CompletedProcess]:
    """Each launcher's exit code and output, once it ends."""
    done = []
    for process in launched:
        stdout, stderr = process.communicate(timeout=300)
        done.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return done


def test_two_nodes_learn_what_two_processes_on_one_node_do_and_only_rank_zero_writes(tmp_path, tiny_bert):
    """Two torchrun launchers of one process each, as on two machines without a shared disk, each given its own
    --output-dir: one run folder, the same figures as `--standalone --nproc_per_node 2` with the same seed and global
    batch, and nothing at all in the other machine's folder. The same with `accelerate launch` and a config file per
    machine."""
    flags = ["--model", str(tiny_bert), "--data", "sample", *TWO_NODE_FLAGS]
    outs = [tmp_path / "node0", tmp_path / "node1"]
    launchers = [*_two_nodes(outs, *flags), *_accelerate_two_machines(tmp_path, *flags)]
    for launcher in launchers:
        assert launcher.returncode == 0, launcher.stdout[-2000:] + launcher.stderr[-3000:]
    written = [out for out in outs if out.exists()]
    assert len(written) == 1, [sorted(map(str, out.rglob("*"))) for out in written]  # rank 0's; the other: not made
    assert not (tmp_path / "machine1").exists()  # accelerate's machine_rank 1
    one_node = tmp_path / "one-node"
    alone = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "finetune",
         "train", *flags, "--output-dir", str(one_node)],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert alone.returncode == 0, alone.stdout[-2000:] + alone.stderr[-3000:]
    one = _figures(one_node)
    print(f"one node: {one}")
    assert one["world_size"] == 2 and one["steps"] == 4
    assert {key for key in one if key.startswith("loss at")} == {f"loss at step {n}" for n in (1, 2, 3, 4)}
    for two_machines in (written[0], tmp_path / "machine0"):
        print(f"{two_machines.name}: {_figures(two_machines)}")
        assert _figures(two_machines) == pytest.approx(one, rel=1e-5, abs=1e-6)


def _standalone(out: Path, *flags: str, env: dict | None = None) -> subprocess.Popen:
    import os

    return subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "finetune",
         "train", *flags, "--output-dir", str(out)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def test_a_nan_loss_on_one_rank_fails_every_rank_at_that_step_in_one_line(tmp_path, tiny_bert):
    """Rank 1's loss turns NaN at step 3 (the tests' hook): rank 0's stays finite, yet both stop at that step with
    the same message, within 30 s, and the run fails naming the step; the checkpoint of step 2 is kept."""
    import time

    from finetune.train import NAN_LOSS_ENV

    out = tmp_path / "run"
    launcher = _standalone(out, "--model", str(tiny_bert), "--data", "sample", *TWO_NODE_FLAGS,
                           env={NAN_LOSS_ENV: "1:3"})
    _wait(out, lambda s: s.step >= 2, seconds=120)
    reached = time.monotonic()
    stdout, stderr = launcher.communicate(timeout=120)
    assert time.monotonic() - reached < 30 and not _processes_of(out)
    expected = ("loss became nan on process 1 of 2 at step 3; the last good checkpoint, checkpoint-2, is kept: lower "
                "the learning rate")
    assert launcher.returncode != 0 and stderr.count(f"error: {expected}\n") == 2, stdout[-2000:] + stderr[-3000:]
    assert runs.state_of(out) == (runs.RunState.FAILED, expected)
    assert max(e["step"] for e in runs.read_events(out)[0] if e["type"] == "log") == 2
    assert [p.name for p in (out / runs.CHECKPOINTS_DIR).iterdir()] == ["checkpoint-2"]
    assert runs.last_checkpoint(out).name == "checkpoint-2" and not (out / runs.MODEL_DIR).exists()


def _rank_of(pid: int) -> int | None:
    """The RANK torchrun gave the process (None for torchrun itself)."""
    environ = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
    return next((int(entry[5:]) for entry in environ if entry.startswith(b"RANK=")), None)


@pytest.mark.parametrize(("processes", "victim"), [(2, 1), (2, 0), (3, 0)])
def test_a_rank_killed_with_sigkill_interrupts_the_run_which_resumes_from_its_last_checkpoint(tiny_bert, processes,
                                                                                             victim):
    """kill -9 of one rank in the app's run of 2 or 3 processes (30 steps, a checkpoint every 10): the others and
    torchrun end within 30 s, the run is interrupted with a one-line reason (said once, by a survivor, when rank 0 is
    the one killed) and resumes from checkpoint-10 to the end."""
    import os
    import signal
    import time

    from finetune import jobs
    from finetune.config import RunConfig

    config = RunConfig.from_preset("course", model=str(tiny_bert), data="sample", epochs=3, batch_size=8,
                                   max_train_samples=80 * processes, max_eval_samples=16, logging_steps=1,
                                   processes=processes)
    run_dir = jobs.start(config)
    try:
        _wait(run_dir, lambda s: s.state == "running" and s.step >= 12)
        os.kill(next(pid for pid in _processes_of(run_dir) if _rank_of(pid) == victim), signal.SIGKILL)
        killed = time.monotonic()
        assert _all_gone(run_dir, seconds=30), f"still alive {time.monotonic() - killed:.0f} s after the kill"
        state, reason = runs.state_of(run_dir)
        assert state == "interrupted", runs.log_tail(run_dir, 60)
        assert reason == ("another process of the run ended without warning (killed, or its machine went down); the "
                          "last good checkpoint, checkpoint-10, is kept")
        assert runs.last_checkpoint(run_dir).name == "checkpoint-10"

        jobs.resume(run_dir)
        done = _wait(run_dir, lambda s: s.state not in runs.LIVE and s.state != "queued", seconds=400)
        assert done.state == "finished", runs.log_tail(run_dir, 60)
    finally:
        for pid in _processes_of(run_dir):
            os.kill(pid, signal.SIGKILL)
    assert json.loads((run_dir / runs.METRICS_FILE).read_text())["steps"] == 30
    statuses = [e["status"] for e in runs.read_events(run_dir)[0] if e["type"] == "status"]
    assert statuses == ["queued", "starting", "started", "interrupted", "queued", "starting", "resumed", "finished"]


def test_two_nodes_resume_only_where_each_has_the_run_folder_and_refuse_together_in_one_line(tmp_path, tiny_bert):
    """Two nodes, each with its own folder: rank 1's NaN at step 3 fails the run on both; a resume where the second
    machine has no copy of the run folder ends both launchers with the same one-line reason (rank 0 does not wait for
    a process that left), as does a copy with another last checkpoint; with a true copy it resumes from checkpoint-2
    to the end, and rank 1 leaves its copy as it was."""
    import shutil

    from finetune.train import NAN_LOSS_ENV

    outs = [tmp_path / "node0", tmp_path / "node1"]
    failed = _two_nodes(outs, "--model", str(tiny_bert), "--data", "sample", *TWO_NODE_FLAGS, env={NAN_LOSS_ENV: "1:3"})
    run_dir, other = outs if outs[0].exists() else outs[::-1]
    assert not other.exists() and all(launcher.returncode != 0 for launcher in failed)
    reason = ("loss became nan on process 1 of 2 at step 3; the last good checkpoint, checkpoint-2, is kept: lower "
              "the learning rate")
    assert runs.state_of(run_dir) == (runs.RunState.FAILED, reason)
    assert all(launcher.stderr.count(f"error: {reason}\n") == 1 for launcher in failed)

    # Rank 0's launcher first, so that it hosts the rendezvous store: once rank 1 left, nothing else would end it.
    refused = _two_nodes([run_dir, other], resume=True, stagger=3)
    said = (f"error: {other} is not a run folder (no config.json) for process 1 of 2: to resume on several machines, "
            "each needs rank 0's run folder as it is now (a shared disk, or a copy)\n")
    for launcher in refused:
        assert launcher.returncode != 0 and launcher.stderr.count(said) == 1, launcher.stderr[-3000:]
    assert runs.state_of(run_dir) == (runs.RunState.FAILED, reason)  # the refused resume left no trace

    shutil.copytree(run_dir, other)
    shutil.copytree(other / runs.CHECKPOINTS_DIR / "checkpoint-2", other / runs.CHECKPOINTS_DIR / "checkpoint-3")
    mismatched = _two_nodes([run_dir, other], resume=True)
    said = ("the processes would resume from different checkpoints (checkpoint-2, checkpoint-3 in rank order): give "
            "every machine a copy of rank 0's run folder as it is now")
    assert all(launcher.stderr.count(f"error: {said}\n") == 1 for launcher in mismatched)
    assert runs.state_of(run_dir) == (runs.RunState.FAILED, said)

    shutil.rmtree(other / runs.CHECKPOINTS_DIR / "checkpoint-3")
    copied = {str(p.relative_to(other)): p.stat().st_mtime_ns for p in other.rglob("*")}
    resumed = _two_nodes([run_dir, other], resume=True)
    for launcher in resumed:
        assert launcher.returncode == 0, launcher.stdout[-2000:] + launcher.stderr[-3000:]
    assert runs.state_of(run_dir)[0] == runs.RunState.FINISHED
    metrics = json.loads((run_dir / runs.METRICS_FILE).read_text())
    assert metrics["world_size"] == 2 and metrics["steps"] == 4
    assert {str(p.relative_to(other)): p.stat().st_mtime_ns for p in other.rglob("*")} == copied


def test_accelerate_starting_one_process_of_several_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    """What accelerate 1.16 sets for MULTI_CPU on two machines without MPI: a lone process that would train a run of
    its own on each machine."""
    from finetune.cli import main

    for name, value in {"ACCELERATE_MIXED_PRECISION": "no", "ACCELERATE_USE_CPU": "False",
                        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}.items():
        monkeypatch.setenv(name, value)
    assert main(["train", "--output-dir", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == (
        "error: accelerate launch started this process alone, without torchrun or MPI (MULTI_CPU or --cpu with several "
        "processes or machines): it would train a run of its own; use distributed_type MULTI_GPU, which trains on the "
        "CPU where there is no GPU, or torchrun\n")
    assert not (tmp_path / "run").exists()
