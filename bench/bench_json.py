"""Target 4: JSON of large numeric lists, with orjson (when installed) and with the stdlib.

Plain lists of numbers are JSON (readable, exact) by default; this measures what that costs and
compares with the same numbers as a numpy array (``.npy``), the fast path for big numeric data.
"""

from __future__ import annotations

import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._common import Row, Scratch, main, race

N = 1_000_000


def run(repeat: int = 3) -> list[Row]:
    import numpy as np

    from chkpt import Store, _serializers

    has_orjson = _serializers._orjson() is not None
    rng = np.random.default_rng(0)
    values = {
        "floats": rng.random(N).tolist(),
        "ints": rng.integers(-(2**40), 2**40, N).tolist(),
    }
    rows = []
    with Scratch() as tmp:
        store = Store(tmp, keep=0)
        for kind, data in values.items():

            def roundtrip(data: Any = data, kind: str = kind) -> None:
                entry = store.save(kind, "0" * 32, data)
                assert entry.serializer == "json"
                assert store.load(entry) == data

            def stdlib(fn: Any = roundtrip) -> None:
                real = _serializers._orjson
                _serializers._orjson = lambda: None
                try:
                    fn()
                finally:
                    _serializers._orjson = real

            array = np.asarray(data)

            def npy(array: Any = array, kind: str = kind) -> None:
                entry = store.save(kind + "_npy", "0" * 32, array)
                store.load(entry)

            t = race({"orjson": roundtrip, "stdlib": stdlib, "npy": npy}, repeat)
            what = f"JSON save+load, 1M {kind}"
            if has_orjson:
                rows.append(
                    Row(what + " (orjson)", t["orjson"], "stdlib json", t["stdlib"],
                        "< 1x (orjson used)", t["orjson"] < t["stdlib"])
                )  # fmt: skip
            rows.append(
                Row(what + (" (orjson)" if has_orjson else " (stdlib)"), t["orjson"],
                    "same numbers as .npy", t["npy"], "", None)
            )  # fmt: skip
    return rows


if __name__ == "__main__":
    main(run)
