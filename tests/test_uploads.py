"""Uploads bounded: a session's cap on the files and bytes it keeps (refused in one line, nobody else's files touched),
the upload folder pruned by age and total size (never a file a run needs, never outside the folder), and the same
through the real app."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from conftest import serve_app
from gradio_client import Client
from gradio_client.exceptions import AppError
from test_security import COULD_NOT_LOAD, UPLOAD, csv_bytes, event, pairs, uploaded

from finetune import runs, uploads
from finetune.config import RunConfig

DAY = 86400


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    """Gradio's upload folder for this test, and the limits at their defaults whatever the shell says."""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    for variable in (uploads.TOTAL_ENV, uploads.MAX_AGE_ENV, uploads.PER_SESSION_ENV, uploads.SESSION_MAX_ENV,
                     "FINETUNE_DATA_DIRS"):
        monkeypatch.delenv(variable, raising=False)
    (tmp_path / "uploads").mkdir()
    return (tmp_path / "uploads").resolve()


def gradio_upload(folder: Path, name: str, content: bytes, age: float = 0) -> Path:
    """A file where Gradio's /upload puts it (UPLOAD_FOLDER/<sha256 of its bytes>/<name>), `age` seconds old."""
    path = folder / hashlib.sha256(content).hexdigest() / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(content)
    if age:
        os.utime(path, (time.time() - age, time.time() - age))
    return path


def test_a_session_past_its_file_cap_is_refused_in_one_line_and_only_its_new_file_removed(folder, monkeypatch):
    monkeypatch.setenv(uploads.PER_SESSION_ENV, "2")
    first, second = gradio_upload(folder, "a.csv", b"a"), gradio_upload(folder, "b.csv", b"b")
    theirs = gradio_upload(folder, "c.csv", b"c")
    assert uploads.admit("them", theirs) == str(theirs)
    assert [uploads.admit("me", first), uploads.admit("me", second)] == [str(first), str(second)]
    extra = gradio_upload(folder, "d.csv", b"d")
    with pytest.raises(uploads.UploadError) as refused:
        uploads.admit("me", extra)
    assert str(refused.value) == ("upload refused: your session already keeps 2 uploaded files (2 B) and this one "
                                  "(1 B) would pass its limit of 2 files or 200 MB; uploads are removed 24 h after "
                                  "they arrive")
    assert not extra.exists() and not extra.parent.exists()
    assert first.read_bytes() == b"a" and second.read_bytes() == b"b" and theirs.read_bytes() == b"c"
    assert uploads.kept("me") == [str(first), str(second)] and uploads.kept("them") == [str(theirs)]
    later = gradio_upload(folder, "e.csv", b"e")  # the other session is under its own cap still
    assert uploads.admit("them", later) == str(later) and later.is_file()


def test_a_session_past_its_bytes_is_refused_and_loading_the_same_upload_again_counts_once(folder, monkeypatch):
    monkeypatch.setenv(uploads.SESSION_MAX_ENV, "1kb")
    kept = gradio_upload(folder, "pairs.csv", b"x" * 600)
    for _ in range(3):  # Load clicked three times on one upload
        uploads.admit("me", kept)
    assert uploads.kept("me") == [str(kept)]
    big = gradio_upload(folder, "more.csv", b"y" * 600)
    with pytest.raises(uploads.UploadError, match=r"keeps 1 uploaded files \(600 B\) and this one \(600 B\) would "
                                                  r"pass its limit of 20 files or 1 KB"):
        uploads.admit("me", big)
    assert not big.exists() and kept.is_file()


def test_a_refused_upload_another_session_keeps_too_stays(folder, monkeypatch):
    monkeypatch.setenv(uploads.PER_SESSION_ENV, "1")
    uploads.admit("me", gradio_upload(folder, "mine.csv", b"mine"))
    shared = gradio_upload(folder, "pairs.csv", b"same bytes, same name: one file for both")
    uploads.admit("them", shared)
    with pytest.raises(uploads.UploadError):
        uploads.admit("me", shared)
    assert shared.is_file() and uploads.kept("them") == [str(shared)]


def test_a_file_that_is_not_an_upload_is_neither_counted_nor_removed(folder, monkeypatch, tmp_path):
    monkeypatch.setenv(uploads.PER_SESSION_ENV, "1")
    uploads.admit("me", gradio_upload(folder, "mine.csv", b"mine"))
    allowed = tmp_path / "data" / "pairs.csv"  # a file of $FINETUNE_DATA_DIRS
    allowed.parent.mkdir()
    allowed.write_bytes(b"data")
    answers = folder / "answers-x" / "pairs-predictions.csv"  # an answer file the Playground wrote
    answers.parent.mkdir()
    answers.write_bytes(b"answers")
    for path in (allowed, answers):
        assert uploads.admit("me", path) == str(path) and path.is_file()
    assert len(uploads.kept("me")) == 1


