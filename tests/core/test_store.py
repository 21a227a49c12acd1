"""The store: readable layout, atomic entries, integrity, names that cannot escape, retention."""

from __future__ import annotations

import json
import os
import pathlib
import time
import warnings

import pytest

import chkpt
from chkpt import Config, Stage, _integrity, _store

KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture(params=["local", "memory"])
def store(request, tmp_path):
    """The contract holds for a local directory and for an fsspec filesystem."""
    if request.param == "local":
        return chkpt.open_store(tmp_path / "store")
    pytest.importorskip("fsspec")
    return chkpt.open_store(f"memory://chkpt-test-{os.getpid()}-{id(request)}")


def test_save_lookup_load(store):
    entry = store.save("stage", KEY, {"a": 1}, fingerprint="fp", inputs={"0:up": "json:x"})
    assert store.lookup("stage", KEY) == entry
    assert store.load(entry) == {"a": 1}
    assert entry.digest.startswith("json:") and entry.size > 0
    assert store.lookup("stage", "f" * 32) is None
    assert store.lookup("other", KEY) is None
    assert [e.key for e in store.entries()] == [KEY]
    assert store.stages() == ["stage"]
    assert store.clear("stage") == 1 and store.entries() == []


def test_layout_is_readable(tmp_path):
    store = chkpt.open_store(tmp_path)
    entry = store.save("load data", KEY, [1, 2])
    stage_dir = tmp_path / _store.safe_name("load data")
    files = sorted(os.listdir(stage_dir))
    assert files == sorted([f"{KEY}.meta.json", os.path.basename(entry.path)])
    meta = json.loads((stage_dir / f"{KEY}.meta.json").read_text())
    assert meta["stage"] == "load data" and meta["key"] == KEY and meta["serializer"] == "json"
    assert oct(os.stat(stage_dir).st_mode & 0o777) == "0o700"


@pytest.mark.parametrize(
    "name", ["..", "../escape", "/etc/passwd", "a/b", "con", "x\x00y\n", "é" * 300, ".hidden", ""]
)
def test_stage_names_never_escape(tmp_path, name):
    root = tmp_path / "root"
    store = chkpt.open_store(root)
    if not name:
        with pytest.raises(ValueError):
            Stage(lambda: 1, name=name)
        return
    entry = store.save(name, KEY, 1)
    assert os.path.realpath(entry.path).startswith(str(root) + os.sep)
    assert len(os.path.basename(os.path.dirname(entry.path))) <= 90
    assert store.lookup(name, KEY) == entry
    assert not (tmp_path / "escape").exists()


def test_colliding_clean_names_never_serve_each_other(tmp_path):
    store = chkpt.open_store(tmp_path)
    store.save("a/b", KEY, "slash")
    store.save("a_b", KEY, "underscore")
    assert store.load(store.lookup("a/b", KEY)) == "slash"
    assert store.load(store.lookup("a_b", KEY)) == "underscore"


def test_corrupt_payload_is_detected_and_recomputed(tmp_path, calls):
    @Stage.wrap()
    def value():
        calls("value")
        return list(range(100))

    pipeline = () >> value
    pipeline(Config(dir=tmp_path))
    entry = chkpt.open_store(tmp_path).entries("value")[0]
    path = pathlib.Path(entry.path)
    data = bytearray(path.read_bytes())
    data[10] ^= 0x01  # same size, one bit different
    path.write_bytes(bytes(data))
    with pytest.warns(chkpt.StoreWarning, match="'value'.*(checksum mismatch|cannot decode)"):
        assert pipeline(Config(dir=tmp_path, load=True)) == list(range(100))
    assert calls["value"] == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the recomputed value was stored again: a clean hit now
        assert pipeline(Config(dir=tmp_path, load=True)) == list(range(100))


def test_corrupt_metadata_is_reported_not_raised(tmp_path):
    store = chkpt.open_store(tmp_path)
    store.save("s", KEY, 1)
    meta = tmp_path / "s" / f"{KEY}.meta.json"
    meta.write_text('{"format": 1, "stage": "s"}')
    with pytest.warns(chkpt.StoreWarning, match="unreadable metadata"):
        assert store.lookup("s", KEY) is None


def test_retention_keeps_the_newest_entries(tmp_path):
    for i in range(4):  # four runs, each with its own store
        chkpt.open_store(tmp_path, keep=2).save("s", f"{i:032x}", i)
    store = chkpt.open_store(tmp_path)
    assert sorted(e.key for e in store.entries("s")) == [f"{2:032x}", f"{3:032x}"]
    assert len(os.listdir(tmp_path / "s")) == 4  # two entries, two files each


def test_gc_removes_orphans_and_temps(tmp_path):
    store = chkpt.open_store(tmp_path)
    store.save("s", KEY, 1)
    (tmp_path / "s" / ".999999999@elsewhere-a1b2c3d4.tmp").write_bytes(b"half")
    (tmp_path / "s" / ".editor.tmp").write_bytes(b"not ours")  # another program's: kept
    (tmp_path / "s" / f"{'e' * 32}.{'0' * 16}.json").write_bytes(b"1")
    assert store.gc(grace=0) == 2
    assert store.lookup("s", KEY) is not None


def test_pickle_from_a_shared_writable_dir_is_refused(tmp_path, calls):
    @Stage.wrap()
    def tup():
        calls("tup")
        return (1, 2)

    pipeline = () >> tup
    pipeline(Config(dir=tmp_path))
    os.chmod(tmp_path / "tup", 0o777)
    with pytest.warns(chkpt.StoreWarning, match="writable by other users"):
        assert pipeline(Config(dir=tmp_path, load=True)) == (1, 2)
    assert calls["tup"] == 2


def test_chkpt_dir_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("CHKPT_DIR", str(tmp_path / "env"))
    (() >> Stage(lambda: 1, name="one"))()
    assert (tmp_path / "env" / "one").is_dir()
    assert Config().path == str(tmp_path / "env")


def test_mmap_hits_are_verified_once_per_file_version(tmp_path, monkeypatch):
    import numpy as np

    monkeypatch.setattr(_integrity, "RACY_NS", 0)  # trust timestamps at once, for the test
    store = chkpt.open_store(tmp_path)
    entry = store.save("arr", KEY, np.arange(1000.0))
    first = store.load(entry, mmap=True)
    assert isinstance(first, np.memmap) and first[999] == 999.0
    assert entry.path in _integrity.VERIFIED  # a repeat hit costs a stat, not a re-hash
    assert store.load(entry, mmap=True)[5] == 5.0
    del first
    time.sleep(0.05)  # past the timestamp granularity
    path = pathlib.Path(entry.path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x40  # damaged in place, same size: the file's ctime moves on
    path.write_bytes(bytes(data))
    with pytest.raises(chkpt.CorruptCheckpointError, match="checksum mismatch"):
        store.load(entry, mmap=True)
