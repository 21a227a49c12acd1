"""Per-key advisory locks, so that concurrent runs compute each checkpoint once.

A run that must compute ``(stage, key)`` first takes ``<stage dir>/.<key>.lock`` with
``fcntl.flock``, then looks the key up again (another process may have stored it meanwhile), and
computes and stores only if it is still missing. The kernel releases the lock when its holder
exits, even by ``kill -9``, so a dead run never blocks the others.

flock belongs to the open file, which a ``fork`` shares: a helper process forked inside a stage
(multiprocessing, a pool) would keep the lock alive after the stage ends, and the next run would
wait for it. So every lock descriptor is closed in forked children (``os.register_at_fork``) and
opened ``O_CLOEXEC`` (no exec'd program inherits it); the parent alone holds the lock.

The lock file is opened relative to its stage folder's descriptor, without following a symlink,
and must be a regular file: a planted link or FIFO is never followed, blocked on or written.

The bound: while a holder is alive, each key is computed by at most one process or thread at a
time; a waiter computes anyway (duplicate work, still correct results) only after ``timeout``
seconds, or where flock is unavailable (no ``fcntl``, filesystems without locks, a directory it
cannot create a file in). Results never depend on the lock: writes are atomic either way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import time
from collections.abc import Iterator
from typing import Any

from ._errors import StoreWarning
from ._warn import warn

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_SUFFIX", "default_timeout", "key_lock", "remove_if_unlocked"]

log = logging.getLogger("chkpt")

LOCK_SUFFIX = ".lock"
_OPEN_FLAGS = (
    os.O_RDWR
    | os.O_CREAT
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
)
_HELD: set[int] = set()  # lock descriptors this process holds: closed in forked children


def _close_held_in_child() -> None:
    for fd in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_held_in_child)


def default_timeout() -> float:
    """Seconds to wait for another process's lock: ``$CHKPT_LOCK_TIMEOUT``, else 600."""
    try:
        return float(os.environ.get("CHKPT_LOCK_TIMEOUT", "600"))
    except ValueError:
        return 600.0


@contextlib.contextmanager
def key_lock(fs: Any, d: str, name: str, timeout: float, stage: str) -> Iterator[bool]:
    """Hold an exclusive lock on file ``name`` of folder ``d``; yields whether it is really held."""
    fd = None
    if fcntl is not None:
        try:
            with fs._dir(d, create=True) as (dfd, prefix):
                fd = _acquire(dfd, prefix + name, timeout, stage, fs.where(d, name))
        except OSError as exc:
            log.debug("stage %r: no lock in %s (%s); going on unlocked", stage, d, exc)
    try:
        yield fd is not None
    finally:
        if fd is not None:
            _HELD.discard(fd)
            os.close(fd)  # closing the descriptor releases the lock


def _acquire(dfd: int | None, name: str, timeout: float, stage: str, where: str) -> int | None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(name, _OPEN_FLAGS, 0o600, dir_fd=dfd)
        except OSError as exc:
            log.debug("stage %r: no lock at %s (%s); going on unlocked", stage, where, exc)
            return None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            log.debug("stage %r: %s is not a regular file; going on unlocked", stage, where)
            return None
        _HELD.add(fd)
        if not _wait(fd, deadline):
            _HELD.discard(fd)
            os.close(fd)
            if time.monotonic() >= deadline:
                warn(
                    f"waited {timeout:g}s for the lock {where} held by another run; computing "
                    f"anyway (set CHKPT_LOCK_TIMEOUT to wait longer)",
                    StoreWarning,
                    stage=stage,
                )
            return None
        if _same_file(fd, dfd, name):
            return fd
        _HELD.discard(fd)
        os.close(fd)  # gc removed the file while we waited: lock the one now at ``name``


def _wait(fd: int, deadline: float) -> bool:
    delay = 0.002
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        except OSError:  # ENOLCK, EOPNOTSUPP...: this filesystem has no locks
            return False


def _same_file(fd: int, dfd: int | None, name: str) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def remove_if_unlocked(dfd: int | None, name: str) -> bool:
    """Remove a lock file nobody holds (for gc); True if removed."""
    if fcntl is None:
        return False
    try:
        fd = os.open(name, _OPEN_FLAGS & ~os.O_CREAT, dir_fd=dfd)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.unlink(name, dir_fd=dfd)  # waiters holding the old file notice the change and retry
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
