"""Small file-system helpers for the state files: atomic writes, a cross-process lock, careful JSON reads.

Every state file (sidecar, parameter log, export registry, token file) is written through
`atomic_write_text`: a temporary file in the same folder is written, flushed and fsynced, then moved over
the target with `os.replace`, so a reader sees the old file or the new one and never half of either.
Writers hold `file_lock` (a `filelock.FileLock` on `<path>.lock`) across read-modify-write sequences;
async code holds a lock file with `holding_lock`, which waits for it without blocking the event loop.
A file that cannot be parsed is copied aside and reported, never silently reset.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
import stat
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from .errors import StateFileError, StorageError

__all__ = [
    "atomic_write_json",
    "atomic_write_text",
    "backup_corrupt",
    "corrupt_file_error",
    "file_lock",
    "holding_lock",
    "read_json",
    "storage_error",
    "try_lock",
    "utc_now_iso",
    "write_problem",
]

#: errno values that mean "this folder cannot take the file": no space, a quota, a file too big, read-only
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
DENIED_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})

_locks: dict[tuple[int, str], FileLock] = {}
_locks_guard = threading.Lock()


def utc_now_iso() -> str:
    """Return the current UTC time as ISO-8601 with milliseconds and a Z suffix."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable where the platform allows it (not on Windows)."""
    if sys.platform == "win32":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _replace(src: str, dst: Path) -> None:
    """`os.replace`, retried briefly on Windows where a reader holding the file blocks the rename."""
    for attempt in range(10):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if sys.platform != "win32" or attempt == 9:
                raise
            time.sleep(0.05 * (attempt + 1))


def storage_error(exc: OSError, path: str | os.PathLike[str], *, what: str, then: str = "") -> StorageError | None:
    """The StorageError that names the folder of `path` when `exc` says it cannot take the file (no space,
    a quota, read-only or forbidden); None for any other OSError. `then` says what happens next."""
    if exc.errno not in FULL_ERRNOS | DENIED_ERRNOS:
        return None
    folder = Path(path).parent
    then = f" {then}" if then else ""
    if exc.errno in FULL_ERRNOS:
        try:
            free = f" ({shutil.disk_usage(folder).free / 1e6:,.1f} MB free)"
        except OSError:
            free = ""
        return StorageError(
            f"No space left on the disk of {folder} while writing {what}{free}. Free some space there or choose "
            f"another output folder, then run again.{then}",
            folder=str(folder),
            errno=exc.errno,
        )
    return StorageError(
        f"{folder} cannot be written to ({exc.strerror or exc}) while writing {what}. Make it writable or choose "
        f"another folder, then run again.{then}",
        folder=str(folder),
        errno=exc.errno,
    )


