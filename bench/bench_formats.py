"""Formats for PyData values: chkpt's checkpoint vs each library's own writer, and vs pickle.

For each type: size on disk, store time and load time of a chkpt checkpoint (``Store.save`` /
``Store.load``: hashing, atomic rename, metadata and checksum verification included), beside the
library's own format written to and read from a plain file (no hashing, no atomic rename), and
pickle protocol 5. Ratios are chkpt over the peer: below 1 is smaller or faster.

    .venv/bin/python bench/bench_formats.py              # the ratio table
    .venv/bin/python bench/bench_formats.py --markdown   # the README's table
    .venv/bin/python bench/bench_formats.py --repeat 5   # best of 5 (default 3)
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import sys
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._common import MiB, Row, Scratch, fmt, race

N = 1_000_000


@dataclasses.dataclass
class Peer:
    name: str
    write: Callable[[Any, str], Any]
    read: Callable[[str], Any]
    suffix: str = ""  # np.savez appends ".npz" to a path without it


def values() -> dict[str, tuple[Any, list[Peer]]]:
    """Each measured value with the peers it is compared with (the library's own formats first)."""
    import numpy as np
    import pandas as pd
    import polars as pl
    import pyarrow as pa
    import pyarrow.feather as feather
    import pyarrow.parquet as pq
    import scipy.sparse as sp
    import xarray as xr
    from PIL import Image

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "id": np.arange(N),
            "price": rng.random(N).round(2),
            "qty": rng.integers(0, 100, N, dtype=np.int32),
            "city": rng.choice(["Paris", "Berlin", "Lagos", "Lima"], N),
            "when": pd.date_range("2024-01-01", periods=N, freq="s"),
        }
    )
    indexed = frame.set_index(["city", "when"]).assign(
        kind=pd.Categorical(rng.choice(["a", "b", "c"], N)),
        flag=pd.array(rng.integers(0, 3, N), dtype="Int8"),
    )
    table = pa.Table.from_pandas(frame, preserve_index=False)
    polars = pl.from_arrow(table)
    sparse = sp.random(20_000, 20_000, density=0.002, format="csr", random_state=0)
    image = Image.fromarray(
        np.repeat(np.linspace(0, 255, 1024, dtype=np.uint8)[None, :, None], 768, 0).repeat(3, 2)
        ^ rng.integers(0, 8, (768, 1024, 3), dtype=np.uint8)
    )  # a gradient with noise: photo-like, compressible

    grid = (365, 180, 90)
    dataset = xr.Dataset(
        {
            "temp": (("time", "lat", "lon"), rng.random(grid, dtype=np.float32), {"units": "K"}),
            "rain": (("time", "lat", "lon"), rng.random(grid, dtype=np.float32), {"units": "mm"}),
        },
        coords={
            "time": pd.date_range("2024-01-01", periods=grid[0]),
            "lat": np.linspace(-89.5, 89.5, grid[1]),
            "lon": np.linspace(0, 356, grid[2]),
        },
        attrs={"title": "synthetic"},
    )

    def pd_parquet() -> Peer:
        return Peer("pandas to_parquet", lambda v, p: v.to_parquet(p), pd.read_parquet)

    def pd_pickle() -> Peer:
        return Peer("pandas to_pickle", lambda v, p: v.to_pickle(p), pd.read_pickle)

    return {
        "pandas 1M rows, plain": (frame, [pd_parquet(), pd_pickle()]),
        "pandas 1M rows, MultiIndex+categorical": (indexed, [pd_parquet(), pd_pickle()]),
        "polars 1M rows": (
            polars,
            [
                Peer("polars write_ipc", lambda v, p: v.write_ipc(p), pl.read_ipc),
                Peer("polars write_parquet", lambda v, p: v.write_parquet(p), pl.read_parquet),
            ],
        ),
        "pyarrow Table 1M rows": (
            table,
            [
                Peer("pq.write_table", pq.write_table, pq.read_table),
                Peer("feather (lz4)", feather.write_feather, feather.read_table),
            ],
        ),
        "scipy csr 20k², 800k nnz": (
            sparse,
            [
                Peer("sp.save_npz", lambda v, p: sp.save_npz(p, v), sp.load_npz, ".npz"),
                Peer(
                    "sp.save_npz(compressed=False)",
                    lambda v, p: sp.save_npz(p, v, compressed=False),
                    sp.load_npz,
                    ".npz",
                ),
            ],
        ),
        "xarray Dataset 2x(365x180x90) f4": (
            dataset,
            [
                Peer(
                    "to_netcdf (scipy, netCDF3)",
                    lambda v, p: v.to_netcdf(p, engine="scipy"),
                    lambda p: xr.load_dataset(p, engine="scipy"),
                )
            ],
        ),
        "PIL RGB 1024x768": (
            image,
            [Peer("Image.save PNG", lambda v, p: v.save(p, format="PNG"), _open_image)],
        ),
    }


