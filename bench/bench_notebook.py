"""Per-cell overhead of ``%%chkpt_stage`` on a cache hit, excluding loading the data.

Runs IPython's in-process shell (no kernel, no front end) with the extension loaded and times,
per cell:

* bare      the cell's code run as an ordinary cell (``shell.run_cell``),
* hit       the same code as a ``%%chkpt_stage`` cell whose checkpoint is valid,
* load      the part of the hit spent reading and decoding the checkpoint payload,
* overhead  hit - load: keying (source + parameter fingerprints), lookup, restoring names,
            replaying output, listeners.

    .venv/bin/python bench/bench_notebook.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time

CASES = {
    "few small outputs": (
        "N = 10",
        "a = N * 2\nb = [a, a + 1, a + 2]\nc = {'k': b, 'name': 'x'}\nprint('done', a)\n",
    ),
    "8 MB array output": (
        "import numpy as np\nSEED = 1",
        "arr = np.random.default_rng(SEED).random(1_000_000)\nmean = float(arr.mean())\n",
    ),
}


def _time(shell, cell: str, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            result = shell.run_cell(cell)
        times.append(time.perf_counter() - start)
        if not result.success:
            raise RuntimeError(f"cell failed: {result.error_in_exec!r}")
    return times


def measure(shell, setup: str, body: str, repeat: int) -> dict[str, float]:
    """Median seconds of the bare cell, the hit, and the hit's load part."""
    from chkpt_ipython._session import session

    shell.run_cell(setup)
    bare = statistics.median(_time(shell, body, repeat))
    cell = "%%chkpt_stage bench\n" + body
    _time(shell, cell, 1)  # computes and stores
    hits, loads = [], []
    for _ in range(repeat):
        hits += _time(shell, cell, 1)
        record = session(shell).stages["bench"]  # each run re-registers the cell
        assert record.this_session == "loaded", "the benchmark cell did not hit"
        loads.append(record.load_seconds or 0.0)
    hit, load = statistics.median(hits), statistics.median(loads)
    return {"bare": bare, "hit": hit, "load": load, "overhead": hit - load}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    from IPython.core.interactiveshell import InteractiveShell

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CHKPT_DIR"] = tmp
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "chkpt_ipython")
        print(f"%%chkpt_stage hit overhead, median of {args.repeat} runs (ms)")
        print(f"{'cell':<20} {'bare':>8} {'hit':>8} {'load':>8} {'overhead':>9} {'hit/bare':>9}")
        for name, (setup, body) in CASES.items():
            m = measure(shell, setup, body, args.repeat)
            shell.run_line_magic("chkpt_clear", "")
            shell.run_line_magic("unload_ext", "chkpt_ipython")
            shell.reset()
            shell.run_line_magic("load_ext", "chkpt_ipython")
            ms = {k: v * 1000 for k, v in m.items()}
            print(
                f"{name:<20} {ms['bare']:8.3f} {ms['hit']:8.3f} {ms['load']:8.3f} "
                f"{ms['overhead']:9.3f} {m['hit'] / m['bare']:8.1f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