def test_the_ledger_keeps_only_the_tokens_hash_in_the_runs_folder(folder):
    path = gradio_upload(folder, "a.csv", b"a")
    uploads.admit("secret-token", path)
    ledgers = list((runs.runs_dir() / uploads.LEDGER_DIR).glob("*.json"))
    assert [p.stem for p in ledgers] == [hashlib.sha256(b"secret-token").hexdigest()]
    assert "secret-token" not in ledgers[0].read_text() and json.loads(ledgers[0].read_text())[0]["path"] == str(path)


@pytest.mark.parametrize("variable, value, said", [
    (uploads.TOTAL_ENV, "lots", "$FINETUNE_UPLOADS_MAX must be a size such as 2gb or 500mb, got 'lots'"),
    (uploads.MAX_AGE_ENV, "0h", "$FINETUNE_UPLOADS_MAX_AGE must be an age such as 24h, 90m or 2d, got '0h'"),
    (uploads.PER_SESSION_ENV, "-1", "$FINETUNE_UPLOADS_PER_SESSION must be a whole number above 0, got '-1'"),
])
def test_a_wrong_limit_is_refused_in_one_line(folder, monkeypatch, variable, value, said):
    monkeypatch.setenv(variable, value)
    with pytest.raises(uploads.UploadError) as refused:
        uploads.limits()
    assert str(refused.value) == said


def test_the_limits_read_units(monkeypatch):
    for variable, value in [(uploads.TOTAL_ENV, "3 GB"), (uploads.MAX_AGE_ENV, "90m"),
                            (uploads.PER_SESSION_ENV, "5"), (uploads.SESSION_MAX_ENV, "512kb")]:
        monkeypatch.setenv(variable, value)
    assert uploads.limits() == uploads.Limits(total=3 * 1024**3, max_age=5400, per_session=5, session_max=512 * 1024)


def test_prune_removes_files_past_the_age_and_their_sessions_ledgers(folder):
    old, fresh = gradio_upload(folder, "old.csv", b"old", age=DAY + 60), gradio_upload(folder, "new.csv", b"new")
    uploads.admit("me", old)
    uploads.admit("them", fresh)
    assert uploads.prune() == [old]
    assert not old.parent.exists() and fresh.read_bytes() == b"new"
    assert uploads.kept("me") == [] and uploads.kept("them") == [str(fresh)]
    assert len(list((runs.runs_dir() / uploads.LEDGER_DIR).glob("*.json"))) == 1  # "me" keeps nothing: no ledger


def test_prune_removes_the_oldest_until_the_folder_is_within_its_total_size(folder, monkeypatch):
    monkeypatch.setenv(uploads.TOTAL_ENV, "2kb")
    files = [gradio_upload(folder, f"{n}.csv", bytes([n]) * 700, age=3600 * (4 - n)) for n in range(4)]  # 0 oldest
    assert uploads.prune() == files[:2]  # 2800 bytes: the two oldest go, 1400 stay
    assert [f.exists() for f in files] == [False, False, True, True]
    assert uploads.prune() == []


def test_prune_keeps_the_data_of_queued_resumable_runs_and_running_sweeps_only(folder, monkeypatch):
    monkeypatch.setenv(uploads.TOTAL_ENV, "1kb")
    names = ("queued", "stopped", "stopped-early", "sweeping", "finished")
    data = {name: gradio_upload(folder, f"{name}.csv", csv_bytes(pairs(40)), age=2 * DAY) for name in names}
    for name in ("queued", "stopped", "stopped-early", "finished"):
        run_dir = runs.runs_dir() / f"20260101-000000-{name}"
        run_dir.mkdir(parents=True)
        RunConfig.from_preset("demo", data=str(data[name])).save(run_dir / runs.CONFIG_FILE)
        if name == "queued":
            runs.enqueue(run_dir, resume=False)
        elif name.startswith("stopped"):  # its app died: resumed by the next app, from its checkpoint, if it has one
            if name == "stopped":
                checkpoint = run_dir / runs.CHECKPOINTS_DIR / "checkpoint-4"
                checkpoint.mkdir(parents=True)
                for name in ("model.safetensors", *runs.CHECKPOINT_FILES):
                    (checkpoint / name).write_bytes(b"saved")
                runs.mark_complete(checkpoint)
            runs.append_event(run_dir, "status", status=runs.Transition.STOPPED, reason=runs.APP_ENDED)
        else:
            runs.append_event(run_dir, "status", status=runs.Transition.FINISHED)
    sweep_dir = runs.runs_dir() / "sweeps" / "sweep-1"
    sweep_dir.mkdir(parents=True)
    (sweep_dir / "sweep.json").write_text(json.dumps({"state": "running", "base": {"data": str(data["sweeping"])}}))
    assert sorted(uploads.prune()) == sorted([data["stopped-early"], data["finished"]])
    assert all(data[name].is_file() for name in ("queued", "stopped", "sweeping"))


