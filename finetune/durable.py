"""Files that survive a crash of the process or of the machine: written whole or not at all, and on disk before the
rename or the return that lets anyone see them."""
from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

PARTIAL = ".partial"  # a temp file's suffix; with its leading dot no reader takes it for the file it will become


def sync_file(path: Path) -> None:
    """Flush a written file's data from the page cache to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def sync_folder(folder: Path) -> None:
    """Put the folder's entries (a rename, a new or removed file) on disk: fsyncing a file does not."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def sync_tree(folder: Path) -> None:
    """Every file under `folder` on disk, then the folders' entries, up to the folder's own in its parent: for what
    another program wrote (Trainer)."""
    folders = [Path(folder).parent, Path(folder)]
    for path in Path(folder).rglob("*"):
        if path.is_dir():
            folders.append(path)
        elif path.is_file():
            sync_file(path)
    for each in reversed(folders):
        sync_folder(each)


def partial_path(path: Path) -> Path:
    """A temp file beside `path`, its own per process and thread: two writers never write into one temp file."""
    return path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}{PARTIAL}")


def publish(partial: Path, path: Path) -> Path:
    """Rename a finished temp file onto `path` once its data is on disk, then make the rename itself durable."""
    sync_file(partial)
    os.replace(partial, path)
    sync_folder(Path(path).parent)
    return Path(path)


def write_text(path: Path, text: str, mode: int | None = None) -> Path:
    """Replace `path` with `text`, whole or not at all even across a power cut; `mode` sets its permissions before
    it becomes visible (0o600 for a secret)."""
    path = Path(path)
    partial = partial_path(path)
    try:
        with open(partial, "w", encoding="utf-8") as out:
            if mode is not None:
                os.fchmod(out.fileno(), mode)
            out.write(text)
        return publish(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise


def remove(path: Path, missing_ok: bool = False) -> None:
    """Delete a file and put the deletion on disk: one that came back after a power cut would say what is no longer
    so (a run still queued after its "starting" event, a checkpoint still marked while it is rewritten)."""
    try:
        Path(path).unlink()
    except FileNotFoundError:
        if not missing_ok:
            raise
        return
    sync_folder(Path(path).parent)


def append_line(path: Path, line: str) -> None:
    """Append `line` (ending in a newline) with one write and fsync it before returning. A line a crash cut short is
    ended first, so that this one starts its own and readers can skip the torn one."""
    data = line.encode("utf-8")
    descriptor = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        size = os.fstat(descriptor).st_size
        if size and os.pread(descriptor, 1, size - 1) != b"\n":
            data = b"\n" + data
        while data:  # one write in practice; the loop only guards against a short write
            data = data[os.write(descriptor, data):]
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    if size == 0:
        sync_folder(Path(path).parent)  # a new log's directory entry
