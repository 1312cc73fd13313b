"""Uploads bounded: each session (owner token) keeps at most so many uploaded files and bytes, and the upload folder
is pruned by age and total size. A session over its cap is refused in one line; nobody else's files are touched.

The ledger of what each session keeps lives in the runs folder (`.uploads/`, one file per SHA-256 of the owner
token), so it outlives a restart as the token does; a ledger entry whose file is gone (pruned, or the upload folder
wiped) no longer counts.
"""
from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from finetune import FinetuneError, durable, runs
from finetune.access import data_roots, upload_dir

# Every limit in one block, with why; the operator overrides each with its environment variable.
TOTAL_ENV = "FINETUNE_UPLOADS_MAX"
TOTAL = "2gb"  # the whole upload folder: ten sessions at their cap; a small server's disk keeps room for the runs
MAX_AGE_ENV = "FINETUNE_UPLOADS_MAX_AGE"
MAX_AGE = "24h"  # a class day: today's files stay for the lesson, yesterday's go (a user uploads again in seconds)
PER_SESSION_ENV = "FINETUNE_UPLOADS_PER_SESSION"
PER_SESSION = 20  # a lesson's worth of tries (a train and a validation file, a few fixes, files of pairs to answer)
SESSION_MAX_ENV = "FINETUNE_UPLOADS_SESSION_MAX"
SESSION_MAX = "200mb"  # 20 files at the 10 MB file cap ($FINETUNE_MAX_FILE_SIZE)
PRUNE_SECONDS = 60.0  # how often the app prunes: a look at a few hundred files, cheap
LEDGER_DIR = ".uploads"  # in the runs folder, which Gradio never serves (access.blocked_paths)

SIZE = re.compile(r"(\d+)\s*(b|kb|mb|gb|tb)?", re.IGNORECASE)
SIZE_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}  # 1024-based, as Gradio's max_file_size
AGE = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d)?", re.IGNORECASE)
AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
GRADIO_UPLOAD = re.compile(r"[0-9a-f]{64}")  # Gradio stores an upload as UPLOAD_FOLDER/<sha256 of it>/<its name>


class UploadError(FinetuneError):
    """An upload refused: its session keeps too many, or a limit set wrongly."""


@dataclass(frozen=True)
class Limits:
    total: int  # bytes the upload folder keeps
    max_age: float  # seconds a file is kept
    per_session: int  # files a session keeps
    session_max: int  # bytes a session keeps


def _setting(variable: str, default: str, pattern: re.Pattern, units: dict, example: str) -> float:
    value = os.environ.get(variable, "").strip() or default
    found = pattern.fullmatch(value)
    if not found or float(found[1]) <= 0:
        raise UploadError(f"${variable} must be {example}, got {value!r}")
    return float(found[1]) * units[(found[2] or next(iter(units))).lower()]  # a bare number: bytes, or seconds


def limits() -> Limits:
    """The limits from the environment, each checked: a wrong one stops the app at start, and refuses uploads."""
    per_session = os.environ.get(PER_SESSION_ENV, "").strip() or str(PER_SESSION)
    if not per_session.isdigit() or int(per_session) < 1:
        raise UploadError(f"${PER_SESSION_ENV} must be a whole number above 0, got {per_session!r}")
    return Limits(total=int(_setting(TOTAL_ENV, TOTAL, SIZE, SIZE_UNITS, "a size such as 2gb or 500mb")),
                  max_age=_setting(MAX_AGE_ENV, MAX_AGE, AGE, AGE_UNITS, "an age such as 24h, 90m or 2d"),
                  per_session=int(per_session),
                  session_max=int(_setting(SESSION_MAX_ENV, SESSION_MAX, SIZE, SIZE_UNITS, "a size such as 200mb")))


def human_size(size: float) -> str:
    units = ["B", "KB", "MB", "GB"]
    while size >= 1024 and len(units) > 1:
        size, units = size / 1024, units[1:]
    return f"{size:.0f} {units[0]}" if size == int(size) else f"{size:.1f} {units[0]}"


def human_age(seconds: float) -> str:
    for unit, length in (("h", 3600), ("min", 60)):
        if seconds >= length and seconds % length == 0:
            return f"{seconds // length:.0f} {unit}"
    return f"{seconds:.0f} s"


# ------------------------------------------------------------------------------------------------------- the ledger

def _ledger_dir() -> Path:
    return runs.runs_dir() / LEDGER_DIR


def _ledger(owner: str) -> Path:
    return _ledger_dir() / f"{runs._digest(owner)}.json"  # the token's hash only, as a run's owner file


def _kept(ledger: Path) -> list[dict]:
    """The ledger's entries whose files are still there ({"path", "size", "time"}); none for a missing or damaged
    ledger."""
    try:
        entries = json.loads(ledger.read_text())
        return [entry for entry in entries if Path(entry["path"]).is_file() and int(entry["size"]) >= 0]
    except (OSError, ValueError, TypeError, KeyError):
        return []


def _write(ledger: Path, entries: list[dict]) -> None:
    """Whole or absent, even if the app dies mid-write; an empty ledger is removed."""
    if not entries:
        durable.remove(ledger, missing_ok=True)
        return
    durable.write_text(ledger, json.dumps(entries))


def _kept_by_another(path: Path, ledger: Path) -> bool:
    """Whether another session keeps this very file: Gradio stores identical uploads (same bytes, same name) once."""
    return any(other != ledger and any(entry["path"] == str(path) for entry in _kept(other))
               for other in _ledger_dir().glob("*.json"))


