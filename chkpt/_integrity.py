"""Integrity of checkpoints: strict metadata records, checksums computed while bytes pass.

A metadata record is validated strictly (types, key, payload name and checksum must agree), so
its recorded size bounds every later read of the payload. Payload bytes are hashed as they are
written (``HashingWriter``: large buffers are hashed 16 MiB at a time on a helper thread while
the main thread writes them, both outside the GIL, so with a free core the checksum costs almost
nothing beyond the write) and as they are read (``HashingReader``: never past the recorded size, and every ``read``/``readinto``
loops until it is satisfied, so values over 2 GiB survive the OS's per-call limit).
"""

from __future__ import annotations

import dataclasses
import os
import queue
import re
import threading
import time
from typing import Any, BinaryIO

from ._digest import new_hasher
from ._errors import CorruptCheckpointError
from ._version import __version__

__all__ = ["Entry", "HashingWriter", "HashingReader", "verify_mapped", "KEY_RE", "PAYLOAD_RE"]

FORMAT = 1
KEY_RE = re.compile(r"^[0-9a-f]{8,64}$")
PAYLOAD_RE = re.compile(r"^([0-9a-f]{8,64})\.([0-9a-f]{16})\.([a-z0-9_]{1,16})$")
_CHECKSUM = re.compile(r"^([a-z0-9]{1,16}):([0-9a-f]{16,128})$")


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

    @property
    def lineage(self) -> tuple[str, str, tuple[str, ...]]:
        """What stays the same across versions of one stage in one place of a pipeline: its name,
        bound parameters and input names (not code or input data, which versions change)."""
        params = self.extra.get("params", "")
        return self.stage, params if isinstance(params, str) else repr(params), tuple(self.inputs)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        del data["path"]
        return {"format": FORMAT, "chkpt": __version__, **data}

    @classmethod
    def from_json(cls, data: Any) -> Entry:
        """Validate metadata strictly: anything unexpected raises ValueError."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not a chkpt metadata record")
        values: dict[str, Any] = {}
        for name, (types, default) in _FIELDS.items():
            value = data.get(name, default)
            if value is _REQUIRED or not isinstance(value, types) or isinstance(value, bool):
                raise ValueError(f"field {name!r} missing or of the wrong type")
            values[name] = dict(value) if isinstance(value, dict) else value
        if values["size"] < 0 or not KEY_RE.match(values["key"]):
            raise ValueError("bad size or key")
        match = PAYLOAD_RE.match(values["payload"])
        if not match or match.group(1) != values["key"]:
            raise ValueError("payload name does not belong to this key")
        checksum = _CHECKSUM.match(values["checksum"])
        if not checksum or not checksum.group(2).startswith(match.group(2)):
            raise ValueError("checksum malformed or not the payload's")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in values["inputs"].items()):
            raise ValueError("inputs must map names to digests")
        return cls(**values)


_REQUIRED: Any = object()
_FIELDS: dict[str, tuple[Any, Any]] = {
    "stage": (str, _REQUIRED), "key": (str, _REQUIRED), "serializer": (str, _REQUIRED),
    "checksum": (str, _REQUIRED), "size": (int, _REQUIRED), "payload": (str, _REQUIRED),
    "fingerprint": (str, ""), "inputs": (dict, {}), "created": ((int, float), 0.0),
    "compute_seconds": ((int, float), 0.0), "extra": (dict, {}),
}  # fmt: skip


# -- hashing while writing ---------------------------------------------------------------------

_PARALLEL = 4 << 20  # buffers from this size are hashed on the helper thread while written
# pieces of big buffers handed to the helper one at a time, each hashed while it is written:
# measured on 256 MiB, main-thread CPU was 1.26x a raw write with 1 MiB pieces (hand-offs),
# 1.07x with 16 MiB, the same with 64 MiB but with the hash reading colder memory
_PIECE = 16 << 20


class _Helper:
    """One daemon thread that runs hash updates (outside the GIL) beside the writing thread."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="chkpt-hash", daemon=True).start()

    def _run(self) -> None:
        while True:
            hasher, view, done, failed = self.jobs.get()
            try:
                hasher.update(view)
            except BaseException as exc:  # reported to the writer, never lost in the thread
                failed.append(exc)
            done.set()


_helper: _Helper | None = None
_helper_lock = threading.Lock()


def _background() -> _Helper:
    global _helper
    with _helper_lock:
        if _helper is None or _helper.pid != os.getpid():  # a forked child has no thread
            _helper = _Helper()
        return _helper


