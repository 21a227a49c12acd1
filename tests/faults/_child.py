"""A pipeline run in a child process, with kill points, for the fault-injection tests and soak.

    python tests/faults/_child.py DIR KIND MB [SEED]

KIND is ``json`` (small values), ``npy`` (arrays of MB megabytes), ``pickle`` (a bytes blob of MB
megabytes inside a dict) or ``parquet``. Every stage's value is a pure function of (KIND, MB,
SEED), so anything loaded can be checked against ``expected``. Environment:

- ``CHKPT_TEST_KILL_AT=POINT[:N]`` SIGKILLs this process at the N-th (default 1st) passage of
  POINT: ``compute`` (inside a stage), ``dump`` (half-way through writing a payload),
  ``payload_written`` (payload complete, before its rename), ``payload_renamed`` (between the
  payload rename and the metadata rename), ``meta_written`` (before the metadata rename),
  ``meta_renamed`` (after it, before old entries are pruned).
- ``CHKPT_TEST_SLOW=SECONDS`` sleeps in the middle stage (to widen races).
- ``CHKPT_TEST_LOG=PATH`` appends ``stage`` to PATH each time a stage is computed.
- ``CHKPT_TEST_FAIL=1`` makes the middle stage raise.

Prints one JSON line: the result digest, wrong loads found by re-reading every stored entry, and
how many entries were checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import time
import warnings
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import chkpt  # noqa: E402
from chkpt import Config, Stage  # noqa: E402

STAGES = ("source", "middle", "sink")


def _log(name: str) -> None:
    path = os.environ.get("CHKPT_TEST_LOG")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{name} {os.getpid()}\n".encode())
        finally:
            os.close(fd)


def make_source(kind: str, mb: int, seed: int) -> Any:
    n = max(1, mb << 20)
    if kind == "json":
        return {"seed": seed, "items": [seed * i % 997 for i in range(200)], "name": "ß€"}
    if kind == "npy":
        import numpy as np

        return np.arange(n // 8, dtype=np.int64) * (seed + 1)
    if kind == "pickle":
        block = hashlib.sha256(str(seed).encode()).digest()
        return {"blob": block * (n // 32), "seed": seed}
    if kind == "parquet":
        import pandas as pd

        rows = max(10, n // 16)
        return pd.DataFrame({"a": range(rows), "b": [float(seed)] * rows})
    raise ValueError(kind)


def make_middle(kind: str, x: Any) -> Any:
    if kind == "json":
        return {**x, "items": [v + 1 for v in x["items"]]}
    if kind == "npy":
        return x + 1
    if kind == "pickle":
        return {"blob": x["blob"][::-1], "seed": x["seed"]}
    return x.assign(c=x["a"] * 2)


def digest(value: Any) -> str:
    """A content digest of any value the pipeline makes (to compare, not to store)."""
    h = hashlib.sha256()
    if type(value).__module__.startswith("numpy"):
        h.update(str(value.dtype).encode() + repr(value.shape).encode())
        h.update(memoryview(value).cast("B") if value.flags.c_contiguous else value.tobytes())
    elif type(value).__module__.startswith("pandas"):
        h.update(value.to_json().encode())
    elif isinstance(value, dict) and isinstance(value.get("blob"), bytes):
        h.update(value["blob"] + repr(value["seed"]).encode())
    else:
        h.update(json.dumps(value, sort_keys=True).encode())
    return h.hexdigest()


def expected(kind: str, mb: int, seed: int) -> dict[str, str]:
    """Digests of what each stage must hold."""
    src = make_source(kind, mb, seed)
    mid = make_middle(kind, src)
    sink = {"digest": digest(mid)}
    return {"source": digest(src), "middle": digest(mid), "sink": digest(sink)}


def pipeline(kind: str, mb: int, seed: int) -> chkpt.Pipeline:
    def source(kind: str, mb: int, seed: int) -> Any:
        _log("source")
        return make_source(kind, mb, seed)

    def middle(x: Any, kind: str) -> Any:
        _log("middle")
        _maybe_kill("compute")
        if os.environ.get("CHKPT_TEST_FAIL"):
            raise RuntimeError("middle failed on purpose")
        time.sleep(float(os.environ.get("CHKPT_TEST_SLOW", "0")))
        return make_middle(kind, x)

    def sink(x: Any) -> Any:
        _log("sink")
        return {"digest": digest(x)}

    a = Stage(source, name="source", version=1).bind(kind=kind, mb=mb, seed=seed)
    b = Stage(middle, name="middle", version=1).bind(kind=kind)
    c = Stage(sink, name="sink", version=1)
    return a >> b >> c


# -- kill points -------------------------------------------------------------------------------

_COUNTS: dict[str, int] = {}


def _due(point: str) -> bool:
    """Count a passage of ``point``; True on the one the environment asks to die at."""
    name, _, nth = os.environ.get("CHKPT_TEST_KILL_AT", "").partition(":")
    if name != point:
        return False
    _COUNTS[point] = _COUNTS.get(point, 0) + 1
    return _COUNTS[point] == int(nth or 1)


def _maybe_kill(point: str) -> None:
    if _due(point):
        os.kill(os.getpid(), signal.SIGKILL)


def install_kill_points() -> None:
    """Wrap the store's real file operations so the process can die exactly between them."""
    from chkpt import _fs, _integrity

    real_commit = _fs.LocalFS.commit
    calls = {"n": 0}

    def commit(self: Any, temp: Any, dst: str) -> None:
        calls["n"] += 1
        what = "meta" if dst.endswith(".meta.json") else "payload"
        _maybe_kill(f"{what}_written")
        real_commit(self, temp, dst)
        _maybe_kill(f"{what}_renamed")

    _fs.LocalFS.commit = commit  # type: ignore[method-assign]

    real_write = _integrity.HashingWriter.write

    def write(self: Any, data: Any) -> int:
        if _due("dump"):  # die with half of this write on disk
            view = memoryview(data).cast("B")
            real_write(self, view[: len(view) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        return real_write(self, data)

    _integrity.HashingWriter.write = write  # type: ignore[method-assign]


def check_store(
    directory: str, kind: str, mb: int, seed: int, keys: dict[str, str]
) -> tuple[int, int]:
    """(wrong loads, entries checked): every loadable entry of this run's keys (``{stage: key}``)
    must hold exactly its stage's value."""
    want = expected(kind, mb, seed)
    store = chkpt.open_store(directory)
    wrong = checked = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for entry in store.entries():
            if keys.get(entry.stage) != entry.key:
                continue  # another configuration's entry
            try:
                value = store.load(entry)
            except chkpt.CorruptCheckpointError:
                continue
            checked += 1
            wrong += digest(value) != want.get(entry.stage)
    return wrong, checked


def main(argv: list[str]) -> int:
    directory, kind, mb = argv[0], argv[1], int(argv[2])
    seed = int(argv[3]) if len(argv) > 3 else 0
    install_kill_points()
    if os.environ.get("CHKPT_TEST_NO_LOCK"):  # as where flock is unavailable
        from chkpt import _lock

        _lock.fcntl = None
    if os.environ.get("CHKPT_TEST_FSIZE"):  # a "disk" that fills up at this many bytes per file
        import resource

        limit = int(os.environ["CHKPT_TEST_FSIZE"])
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = pipeline(kind, mb, seed).run(Config(dir=directory, load=True))
    report = {r.stage: r.action for r in result.stages}
    keys = {r.stage: r.key for r in result.stages}
    wrong, checked = check_store(directory, kind, mb, seed, keys)
    out = {
        "sink": result.value["digest"],
        "ok": digest(result.value) == expected(kind, mb, seed)["sink"],
        "wrong": wrong,
        "checked": checked,
        "actions": report,
        "warnings": [str(w.message) for w in caught],
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
