"""Cost of checking a big numeric DataFrame for in-place changes, against one xxh3 pass.

Before a stage cell's key is computed, every input a stage produced is checked against the
content fingerprint taken when it was produced (``chkpt_ipython._mutation.content_fingerprint``).
The target: at most ~1.3x one raw xxh3 pass over the frame's buffers (the least any content
check can cost), and nothing for immutable values.

    .venv/bin/python bench/bench_mutation.py [--mb 1024] [--columns 16] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys

from bench._common import race


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1024, help="frame size in MiB")
    parser.add_argument("--columns", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()

    import numpy as np
    import pandas as pd
    import xxhash

    from chkpt_ipython._mutation import content_fingerprint

    rows = args.mb * (1 << 20) // 8 // args.columns
    rng = np.random.default_rng(0)
    names = [f"c{i}" for i in range(args.columns)]
    layouts = {  # a frame from a dict of columns; one from a 2-D array (strided columns)
        "column-built": lambda: pd.DataFrame({n: rng.random(rows) for n in names}),
        "from a 2-D array": lambda: pd.DataFrame(rng.random((rows, args.columns)), columns=names),
    }
    print(f"{args.mb} MiB numeric DataFrame, {args.columns} float64 columns, best of {args.repeat}")
    worst = 0.0
    for layout, make in layouts.items():
        df = make()
        # the least a content check can cost: one xxh3 pass over the columns' buffers
        blocks = [df.iloc[:, i].to_numpy(copy=False) for i in range(df.shape[1])]

        def raw_pass(blocks=blocks) -> str:
            h = xxhash.xxh3_128()
            for arr in blocks:
                h.update(memoryview(np.ascontiguousarray(arr)).cast("B"))
            return h.hexdigest()

        times = race(
            {"xxh3 pass": raw_pass, "check": lambda df=df: content_fingerprint(df)},
            repeat=args.repeat,
        )
        ratio = times["check"] / times["xxh3 pass"]
        worst = max(worst, ratio)
        print(f"  {layout}:")
        print(f"    one xxh3 pass over the buffers  {times['xxh3 pass'] * 1e3:8.1f} ms")
        print(f"    in-place change check           {times['check'] * 1e3:8.1f} ms  ({ratio:.2f}x)")
        del df, blocks
    small = race({"int": lambda: content_fingerprint(12345)}, repeat=1000)["int"]
    print(f"  immutable value (an int)          {small * 1e6:8.2f} µs")
    print(f"  target <= 1.3x: {'met' if worst <= 1.3 else 'NOT MET'} (worst {worst:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
