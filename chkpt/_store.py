"""Where checkpoints live: one folder per stage, entries named by key, written new-then-pointed.

Layout::

    <dir>/<stage>/<key>.meta.json            the commit record, written last
    <dir>/<stage>/<key>.<checksum>.<ext>     the payload it points to
    <dir>/<stage>/.<random>.tmp              in-flight writes; ignored, removed by gc
    <dir>/<stage>/.<key>.lock                per-key lock of concurrent runs (see ``_lock``)

A payload is written under a temp name and renamed; then the metadata is written the same way.
So a reader either finds no metadata, or metadata that points to a complete payload whose size
and checksum it verifies before returning a value. Nothing is ever modified in place.

Integrity: metadata is validated strictly (types, key, file and directory names must agree).
JSON and ``.npy`` payloads are hashed while they are decoded (those decoders are robust to any
bytes) and the value is dropped on a mismatch; every other format (pickle, Parquet, user
serializers) is verified before a single byte reaches its decoder, so damaged bytes never run
unpickling code or a native decoder. Every error and warning names the stage and the path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import os
import re
import time
import warnings
from collections.abc import Iterator
from typing import Any, BinaryIO

from ._digest import hasher_for, new_hasher
from ._errors import CorruptCheckpointError, SerializationError, StoreWarning, UnsafeStoreError
from ._fs import TEMP_SUFFIX, abandoned, filesystem_for
from ._lock import LOCK_SUFFIX, default_timeout, key_lock, remove_if_unlocked
from ._serializers import Serializer, choose_serializer, get_serializer, serializers
from ._version import __version__

__all__ = ["Entry", "Store", "open_store", "safe_name"]

log = logging.getLogger("chkpt")

META_SUFFIX = ".meta.json"
META_LIMIT = 1 << 20  # metadata larger than this is not ours
FORMAT = 1
_KEY = re.compile(r"^[0-9a-f]{8,64}$")
_PAYLOAD = re.compile(r"^([0-9a-f]{8,64})\.([0-9a-f]{16})\.([a-z0-9_]{1,16})$")
_CHECKSUM = re.compile(r"^([a-z0-9]{1,16}):([0-9a-f]{16,128})$")
_STREAM_VERIFIED = ("json", "npy")  # decoders that survive any bytes: verified while reading
_SAFE = re.compile(r"[^A-Za-z0-9_.\-]")
_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(10)),
    *(f"lpt{i}" for i in range(10)),
}


@functools.lru_cache(maxsize=65536)
def safe_name(stage: str) -> str:
    """A directory name for a stage that cannot escape the store or collide after cleaning.

    >>> safe_name("load_data")
    'load_data'
    >>> safe_name("../../etc/passwd").startswith("etc_passwd-")
    True
    """
    cleaned = _SAFE.sub("_", stage).strip("._") or "_"
    if cleaned.lower().partition(".")[0] in _RESERVED:
        cleaned = "_" + cleaned
    cleaned = cleaned[:80]
    if cleaned != stage:
        cleaned += "-" + hashlib.sha256(stage.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return cleaned


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """One stored checkpoint: what its metadata file says about it."""

    stage: str
    key: str
    serializer: str
    checksum: str
    size: int
    payload: str
    fingerprint: str = ""
    inputs: dict[str, str] = dataclasses.field(default_factory=dict)
    created: float = 0.0
    compute_seconds: float = 0.0
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    path: str = ""

    @property
    def digest(self) -> str:
        """Content digest of the stored value, as used in consumers' keys."""
        return f"{self.serializer}:{self.checksum}"

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        del data["path"]
        return {"format": FORMAT, "chkpt": __version__, **data}

    @classmethod
    def from_json(cls, data: Any) -> Entry:
        """Validate metadata strictly: anything unexpected raises ValueError."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not a chkpt metadata record")
        values = {}
        for name, (types, default) in _FIELDS.items():
            value = data.get(name, default)
            if value is _REQUIRED or not isinstance(value, types) or isinstance(value, bool):
                raise ValueError(f"field {name!r} missing or of the wrong type")
            values[name] = dict(value) if isinstance(value, dict) else value
        if values["size"] < 0 or not _KEY.match(values["key"]):
            raise ValueError("bad size or key")
        match = _PAYLOAD.match(values["payload"])
        if not match or match.group(1) != values["key"]:
            raise ValueError("payload name does not belong to this key")
        checksum = _CHECKSUM.match(values["checksum"])
        if not checksum or not checksum.group(2).startswith(match.group(2)):
            raise ValueError("checksum malformed or not the payload's")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in values["inputs"].items()):
            raise ValueError("inputs must map names to digests")
        return cls(**values)


_REQUIRED: Any = object()
_META_CACHE: dict[str, tuple[Any, Entry]] = {}  # metadata path -> (file stamp, parsed entry)
_FIELDS: dict[str, tuple[Any, Any]] = {
    "stage": (str, _REQUIRED), "key": (str, _REQUIRED), "serializer": (str, _REQUIRED),
    "checksum": (str, _REQUIRED), "size": (int, _REQUIRED), "payload": (str, _REQUIRED),
    "fingerprint": (str, ""), "inputs": (dict, {}), "created": ((int, float), 0.0),
    "compute_seconds": ((int, float), 0.0), "extra": (dict, {}),
}  # fmt: skip


class _HashingWriter:
    """A write-only file that hashes and counts what passes through it."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw, self.hasher, self.size = raw, new_hasher(), 0
        self.error: OSError | None = None  # a failed write (disk full...), whoever swallowed it

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.hasher.update(view)
        written = 0
        try:
            while written < len(view):  # raw files may write partially
                written += self.raw.write(view[written:]) or 0
        except OSError as exc:
            self.error = exc
            raise
        self.size += len(view)
        return len(view)

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.size


