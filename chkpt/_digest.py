"""Hashes: SHA-256 for keys (portable), the fastest available hash for payload checksums.

Everything that enters a cache key (fingerprints of code and values, the key itself) uses SHA-256
(``key_hasher``, ``hash_bytes``): the same code and values give the same key on every machine,
Python hash seed and set of installed packages. Payload checksums, streamed while bytes are
written, use xxh3-128 when ``xxhash`` is installed (≈14 GB/s), else SHA-256 (hardware accelerated
on most CPUs, faster than md5 or blake2b here). The algorithm is part of every checksum string, so
one made with one algorithm is never compared with another's; where it is unavailable the store
refuses the checkpoint with that reason and recomputes.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

__all__ = ["Hasher", "new_hasher", "hasher_for", "hash_bytes", "key_hasher"]


class Hasher(Protocol):
    name: str

    def update(self, data: Any, /) -> None: ...
    def hexdigest(self) -> str: ...


def _xxh3() -> Any:
    try:
        import xxhash
    except ImportError:
        return None
    return xxhash.xxh3_128


class _Named:
    """Wrap a hash object so its digest string carries the algorithm name."""

    __slots__ = ("name", "_h")

    def __init__(self, name: str, h: Any) -> None:
        self.name = name
        self._h = h

    def update(self, data: Any, /) -> None:
        self._h.update(data)

    def hexdigest(self) -> str:
        return f"{self.name}:{self._h.hexdigest()}"


_FAST: Any = None  # resolved lazily so that `import chkpt` never imports xxhash


def new_hasher() -> Hasher:
    """A hasher of the preferred algorithm."""
    global _FAST
    if _FAST is None:
        _FAST = _xxh3() or False
    if _FAST:
        return _Named("xxh3", _FAST())
    return _Named("sha256", hashlib.sha256())


def key_hasher() -> Any:
    """The one hash for everything that enters a cache key: SHA-256, whatever is installed.

    Keys must be equal with and without ``chkpt[fast]`` (a shared store, CI, Dask workers on
    another image), so the optional xxh3 is for payload checksums only.
    """
    return hashlib.sha256()


def hasher_for(digest: str) -> Hasher | None:
    """A fresh hasher of the algorithm that produced ``digest`` (None if unavailable here)."""
    name = digest.partition(":")[0]
    if name == "xxh3":
        ctor = _xxh3()
        return _Named("xxh3", ctor()) if ctor else None
    if name == "sha256":
        return _Named("sha256", hashlib.sha256())
    return None


def hash_bytes(*parts: bytes | str) -> str:
    """Stable short hash of small parts (keys, fingerprints); always SHA-256 so keys are portable.

    >>> hash_bytes("a", "b") == hash_bytes("a", "b") != hash_bytes("ab")
    True
    """
    # repr of a tuple of str/bytes is unambiguous (quoted, escaped: lone surrogates too) and one
    # C call: cheaper than feeding each part, which matters at ~5 keys per cached stage.
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
