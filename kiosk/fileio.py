"""Writing files so that a crash, a power cut or a full disk never leaves half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: str | Path, data: bytes, mode: int = 0o600,
                 owner: tuple[int, int] | None = None) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over `path`: after a
    power cut the file holds either its old or its new content."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        if owner is not None:
            os.fchown(fd, *owner)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dirfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dirfd)
    except OSError:
        pass  # FAT directories (the boot partition) cannot always be fsynced; the rename is done
    finally:
        os.close(dirfd)


def purge_older_than(folder: str | Path, days: float, now: float | None = None) -> int:
    """Delete files under `folder` last modified more than `days` ago; returns how many."""
    import time

    folder = Path(folder)
    if not folder.is_dir():
        return 0
    limit = (now if now is not None else time.time()) - days * 86400
    removed = 0
    for f in folder.rglob("*"):
        if f.is_file() and f.stat().st_mtime < limit:
            f.unlink(missing_ok=True)
            removed += 1
    return removed


SQLITE_FILES = ("", "-wal", "-shm", "-journal")


def private_sqlite(path: str | Path) -> None:
    """Make a SQLite database owner-only (0600) before SQLite opens it: created with that mode
    when missing (SQLite then gives its -wal, -shm and -journal files the same mode), and group
    and other access taken away from the file and its companions when they exist already."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for suffix in SQLITE_FILES:
        p = Path(f"{path}{suffix}")
        try:
            mode = p.stat().st_mode
            if mode & 0o077:
                os.chmod(p, mode & 0o700)
        except FileNotFoundError:
            continue
        except PermissionError:
            pass  # someone else's file: its owner decides
