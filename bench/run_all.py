"""Run every benchmark and print one side-by-side table (``make bench``).

    .venv/bin/python bench/run_all.py              # plain table
    .venv/bin/python bench/run_all.py --markdown   # the README's table

Ratios are chkpt's time over the peer's, measured in this run on this machine; lower is better.
Not part of the test suite: timings on a shared machine are noisy, so each number is the best of
several interleaved runs.
"""

from __future__ import annotations

import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import bench_big, bench_formats, bench_hits, bench_import, bench_json, bench_overhead
from bench._common import table

SUITES = [
    ("1. big values", bench_big),
    ("2. O(1) hits", bench_hits),
    ("3. per-stage overhead, scaling, parallel", bench_overhead),
    ("4. JSON", bench_json),
    ("5. import", bench_import),
    ("6. PyData formats vs each library's own writer", bench_formats),
]


def main() -> int:
    markdown = "--markdown" in sys.argv
    rows = []
    start = time.perf_counter()
    for title, module in SUITES:
        print(f"running {title} ...", file=sys.stderr, flush=True)
        rows += module.run()
    try:
        import xxhash  # noqa: F401

        digest = "xxh3-128"
    except ImportError:
        digest = "sha256"
    print(table(rows, markdown=markdown))
    print(
        f"\n{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, "
        f"digest {digest}; {time.perf_counter() - start:.0f} s; "
        f"{sum(r.ok is True for r in rows)} of {sum(r.ok is not None for r in rows)} targets met"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
