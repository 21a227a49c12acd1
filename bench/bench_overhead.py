"""Target 3: per-stage overhead of fully cached pipelines, and linear scaling to 10,000 stages.

* a cached 1000-stage chain vs joblib's 1000 small cached calls (and Hamilton's cached chain);
* a chain of n stages built, planned and run (cached) for n = 2,500 and 10,000: the time must grow
  linearly (no quadratic walks) and no recursion limit may be hit.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._common import Row, Scratch, best, import_file, main, race

CHAIN = 1000


def first() -> int:
    return 0


def inc(x: int) -> int:
    return x + 1


def chain(n: int) -> Any:
    import chkpt

    p = chkpt.Stage(first, name="s0")
    for i in range(1, n):
        p = p >> chkpt.Stage(inc, name=f"s{i}")
    return p


def run(repeat: int = 5) -> list[Row]:
    import joblib

    import chkpt

    with Scratch() as tmp:
        cfg = chkpt.Config(dir=os.path.join(tmp, "chkpt"), load=True)
        p = chain(CHAIN)
        assert p(cfg) == CHAIN - 1

        mem = joblib.Memory(os.path.join(tmp, "joblib"), verbose=0)
        jinc = mem.cache(inc)
        for i in range(CHAIN):
            jinc(i)

        def joblib_calls() -> None:
            for i in range(CHAIN):
                jinc(i)

        ham, ham_note = _hamilton_chain(tmp)
        fns = {"chkpt": lambda: p(cfg), "joblib": joblib_calls}
        if ham is not None:
            fns["hamilton"] = lambda: ham.execute([f"n{CHAIN - 1}"])
        t = race(fns, repeat)
        rows = [
            Row(f"cached {CHAIN}-stage chain, per stage", t["chkpt"] / CHAIN,
                "joblib small cached call", t["joblib"] / CHAIN, "<= 0.25x",
                t["chkpt"] <= 0.25 * t["joblib"]),
            Row(f"cached {CHAIN}-stage chain, per stage", t["chkpt"] / CHAIN,
                f"Hamilton cached chain{ham_note}", t.get("hamilton", float("nan")) / CHAIN, "",
                None),
        ]  # fmt: skip

        scaled = {}
        for n in (2500, 10_000):
            d = os.path.join(tmp, f"scale{n}")
            chain(n)(chkpt.Config(dir=d))  # store every stage once (not timed)
            c = chkpt.Config(dir=d, load=True)

            def build_plan_run(n: int = n, c: Any = c) -> None:
                q = chain(n)
                q.plan(c)
                assert q(c) == n - 1

            scaled[n] = build_plan_run
        sizes = race(scaled, 4)  # interleaved, so machine noise hits both sizes alike
        small, large = sizes[2500], sizes[10_000]
        rows.append(
            Row("10,000-stage chain: build+plan+run cached", large, "4 x the 2,500-stage time",
                4 * small, "<= 1.3x (linear)", large <= 1.3 * 4 * small)
        )  # fmt: skip
        rows.append(_parallel(tmp))
    return rows


def _hamilton_chain(tmp: str) -> tuple[Any, str]:
    """A cached Hamilton driver over a 1000-node chain.

    (*) in the table: Hamilton raised RecursionError at Python's default recursion limit and was
    measured with a raised one."""
    from hamilton import driver

    logging.getLogger("hamilton").setLevel(logging.ERROR)
    path = os.path.join(tmp, "bench_chain_peers.py")
    with open(path, "w") as f:
        f.write("def n0() -> int:\n    return 0\n\n")
        for i in range(1, CHAIN):
            f.write(f"def n{i}(n{i - 1}: int) -> int:\n    return n{i - 1} + 1\n\n")
    module = import_file(path, "bench_chain_peers")
    cache = os.path.join(tmp, "hamilton")

    def build() -> Any:
        return driver.Builder().with_modules(module).with_cache(path=cache).build()

    note = ""
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            build().execute([f"n{CHAIN - 1}"])  # Hamilton prints a banner on errors
    except RecursionError:
        note = " (*)"
        sys.setrecursionlimit(20_000)
        try:
            build().execute([f"n{CHAIN - 1}"])
        except RecursionError:
            return None, " (RecursionError)"
    return build(), note


def _parallel(tmp: str) -> Row:
    """4 independent 0.5 s stages on a thread pool vs serially."""
    from concurrent.futures import ThreadPoolExecutor

    import chkpt

    def nap(i: int) -> Any:
        def f() -> int:
            time.sleep(0.5)
            return i

        return chkpt.Stage(f, name=f"nap{i}", version=1)

    p = tuple(nap(i) for i in range(4)) >> chkpt.Stage(lambda *xs: sum(xs), name="total")
    with ThreadPoolExecutor(4) as pool:
        t_par = best(lambda: p(chkpt.Config(store=False, executor=pool)), 1)
    t_ser = best(lambda: p(chkpt.Config(store=False)), 1)
    return Row("4 independent 0.5 s stages, 4 threads", t_par, "serial", t_ser, "< 1 s",
               t_par < 1.0)  # fmt: skip


if __name__ == "__main__":
    main(run)
