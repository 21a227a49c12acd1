"""Housekeeping: which entries to keep, and removing what chkpt made and no longer needs.

Retention counts entries per *lineage* (``Entry.lineage``: stage name, bound parameters, input
names), not per name, so stages built by one factory with different parameters or inputs never
evict each other. Within a lineage the ``keep`` most recently written entries stay, ordered by
the metadata file's modification time as this host's filesystem records it, never by the
``created`` time a writer's clock put in the record (a writer whose clock runs ahead cannot
make fresh entries look old). Entries a run saved or loaded through the same ``Store`` are never
evicted by that run (several same-named stages of one pipeline all stay). ``keep=0`` (or None)
keeps every entry, in ``Config(keep=0)`` and ``chkpt gc --keep 0`` alike; ``clear`` removes all.

Only names chkpt makes (``_layout``) are ever deleted, and only inside the store's own root.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import TYPE_CHECKING

from ._integrity import PAYLOAD_RE, Entry
from ._layout import META_SUFFIX, is_lock, is_temp, safe_name

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["beyond_keep", "clear", "gc", "remove", "retain"]


def _recency(store: Store, entry: Entry) -> tuple[float, float]:
    """The metadata's mtime on this host's filesystem (then the record's own time)."""
    info = store.fs.info(safe_name(entry.stage), entry.key + META_SUFFIX)
    return (info.mtime if info is not None else 0.0, entry.created)


def beyond_keep(store: Store, entries: list[Entry], keep: int) -> list[Entry]:
    """Entries beyond the ``keep`` newest of their lineage, except those this store used."""
    lineages: dict[tuple[str, str, tuple[str, ...]], list[Entry]] = defaultdict(list)
    for entry in sorted(entries, key=lambda e: _recency(store, e), reverse=True):
        lineages[entry.lineage].append(entry)
    return [
        old
        for group in lineages.values()
        for old in group[keep:]
        if (safe_name(old.stage), old.key) not in store.used
    ]


def remove(store: Store, entry: Entry) -> None:
    """Remove one entry: its metadata first (unpointing it), then its payload."""
    d = safe_name(entry.stage)
    store.fs.remove(d, entry.key + META_SUFFIX)
    store.fs.remove(d, entry.payload)


def retain(store: Store, d: str) -> int:
    """Apply the store's ``keep`` to stage folder ``d`` after a save; returns entries removed."""
    if not store.keep or store.keep <= 0:
        return 0
    entries = _entries_in(store, d)
    old = beyond_keep(store, entries, store.keep)
    for entry in old:
        remove(store, entry)
    return len(old)


def _entries_in(store: Store, d: str) -> list[Entry]:
    found = []
    for name in store.fs.listdir(d):
        if name.endswith(META_SUFFIX) and not name.startswith("."):
            entry = store.read_meta(d, name, None)
            if entry is not None:
                found.append(entry)
    return found


def clear(store: Store, stage: str | None = None) -> int:
    """Remove the entries of one stage (or all), then the temp and lock files chkpt left."""
    entries = store.entries(stage)
    for entry in entries:
        remove(store, entry)
    gc(store, None, stage=stage, grace=0)
    return len(entries)


def gc(store: Store, keep: int | None, *, stage: str | None = None, grace: float = 3600.0) -> int:
    """Remove entries beyond ``keep`` per lineage (None: none), and the temp files, unheld locks,
    payloads and metadata that nothing valid points to, older than ``grace`` seconds (a temp file
    of a writer that died on this host at once). Returns the number of files removed."""
    removed = 0
    now = time.time()
    for d in [safe_name(stage)] if stage is not None else store.stage_dirs():
        entries = [e for e in _entries_in(store, d) if stage is None or e.stage == stage]
        if keep:
            old = beyond_keep(store, entries, keep)
            for entry in old:
                remove(store, entry)
            removed += len(old)
            entries = [e for e in entries if e not in old]
        live = {e.payload for e in entries} | {e.key + META_SUFFIX for e in entries}
        before = removed
        for name in store.fs.listdir(d):
            if name in live:
                continue
            info = store.fs.info(d, name)
            old_enough = info is None or now - info.mtime >= grace
            if is_lock(name):
                removed += old_enough and store.fs.remove_if_unlocked(d, name)
            elif (is_temp(name) and _abandoned(name)) or (
                old_enough and (is_temp(name) or PAYLOAD_RE.match(name) or _is_meta(name))
            ):
                store.fs.remove(d, name)
                removed += 1
        if removed > before and not store.fs.listdir(d):
            store.fs.rmdir(d)  # only a folder this gc emptied
    return removed


def _is_meta(name: str) -> bool:
    from ._integrity import KEY_RE

    return name.endswith(META_SUFFIX) and bool(KEY_RE.match(name[: -len(META_SUFFIX)]))


def _abandoned(name: str) -> bool:
    from ._fs import abandoned

    return abandoned(name)
