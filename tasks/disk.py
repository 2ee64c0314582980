"""The job's disks: free-space checks, full-disk errors that name the disk, and scratch
folders that a crashed process cannot leave behind.

A full disk surfaces as ``OSError(ENOSPC)`` from Python or as an ffmpeg failure whose stderr
says "No space left on device"; :func:`as_disk_full` turns either into :class:`DiskFullError`
naming the mount point, the path and the space left, so the job fails once, clearly, and is
not retried (retrying cannot free space).

Scratch folders (:func:`scratch_dir`) are held by an ``flock`` on a sibling lock file for as
long as their owner lives. The kernel drops the lock when the owner dies, even by SIGKILL, so
:func:`sweep_stale` can remove what a killed run left while never touching the scratch of a
job that is still running (two jobs on the same content share a work folder).
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from media.errors import ClipflowError, FFmpegError

# 16 kHz mono s16le: the speech WAV every job writes before its first render.
SPEECH_WAV_BYTES_PER_S = 16_000 * 2
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_FFMPEG_FULL = ("No space left on device", "Disk quota exceeded")


class DiskFullError(ClipflowError):
    """A disk the job writes to is full (or would be): deterministic until someone frees
    space, so it is never retried."""

    def __init__(self, message: str, *, path: str, mount: str, free_bytes: int) -> None:
        super().__init__(message)
        self.path = path
        self.mount = mount
        self.free_bytes = free_bytes


def human_bytes(n: float) -> str:
    """``1536`` → ``"1.5 KiB"``: binary units, one decimal."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing ancestor (a folder a job is about to create)."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def mount_point(path: str | os.PathLike[str]) -> Path:
    """The mount point of the file system holding ``path`` (or where it would be made)."""
    here = _existing(Path(path))
    while not os.path.ismount(here) and here != here.parent:
        here = here.parent
    return here


def free_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes an unprivileged writer may still use on the file system holding ``path``."""
    return shutil.disk_usage(_existing(Path(path))).free


def full_message(path: str | os.PathLike[str], *, needed: int | None = None) -> DiskFullError:
    """The error for a full disk at ``path``: which disk, where, how much is left; with
    ``needed``, a refusal before writing (what the step needs)."""
    mount, free = mount_point(path), free_bytes(path)
    total = shutil.disk_usage(mount).total
    if needed:
        text = (
            f"not enough space on the disk mounted at {mount} for {path}: {human_bytes(free)} "
            f"free of {human_bytes(total)}, this step needs at least {human_bytes(needed)}"
        )
    else:
        text = (
            f"no space left on the disk mounted at {mount} while writing {path} "
            f"({human_bytes(free)} free of {human_bytes(total)} once the partial write was removed)"
        )
    return DiskFullError(
        f"{text}. Free space there or point CLIPFLOW_HOME / --out at a larger disk",
        path=str(path),
        mount=str(mount),
        free_bytes=free,
    )


def is_disk_full(exc: BaseException) -> bool:
    """Cheap test (no disk access): is ``exc``, or what it was raised from, a full disk?"""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DiskFullError):
            return True
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return True
        if isinstance(current, FFmpegError) and any(s in current.stderr for s in _FFMPEG_FULL):
            return True
        current = current.__cause__ or current.__context__
    return False


def _ffmpeg_output(exc: FFmpegError) -> str | None:
    """The file an ffmpeg command wrote (its last argument, unless that is a null sink)."""
    last = exc.argv[-1] if exc.argv else ""
    return None if last in ("-", "", "pipe:", "pipe:1") or last.startswith("pipe:") else last


def as_disk_full(exc: BaseException, fallback: str | os.PathLike[str]) -> DiskFullError | None:
    """``exc`` (or an exception it was raised from) seen as a full disk, or None if it is not
    one. ``fallback`` names the disk when the error does not say which file it was writing."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DiskFullError):
            return current
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            # shutil's copies name the source as filename, the file being written as filename2
            return full_message(current.filename2 or current.filename or fallback)
        if isinstance(current, FFmpegError) and any(s in current.stderr for s in _FFMPEG_FULL):
            return full_message(_ffmpeg_output(current) or fallback)
        current = current.__cause__ or current.__context__
    return None


def require_free(path: str | os.PathLike[str], needed: int) -> None:
    """Refuse early, naming the disk, when fewer than ``needed`` bytes are free at ``path``."""
    if free_bytes(path) < needed:
        raise full_message(path, needed=needed)


def job_floor_bytes(duration_s: float, source_bytes: int = 0) -> int:
    """The least a job writes to its work disk before its first render: the source's copy
    (0 when it is there already) and the 16 kHz speech WAV. Renders come on top; their size
    depends on the picture, so a full disk during a render is reported when it happens."""
    return source_bytes + int(duration_s * SPEECH_WAV_BYTES_PER_S) + 4096


# --- scratch folders ------------------------------------------------------------------------


def _lock_path(folder: Path) -> Path:
    return folder.with_name(folder.name + ".lock")


@contextmanager
def scratch_dir(parent: str | os.PathLike[str], prefix: str) -> Iterator[Path]:
    """A private folder ``parent/<prefix><random>``, removed on exit, and held by a lock on
    ``<folder>.lock`` (made first, removed last) that dies with this process."""
    root = Path(parent)
    root.mkdir(parents=True, exist_ok=True)
    while True:
        folder = root / f"{prefix}{secrets.token_hex(6)}"
        try:
            fd = os.open(_lock_path(folder), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            continue
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:  # a sweeper may have taken the fresh lock file for an orphan before we locked it
            if os.stat(_lock_path(folder)).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        folder.mkdir()
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        _lock_path(folder).unlink(missing_ok=True)
        os.close(fd)


def _unowned(lock: Path) -> bool:
    """Whether no live process holds ``lock`` (a missing lock file has no owner)."""
    try:
        fd = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def sweep_stale(parent: str | os.PathLike[str], prefix: str) -> list[Path]:
    """Remove the scratch folders (and lock files) under ``parent`` that a dead process left;
    returns what was removed. Folders whose owner is alive are left alone."""
    root = Path(parent)
    if not root.is_dir():
        return []
    removed = []
    for entry in sorted(root.glob(f"{prefix}*")):
        if not entry.exists():  # a lock file removed with its folder just now
            continue
        if entry.name.endswith(".lock"):
            if not entry.with_name(entry.name[: -len(".lock")]).exists() and _unowned(entry):
                entry.unlink(missing_ok=True)
                removed.append(entry)
        elif entry.is_dir() and _unowned(_lock_path(entry)):
            shutil.rmtree(entry, ignore_errors=True)
            _lock_path(entry).unlink(missing_ok=True)
            removed.append(entry)
    return removed