def _open_image(path: str) -> Any:
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        return im


def _pickle_peer() -> Peer:
    def write(value: Any, path: str) -> None:
        with open(path, "wb") as f:
            pickle.dump(value, f, protocol=5)

    def read(path: str) -> Any:
        with open(path, "rb") as f:
            return pickle.load(f)

    return Peer("pickle protocol 5", write, read)


@dataclasses.dataclass
class Result:
    what: str
    fmt: str
    size: int
    store: float
    load: float
    peers: list[tuple[str, int, float, float]]  # name, size, store, load


def measure(repeat: int = 3) -> list[Result]:
    from chkpt import Store

    results = []
    with Scratch() as tmp:
        store = Store(os.path.join(tmp, "store"), keep=1)
        for i, (what, (value, peers)) in enumerate(values().items()):
            peers = [*peers, _pickle_peer()]
            stage, key = f"v{i}", "0" * 32
            entry = store.save(stage, key, value)
            fns: dict[str, Callable[[], Any]] = {
                "store": lambda v=value, s=stage, k=key: store.save(s, k, v),
                "load": lambda e=entry: store.load(e),
            }
            if entry.serializer == "arrow":
                fns["mmap"] = lambda e=entry: store.load(e, mmap=True)
            for j, peer in enumerate(peers):
                path = os.path.join(tmp, f"peer{i}_{j}{peer.suffix}")
                peer.write(value, path)
                fns[f"w{j}"] = lambda p=peer, path=path, v=value: p.write(v, path)
                fns[f"r{j}"] = lambda p=peer, path=path: p.read(path)
            t = race(fns, repeat)
            entry = store.lookup(stage, key)
            assert entry is not None
            mapped = f" (mmap load {fmt(t['mmap'])})" if "mmap" in t else ""
            fmt_name = entry.serializer + mapped
            results.append(
                Result(
                    what,
                    fmt_name,
                    entry.size,
                    t["store"],
                    t["load"],
                    [
                        (
                            p.name,
                            os.path.getsize(os.path.join(tmp, f"peer{i}_{j}{p.suffix}")),
                            t[f"w{j}"],
                            t[f"r{j}"],
                        )
                        for j, p in enumerate(peers)
                    ],
                )  # fmt: skip
            )
    return results


def ratio_table(results: list[Result], markdown: bool = False) -> str:
    head = ["value", "chkpt format", "size", "store", "load", "vs", "size", "store", "load"]
    rows = []
    for r in results:
        for k, (name, size, w, rd) in enumerate(r.peers):
            mine = [r.what, r.fmt, f"{r.size / MiB:.1f} MiB", fmt(r.store), fmt(r.load)]
            rows.append(
                (mine if k == 0 else [""] * 5)
                + [f"{name} ({size / MiB:.1f} MiB, {fmt(w)}, {fmt(rd)})",
                   f"{r.size / size:.2f}x", f"{r.store / w:.2f}x", f"{r.load / rd:.2f}x"]
            )  # fmt: skip
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
    widths = [max(len(c) for c in col) for col in zip(head, *rows)]
    out = ["  ".join(c.ljust(w) for c, w in zip(head, widths))]
    out.append("  ".join("-" * w for w in widths))
    return "\n".join(out + ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows])


def run(repeat: int = 3) -> list[Row]:
    """For ``run_all``: store and load of each type against the library's own first format."""
    rows = []
    for r in measure(repeat):
        name, _, w, rd = r.peers[0]
        rows.append(Row(f"{r.what}: store ({r.fmt.split()[0]})", r.store, name, w))
        rows.append(Row(f"{r.what}: load", r.load, f"{name}, read back", rd))
    return rows


if __name__ == "__main__":
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
    print(ratio_table(measure(repeat), markdown="--markdown" in sys.argv))