class _Null:
    def write(self, data: Any) -> int:
        return len(memoryview(data))


class _HashingReader:
    """A read-only file that hashes and counts what is read through it."""

    def __init__(self, raw: BinaryIO, hasher: Any) -> None:
        self.raw, self.hasher, self.size = raw, hasher, 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read() if n is None or n < 0 else self.raw.read(n)
        self.hasher.update(data)
        self.size += len(data)
        return data

    def readinto(self, buf: Any) -> int:
        n = self.raw.readinto(buf) or 0
        self.hasher.update(memoryview(buf)[:n])
        self.size += n
        return n

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readline(self, limit: int = -1) -> bytes:  # pickle asks for it
        line = self.raw.readline(limit)
        self.hasher.update(line)
        self.size += len(line)
        return line

    def drain(self) -> None:
        while self.read(1 << 20):
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
        self.fs, self.root = filesystem_for(self.url, durable, storage_options)
        self.keep = keep
        self.safe = safe  # load only formats that cannot run code (Config(safe=True))
        self.lock_timeout = default_timeout() if lock_timeout is None else lock_timeout
        self._reported: set[str] = set()  # each damaged file is reported once per Store

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    # -- reading -------------------------------------------------------------------------------

    def _dir(self, stage: str) -> str:
        return self.fs.join(self.root, safe_name(stage))

    def lookup(self, stage: str, key: str) -> Entry | None:
        """The valid entry for ``(stage, key)``, or None. Corrupt metadata is reported, not raised."""
        if not _KEY.match(key):
            raise ValueError(f"bad checkpoint key {key!r}")
        path = self.fs.join(self._dir(stage), key + META_SUFFIX)
        # Metadata files are never modified in place (written new, then renamed), so a file with
        # the same inode, size and times holds the same record: reuse its parsed Entry (a stat
        # instead of read+parse+validate, ~3x faster). The payload is still checked every time.
        stamp = self.fs.stamp(path) if hasattr(self.fs, "stamp") else None
        if stamp is not None:
            cached = _META_CACHE.get(path)
            if cached is not None and cached[0] == stamp and cached[1].stage == stage:
                entry = cached[1]
                return entry if self.fs.size(entry.path) == entry.size else None
        entry = self._read_meta(path, stage)
        if entry is not None and stamp is not None:
            if len(_META_CACHE) >= 65536:
                _META_CACHE.clear()
            _META_CACHE[path] = (stamp, entry)
        return entry

    def _read_meta(self, path: str, stage: str | None) -> Entry | None:
        directory, _, name = path.rpartition(self.fs.sep)
        who = stage if stage is not None else directory.rpartition(self.fs.sep)[2]
        raw = self.fs.read(path, META_LIMIT)
        if raw is None:
            if self.fs.size(path) is not None:
                self._report(who, path, "metadata unreadable or larger than 1 MiB")
            return None
        try:
            entry = Entry.from_json(json.loads(raw))
        except (ValueError, TypeError, UnicodeDecodeError, RecursionError) as exc:
            self._report(who, path, f"unreadable metadata ({exc})")
            return None
        if stage is not None and entry.stage != stage:
            return None  # a different stage whose cleaned name collides; never serve it
        if name != entry.key + META_SUFFIX or self._dir(entry.stage) != directory:
            self._report(who, path, "metadata of another key or stage (moved or copied)")
            return None
        payload = self.fs.join(directory, entry.payload)
        entry = dataclasses.replace(entry, path=payload)
        if self.fs.size(payload) != entry.size:
            self._report(who, payload, "payload missing or of the wrong size")
            return None
        return entry

    def _report(self, stage: str, path: str, why: str) -> None:
        if path in self._reported:
            return
        self._reported.add(path)
        warnings.warn(
            f"chkpt: stage {stage!r}: ignoring corrupt checkpoint {path}: {why}; "
            f"it will be recomputed",
            StoreWarning,
            stacklevel=4,
        )

    def load(self, entry: Entry, *, mmap: bool = False, safe_only: bool | None = None) -> Any:
        """The stored value, after verifying its size and checksum.

        Raises CorruptCheckpointError (damaged, or written by a serializer unknown here) or
        UnsafeStoreError (a code-running format that others could have written, or that
        ``safe_only`` / ``Store(safe=True)`` forbids); the message names the stage and the path.
        """
        where = f"stage {entry.stage!r}: checkpoint {entry.path}"
        try:
            serializer = get_serializer(entry.serializer)
        except SerializationError as exc:
            raise CorruptCheckpointError(
                f"{where}: written by serializer {entry.serializer!r}, not registered here"
            ) from exc
        if not serializer.safe:
            if self.safe if safe_only is None else safe_only:
                raise UnsafeStoreError(
                    f"{where}: refusing a {serializer.id} checkpoint under Config(safe=True) "
                    f"(only JSON, .npy and Parquet are loaded)"
                )
            self._check_private(entry)
        hasher = hasher_for(entry.checksum)
        if hasher is None:
            raise CorruptCheckpointError(
                f"{where}: checksum {entry.checksum.partition(':')[0]} unavailable here"
            )
        local = self.fs.local_path(entry.path)
        mmapped = mmap and local is not None and serializer.id == "npy"
        try:
            if mmapped:
                import numpy as np

                _verify_mapped(entry, local, hasher, where)  # type: ignore[arg-type]
                return np.load(local, mmap_mode="r", allow_pickle=False)
            if serializer.id not in _STREAM_VERIFIED:
                self._verify(entry, hasher, where)  # before any byte reaches the decoder
                with self.fs.open(entry.path) as raw:
                    return serializer.load(raw)
            with self.fs.open(entry.path) as raw:
                reader = _HashingReader(raw, hasher)
                value = serializer.load(reader)  # type: ignore[arg-type]
                reader.drain()
        except CorruptCheckpointError:
            raise
        except FileNotFoundError as exc:
            raise CorruptCheckpointError(f"{where}: payload disappeared") from exc
        except Exception as exc:  # any decoder failure means the bytes are not what was stored
            raise CorruptCheckpointError(
                f"{where}: cannot decode ({type(exc).__name__}: {exc})"
            ) from exc
        if reader.size != entry.size or hasher.hexdigest() != entry.checksum:
            raise CorruptCheckpointError(
                f"{where}: checksum mismatch (the file was modified or damaged)"
            )
        return value

    def _verify(self, entry: Entry, hasher: Any, where: str) -> None:
        with self.fs.open(entry.path) as raw:
            reader = _HashingReader(raw, hasher)
            reader.drain()
        if reader.size != entry.size or hasher.hexdigest() != entry.checksum:
            raise CorruptCheckpointError(
                f"{where}: checksum mismatch (the file was modified or damaged)"
            )

    def _check_private(self, entry: Entry) -> None:
        for path in (entry.path.rpartition(self.fs.sep)[0], entry.path):
            if not self.fs.is_private(path):
                raise UnsafeStoreError(
                    f"stage {entry.stage!r}: refusing to unpickle {entry.path}: {path} is "
                    f"writable by other users (pickle runs code); chmod go-w it, or use a "
                    f"private checkpoint dir"
                )

    def latest(self, stage: str) -> Entry | None:
        """The newest entry of a stage, whatever its key (to explain why a key missed)."""
        entries = self.entries(stage)
        return max(entries, key=lambda e: e.created) if entries else None

    def entries(self, stage: str | None = None) -> list[Entry]:
        """Valid entries of one stage, or of all stages."""
        dirs = (
            [self._dir(stage)]
            if stage is not None
            else [self.fs.join(self.root, d) for d in self._stage_dirs()]
        )
        found = []
        for d in dirs:
            for name in sorted(self.fs.listdir(d)):
                if name.endswith(META_SUFFIX) and not name.startswith("."):
                    entry = self._read_meta(self.fs.join(d, name), stage)
                    if entry is not None:
                        found.append(entry)
        return found

    def _stage_dirs(self) -> list[str]:
        return sorted(n for n in self.fs.listdir(self.root) if not n.startswith("."))

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
        """Write a checkpoint: payload first, then the metadata that points to it."""
        if not _KEY.match(key):
            raise ValueError(f"bad checkpoint key {key!r}")
        candidates = _candidates(value, serializer, safe_only)
        args = (stage, key, value, fingerprint, inputs, compute_seconds, extra)
        *fallbacks, last = candidates
        for ser in fallbacks:
            with contextlib.suppress(SerializationError):
                return self._save_located(ser, *args)
        return self._save_located(last, *args)

    def _save_located(self, ser: Serializer, stage: str, *args: Any) -> Entry:
        try:
            return self._save(ser, stage, *args)
        except OSError as exc:  # disk full, read-only...: say where (os.write errors do not)
            where = self._dir(stage)
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
        directory = self._dir(stage)
        self.fs.makedirs(self.root)  # owner-only: pickles are code
        self.fs.makedirs(directory)
        f, tmp = self.fs.open_temp(directory)
        try:
            writer = _HashingWriter(f)
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
            self.fs.commit(f, tmp, self.fs.join(directory, payload))
        except BaseException:
            f.close()
            if tmp != directory:
                self.fs.remove(tmp)
            raise
        entry = Entry(
            stage=stage, key=key, serializer=ser.id, checksum=checksum, size=writer.size, payload=payload,
            fingerprint=fingerprint, inputs=dict(inputs or {}), created=time.time(),
            compute_seconds=float(compute_seconds), extra=dict(extra or {}),
            path=self.fs.join(directory, payload),
        )  # fmt: skip
        meta = json.dumps(entry.to_json(), sort_keys=True, indent=1).encode()
        f, tmp = self.fs.open_temp(directory)
        try:
            f.write(meta)
            self.fs.commit(f, tmp, self.fs.join(directory, key + META_SUFFIX))
        except BaseException:
            f.close()
            if tmp != directory:
                self.fs.remove(tmp)
            raise
        try:
            self._retain(stage)
        except OSError as exc:  # the entry is stored; failing to prune must not hide that
            log.warning("stage %r: cannot remove old checkpoints in %s (%s)", stage, directory, exc)
        return entry

    def lock(self, stage: str, key: str) -> contextlib.AbstractContextManager[bool]:
        """Hold the per-key lock while computing and storing ``(stage, key)`` (see ``_lock``).

        Yields True when the lock is held, False where locking is unavailable (the caller goes
        on unlocked: results stay right, only duplicate work is no longer bounded)."""
        directory = self._dir(stage)
        local = self.fs.local_path(directory)
        if local is None or not _KEY.match(key):
            return contextlib.nullcontext(False)
        try:
            self.fs.makedirs(self.root)
            self.fs.makedirs(directory)
        except OSError:
            return contextlib.nullcontext(False)
        path = self.fs.join(local, "." + key + LOCK_SUFFIX)
        return key_lock(path, self.lock_timeout, stage)

    @staticmethod
    def digest_only(
        value: Any, serializer: str | Serializer | None = None, safe_only: bool = False
    ) -> str:
        """The digest ``save`` would record, without writing anything (same serializer choice)."""
        *fallbacks, last = _candidates(value, serializer, safe_only)
        for ser in fallbacks:
            with contextlib.suppress(Exception):
                return _digest_of(value, ser)
        return _digest_of(value, last)

    # -- removing ------------------------------------------------------------------------------

    def _remove(self, entry: Entry) -> None:
        directory = entry.path.rpartition(self.fs.sep)[0]
        self.fs.remove(self.fs.join(directory, entry.key + META_SUFFIX))  # unpoint first
        self.fs.remove(entry.path)

    def _retain(self, stage: str) -> None:
        if self.keep <= 0:
            return
        entries = sorted(self.entries(stage), key=lambda e: e.created, reverse=True)
        for old in entries[self.keep :]:
            self._remove(old)

    def clear(self, stage: str | None = None) -> int:
        """Remove the entries of one stage (or all); returns how many were removed."""
        entries = self.entries(stage)
        for entry in entries:
            self._remove(entry)
        self.gc(keep=0 if stage is None else None, stage=stage, grace=0)
        return len(entries)

    def gc(
        self, keep: int | None = None, *, stage: str | None = None, grace: float = 3600.0
    ) -> int:
        """Remove entries beyond ``keep`` per stage, and temp files and payloads nothing points to
        (older than ``grace`` seconds, so in-flight writes are safe). Returns files removed."""
        removed = 0
        dirs = [safe_name(stage)] if stage is not None else self._stage_dirs()
        now = time.time()
        for name in dirs:
            directory = self.fs.join(self.root, name)
            entries = sorted(
                self.entries(stage) if stage else self._entries_in(directory),
                key=lambda e: e.created,
                reverse=True,
            )
            if keep is not None:
                for old in entries[keep:]:
                    self._remove(old)
                    removed += 1
                entries = entries[:keep]
            live = {e.payload for e in entries} | {e.key + META_SUFFIX for e in entries}
            for file in self.fs.listdir(directory):
                if file in live:
                    continue
                if file.startswith(".") and file.endswith(LOCK_SUFFIX):
                    lock = self.fs.join(directory, file)
                    if self._older(directory, file, now, grace) and remove_if_unlocked(lock):
                        removed += 1
                    continue
                is_temp = file.startswith(".") and file.endswith(TEMP_SUFFIX)
                if (
                    is_temp
                    and abandoned(file)
                    or (is_temp or _PAYLOAD.match(file) or file.endswith(META_SUFFIX))
                    and self._older(directory, file, now, grace)
                ):  # its writer died (kill -9): no need to wait
                    self.fs.remove(self.fs.join(directory, file))
                    removed += 1
            if not self.fs.listdir(directory):
                self.fs.rmdir(directory)
        return removed

    def _entries_in(self, directory: str) -> Iterator[Entry]:
        for name in self.fs.listdir(directory):
            if name.endswith(META_SUFFIX) and not name.startswith("."):
                entry = self._read_meta(self.fs.join(directory, name), None)
                if entry is not None:
                    yield entry

    def _older(self, directory: str, file: str, now: float, grace: float) -> bool:
        mtime = self.fs.mtime(self.fs.join(directory, file))
        return mtime is None or now - mtime >= grace


