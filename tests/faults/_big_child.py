"""Store or load one value over 2 GiB in a fresh process; print its digest and peak memory.

python tests/faults/_big_child.py save|load bytes|dict DIR
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import chkpt  # noqa: E402

SIZE = int(2.01 * (1 << 30))
KEY = "b1" * 16


def make(kind: str):
    if kind == "bytes":
        return bytes(range(256)) * (SIZE // 256)
    import numpy as np

    return {"array": np.arange(SIZE // 8, dtype=np.float64), "label": "big"}


def digest(value) -> str:
    data = value if isinstance(value, bytes) else memoryview(value["array"]).cast("B")
    extra = b"" if isinstance(value, bytes) else value["label"].encode()
    return hashlib.blake2b(data, digest_size=16).hexdigest() + extra.hex()


def main(mode: str, kind: str, directory: str) -> None:
    store = chkpt.open_store(directory)
    if mode == "save":
        value = make(kind)
        entry = store.save(kind, KEY, value)
        serializer = entry.serializer
    else:
        entry = store.lookup(kind, KEY)
        assert entry is not None, "no entry"
        value = store.load(entry)
        serializer = entry.serializer
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    print(json.dumps({"digest": digest(value), "peak": peak, "serializer": serializer}))


if __name__ == "__main__":
    main(*sys.argv[1:])