def test_prune_never_touches_anything_outside_the_upload_folder(folder, tmp_path):
    outside = tmp_path / "precious.csv"
    outside.write_bytes(b"keep me")
    os.utime(outside, (time.time() - 3 * DAY, time.time() - 3 * DAY))
    link = folder / ("0" * 64) / "link.csv"
    link.parent.mkdir()
    link.symlink_to(outside)
    os.utime(link, (time.time() - 2 * DAY, time.time() - 2 * DAY), follow_symlinks=False)
    (folder / "into").symlink_to(tmp_path, target_is_directory=True)  # a folder link: never walked into
    assert uploads.prune() == [link]
    assert outside.read_bytes() == b"keep me" and not link.is_symlink() and folder.is_dir()


# --- the real app ---

@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_run):
    """The app with a cap of two uploads per session, and a day-old file in its upload folder from before it
    started."""
    home = tmp_path_factory.mktemp("uploads-app")
    shutil.copytree(tiny_run, home / "runs" / tiny_run.name)
    (home / "uploads").mkdir()
    gradio_upload(home / "uploads", "stale.csv", b"from yesterday", age=DAY + 60)
    yield from serve_app(home, tmp_path_factory.getbasetemp(), FINETUNE_UPLOADS_PER_SESSION="2")


def test_past_its_cap_a_session_is_refused_in_one_line_and_another_sessions_uploads_go_on(server, tiny_run):
    mine = [uploaded(server.url, f"mine-{n}.csv", csv_bytes(pairs(30 + n))) for n in range(3)]
    for reply in (event(server.url, "load", [UPLOAD, "", mine[0], "auto", "token-me"]),
                  event(server.url, "ask_file", [tiny_run.name, mine[1], "token-me"])):
        assert reply[0] is True, reply
    ok, said = event(server.url, "load", [UPLOAD, "", mine[2], "auto", "token-me"])
    refusal = "upload refused: your session already keeps 2 uploaded files ("
    assert not ok and said.startswith(COULD_NOT_LOAD + refusal) and "\n" not in said, said
    assert "would pass its limit of 2 files or 200 MB; uploads are removed 24 h after they arrive" in said
    assert not Path(mine[2]["path"]).exists()
    theirs = uploaded(server.url, "theirs.csv", csv_bytes(pairs(7)))
    ok, (answers, _) = event(server.url, "ask_file", [tiny_run.name, theirs, "token-them"])
    assert ok and len(answers["data"]) == 7
    ok, said = event(server.url, "ask_file", [tiny_run.name, uploaded(server.url, "more.csv", csv_bytes(pairs(3))),
                                              "token-me"])
    assert not ok and said.startswith(refusal) and "\n" not in said, said
    settings = (tiny_run / runs.CONFIG_FILE).read_bytes()  # the Train tab's "Load settings" counts too
    ok, said = event(server.url, "fill_form", [uploaded(server.url, "config.json", settings), "token-me"])
    assert not ok and said.startswith(refusal), said
    assert event(server.url, "fill_form", [uploaded(server.url, "config.json", settings), "token-them"])[0] is True
    refused = uploaded(server.url, "train.csv", csv_bytes(pairs(40)))  # the API counts an upload as the page does
    with pytest.raises(AppError, match=re.escape(refusal)):
        Client(server.url, verbose=False).predict(model="bundled", data=refused["path"], preset="demo",
                                                  owner="token-me", api_name="/train")
    assert not Path(refused["path"]).exists() and not list(server.runs_dir.glob("*-bundled"))
    assert [Path(f["path"]).read_bytes() for f in mine[:2]] == [csv_bytes(pairs(30)), csv_bytes(pairs(31))]
    assert Path(theirs["path"]).read_bytes() == csv_bytes(pairs(7))
    assert not list(server.uploads.glob("*/stale.csv"))  # the app pruned the day-old file at start
