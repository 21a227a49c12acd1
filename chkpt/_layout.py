"""The names chkpt gives things on disk, and the patterns that recognise them.

Layout::

    <root>/<stage>/<key>.meta.json            the commit record, written last
    <root>/<stage>/<key>.<checksum>.<ext>     the payload it points to
    <root>/<stage>/.<pid>@<host>-<rand>.tmp   in-flight writes; ignored, removed by gc
    <root>/<stage>/.<key>.lock                per-key lock of concurrent runs (see ``_lock``)

``<root>`` is ``dir`` itself, or ``dir/chkpt-<uid>`` when other users can write ``dir`` (see
``_fs``). Housekeeping deletes only names matching these patterns, so files of other programs in
the same folder are never touched.
"""

from __future__ import annotations

import functools
import hashlib
import re

__all__ = ["safe_name", "META_SUFFIX", "is_lock", "is_temp"]

META_SUFFIX = ".meta.json"
META_LIMIT = 1 << 20  # metadata larger than this is not ours
_LOCK = re.compile(r"^\.[0-9a-f]{8,64}\.lock$")
_TEMP = re.compile(r"^\.[0-9]+@[^/\\]*-[A-Za-z0-9_]{1,32}\.tmp$")
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


def is_lock(name: str) -> bool:
    """A lock file chkpt made (``.<key>.lock``).

    >>> is_lock(".0123456789abcdef.lock"), is_lock(".X11-unix.lock")
    (True, False)
    """
    return bool(_LOCK.match(name))


def is_temp(name: str) -> bool:
    """A temp file chkpt made (``.<pid>@<host>-<random>.tmp``).

    >>> is_temp(".123@box-a1b2c3d4e5f6.tmp"), is_temp(".editor.tmp")
    (True, False)
    """
    return bool(_TEMP.match(name))
