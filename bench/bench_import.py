"""Target 5: ``import chkpt`` in a fresh interpreter, and no optional library imported by it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._common import Row, main

OPTIONAL = ("numpy", "pandas", "pyarrow", "xxhash", "orjson", "fsspec", "dask", "distributed",
            "graphviz", "IPython", "ipywidgets")  # fmt: skip

PROBE = f"""
import json, sys, time
t = time.perf_counter()
import chkpt
t = time.perf_counter() - t
s = time.perf_counter()
import json as _j  # the floor: an already-imported stdlib module
s = time.perf_counter() - s
print(json.dumps([t, [m for m in {OPTIONAL!r} if m in sys.modules]]))
"""


def probe() -> tuple[float, list[str]]:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, cwd=root
    ).stdout
    seconds, loaded = json.loads(out)
    return seconds, loaded


def interpreter() -> float:
    import time

    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


def run(repeat: int = 7) -> list[Row]:
    results = [probe() for _ in range(repeat)]
    seconds = min(r[0] for r in results)
    loaded = sorted({m for r in results for m in r[1]})
    start = min(interpreter() for _ in range(3))
    note = "none" if not loaded else ", ".join(loaded)
    return [
        Row(f"import chkpt (optional libs imported: {note})", seconds,
            "python -c pass (interpreter start)", start, "<= 20 ms, none imported",
            seconds <= 0.020 and not loaded),
    ]  # fmt: skip


if __name__ == "__main__":
    main(run)
