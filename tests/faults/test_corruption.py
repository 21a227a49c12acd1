"""Any stored file truncated, bit-flipped, emptied, replaced or deleted: detected, never loaded."""

from __future__ import annotations

import json
import os
import pickle
import random
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import chkpt
from chkpt import Config, Stage

VALUES = {
    "json": {"a": [1, 2.5, "x"], "b": None},
    "npy": np.arange(50_000, dtype=np.float64),
    "pickle": {"t": (1, 2), "s": {3}, "blob": b"\x00\x01" * 5000},
    "parquet": pd.DataFrame({"a": range(2000), "b": [0.5] * 2000}),  # now Arrow IPC
    "arrow": pd.DataFrame({"b": [0.5] * 2000}, index=pd.date_range("2024", periods=2000, tz="UTC")),
    "sparse": sp.random(200, 200, density=0.05, format="csr", random_state=0),
}


def equal(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return bool(np.array_equal(a, b))
    if isinstance(a, pd.DataFrame):
        return a.equals(b)
    if sp.issparse(a):
        return type(a) is type(b) and (a != b).nnz == 0
    return a == b and type(a) is type(b)


def corrupt(path: Path, how: str, rng: random.Random) -> None:
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "delete":
        path.unlink()
    elif how == "garbage":  # same size: only the checksum can tell
        path.write_bytes(rng.randbytes(len(data)))
    elif how == "append":
        path.write_bytes(data + b"\x00")
    elif how.startswith("bitflip"):
        buf = bytearray(data)
        i = rng.randrange(len(buf)) if how == "bitflip" else len(buf) - 1
        buf[i] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(buf))
    else:
        raise ValueError(how)


def pipeline(kind: str, calls: list[str]) -> chkpt.Pipeline:
    def make():
        calls.append("make")
        return VALUES[kind]

    def use(x):
        calls.append("use")
        return {"ok": equal(x, VALUES[kind])}

    return Stage(make, name=f"make_{kind}", version=1) >> Stage(use, name="use", version=1)


def files_of(root: Path, stage: str) -> tuple[Path, Path]:
    d = root / stage
    meta = next(d.glob("*.meta.json"))
    payload = d / json.loads(meta.read_text())["payload"]
    return payload, meta


HOWS = ["truncate", "empty", "delete", "garbage", "append", "bitflip", "bitflip_last"]


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("target", ["payload", "meta"])
@pytest.mark.parametrize("kind", list(VALUES))
def test_corruption_is_detected_and_recomputed(tmp_path, kind, target, how):
    root = tmp_path / "store"
    calls: list[str] = []
    pipe = pipeline(kind, calls)
    assert pipe(Config(dir=root)) == {"ok": True}
    payload, meta = files_of(root, f"make_{kind}")
    corrupt(payload if target == "payload" else meta, how, random.Random(f"{kind}{target}{how}"))
    calls.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = pipe(Config(dir=root, load=[f"make_{kind}"]))  # `use` must load `make`
    assert result == {"ok": True}  # never a wrong value, never an exception
    messages = [str(w.message) for w in caught if issubclass(w.category, chkpt.StoreWarning)]
    detected = calls == ["make", "use"]
    if target == "payload" or how not in ("bitflip", "bitflip_last"):
        assert detected, (calls, messages)
    if detected and how != "delete" or target == "payload":
        # a damaged file is reported with its stage and path (a deleted metadata file is a miss)
        assert messages, calls
        assert all(f"make_{kind}" in m and str(root) in m for m in messages), messages
    # the next run stores a good checkpoint again and loads it
    calls.clear()
    assert pipe(Config(dir=root, load=True)) == {"ok": True}
    assert calls == []


def test_metadata_pointing_to_another_key_is_refused(tmp_path):
    """Bug: a metadata file copied over another key's was served for the wrong key."""
    store = chkpt.open_store(tmp_path)
    a, b = "a" * 32, "b" * 32
    store.save("s", a, "value of a")
    store.save("s", b, "value of b")
    (tmp_path / "s" / f"{b}.meta.json").write_bytes(
        (tmp_path / "s" / f"{a}.meta.json").read_bytes()
    )
    with pytest.warns(chkpt.StoreWarning, match="another key or stage"):
        assert store.lookup("s", b) is None
    assert store.load(store.lookup("s", a)) == "value of a"


def test_unknown_serializer_in_metadata_is_a_miss_not_a_crash(tmp_path):
    """Bug: metadata naming an unregistered serializer raised SerializationError out of the run."""
    root = tmp_path / "store"
    calls: list[str] = []
    pipe = pipeline("json", calls)
    pipe(Config(dir=root))
    _, meta = files_of(root, "make_json")
    data = json.loads(meta.read_text())
    data["serializer"] = "not_registered"
    meta.write_text(json.dumps(data))
    calls.clear()
    with pytest.warns(chkpt.StoreWarning, match="not_registered.*not registered here"):
        assert pipe(Config(dir=root, load=["make_json"])) == {"ok": True}
    assert calls == ["make", "use"]


def test_damaged_pickle_is_never_unpickled(tmp_path):
    """Bug: pickle bytes reached pickle.load before the checksum was compared, so a damaged
    (or swapped) payload ran code on load. Now pickles are verified first."""
    store = chkpt.open_store(tmp_path / "s")
    entry = store.save("st", "c" * 32, {"x": (1, 2), "pad": "p" * 500})
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = pickle.dumps(Evil(), protocol=5)
    size = entry.size
    assert len(evil) < size
    Path(entry.path).write_bytes(evil + b"." * (size - len(evil)))  # same size as the real one
    with pytest.raises(chkpt.CorruptCheckpointError, match="checksum mismatch"):
        store.load(store.lookup("st", "c" * 32))
    assert not marker.exists()


def test_mmap_load_verifies_the_checksum(tmp_path):
    """Bug: Config(mmap=True) checked only the size of .npy files, so a flipped bit was served."""
    store = chkpt.open_store(tmp_path / "s")
    entry = store.save("arr", "d" * 32, np.arange(1000, dtype=np.int64))
    buf = bytearray(Path(entry.path).read_bytes())
    buf[-3] ^= 0x10
    Path(entry.path).write_bytes(bytes(buf))
    with pytest.raises(chkpt.CorruptCheckpointError, match="'arr'.*checksum mismatch"):
        store.load(store.lookup("arr", "d" * 32), mmap=True)


def test_mmap_load_of_a_good_array(tmp_path):
    store = chkpt.open_store(tmp_path / "s")
    entry = store.save("arr", "d" * 32, np.arange(1000, dtype=np.int64))
    value = store.load(entry, mmap=True)
    assert isinstance(value, np.memmap) and value[999] == 999


def test_payload_replaced_by_a_directory_or_fifo_name(tmp_path):
    store = chkpt.open_store(tmp_path / "s")
    entry = store.save("st", "e" * 32, [1, 2, 3])
    os.remove(entry.path)
    os.mkdir(entry.path)
    with pytest.warns(chkpt.StoreWarning, match="'st'.*wrong size"):
        assert store.lookup("st", "e" * 32) is None