def _candidates(
    value: Any, serializer: str | Serializer | None, safe_only: bool
) -> list[Serializer]:
    """The serializer asked for, or every one that accepts the value, best first: the best may
    still fail to write it (JSON and a lone surrogate), and the next one then takes over."""
    if serializer is not None:
        return [get_serializer(serializer)]
    found = [s for s in serializers() if (s.safe or not safe_only) and _accepts(s, value)]
    return found or [choose_serializer(value, safe_only)]  # raises, naming the type


def _accepts(ser: Serializer, value: Any) -> bool:
    try:
        return bool(ser.accepts(value))
    except Exception:  # a user serializer's check that fails: it does not take this value
        return False


def _digest_of(value: Any, ser: Serializer) -> str:
    writer = _HashingWriter(_Null())  # type: ignore[arg-type]
    ser.dump(value, writer)  # type: ignore[arg-type]
    return f"{ser.id}:{writer.hasher.hexdigest()}"


_RACY_NS = 2_000_000_000
_VERIFIED: dict[str, tuple[int, ...]] = {}  # path -> file identity when its checksum last matched


def _verify_mapped(entry: Entry, path: str, hasher: Any, where: str) -> None:
    """Checksum a file through a read-only mapping (no copy), once per process per file version.

    Files are never modified in place (new versions are renamed in), and any write to a file
    changes its ctime, which user code cannot set back: an unchanged (inode, size, mtime, ctime)
    means unchanged bytes, so a memory-mapped hit repeated in a session costs a ``stat``.
    """
    import mmap

    st = os.stat(path)
    identity = (
        st.st_dev,
        st.st_ino,
        st.st_size,
        st.st_mtime_ns,
        st.st_ctime_ns,
        hash(entry.checksum),
    )
    if _VERIFIED.get(path) == identity:
        return
    if st.st_size != entry.size:
        raise CorruptCheckpointError(f"{where}: size {st.st_size}, expected {entry.size}")
    if st.st_size:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            view = memoryview(m)
            for start in range(0, len(view), 1 << 24):
                hasher.update(view[start : start + (1 << 24)])
            view.release()
    if hasher.hexdigest() != entry.checksum:
        raise CorruptCheckpointError(
            f"{where}: checksum mismatch (the file was modified or damaged)"
        )
    if len(_VERIFIED) > 10_000:
        _VERIFIED.clear()
    if time.time_ns() - st.st_ctime_ns > _RACY_NS:  # as git's "racy" rule: timestamps are coarse,
        _VERIFIED[path] = identity  # so a file changed within a tick of its last change re-hashes


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
