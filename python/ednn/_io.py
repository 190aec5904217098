"""Files and processes that survive a kill: atomic writes, refusal to overwrite, workers that die with
their parent.

Every file ednn writes (data files, checkpoints, model files, summaries) is written to a temporary
file in the target's folder, flushed to disk (``fsync``) and renamed over the target, so a kill at
any moment leaves either the old file or the new one, never a part of either. The temporary files
are named ``.NAME.HOST.PID.RANDOM.tmp``; one left behind by a killed process (its process no longer
exists on this host) is removed by the next write of the same target.

Outputs that a command would replace are refused unless asked (``--force`` on the command line,
``overwrite=True`` in Python); with ``overwrite=False`` the rename itself refuses a file that
appeared meanwhile (a hard link, which never replaces).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import InputError

__all__ = ["atomic_path", "atomic_write", "check_new", "fsync_dir", "remove_stale", "die_with_parent"]

_HOST = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:40] or "host"


def check_new(path: str | os.PathLike[str], *, overwrite: bool, name: str = "out") -> Path:
    """``path`` as a Path; :class:`InputError` if it exists and ``overwrite`` is false."""
    p = Path(path)
    if not overwrite and (p.exists() or p.is_symlink()):
        raise InputError(f"{name}: {str(p)!r} already exists; use --force (overwrite=True in Python) to replace it")
    return p


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Flush a folder's entries (a rename into it) to disk, where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open folders; its renames are journalled by NTFS
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_TEMP = re.compile(r"\.(?P<name>.+)\.(?P<host>[A-Za-z0-9_-]+)\.(?P<pid>\d+)\.[0-9a-f]+\.tmp")


def remove_stale(path: str | os.PathLike[str], *, folder: bool = False) -> list[Path]:
    """Remove the temporary files of target ``path`` (or, with ``folder``, of every file in the folder
    ``path``) that were left by killed processes of this host; returns the removed files."""
    path = Path(path)
    where, name = (path, None) if folder else (path.parent, path.name)
    removed = []
    try:
        entries = list(os.scandir(where))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP.fullmatch(entry.name)
        if m is None or (name is not None and m["name"] != name) or m["host"] != _HOST or _alive(int(m["pid"])):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows: keep the file
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, overwrite: bool = True, name: str = "out") -> Iterator[Path]:
    """Yield an empty temporary file beside ``path`` to be written by name; on a clean exit it is
    flushed to disk and renamed to ``path`` (on an exception it is removed and ``path`` is untouched).

    With ``overwrite=False`` an existing ``path`` raises :class:`InputError`, before and at the rename.
    """
    target = Path(path)
    check_new(target, overwrite=overwrite, name=name)
    if not target.parent.is_dir():
        raise InputError(f"{name}: expected a file in an existing directory, got {str(path)!r}")
    remove_stale(target)
    while True:
        tmp = target.with_name(f".{target.name}.{_HOST}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            break
        except FileExistsError:
            continue
    try:
        yield tmp
        _fsync_file(tmp)
        _commit(tmp, target, overwrite, name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(target.parent)


def _commit(tmp: Path, target: Path, overwrite: bool, name: str) -> None:
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # never replaces: refuses a file that appeared since the first check
    except FileExistsError:
        raise InputError(f"{name}: {str(target)!r} already exists; use --force (overwrite=True in Python) "
                         "to replace it") from None
    except OSError:  # no hard links on this file system
        check_new(target, overwrite=False, name=name)
        os.replace(tmp, target)
        return
    os.unlink(tmp)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb", *, overwrite: bool = True, name: str = "out",
                 **open_kw: Any) -> Iterator[IO[Any]]:
    """Like ``open(path, mode)`` for writing, but the file appears at ``path`` only complete, on a
    clean exit of the block (see :func:`atomic_path`)."""
    if not mode.startswith("w"):
        raise ValueError(f"atomic_write: expected a write mode ('w', 'wb', ...), got {mode!r}")
    with atomic_path(path, overwrite=overwrite, name=name) as tmp, open(tmp, mode, **open_kw) as fh:
        yield fh
        fh.flush()


# --------------------------------------------------------------------------- processes
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent: int, *, interval: float = 1.0, pdeathsig: bool = True) -> None:
    """Make this (worker) process end when process ``parent`` ends, even on a kill -9 of the parent.

    On Linux the kernel sends SIGKILL at the parent's death (``prctl(PR_SET_PDEATHSIG)``); everywhere
    a daemon thread also checks every ``interval`` seconds whether the parent changed (an orphan is
    adopted by another process) and exits. Call it first thing in the worker (a pool initializer),
    with the parent's pid passed from the parent: a parent already gone exits the worker at once.
    """
    if pdeathsig and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent, interval), name="ednn-parent-watch", daemon=True).start()


def _watch_parent(parent: int, interval: float) -> None:
    while True:
        time.sleep(interval)
        if os.getppid() != parent:
            os._exit(1)
