"""Which checkpoints to evict: beyond ``keep`` per lineage, unused for longer than an age, and the
least recently used until the store fits a size budget (``chkpt gc --max-size 10G --older-than 30d``).

Last use is the payload file's access time where the filesystem records one (Linux's default
``relatime`` updates it at least once a day, enough for day-scale budgets), never earlier than the
entry's creation; elsewhere (remote stores, ``noatime``) it is the creation time. Loading a value
reads its payload; a hit whose value is not needed reads only metadata and does not count as a use.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterable

from ._housekeeping import beyond_keep
from ._layout import META_SUFFIX, safe_name
from ._store import Entry, Store

__all__ = ["Freed", "collect", "last_used", "parse_age", "parse_size", "select"]

_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_AGES = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_size(text: str) -> int:
    """Bytes in ``"10G"``, ``"500MiB"``, ``"1.5t"``, ``"4096"`` (binary units).

    >>> parse_size("10G"), parse_size("512 KiB"), parse_size("100")
    (10737418240, 524288, 100)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text, flags=re.I)
    if not match:
        raise ValueError(f"not a size: {text!r} (e.g. 500M, 10G)")
    return int(float(match[1]) * _UNITS[match[2].lower()])


def parse_age(text: str) -> float:
    """Seconds in ``"30d"``, ``"12h"``, ``"2w"``, ``"90s"``, ``"45m"``.

    >>> parse_age("30d"), parse_age("12h"), parse_age("1.5m")
    (2592000.0, 43200.0, 90.0)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text, flags=re.I)
    if not match:
        raise ValueError(f"not an age: {text!r} (e.g. 30d, 12h, 2w)")
    return float(match[1]) * _AGES[match[2].lower()]


def last_used(store: Store, entry: Entry) -> float:
    """When ``entry``'s value was last read (or written): see the module docstring."""
    info = store.fs.info(safe_name(entry.stage), entry.payload)
    return max(entry.created, info.atime) if info is not None else entry.created


def select(
    store: Store,
    entries: Iterable[Entry],
    *,
    keep: int = 0,
    older_than: float | None = None,
    max_size: int | None = None,
    now: float | None = None,
) -> list[Entry]:
    """The entries to evict, least recently used first. ``keep=0`` sets no per-lineage limit (as
    ``Config(keep=0)``); the newest ``keep`` entries of a lineage may still go for age or size."""
    now = time.time() if now is None else now
    used = {id(e): (last_used(store, e), e.created) for e in entries}
    by_use = sorted((e for e in entries), key=lambda e: used[id(e)])
    chosen: dict[int, Entry] = {}
    if keep > 0:  # per lineage, newest by this host's clock (see _housekeeping)
        chosen.update((id(e), e) for e in beyond_keep(store, list(by_use), keep))
    if older_than is not None:
        chosen.update((id(e), e) for e in by_use if now - used[id(e)][0] > older_than)
    if max_size is not None:
        total = sum(e.size for e in by_use if id(e) not in chosen)
        for e in by_use:
            if total <= max_size:
                break
            if id(e) not in chosen:
                chosen[id(e)] = e
                total -= e.size
    return [e for e in by_use if id(e) in chosen]


@dataclasses.dataclass
class Freed:
    """What a collection removed (or, in a dry run, would remove)."""

    entries: int = 0
    files: int = 0
    bytes: int = 0
    other_files: int = 0  # temp files of dead writers, orphaned payloads, stale locks


def _meta_size(store: Store, entry: Entry) -> int:
    info = store.fs.info(safe_name(entry.stage), entry.key + META_SUFFIX)
    return info.size if info is not None else 0


def collect(
    store: Store,
    *,
    keep: int = 0,
    older_than: float | None = None,
    max_size: int | None = None,
    grace: float = 3600.0,
    dry_run: bool = False,
) -> Freed:
    """Evict what ``select`` picks, then remove temp and orphaned files older than ``grace``."""
    freed = Freed()
    for entry in select(
        store, store.entries(), keep=keep, older_than=older_than, max_size=max_size
    ):
        freed.entries += 1
        freed.files += 2  # metadata and payload
        freed.bytes += entry.size + _meta_size(store, entry)
        if not dry_run:
            store.remove(entry)
    if not dry_run:
        freed.other_files = store.gc(keep=None, grace=grace)
    return freed