def kept(owner: str) -> list[str]:
    """The uploads this session keeps, oldest first."""
    return [entry["path"] for entry in _kept(_ledger(owner))]


def admit(owner: str, path: str | Path) -> str:
    """path, counted as one of this session's uploads. A session past its cap of files or bytes is refused in one
    line and the new file removed (unless another session keeps it too). What is not an upload in Gradio's upload
    folder (an allowed data folder's file) passes uncounted, and is never removed."""
    file = Path(path).resolve()
    folder = upload_dir()
    if not (file.is_file() and file.parent.parent == folder and GRADIO_UPLOAD.fullmatch(file.parent.name)):
        return str(path)
    cap = limits()
    ledger = _ledger(owner)
    with runs.folder_lock(_ledger_dir()):
        entries = _kept(ledger)
        if any(entry["path"] == str(file) for entry in entries):  # the same upload loaded again
            return str(path)
        try:
            size = file.stat().st_size
        except OSError:  # pruned between the upload and now (it was that old, or the folder that full)
            raise UploadError("the uploaded file is gone from the server: upload it again") from None
        used = sum(entry["size"] for entry in entries)
        if len(entries) + 1 > cap.per_session or used + size > cap.session_max:
            if not _kept_by_another(file, ledger):
                _remove(file, folder)
            raise UploadError(f"upload refused: your session already keeps {len(entries)} uploaded files "
                              f"({human_size(used)}) and this one ({human_size(size)}) would pass its limit of "
                              f"{cap.per_session} files or {human_size(cap.session_max)}; uploads are removed "
                              f"{human_age(cap.max_age)} after they arrive")
        _write(ledger, [*entries, {"path": str(file), "size": size, "time": round(time.time(), 3)}])
    return str(path)


# ------------------------------------------------------------------------------------------------------- pruning

def _remove(path: Path, folder: Path) -> None:
    """The file, and its folder when that is left empty (Gradio's one folder per upload); never the upload folder."""
    path.unlink(missing_ok=True)
    if path.parent != folder:
        try:
            path.parent.rmdir()
        except OSError:  # not empty: another file, or an upload arriving in it
            pass


def in_use() -> list[Path]:
    """What pruning never removes: the data of every queued or live run, of every run that can still resume (stopped,
    interrupted or failed with a checkpoint: a resume reads its data again, and a run whose app died is resumed by
    the next app on its own), and of every running sweep (its next trials read it), and the operator's allowed data
    folders. Deleting such a run frees its data."""
    from finetune import sweep

    sources = []
    for run_dir in runs.list_runs():
        try:
            state = runs.state_of(run_dir)[0]
            if state in runs.WAITING_OR_LIVE or (state in runs.RESUMABLE and runs.last_checkpoint(run_dir)):
                sources.append(json.loads((run_dir / runs.CONFIG_FILE).read_text())["data"])
        except (OSError, ValueError, KeyError):  # a run folder being made or deleted: looked at again next time
            continue
    for folder in sweep.list_sweeps():
        try:
            doc = sweep.read(folder)
            if doc["state"] == sweep.RUNNING:
                sources.append(doc["base"]["data"])
        except (OSError, ValueError, KeyError):
            continue
    return [Path(str(source)).expanduser().resolve() for source in sources] + data_roots()


def prune(now: float | None = None) -> list[Path]:
    """Remove the upload folder's files older than the max age, then the oldest until the folder is within its total
    size; never a file in use (see in_use) nor anything outside the folder. Returns the files removed."""
    folder, cap, now = upload_dir(), limits(), time.time() if now is None else now
    if not folder.is_dir():
        return []
    keep = None  # read from every run's folder only once a file is due to go
    files = []
    for root, _, names in os.walk(folder):  # symlinks are listed, never followed: unlinking one removes the link
        for name in names:
            try:
                stat = (Path(root) / name).lstat()
            except OSError:  # removed meanwhile
                continue
            files.append((stat.st_mtime, stat.st_size, Path(root) / name))
    total, removed = sum(size for _, size, _ in files), []
    for mtime, size, path in sorted(files):
        if now - mtime <= cap.max_age and total <= cap.total:
            break  # the rest are younger still
        keep = in_use() if keep is None else keep
        if any(path == used or path.is_relative_to(used) for used in keep):
            continue
        _remove(path, folder)
        total -= size
        removed.append(path)
    _tidy_ledgers()
    return removed


def _tidy_ledgers() -> None:
    """Ledgers rewritten without the files that are gone; a session that keeps nothing has no ledger left."""
    if not _ledger_dir().is_dir():
        return
    with runs.folder_lock(_ledger_dir()):
        for ledger in _ledger_dir().glob("*.json"):
            entries = _kept(ledger)
            try:
                unchanged = ledger.read_text() == json.dumps(entries)  # as _write wrote it: nothing gone since
            except OSError:
                unchanged = False
            if not unchanged:
                _write(ledger, entries)


_pruner: list[threading.Thread] = []


def start_pruning() -> None:
    """The app's upload-pruning loop: at start, then every PRUNE_SECONDS. Wrong limits stop the app here, at once."""
    limits()

    def loop():
        while True:
            try:
                removed = prune()
                if removed:
                    print(f"uploads: removed {len(removed)} files past their age or the folder's size", flush=True)
            except Exception as err:  # noqa: BLE001 - one failed look must not end the pruning for good
                print(f"uploads: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
            time.sleep(PRUNE_SECONDS)

    if not _pruner:
        _pruner.append(threading.Thread(target=loop, name="finetune-uploads", daemon=True))
        _pruner[0].start()
