"""Target 2: O(1) hits. A cached stage costs the same whether its upstream is 256 MiB or 1 KB.

chkpt validates a hit from the upstream's recorded digest (metadata), so the upstream is neither
loaded nor hashed; joblib hashes the argument on every call, Hamilton loads it.
"""

from __future__ import annotations

import logging
import os
import sys
import textwrap
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._common import MiB, Row, Scratch, import_file, main, race

SOURCE = textwrap.dedent(
    """
    import numpy as np

    def big_up() -> np.ndarray:
        return np.random.default_rng(0).random({big})

    def small_up() -> np.ndarray:
        return np.random.default_rng(0).random({small})

    def summary(big_up: np.ndarray) -> float:
        return float(big_up.mean())

    def summary_small(small_up: np.ndarray) -> float:
        return float(small_up.mean())
    """
)


def run(repeat: int = 7) -> list[Row]:
    import chkpt

    logging.getLogger("hamilton").setLevel(logging.ERROR)
    with Scratch() as tmp:
        path = os.path.join(tmp, "bench_hits_peers.py")
        with open(path, "w") as f:
            f.write(SOURCE.format(big=256 * MiB // 8, small=1024 // 8))
        m = import_file(path, "bench_hits_peers")

        summary = chkpt.Stage(m.summary)
        big = chkpt.Stage(m.big_up) >> summary
        small = chkpt.Stage(m.small_up) >> summary
        cfg = chkpt.Config(dir=os.path.join(tmp, "chkpt"), load=True)
        big(cfg), small(cfg)
        report = big.run(cfg).stages
        assert [r.action for r in report] == ["skipped", "loaded"], report

        import joblib

        mem = joblib.Memory(os.path.join(tmp, "joblib"), verbose=0)
        jsummary = mem.cache(m.summary)
        array = m.big_up()
        jsummary(array)

        ham = _hamilton(m, os.path.join(tmp, "hamilton"))
        t = race(
            {
                "big": lambda: big(cfg),
                "small": lambda: small(cfg),
                "joblib": lambda: jsummary(array),
                "hamilton": lambda: ham.execute(["summary"]),
            },
            repeat,
        )
    return [
        Row("cached stage, 256 MiB upstream", t["big"], "same, 1 KB upstream", t["small"],
            "<= 1.5x (O(1))", t["big"] <= 1.5 * t["small"]),
        Row("cached stage, 256 MiB upstream", t["big"], "joblib hit (hashes the arg)",
            t["joblib"], "<= 0.02x (50x faster)", t["big"] <= 0.02 * t["joblib"]),
        Row("cached stage, 256 MiB upstream", t["big"], "Hamilton cache hit", t["hamilton"],
            "", None),
    ]  # fmt: skip


def _hamilton(module: Any, path: str) -> Any:
    from hamilton import driver

    def build() -> Any:
        return driver.Builder().with_modules(module).with_cache(path=path).build()

    build().execute(["summary"])
    return build()


if __name__ == "__main__":
    main(run)
