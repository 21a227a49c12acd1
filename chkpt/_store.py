"""Where checkpoints live: one folder per stage, entries named by key, written new-then-pointed.

A payload is written under a temp name, checked complete and renamed; then the metadata is
written the same way (see ``_layout`` for the names). So a reader either finds no metadata, or
metadata that points to a complete payload whose size and checksum it verifies before returning
a value. Nothing is ever modified in place, and a failed write (a full disk) leaves whatever was
stored before exactly as it was.

Integrity (``_integrity``): metadata is validated strictly, and its recorded size bounds every
read. JSON and ``.npy`` payloads are hashed while they are decoded (those decoders are robust to
any bytes) and the value is dropped on a mismatch; every other format (pickle, Parquet, user
serializers) is verified before a single byte reaches its decoder, through the same open file.
Files are reached only through verified descriptors in a private root (``_fs``). Retention,
clearing and gc are in ``_housekeeping``. Every error and warning names the stage and the path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import time
from typing import Any

from . import _housekeeping
from ._digest import hasher_for
from ._errors import CorruptCheckpointError, SerializationError, StoreWarning, UnsafeStoreError
from ._fs import NotPrivate, filesystem_for
from ._integrity import KEY_RE, Entry, HashingReader, HashingWriter, digest_of, verify_mapped
from ._layout import META_LIMIT, META_SUFFIX, safe_name
from ._lock import LOCK_SUFFIX, default_timeout
from ._serializers import Serializer, choose_serializer, get_serializer, serializers
from ._warn import warn

__all__ = ["Entry", "Store", "open_store", "safe_name"]

log = logging.getLogger("chkpt")

_STREAM_VERIFIED = ("json", "npy")  # decoders that survive any bytes: verified while reading
_META_CACHE: dict[str, tuple[Any, Entry]] = {}  # metadata path -> (file stamp, parsed entry)


class _NoHash:
    def update(self, data: Any, /) -> None:
        pass


class Store:
    """A checkpoint directory (local path or fsspec URL). Safe for concurrent processes."""

    def __init__(
        self,
        dir: str | os.PathLike[str],
        *,
        keep: int = 5,
        durable: bool = False,
        safe: bool = False,
        lock_timeout: float | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.url = os.fspath(dir)
        self.fs = filesystem_for(self.url, durable, storage_options)
        self.keep = keep  # entries kept per lineage; 0 keeps every entry (see _housekeeping)
        self.safe = safe  # load only formats that cannot run code (Config(safe=True))
        self.lock_timeout = default_timeout() if lock_timeout is None else lock_timeout
        self._reported: set[str] = set()  # each damaged file is reported once per Store
        self.used: set[tuple[str, str]] = set()  # (folder, key) saved or loaded: never evicted

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    @property
    def root(self) -> str:
        """The directory entries live in: ``dir``, or ``dir/chkpt-<uid>`` if others can write it."""
        return self.fs.root

    # -- reading -------------------------------------------------------------------------------

    def lookup(self, stage: str, key: str) -> Entry | None:
        """The valid entry for ``(stage, key)``, or None. Corrupt metadata is reported, not raised."""
        if not KEY_RE.match(key):
            raise ValueError(f"bad checkpoint key {key!r}")
        d, name = safe_name(stage), key + META_SUFFIX
        # Metadata files are never modified in place (written new, then renamed), so a file with
        # the same inode, size and times holds the same record: reuse its parsed Entry (a stat
        # instead of read+parse+validate, ~3x faster). The payload's size is still checked.
        info = self.fs.info(d, name)
        if info is None:
            return None
        path = self.fs.where(d, name)
        cached = _META_CACHE.get(path) if info.stamp else None
        if cached is not None and cached[0] == info.stamp and cached[1].stage == stage:
            hit = cached[1]
            payload = self.fs.info(d, hit.payload)
            return hit if payload is not None and payload.size == hit.size else None
        entry = self.read_meta(d, name, stage)
        if entry is not None and info.stamp:
            if len(_META_CACHE) >= 65536:
                _META_CACHE.clear()
            _META_CACHE[path] = (info.stamp, entry)
        return entry

    def read_meta(self, d: str, name: str, stage: str | None) -> Entry | None:
        """The entry a metadata file describes, if valid and its payload is in place."""
        who = stage if stage is not None else d
        path = self.fs.where(d, name)
        raw = self.fs.read(d, name, META_LIMIT)
        if raw is None:
            if self.fs.info(d, name) is not None:
                self._report(who, path, "metadata unreadable, not a regular file or over 1 MiB")
            return None
        try:
            entry = Entry.from_json(json.loads(raw))
        except (ValueError, TypeError, UnicodeDecodeError, RecursionError) as exc:
            self._report(who, path, f"unreadable metadata ({exc})")
            return None
        if stage is not None and entry.stage != stage:
            return None  # a different stage whose cleaned name collides; never serve it
        if name != entry.key + META_SUFFIX or safe_name(entry.stage) != d:
            self._report(who, path, "metadata of another key or stage (moved or copied)")
            return None
        entry = dataclasses.replace(entry, path=self.fs.where(d, entry.payload))
        payload = self.fs.info(d, entry.payload)
        if payload is None or payload.size != entry.size:
            if self.fs.read(d, name, META_LIMIT) != raw:
                return None  # removed or replaced meanwhile (another run's retention): no damage
            self._report(who, entry.path, "payload missing or of the wrong size")
            return None
        return entry

    def _report(self, stage: str, path: str, why: str) -> None:
        if path in self._reported:
            return
        self._reported.add(path)
        warn(
            f"ignoring corrupt checkpoint {path}: {why}; it will be recomputed",
            StoreWarning,
            stage=stage,
        )

    def load(self, entry: Entry, *, mmap: bool = False, safe_only: bool | None = None) -> Any:
        """The stored value, after verifying its size and checksum.

        Raises CorruptCheckpointError (damaged, or written by a serializer unknown here) or
        UnsafeStoreError (a file or folder others can write, or a code-running format that
        ``safe_only`` / ``Store(safe=True)`` forbids); the message names the stage and the path.
        """
        where = f"stage {entry.stage!r}: checkpoint {entry.path}"
        try:
            serializer = get_serializer(entry.serializer)
        except SerializationError as exc:
            raise CorruptCheckpointError(
                f"{where}: written by serializer {entry.serializer!r}, not registered here"
            ) from exc
        if not serializer.safe and (self.safe if safe_only is None else safe_only):
            raise UnsafeStoreError(
                f"{where}: refusing a {serializer.id} checkpoint under Config(safe=True) "
                f"(only formats that run no code are loaded)"
            )
        hasher = hasher_for(entry.checksum)
        if hasher is None:
            raise CorruptCheckpointError(
                f"{where}: checksum {entry.checksum.partition(':')[0]} unavailable here"
            )
        d = safe_name(entry.stage)
        try:
            with self.fs.open_read(d, entry.payload) as f:
                value = self._decode(entry, serializer, f, hasher, where, mmap)
        except NotPrivate as exc:
            raise UnsafeStoreError(
                f"stage {entry.stage!r}: refusing to load {entry.path}: {exc.path} is writable by "
                f"other users (anyone could have planted it; pickles run code); chmod go-w it, "
                f"or use a private checkpoint dir"
            ) from exc
        except (CorruptCheckpointError, UnsafeStoreError):
            raise
        except FileNotFoundError as exc:
            gone = self.fs.info(d, entry.key + META_SUFFIX) is None
            why = "removed meanwhile (another run's gc or retention)" if gone else "payload missing"
            raise CorruptCheckpointError(f"{where}: {why}") from exc
        except Exception as exc:  # any decoder failure means the bytes are not what was stored
            raise CorruptCheckpointError(
                f"{where}: cannot decode ({type(exc).__name__}: {exc})"
            ) from exc
        self.used.add((d, entry.key))
        return value

    def _decode(
        self, entry: Entry, serializer: Serializer, f: Any, hasher: Any, where: str, mmap: bool
    ) -> Any:
        if self.fs.local():
            size = os.fstat(f.fileno()).st_size
            if size != entry.size:
                raise CorruptCheckpointError(f"{where}: size {size}, expected {entry.size}")
            if mmap and serializer.id == "npy":
                verify_mapped(entry, f, hasher, where)
                return _memmap(f)
            mapper = getattr(serializer, "load_mapped", None) if mmap else None
            if mapper is not None:  # e.g. Arrow IPC: buffers point into the verified open file
                verify_mapped(entry, f, hasher, where)
                return mapper(f)
        reader = HashingReader(f, hasher, entry.size)
        if serializer.id in _STREAM_VERIFIED:
            value = serializer.load(reader)  # type: ignore[arg-type]
            reader.drain()
            reader.check(entry, where)
            return value
        reader.drain()  # verify before any byte reaches the decoder...
        reader.check(entry, where)
        f.seek(0)  # ...then decode the same open file, never a path looked up again
        return serializer.load(HashingReader(f, _NoHash(), entry.size))  # type: ignore[arg-type]

    def latest(self, stage: str) -> Entry | None:
        """The newest entry of a stage, whatever its key (to explain why a key missed)."""
        entries = self.entries(stage)
        return max(entries, key=lambda e: e.created) if entries else None

    def entries(self, stage: str | None = None) -> list[Entry]:
        """Valid entries of one stage, or of all stages."""
        dirs = [safe_name(stage)] if stage is not None else self.stage_dirs()
        found = []
        for d in dirs:
            for name in sorted(self.fs.listdir(d)):
                if name.endswith(META_SUFFIX) and not name.startswith("."):
                    entry = self.read_meta(d, name, stage)
                    if entry is not None:
                        found.append(entry)
        return found

    def stage_dirs(self) -> list[str]:
        return sorted(n for n in self.fs.listdir("") if not n.startswith("."))

    def stages(self) -> list[str]:
        """Names of the stages that have at least one entry."""
        return sorted({e.stage for e in self.entries()})

    # -- writing -------------------------------------------------------------------------------

    def save(
        self,
        stage: str,
        key: str,
        value: Any,
        *,
        serializer: str | Serializer | None = None,
        safe_only: bool = False,
        fingerprint: str = "",
        inputs: dict[str, str] | None = None,
        compute_seconds: float = 0.0,
        extra: dict[str, Any] | None = None,
    ) -> Entry:
        """Write a checkpoint: payload first, then the metadata that points to it.

        Raises SerializationError when no serializer can write the value, and OSError (naming
        the stage: "cannot write") when the disk refuses; what was stored before is untouched."""
        if not KEY_RE.match(key):
            raise ValueError(f"bad checkpoint key {key!r}")
        candidates = _candidates(value, serializer, safe_only, stage)
        args = (stage, key, value, fingerprint, inputs, compute_seconds, extra)
        *fallbacks, last = candidates
        for ser in fallbacks:
            with contextlib.suppress(SerializationError):
                return self._save_located(ser, *args)
        return self._save_located(last, *args)

    def _save_located(self, ser: Serializer, stage: str, *args: Any) -> Entry:
        try:
            return self._save(ser, stage, *args)
        except UnsafeStoreError:
            raise
        except OSError as exc:  # disk full, read-only...: say where (os.write errors do not)
            where = self.fs.where(safe_name(stage))
            raise OSError(exc.errno, f"stage {stage!r}: {exc.strerror or exc}", where) from exc

    def _save(
        self,
        ser: Serializer,
        stage: str,
        key: str,
        value: Any,
        fingerprint: str,
        inputs: dict[str, str] | None,
        compute_seconds: float,
        extra: dict[str, Any] | None,
    ) -> Entry:
        d = safe_name(stage)
        temp = self.fs.open_temp(d)
        try:
            writer = HashingWriter(temp.file)
            try:
                ser.dump(value, writer)  # type: ignore[arg-type]
            except Exception as exc:
                if writer.error is not None:  # the disk failed, not the serializer
                    raise writer.error from exc
                raise SerializationError(
                    f"stage {stage!r}: cannot store a {type(value).__qualname__} with the "
                    f"{ser.id} serializer ({type(exc).__name__}: {exc}); pass serializer= to the "
                    f"stage or register one with chkpt.register_serializer"
                ) from exc
            checksum = writer.hasher.hexdigest()
            payload = f"{key}.{checksum.partition(':')[2][:16]}.{ser.ext}"
            self._complete(temp, writer.size)
            self.fs.commit(temp, payload)
        except BaseException:
            self.fs.discard(temp)
            raise
        entry = Entry(
            stage=stage, key=key, serializer=ser.id, checksum=checksum, size=writer.size, payload=payload,
            fingerprint=fingerprint, inputs=dict(inputs or {}), created=time.time(),
            compute_seconds=float(compute_seconds), extra=dict(extra or {}),
            path=self.fs.where(d, payload),
        )  # fmt: skip
        meta = json.dumps(entry.to_json(), sort_keys=True, indent=1).encode()
        temp = self.fs.open_temp(d)
        try:
            HashingWriter(temp.file).write(meta)  # loops over short writes; a full disk raises
            self._complete(temp, len(meta))
            self.fs.commit(temp, key + META_SUFFIX)
        except BaseException:
            self.fs.discard(temp)  # the previous metadata of this key, if any, stays as it was
            raise
        self.used.add((d, key))
        try:
            _housekeeping.retain(self, d)
        except OSError as exc:  # the entry is stored; failing to prune must not hide that
            log.warning("stage %r: cannot remove old checkpoints in %s (%s)", stage, d, exc)
        return entry

    def _complete(self, temp: Any, size: int) -> None:
        """Refuse to rename a temp file that does not hold every byte written (a full disk)."""
        if self.fs.local():
            got = os.fstat(temp.file.fileno()).st_size
            if got != size:
                raise OSError(28, f"No space left on device ({got} of {size} bytes written)")

    def lock(self, stage: str, key: str) -> contextlib.AbstractContextManager[bool]:
        """Hold the per-key lock while computing and storing ``(stage, key)`` (see ``_lock``).

        Yields True when the lock is held, False where locking is unavailable (the caller goes
        on unlocked: results stay right, only duplicate work is no longer bounded)."""
        if not KEY_RE.match(key):
            return contextlib.nullcontext(False)
        return self.fs.lock(safe_name(stage), "." + key + LOCK_SUFFIX, self.lock_timeout, stage)  # type: ignore[no-any-return]

    @staticmethod
    def digest_only(
        value: Any, serializer: str | Serializer | None = None, safe_only: bool = False
    ) -> str:
        """The digest ``save`` would record, without writing anything (same serializer choice)."""
        *fallbacks, last = _candidates(value, serializer, safe_only)
        for ser in fallbacks:
            with contextlib.suppress(Exception):
                return digest_of(value, ser)
        return digest_of(value, last)

    # -- removing (see _housekeeping) ------------------------------------------------------------

    def remove(self, entry: Entry) -> None:
        """Remove one entry (metadata first, so no reader is pointed at a missing payload)."""
        _housekeeping.remove(self, entry)

    def clear(self, stage: str | None = None) -> int:
        """Remove the entries of one stage (or all); returns how many were removed."""
        return _housekeeping.clear(self, stage)

    def gc(
        self, keep: int | None = None, *, stage: str | None = None, grace: float = 3600.0
    ) -> int:
        """Remove entries beyond ``keep`` per lineage (None or 0: keep every entry), and temp
        files, locks and payloads nothing points to (older than ``grace`` seconds, so in-flight
        writes are safe). Returns the number of files removed."""
        return _housekeeping.gc(self, keep or None, stage=stage, grace=grace)


def _candidates(
    value: Any, serializer: str | Serializer | None, safe_only: bool, stage: str | None = None
) -> list[Serializer]:
    """The serializer asked for, or every one that accepts the value, best first: the best may
    still fail to write it (JSON and a lone surrogate), and the next one then takes over.

    A named serializer that does not accept the value (``serializer="json"`` and a tuple, which
    JSON would read back as a list) is never used to store it inexactly: the value goes to the
    best serializer that takes it, with a warning naming the stage (when one is named)."""
    if serializer is not None:
        named = get_serializer(serializer)
        if _accepts(named, value) and (named.safe or not safe_only):
            return [named]
        if stage is not None:
            warn(
                f"the {named.id} serializer cannot store a {type(value).__qualname__} exactly; "
                f"storing it with the best serializer that can",
                StoreWarning,
                stage=stage,
            )
    found = [s for s in serializers() if (s.safe or not safe_only) and _accepts(s, value)]
    return found or [choose_serializer(value, safe_only)]  # raises, naming the type


def _accepts(ser: Serializer, value: Any) -> bool:
    try:
        return bool(ser.accepts(value))
    except Exception:  # a user serializer's check that fails: it does not take this value
        return False


def _memmap(f: Any) -> Any:
    """A read-only memory map of an open, verified ``.npy`` file."""
    import numpy as np
    from numpy.lib import format as npf

    f.seek(0)
    version = npf.read_magic(f)
    read_header = npf.read_array_header_1_0 if version == (1, 0) else npf.read_array_header_2_0
    shape, fortran, dtype = read_header(f)
    order = "F" if fortran else "C"
    if 0 in shape:  # mmap cannot map nothing
        return np.empty(shape, dtype=dtype, order=order)
    return np.memmap(f, dtype=dtype, mode="r", offset=f.tell(), shape=shape, order=order)


def open_store(
    dir: str | os.PathLike[str],
    *,
    keep: int = 5,
    durable: bool = False,
    safe: bool = False,
    storage_options: dict[str, Any] | None = None,
) -> Store:
    """Open (lazily create) a checkpoint directory: a local path or an fsspec URL
    (``storage_options`` go to the fsspec filesystem)."""
    return Store(dir, keep=keep, durable=durable, safe=safe, storage_options=storage_options)
