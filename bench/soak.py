"""Soak test of the store's guarantees: random kills, corruption, concurrent writers, and the
cost of checksum verification. Prints its figures; ``wrong loads`` must be 0.

    .venv/bin/python bench/soak.py                       # 200 kills, 4 writers for 60 s
    .venv/bin/python bench/soak.py --kills 20 --seconds 10 --verify-mb 64   # a quick look

Real processes, real files: each kill is a SIGKILL, either at a named point of storing (inside a
stage, half-way through a payload write, between the payload rename and the metadata rename...)
or from outside after a random delay. A run after kills must give the right result, and every
stored entry is re-read and compared with what its stage returns.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "faults"))

import chkpt  # noqa: E402

POINTS = ["compute", "dump", "payload_written", "payload_renamed", "meta_written", "meta_renamed"]
CHILD = ROOT / "tests" / "faults" / "_child.py"


def child(directory: Path, kind: str, mb: int, seed: int, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(directory), kind, str(mb), str(seed)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> dict | None:
    out, err = proc.communicate(timeout=600)
    if proc.returncode == -signal.SIGKILL:
        return None
    if proc.returncode != 0:
        raise SystemExit(f"a child failed unexpectedly:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


class Figures:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.kills = self.checks = self.wrong = self.runs = self.detected = 0
        self.harmless = self.corruptions = self.writer_kills = 0

    def check(self, report: dict | None) -> None:
        with self.lock:
            self.runs += 1
            if report is not None:
                self.checks += report["checked"]
                self.wrong += report["wrong"] + (not report["ok"])


def kills(work: Path, n: int, big_mb: int, rng: random.Random, fig: Figures) -> None:
    """``n`` SIGKILLs at random points, each store accumulating the damage of many kills."""
    kinds = ["json", "npy", "pickle", "parquet"]
    i = -1
    while fig.kills < n:  # a kill point a run never reaches is not a kill: go on until n
        i += 1
        kind = kinds[i % len(kinds)]
        mb = big_mb if i % 25 == 1 and kind in ("npy", "pickle") else rng.choice([1, 2, 4])
        directory = work / f"kill-{kind}-{mb}"
        seed = rng.randrange(3)
        if rng.random() < 0.3:  # from outside, at a random moment
            proc = child(directory, kind, mb, seed)
            time.sleep(rng.uniform(0.05, 1.0 if mb < 100 else 3.0))
            proc.send_signal(signal.SIGKILL)
        else:
            point = f"{rng.choice(POINTS)}:{rng.randint(1, 3)}"
            proc = child(directory, kind, mb, seed, CHKPT_TEST_KILL_AT=point)
        report = finish(proc)
        fig.kills += report is None
        fig.check(report)
        if rng.random() < 0.35:  # the next run must be right
            fig.check(finish(child(directory, kind, mb, seed)))
    for directory in work.glob("kill-*"):  # final check of every store, every seed
        kind, mb = directory.name.split("-")[1], int(directory.name.split("-")[2])
        for seed in range(3):
            fig.check(finish(child(directory, kind, mb, seed)))


def corruptions(work: Path, rounds: int, rng: random.Random, fig: Figures) -> None:
    """Damage one stored file at random and load: detected, or (metadata only) harmless."""
    import numpy as np

    store = chkpt.open_store(work / "corrupt")
    values = [{"a": [1, 2, 3], "b": "x" * 50}, np.arange(5000), {"t": (1, 2), "b": b"z" * 900}]
    for r in range(rounds):
        value = values[r % len(values)]
        key = f"{r:032x}"
        entry = store.save("victim", key, value)
        meta = Path(entry.path).with_name(key + ".meta.json")
        target = Path(entry.path) if rng.random() < 0.5 else meta
        data = bytearray(target.read_bytes())
        how = rng.choice(["truncate", "flip", "empty", "garbage", "delete", "append"])
        if how == "truncate":
            data = data[: rng.randrange(len(data))]
        elif how == "flip":
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif how == "empty":
            data = bytearray()
        elif how == "garbage":
            data = bytearray(rng.randbytes(len(data)))
        elif how == "append":
            data += b"\n"
        if how == "delete":
            target.unlink()
        else:
            target.write_bytes(bytes(data))
        fig.corruptions += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = store.lookup("victim", key)
            try:
                loaded = store.load(found) if found is not None else None
            except chkpt.CorruptCheckpointError:
                loaded = None
            store.clear("victim")
        if loaded is None:
            fig.detected += 1
        elif _same(loaded, value):
            fig.harmless += 1  # e.g. a flipped bit in the "created" time of the metadata
        else:
            fig.wrong += 1
            print(f"WRONG LOAD after {how} of {target}", file=sys.stderr)


def _same(a, b) -> bool:
    import numpy as np

    if isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    return a == b and type(a) is type(b) and repr(a) == repr(b)


def writers(work: Path, n: int, seconds: float, rng: random.Random, fig: Figures) -> int:
    """``n`` writers running pipelines on one directory for ``seconds``, colliding on keys,
    some killed at random, with gc running alongside."""
    directory = work / "shared"
    deadline = time.monotonic() + seconds
    stop = threading.Event()

    def writer(w: int) -> None:
        wr = random.Random(rng.random())
        while time.monotonic() < deadline:
            kind, mb = wr.choice([("json", 1), ("npy", 4), ("pickle", 2)])
            proc = child(
                directory, kind, mb, wr.randrange(4), CHKPT_TEST_SLOW=str(wr.uniform(0, 0.2))
            )
            if wr.random() < 0.1:
                time.sleep(wr.uniform(0, 0.5))
                proc.send_signal(signal.SIGKILL)
            report = finish(proc)
            with fig.lock:
                fig.writer_kills += report is None
            fig.check(report)

    def collector() -> None:
        store = chkpt.open_store(directory)
        while not stop.wait(2.0):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                store.gc(grace=5.0)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(n)]
    gc = threading.Thread(target=collector)
    gc.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    gc.join()
    return n


def verification_cost(work: Path, mb: int) -> list[tuple[str, float, float]]:
    """(format, verified load seconds, plain read seconds), best of 3, warm page cache."""
    import numpy as np

    store = chkpt.open_store(work / "cost")
    rows = []
    for name, value in [
        ("npy", np.arange((mb << 20) // 8, dtype=np.int64)),
        ("pickle", {"blob": os.urandom(1 << 20) * mb}),
    ]:
        entry = store.save(name, "ab" * 16, value)
        del value

        def verified(entry=entry):
            store.load(entry)

        def plain(entry=entry, name=name):
            if name == "npy":
                np.load(entry.path)
            else:
                import pickle

                with open(entry.path, "rb") as f:
                    pickle.load(f)

        plain()
        rows.append((name, best(verified), best(plain)))
    return rows


def best(fn, n: int = 3) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=200)
    ap.add_argument("--big-mb", type=int, default=120, help="size of the large arrays/blobs")
    ap.add_argument("--corruptions", type=int, default=600)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=60.0, help="how long the writers run")
    ap.add_argument("--verify-mb", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    fig = Figures()
    work = Path(tempfile.mkdtemp(prefix="chkpt-soak-"))
    try:
        t0 = time.perf_counter()
        kills(work, args.kills, args.big_mb, rng, fig)
        t1 = time.perf_counter()
        corruptions(work, args.corruptions, rng, fig)
        runs_before = fig.runs
        writers(work, args.writers, args.seconds, rng, fig)
        concurrent = fig.runs - runs_before
        t2 = time.perf_counter()
        cost = verification_cost(work, args.verify_mb)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"chkpt soak (seed {args.seed}, {os.cpu_count()} cores)")
    print(f"  kills survived (SIGKILL)          {fig.kills}  ({t1 - t0:.0f}s of kill phase)")
    print(f"  runs checked                      {fig.runs}")
    print(f"  stored entries re-read and compared {fig.checks}")
    print(f"  corruptions injected              {fig.corruptions}")
    print(f"    detected (refused, recomputed)  {fig.detected}")
    print(f"    harmless (value still exact)    {fig.harmless}")
    print(f"  concurrent runs ({args.writers} writers, {args.seconds:.0f}s)  {concurrent}")
    print(f"    of which killed at random       {fig.writer_kills}")
    print(f"  wrong loads                       {fig.wrong}")
    print(f"  checksum verification on load ({args.verify_mb} MB, best of 3, warm cache):")
    for name, verified, plain in cost:
        print(
            f"    {name:7s} verified {verified:.3f}s  plain read {plain:.3f}s  "
            f"ratio {verified / plain:.2f}x"
        )
    print(f"  total {time.perf_counter() - t0:.0f}s ({t2 - t0:.0f}s before the cost measurement)")
    return 1 if fig.wrong else 0


if __name__ == "__main__":
    sys.exit(main())