def write_problem(folder: str | os.PathLike[str]) -> str | None:
    """Why files cannot be created in `folder` (or the nearest folder above it that exists), or None.

    A file is created and removed at once: the only sure test (root, ACLs and read-only disks all fool
    `os.access`)."""
    probe = Path(folder).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is not a folder"
    test = probe / f".botify-graph-probe-{os.getpid()}-{os.urandom(4).hex()}"
    try:
        os.close(os.open(test, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        return exc.strerror or str(exc)
    try:
        test.unlink()
    except OSError:
        pass
    return None


def atomic_write_text(path: str | os.PathLike[str], text: str, *, mode: int | None = None) -> None:
    """Replace `path` with `text` (UTF-8) atomically; on failure the old file is intact and no temp is left.

    `mode` is the permission the file is created with (the umask still applies); by default a new file gets
    0o666 minus the umask and an existing file keeps its permissions. The temporary file already has the
    final mode when it is created, so a file written with mode 0o600 is never readable by others.
    A full disk or a read-only folder is a StorageError that names the folder.
    """
    try:
        _atomic_write_text(Path(path), text, mode)
    except OSError as exc:
        name = Path(path).name
        error = storage_error(exc, path, what=name, then=f"{name} was left as it was.")
        if error is None:
            raise
        raise error from None


def _atomic_write_text(target: Path, text: str, mode: int | None) -> None:
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    keep_mode: int | None = None
    if mode is None:
        try:
            keep_mode = stat.S_IMODE(target.stat().st_mode)
        except OSError:
            keep_mode = None
    create_mode = 0o666 if mode is None else mode
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    tmp = ""
    fd = -1
    for _ in range(100):
        tmp = str(folder / f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        try:
            fd = os.open(tmp, flags, create_mode)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 random name collisions in a row
        raise StateFileError(target, "could not create a temporary file beside it; check the folder.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        if keep_mode is not None and sys.platform != "win32":
            os.chmod(tmp, keep_mode)
        _replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(folder)


def atomic_write_json(path: str | os.PathLike[str], obj: Any, *, mode: int | None = None) -> None:
    """Serialise `obj` as indented JSON and write it with `atomic_write_text`.

    The object is serialised before anything touches the disk, so an unserialisable value leaves the old
    file as it was. NaN and infinities are refused: they are not JSON.
    """
    text = json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    atomic_write_text(path, text, mode=mode)


def _shared_lock(lock_path: Path) -> FileLock:
    """One FileLock instance per lock file and process, so nested `with` blocks in one thread re-enter it."""
    key = (os.getpid(), os.path.abspath(lock_path))
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = FileLock(str(lock_path))
        return lock


@contextmanager
def file_lock(path: str | os.PathLike[str], timeout: float = 30) -> Iterator[None]:
    """Hold the cross-process lock `<path>.lock` for the duration of the block.

    The lock is re-entrant within one thread (nested blocks on the same path do not wait), and excludes
    other threads and other processes. If it cannot be taken within `timeout` seconds, StateFileError says
    so and what to do.
    """
    target = Path(path)
    lock_path = target.with_name(target.name + ".lock")
    lock = _shared_lock(lock_path)
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire(timeout=timeout)
    except Timeout:  # (a TimeoutError, so an OSError: before the clause below)
        raise StateFileError(
            target,
            f"another process has held the lock {lock_path.name} for more than {timeout:g} s. "
            "Wait for the other notebook, app or batch run using this file to finish and try again; "
            f"if no other botify-graph process is running, delete {lock_path}.",
        ) from None
    except OSError as exc:
        error = storage_error(exc, lock_path, what=f"the lock file {lock_path.name} (that guards {target.name})")
        if error is None:
            raise
        raise error from None
    try:
        yield
    finally:
        lock.release()


def try_lock(lock: FileLock) -> bool:
    """Take `lock` if it is free, without waiting."""
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return False
    return True


@asynccontextmanager
async def holding_lock(lock_path: str | os.PathLike[str], *, poll: float = 0.1) -> AsyncIterator[None]:
    """Hold the lock file `lock_path`, waiting for it (every `poll` s) without blocking the event loop.

    Not re-entrant, unlike `file_lock`: each holder has its own lock, so two tasks of one process exclude each
    other as two processes do. The OS releases it if its holder dies, so a killed run never blocks the next
    one; the file itself stays (deleting a lock file races with its next user).
    """
    path = Path(lock_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    while not try_lock(lock):
        await asyncio.sleep(poll)
    try:
        yield
    finally:
        lock.release()


def backup_corrupt(path: str | os.PathLike[str]) -> Path:
    """Copy `path` to `<path>.corrupt-<UTC timestamp>` beside it (the original stays) and return the copy."""
    source = Path(path)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    backup = source.with_name(f"{source.name}.corrupt-{stamp}")
    n = 1
    while backup.exists():
        n += 1
        backup = source.with_name(f"{source.name}.corrupt-{stamp}-{n}")
    shutil.copy2(source, backup)
    return backup


def corrupt_file_error(path: str | os.PathLike[str], what: str, problem: str) -> StateFileError:
    """Back up a corrupt state file and build the StateFileError that names it, the backup and the way out."""
    try:
        where = f"A copy was saved as {backup_corrupt(path)}."
    except OSError as exc:
        where = f"It could not be copied aside ({exc.strerror or exc})."
    return StateFileError(
        path,
        f"the {what} is corrupt ({problem}). {where} It was left in place and nothing was reset: "
        "fix the file, or move it away to start afresh.",
    )


def read_json(path: str | os.PathLike[str], *, what: str) -> Any | None:
    """Parse the JSON file at `path`; None if it does not exist.

    A file that is not valid UTF-8 JSON is copied to `<path>.corrupt-<UTC timestamp>` and reported with a
    StateFileError naming both files; the original is left where it is. `what` names the file for people
    ("export registry", "wizard sidecar").
    """
    target = Path(path)
    try:
        raw = target.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateFileError(
            target, f"the {what} cannot be read ({exc.strerror or exc}); check its permissions."
        ) from None
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise corrupt_file_error(target, what, f"not UTF-8 text at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise corrupt_file_error(
            target, what, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
