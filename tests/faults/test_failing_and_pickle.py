"""Failing stages keep their upstream; pickles are code (owner-only dirs, refused when shared)."""

from __future__ import annotations

import os
import pickle
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import chkpt
from chkpt import Config, Stage

# -- failing stages ---------------------------------------------------------------------------


def chain(calls, fail):
    def source():
        calls.append("source")
        return np.arange(10)

    def middle(x):
        calls.append("middle")
        if fail:
            raise RuntimeError("boom")
        return x * 2

    def sink(x):
        calls.append("sink")
        return int(x.sum())

    return (
        Stage(source, name="source", version=1)
        >> Stage(middle, name="middle", version=1)
        >> Stage(sink, name="sink", version=1)
    )


def test_failing_stage_stores_nothing_keeps_upstream_and_resumes(tmp_path):
    root = tmp_path / "store"
    calls: list[str] = []
    with pytest.raises(RuntimeError, match="boom"):
        chain(calls, fail=True)(Config(dir=root, load=True))
    store = chkpt.open_store(root)
    assert [e.stage for e in store.entries()] == ["source"]
    assert not list((root / "middle").glob("*.tmp")) if (root / "middle").exists() else True
    calls.clear()
    assert chain(calls, fail=False)(Config(dir=root, load=True)) == 90
    assert calls == ["middle", "sink"]  # resumed from the stored upstream


# -- pickle is code ---------------------------------------------------------------------------


class Marker:
    """Unpickling it creates a file: proof that pickle code ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def stored_pickle(tmp_path: Path) -> tuple[chkpt.Store, chkpt.Entry]:
    store = chkpt.open_store(tmp_path / "store")
    return store, store.save("obj", "ab" * 16, {"set": {1, 2}})


def test_store_is_owner_only(tmp_path):
    old = os.umask(0o022)
    try:
        store, entry = stored_pickle(tmp_path)
    finally:
        os.umask(old)
    for path in (tmp_path / "store", Path(entry.path).parent):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    for f in Path(entry.path).parent.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


@pytest.mark.parametrize("target", ["dir", "file"])
@pytest.mark.parametrize("bits", [stat.S_IWGRP, stat.S_IWOTH])
def test_refuses_to_unpickle_from_shared_writable_places(tmp_path, target, bits):
    store, entry = stored_pickle(tmp_path)
    path = Path(entry.path).parent if target == "dir" else Path(entry.path)
    path.chmod(stat.S_IMODE(path.stat().st_mode) | bits)
    with pytest.raises(chkpt.UnsafeStoreError, match=f"'obj'.*{path}.*writable by other users"):
        store.load(store.lookup("obj", "ab" * 16))


def test_runner_recomputes_instead_of_unpickling_a_planted_pickle(tmp_path):
    root = tmp_path / "store"
    calls: list[str] = []

    def make():
        calls.append("make")
        return {"set": {1, 2}, "pad": "x" * 400}

    pipe = () >> Stage(make, name="obj", version=1)
    pipe(Config(dir=root))
    entry = chkpt.open_store(root).entries()[0]
    marker = tmp_path / "pwned"
    evil = pickle.dumps(Marker(str(marker)), protocol=5)
    Path(entry.path).parent.chmod(0o777)  # a shared dir: anyone could have written this
    Path(entry.path).write_bytes(evil + b"." * (entry.size - len(evil)))
    calls.clear()
    with pytest.warns(chkpt.StoreWarning, match="'obj'.*writable by other users"):
        assert pipe(Config(dir=root, load=True))["set"] == {1, 2}
    assert calls == ["make"] and not marker.exists()


def test_safe_config_never_unpickles_and_stores_only_safe_formats(tmp_path):
    """Bug: Config(safe=True) only restricted writing; a pickle stored earlier under the same
    key was still unpickled on load."""
    root = tmp_path / "store"
    calls: list[str] = []

    def make():
        calls.append("make")
        return {"set": {1, 2}}

    pipe = () >> Stage(make, name="obj", version=1)
    pipe(Config(dir=root))  # stored as pickle
    calls.clear()
    with pytest.warns(chkpt.StoreWarning) as caught:
        assert pipe(Config(dir=root, load=True, safe=True)) == {"set": {1, 2}}
    assert calls == ["make"]
    text = " ".join(str(w.message) for w in caught)
    assert "Config(safe=True)" in text and "'obj'" in text and str(root) in text


@pytest.mark.parametrize(
    "value",
    [{"a": [1, 2]}, np.arange(100), pd.DataFrame({"a": [1, 2]}, index=["x", "y"])],
    ids=["json", "npy", "arrow"],
)
def test_safe_config_stores_and_loads_safe_formats(tmp_path, value):
    root = tmp_path / "store"
    pipe = () >> Stage(lambda: value, name="v", version=1)
    pipe(Config(dir=root, safe=True))
    entry = chkpt.open_store(root).entries()[0]
    assert entry.serializer in ("json", "npy", "arrow")
    loaded = chkpt.open_store(root, safe=True).load(entry)
    assert type(loaded) is type(value)


def test_npy_with_pickled_objects_is_not_a_safe_format(tmp_path):
    value = np.array([{"a": 1}, None], dtype=object)
    with pytest.warns(chkpt.StoreWarning, match="no safe serializer"):
        out = (() >> Stage(lambda: value, name="objs", version=1))(
            Config(dir=tmp_path / "s", safe=True)
        )
    assert out is value
