"""Files a stage reads while it runs: recorded, stored with its checkpoint, checked on every hit.

A stage that reads ``data.csv`` depends on it as much as on its code, but no fingerprint can see
that before it runs. Python's audit hooks can: every ``open()`` (builtins, ``io``, ``os.open``,
so also ``json.load``, ``pandas.read_csv``, ``numpy.load``) raises an ``open`` event. While a
stage runs, the thread that runs it records the files it opens for reading; afterwards each is
stored in the checkpoint's metadata by identity (path, size, mtime) and content (SHA-256). A hit
is valid only while every recorded file still has that content: a changed file is a changed
input, reason ``file changed: data.csv``. Checking costs one ``stat`` per file; files up to 1 MiB
are also re-hashed (well under a millisecond), bigger ones only when their size or mtime changed or
when they had been written within 3 s before the stage read them (timestamps are coarse: a
same-size rewrite may keep the mtime). ``touch`` alone never recomputes. Folders a stage lists
(``os.listdir``, ``os.scandir``, so also ``glob``, ``os.walk``, ``Path.iterdir``) are recorded by
the names they hold: a file added or removed there is a changed input, reason
``folder changed: data``. Listings made by the import system, and of folders on ``sys.path``
(scanned by ``importlib.metadata`` and plugin loaders), are not inputs.

Not seen: reads by C code that bypasses Python's ``open`` (pyarrow, h5py, sqlite3), and reads in
threads or processes the stage starts itself. Imports (``.py``, ``.pyc``, extension modules) and
files under the stdlib, site-packages, ``~/.cache`` and the checkpoint directory are not inputs.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["recording", "record_reads", "file_changed", "DIGEST_LIMIT"]

DIGEST_LIMIT = 4 << 30  # files bigger than this are identified by size and mtime only
RACY_NS = 3_000_000_000  # mtimes this close to the read are not trusted alone
ALWAYS_HASH = 1 << 20  # files up to this size are compared by content on every hit (< 1 ms)
_NOT_FILES = ("/proc/", "/sys/", "/dev/")  # kernel state (CPU quotas read by pandas), not data
# libraries' own caches (matplotlib's font list, numba, huggingface...): not the user's data
_CACHES = tuple(
    os.path.join(os.path.abspath(os.path.expanduser(p)), "")
    for p in {os.environ.get("XDG_CACHE_HOME") or "~/.cache", "~/.config/matplotlib"}
)
_CODE_SUFFIXES = (".py", ".pyc", ".pyo", ".pyd", ".so", ".pth", ".dylib", ".dll")
_WRITE_MODES = frozenset("wax+")
_state = threading.local()
_installed = False
_install_lock = threading.Lock()


_LISTING = frozenset({"os.listdir", "os.scandir"})
_LISTED = "listed"  # the "writing" slot of a folder listing: a third kind of access


def _hook(event: str, args: tuple[Any, ...]) -> None:
    """The audit hook: cheap, and it never raises (it runs inside every ``open`` of the process)."""
    if event != "open" and event not in _LISTING:
        return
    opened = getattr(_state, "opened", None)
    if opened is None:
        return
    try:
        if event in _LISTING:
            # the import system lists sys.path folders to find modules: not the stage's data
            if sys._getframe(1).f_code.co_filename.startswith("<frozen importlib"):
                return
            path = args[0] if args and args[0] is not None else "."
            if isinstance(path, (str, bytes)):  # an int is a folder descriptor: no path to keep
                opened.append((os.fsdecode(path) or ".", _LISTED))
            return
        path, mode, flags = args
        if isinstance(mode, str):
            writing = not _WRITE_MODES.isdisjoint(mode)
        else:
            writing = bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC))
        if isinstance(path, (str, bytes)) and path:
            opened.append((os.fsdecode(path), writing))
    except Exception:
        pass


def _install() -> None:
    global _installed
    with _install_lock:
        if not _installed:
            sys.addaudithook(_hook)  # cannot be removed: it does nothing outside ``recording``
            _installed = True


@contextlib.contextmanager
def recording(exclude: tuple[str, ...] = ()) -> Iterator[list[dict[str, Any]]]:
    """Record the files this thread opens for reading inside the block.

    The yielded list is filled on exit with one record per file read (and not written):
    ``{"path", "size", "mtime_ns", "sha256"}``. Paths under ``exclude`` are ignored.
    """
    _install()
    outer = getattr(_state, "opened", None)
    opened: list[tuple[str, bool | str]] = []
    _state.opened = opened
    records: list[dict[str, Any]] = []
    cwd = os.getcwd()
    try:
        yield records
    finally:
        _state.opened = outer
        if outer is not None:
            outer.extend(opened)  # a stage called inside a stage: the outer one read them too
    records.extend(_identify(opened, cwd, exclude))  # not when the stage raised: nothing stored


def _identify(
    opened: list[tuple[str, bool | str]], cwd: str, exclude: tuple[str, ...]
) -> Iterator[dict[str, Any]]:
    written = {os.path.normpath(os.path.join(cwd, p)) for p, w in opened if w is True}
    skip = _library_dirs() + _CACHES + tuple(os.path.join(os.path.abspath(e), "") for e in exclude)
    seen = set()
    for path, writing in opened:
        full = os.path.normpath(os.path.join(cwd, path))
        listed = writing == _LISTED
        if writing is True or (full, listed) in seen or full in written:
            continue
        if not listed and full.endswith(_CODE_SUFFIXES):
            continue
        seen.add((full, listed))
        if os.path.join(full, "").startswith(skip) or full.startswith(_NOT_FILES):
            continue
        if listed and full in _import_folders(cwd):
            continue  # importlib.metadata and plugin scans list sys.path folders: not data
        record = _listing(full) if listed else _identity(full)
        if record is not None:
            yield record


def _import_folders(cwd: str) -> set[str]:
    return {os.path.normpath(os.path.join(cwd, p)) for p in sys.path if isinstance(p, str)}


def _listing(path: str) -> dict[str, Any] | None:
    """A folder by the names it holds (their order as listed is not meaningful)."""
    names = _names_digest(path)
    return None if names is None else {"path": path, "listing": names}


def _names_digest(path: str) -> str | None:
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return None
    return hashlib.sha256("\0".join(names).encode("utf-8", "surrogateescape")).hexdigest()


def _identity(path: str) -> dict[str, Any] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):  # /dev/urandom, FIFOs, directories: not content
        return None
    return {
        "path": path,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "sha256": _digest(path) if st.st_size <= DIGEST_LIMIT else "",
        # written just before it was read: a same-size rewrite can keep that mtime (timestamps
        # are coarse), so such a file is always compared by content ("racy", as git says)
        "racy": time.time_ns() - st.st_mtime_ns < RACY_NS,
    }


def _digest(path: str) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:  # not recorded: only the stage's own thread is, while it runs
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return ""
    return h.hexdigest()


def file_changed(records: Any) -> str:
    """'' if every recorded file still has its content, else the reason: ``file changed: NAME``."""
    if not records:
        return ""
    for record in records:
        if isinstance(record, dict) and "listing" in record:
            if _names_digest(str(record.get("path"))) != record["listing"]:
                return f"folder changed: {_shown(str(record.get('path', '?')))}"
            continue
        try:
            path, size, mtime = record["path"], record["size"], record["mtime_ns"]
            st = os.stat(path)
        except OSError:
            return f"file changed: {_shown(record.get('path', '?'))} (gone)"
        except (KeyError, TypeError):
            return "file changed: (unreadable record)"
        trusted = size > ALWAYS_HASH and not record.get("racy")
        if st.st_size == size and st.st_mtime_ns == mtime and trusted:
            continue
        if st.st_size != size or not record.get("sha256") or _digest(path) != record["sha256"]:
            return f"file changed: {_shown(path)}"
    return ""


def _shown(path: str) -> str:
    """The path as the user would write it: relative to the working directory when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def _library_dirs() -> tuple[str, ...]:
    from ._walk import _library_dirs as dirs

    return dirs()


record_reads = recording  # public as ``chkpt.record_reads``: notebook cells record their reads too
