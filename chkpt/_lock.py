"""Per-key advisory locks, so that concurrent runs compute each checkpoint once.

A run that must compute ``(stage, key)`` first takes ``<stage dir>/.<key>.lock`` with
``fcntl.flock``, then looks the key up again (another process may have stored it meanwhile), and
computes and stores only if it is still missing. The kernel releases the lock when its holder
exits, even by ``kill -9``, so a dead run never blocks the others.

The bound: while a holder is alive, each key is computed by at most one process or thread at a
time; a waiter computes anyway (duplicate work, still correct results) only after ``timeout``
seconds, or where flock is unavailable (no ``fcntl``, filesystems without locks, a directory it
cannot create a file in). Results never depend on the lock: writes are atomic either way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import warnings
from collections.abc import Iterator

from ._errors import StoreWarning

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_SUFFIX", "default_timeout", "key_lock", "remove_if_unlocked"]

log = logging.getLogger("chkpt")

LOCK_SUFFIX = ".lock"
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


def default_timeout() -> float:
    """Seconds to wait for another process's lock: ``$CHKPT_LOCK_TIMEOUT``, else 600."""
    try:
        return float(os.environ.get("CHKPT_LOCK_TIMEOUT", "600"))
    except ValueError:
        return 600.0


@contextlib.contextmanager
def key_lock(path: str, timeout: float, stage: str) -> Iterator[bool]:
    """Hold an exclusive lock on ``path`` for the block; yields whether it is really held."""
    fd = _acquire(path, timeout, stage)
    try:
        yield fd is not None
    finally:
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the lock


def _acquire(path: str, timeout: float, stage: str) -> int | None:
    if fcntl is None:
        return None
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(path, _OPEN_FLAGS, 0o600)
        except OSError as exc:
            log.debug("stage %r: no lock at %s (%s); going on unlocked", stage, path, exc)
            return None
        if not _wait(fd, deadline):
            os.close(fd)
            if time.monotonic() >= deadline:
                warnings.warn(
                    f"chkpt: stage {stage!r}: waited {timeout:g}s for the lock {path} held by "
                    f"another run; computing anyway (set CHKPT_LOCK_TIMEOUT to wait longer)",
                    StoreWarning,
                    stacklevel=4,
                )
            return None
        if _same_file(fd, path):
            return fd
        os.close(fd)  # gc removed the file while we waited: lock the one now at ``path``


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


def _same_file(fd: int, path: str) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def remove_if_unlocked(path: str) -> bool:
    """Remove a lock file nobody holds (for gc); True if removed."""
    if fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.remove(path)  # waiters holding the old file notice the change and retry
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