class HashingWriter:
    """A write-only file that hashes and counts what passes through it."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw, self.hasher, self.size = raw, new_hasher(), 0
        self.error: OSError | None = None  # a failed write (disk full...), whoever swallowed it

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        if len(view) < _PARALLEL:
            self.hasher.update(view)
            self._write(view)
        else:  # hash on the helper thread while this one writes: both release the GIL
            helper = _background()
            for start in range(0, len(view), _PIECE):
                piece = view[start : start + _PIECE]
                done, failed = threading.Event(), list[BaseException]()
                helper.jobs.put((self.hasher, piece, done, failed))
                try:
                    self._write(piece)
                finally:
                    done.wait()  # the caller may reuse its buffer once write returns
                if failed:
                    raise failed[0]
        self.size += len(view)
        return len(view)

    def _write(self, view: memoryview) -> None:
        written = 0
        try:
            while written < len(view):  # raw files write at most ~2 GiB per call
                n = self.raw.write(view[written:])
                if not n:  # a full disk may report 0 bytes instead of raising
                    raise OSError(28, "No space left on device (short write)")
                written += n
        except OSError as exc:
            self.error = exc
            raise

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


def digest_of(value: Any, ser: Any) -> str:
    """The digest ``ser`` would give ``value`` when stored, without writing anything."""
    writer = HashingWriter(_Null())  # type: ignore[arg-type]
    ser.dump(value, writer)
    return f"{ser.id}:{writer.hasher.hexdigest()}"


# -- hashing while reading ---------------------------------------------------------------------


class HashingReader:
    """A read-only file that hashes what is read, never reads past ``limit`` bytes, and fills
    every request completely (one OS read returns at most ~2 GiB; pickle asks for more)."""

    def __init__(self, raw: BinaryIO, hasher: Any, limit: int) -> None:
        self.raw, self.hasher, self.size, self.limit = raw, hasher, 0, limit

    def readinto(self, buf: Any) -> int:
        view = memoryview(buf).cast("B")
        want = min(len(view), self.limit - self.size)
        got = 0
        while got < want:
            n = self.raw.readinto(view[got:want]) or 0  # type: ignore[attr-defined]
            if not n:
                break
            got += n
        self.hasher.update(view[:got])
        self.size += got
        return got

    def read(self, n: int | None = -1) -> bytes:
        left = self.limit - self.size
        want = left if n is None or n < 0 else min(n, left)
        data = self.raw.read(want) or b"" if want else b""
        if len(data) < want:  # a short read (over ~2 GiB): go on until satisfied or at the end
            parts = [data]
            while (got := sum(map(len, parts))) < want and (more := self.raw.read(want - got)):
                parts.append(more)
            data = b"".join(parts)
        self.hasher.update(data)
        self.size += len(data)
        return data

    def readline(self, limit: int = -1) -> bytes:  # pickle may ask for it
        left = self.limit - self.size
        line = self.raw.readline(left if limit is None or limit < 0 else min(limit, left))
        self.hasher.update(line)
        self.size += len(line)
        return line

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def drain(self) -> None:
        buf = bytearray(1 << 20)
        while self.readinto(buf):
            pass

    def check(self, entry: Entry, where: str) -> None:
        if self.size != entry.size or self.hasher.hexdigest() != entry.checksum:
            raise CorruptCheckpointError(
                f"{where}: checksum mismatch (the file was modified or damaged)"
            )


# -- memory-mapped payloads --------------------------------------------------------------------

RACY_NS = 2_000_000_000
VERIFIED: dict[str, tuple[int, ...]] = {}  # path -> file identity when its checksum last matched


def verify_mapped(entry: Entry, f: BinaryIO, hasher: Any, where: str) -> None:
    """Checksum an open file through a read-only mapping (no copy), once per process per version.

    Files are never modified in place (new versions are renamed in), and any write to a file
    changes its ctime, which user code cannot set back: an unchanged (inode, size, mtime, ctime)
    means unchanged bytes, so a memory-mapped hit repeated in a session costs an ``fstat``.
    """
    import mmap

    st = os.fstat(f.fileno())
    identity = (
        st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, hash(entry.checksum),
    )  # fmt: skip
    if VERIFIED.get(entry.path) == identity:
        return
    if st.st_size != entry.size:
        raise CorruptCheckpointError(f"{where}: size {st.st_size}, expected {entry.size}")
    if st.st_size:
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            view = memoryview(m)
            for start in range(0, len(view), 1 << 24):
                hasher.update(view[start : start + (1 << 24)])
            view.release()
    if hasher.hexdigest() != entry.checksum:
        raise CorruptCheckpointError(
            f"{where}: checksum mismatch (the file was modified or damaged)"
        )
    if len(VERIFIED) > 10_000:
        VERIFIED.clear()
    if time.time_ns() - st.st_ctime_ns > RACY_NS:  # as git's "racy" rule: timestamps are coarse,
        VERIFIED[entry.path] = (
            identity  # so a file changed within a tick of its last change re-hashes
        )
