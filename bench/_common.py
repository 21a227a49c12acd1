"""Shared helpers for the benchmarks: timing, scratch directories, the side-by-side table."""

from __future__ import annotations

import dataclasses
import gc
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

MiB = 1 << 20


@dataclasses.dataclass
class Row:
    """One measurement: chkpt's time beside a peer's, and the target the ratio must meet."""

    measure: str
    ours: float  # seconds
    peer: str
    theirs: float  # seconds
    target: str = ""
    ok: bool | None = None

    @property
    def ratio(self) -> float:
        return self.ours / self.theirs if self.theirs else float("inf")


def best(fn: Callable[[], Any], repeat: int = 5, setup: Callable[[], Any] | None = None) -> float:
    """Fastest of ``repeat`` timed calls (``setup`` runs untimed before each)."""
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def median(fn: Callable[[], Any], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class Scratch:
    """A scratch directory under the system temp dir, removed on exit."""

    def __enter__(self) -> str:
        self.path = tempfile.mkdtemp(prefix="chkpt-bench-")
        return self.path

    def __exit__(self, *exc: Any) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def fresh(path: str) -> str:
    """Empty ``path`` (a directory) and return it."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def import_file(path: str, name: str) -> Any:
    """Import a generated module from a file (peers fingerprint functions by their source)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def fmt(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "n/a"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} µs"


def table(rows: list[Row], markdown: bool = False) -> str:
    head = ["measure", "chkpt", "vs", "peer", "ratio", "target", "met"]
    body = [
        [
            r.measure,
            fmt(r.ours),
            r.peer,
            fmt(r.theirs),
            f"{r.ratio:.3g}x" if r.theirs else "",
            r.target,
            {True: "met", False: "NOT MET", None: ""}[r.ok],
        ]
        for r in rows
    ]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines)
    widths = [max(len(str(c)) for c in col) for col in zip(head, *body)]
    out = [
        "  ".join(c.ljust(w) for c, w in zip(head, widths)),
        "  ".join("-" * w for w in widths),
    ]
    out += ["  ".join(c.ljust(w) for c, w in zip(cells, widths)) for cells in body]
    return "\n".join(out)


def main(run: Callable[[], list[Row]]) -> None:
    markdown = "--markdown" in sys.argv
    print(table(run(), markdown=markdown))


def race(fns: dict[str, Callable[[], Any]], repeat: int = 5) -> dict[str, float]:
    """Best time of each function, measured in interleaved rounds so that noise hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            gc.collect()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(ts) for name, ts in times.items()}
