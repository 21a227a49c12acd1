"""Files a stage cell writes while it runs, seen through Python's audit hooks.

``df.to_csv(...)`` and ``fig.savefig(...)`` write outputs no name holds. While a cell computes,
every ``open`` for writing (and ``os.rename``/``os.replace`` target) is recorded; files opened to
append (a log) or update in place are state, not outputs. Afterwards the files written are kept
with the checkpoint and restored on a hit when missing or changed (files too large to keep are
reported missing instead). Files a stage *reads* are the core's business (``chkpt.record_reads``: one
mechanism for scripts and notebooks).

Library, system and cache files (under ``sys.prefix``, ``/usr``, ``~/.cache``, ...) and the
checkpoint directory itself are not tracked: they are versioned by the environment.
Reads done outside Python's ``open`` (C++ readers such as pyarrow's) are not seen.
"""

from __future__ import annotations

import dataclasses
import os
import site
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from chkpt import new_hasher

__all__ = ["Tracker", "digest_file", "relative_names", "restore_written"]

KEEP_LIMIT = 256 << 20  # written files up to this total size are kept with the checkpoint
_active: list[Tracker] = []
_lock = threading.Lock()
_installed = False


@dataclasses.dataclass
class Tracker:
    """Records the files opened while it is active (``with Tracker(ignore=[dir]) as t:``)."""

    ignore: tuple[str, ...] = ()
    written: dict[str, None] = dataclasses.field(default_factory=dict)
    thread: int = dataclasses.field(default_factory=threading.get_ident)

    def __enter__(self) -> Tracker:
        _install()
        self.ignore = tuple(os.path.join(os.path.abspath(p), "") for p in self.ignore)
        self.ignore += _environment_dirs()
        with _lock:
            _active.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        with _lock:
            if self in _active:
                _active.remove(self)

    def _seen(self, path: str) -> None:
        if not path.startswith(self.ignore):
            self.written[path] = None

    def files_written(self) -> dict[str, bytes | str]:
        """``{path: content}`` of the files written, or ``{path: digest}`` past the size limit."""
        kept: dict[str, bytes | str] = {}
        budget = KEEP_LIMIT
        for path in self.written:
            if not os.path.isfile(path):
                continue  # a temporary file, since removed or renamed
            size = os.path.getsize(path)
            if size <= budget:
                kept[path] = Path(path).read_bytes()
                budget -= size
            else:
                kept[path] = digest_file(path)
        return kept


def _install() -> None:
    global _installed
    with _lock:
        if not _installed:
            sys.addaudithook(_hook)  # cannot be removed: it does nothing while no tracker runs
            _installed = True


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _active:
        return
    if event == "open":
        path, mode, flags = args
        if _kind(mode, flags) != "write":
            return
    elif event in ("os.rename", "os.replace"):
        path = args[1]
    else:
        return
    if isinstance(path, int) or path is None:
        return
    try:
        path = os.path.abspath(os.fsdecode(path))
    except (TypeError, ValueError):
        return
    me = threading.get_ident()
    for tracker in _active:
        if tracker.thread == me:
            tracker._seen(path)


def _kind(mode: Any, flags: Any) -> str | None:
    """ "read", "write" (created or truncated: an output), or None for appends and in-place
    updates (a log the cell appends to is state, not an output to restore)."""
    if isinstance(mode, str):
        if "a" in mode or "+" in mode and "w" not in mode:
            return None
        return "write" if ("w" in mode or "x" in mode) else "read"
    if not isinstance(flags, int):
        return None
    if flags & os.O_APPEND:
        return None
    if flags & (os.O_TRUNC | os.O_CREAT):
        return "write"
    return None if flags & (os.O_WRONLY | os.O_RDWR) else "read"


def _environment_dirs() -> tuple[str, ...]:
    """Where libraries, system files and caches live: not a stage's data."""
    home = os.path.expanduser("~")
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages()}
    dirs.update(["/usr/", "/etc/", "/lib", "/proc/", "/sys/", "/dev/", "/opt/conda"])
    dirs.update(os.path.join(home, d) for d in (".cache", ".config", ".matplotlib", ".local"))
    return tuple(d if d.endswith("/") else d + os.sep for d in dirs if d)


def digest_file(path: str | os.PathLike[str]) -> str:
    """Size and content hash of a file ("missing" when it cannot be read)."""
    h = new_hasher()
    size = 0
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
                size += len(chunk)
    except OSError:
        return "missing"
    return f"{size}:{h.hexdigest()}"


def restore_written(files: Mapping[str, bytes | str]) -> tuple[list[str], list[str]]:
    """Put back the files a stage wrote when they are missing or changed.

    Returns (restored, missing): files rewritten from the checkpoint, and files that were too
    large to keep and are not there as the stage left them.
    """
    restored, missing = [], []
    for path, content in files.items():
        if isinstance(content, str):
            if digest_file(path) != content:
                missing.append(path)
            continue
        try:
            if os.path.getsize(path) == len(content) and Path(path).read_bytes() == content:
                continue
        except OSError:
            pass
        _write_atomic(path, content)
        restored.append(path)
    return restored, missing


def _write_atomic(path: str, content: bytes) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.chkpt-{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(content)
    os.replace(tmp, path)


def relative_names(paths: Iterable[str]) -> str:
    """Paths as the user wrote them (relative to the working directory when inside it)."""
    cwd = os.getcwd() + os.sep
    return ", ".join(p[len(cwd) :] if p.startswith(cwd) else p for p in paths)
