"""Hostile stage names never write outside the store; hostile metadata is rejected cleanly."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chkpt
from chkpt import Config, Stage
from chkpt._store import safe_name

HOSTILE = [
    "..",
    ".",
    "../escape",
    "../../../../tmp/escape",
    "/etc/passwd",
    "/",
    "a/b/c",
    "a\\b",
    "C:\\Windows\\x",
    "\x00",
    "nul\x00byte",
    "tab\tnew\nline\r",
    "\x1b[31mred",
    "con",
    "NUL.txt",
    "lpt1",
    "aux",
    " ",
    "~",
    "$HOME",
    "x" * 10_000,
    "é" * 300,
    "\ud800",
    ".hidden",
    "-rf",
    "a" + "/.." * 50,
]


def all_files(root: Path) -> set[str]:
    return {os.path.join(d, f) for d, _, files in os.walk(root) for f in files}


@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_stage_name_stays_inside(tmp_path, name):
    store_dir = tmp_path / "outer" / "store"
    before = all_files(tmp_path)
    stage = Stage(lambda: {"v": 1}, name=name, version=1)
    pipe = () >> stage
    assert pipe(Config(dir=store_dir)) == {"v": 1}
    assert pipe(Config(dir=store_dir, load=True)) == {"v": 1}
    new = all_files(tmp_path) - before
    assert new and all(Path(f).resolve().is_relative_to(store_dir.resolve()) for f in new)
    store = chkpt.open_store(store_dir)
    assert [e.stage for e in store.entries()] == [name]
    assert store.clear(name) == 1
    assert not all_files(store_dir)


@pytest.mark.parametrize("name", ["", *HOSTILE], ids=range(len(HOSTILE) + 1))
def test_hostile_names_at_the_store_level(tmp_path, name):
    store_dir = tmp_path / "outer" / "store"
    store = chkpt.open_store(store_dir)
    entry = store.save(name, "ab" * 16, ["v"])
    assert Path(entry.path).resolve().parent.parent == store_dir.resolve()
    assert store.load(store.lookup(name, "ab" * 16)) == ["v"]
    assert all(Path(f).resolve().is_relative_to(store_dir.resolve()) for f in all_files(tmp_path))


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_safe_name_is_one_plain_path_component(name):
    cleaned = safe_name(name)
    assert cleaned not in ("", ".", "..")
    assert "/" not in cleaned and "\\" not in cleaned and "\x00" not in cleaned
    assert len(cleaned) <= 89 and cleaned.isascii() and cleaned.isprintable()
    assert not cleaned.startswith(".")  # never hidden, never mistaken for a temp or lock file
    assert safe_name(name) == cleaned


def test_colliding_cleaned_names_never_serve_each_other(tmp_path):
    store = chkpt.open_store(tmp_path)
    key = "f" * 32
    store.save("a/b", key, "slash")
    assert safe_name("a/b") != safe_name("a_b")
    store.save("a_b", key, "underscore")
    assert store.load(store.lookup("a/b", key)) == "slash"
    assert store.load(store.lookup("a_b", key)) == "underscore"


# -- metadata ---------------------------------------------------------------------------------

KEY = "ab" * 16
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    root = tmp_path_factory.mktemp("meta")
    store = chkpt.open_store(root)
    store.save("stage", KEY, {"right": [1, 2, 3]})
    meta = root / "stage" / f"{KEY}.meta.json"
    return root, meta, json.loads(meta.read_text())


def check_never_wrong(root: Path, meta: Path, raw: bytes) -> None:
    """Whatever the metadata says: lookup is None or the load is right or CorruptCheckpointError."""
    meta.write_bytes(raw)
    store = chkpt.open_store(root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", chkpt.StoreWarning)
        entry = store.lookup("stage", KEY)
        listed = store.entries()
    if entry is None:
        return
    assert [e.key for e in listed] == [KEY]
    try:
        value = store.load(entry)
    except chkpt.CorruptCheckpointError as exc:
        assert "'stage'" in str(exc) and str(root) in str(exc)
        return
    assert value == {"right": [1, 2, 3]}


@given(
    field=st.sampled_from(list(chkpt.Entry.__dataclass_fields__) + ["format"]), value=json_values
)
@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_fuzzed_metadata_fields(good, field, value):
    root, meta, data = good
    check_never_wrong(root, meta, json.dumps({**data, field: value}).encode())


@given(value=json_values)
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_fuzzed_metadata_documents(good, value):
    root, meta, _ = good
    check_never_wrong(root, meta, json.dumps(value).encode())


@given(raw=st.binary(max_size=2000))
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_fuzzed_metadata_bytes(good, raw):
    root, meta, _ = good
    check_never_wrong(root, meta, raw)


@given(pos=st.integers(0, 10_000), bit=st.integers(0, 7))
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_every_bit_flip_of_metadata(good, pos, bit):
    root, meta, data = good
    raw = bytearray(json.dumps(data, sort_keys=True, indent=1).encode())
    raw[pos % len(raw)] ^= 1 << bit
    check_never_wrong(root, meta, bytes(raw))


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,  # deep nesting
        b'{"format": 1, "pad": "' + b"x" * (2 << 20) + b'"}',  # huge
        b'{"format": 1, "size": 1' + b"0" * 5000 + b"}",  # huge integer
        b"\xff\xfe\x00garbage",
        b'{"format": 1, "stage": "stage", "key": "' + KEY.encode() + b'", "size": NaN}',
    ],
    ids=["deep", "huge", "bigint", "binary", "nan"],
)
def test_extreme_metadata_is_rejected_with_a_warning(good, raw):
    root, meta, _ = good
    meta.write_bytes(raw)
    with pytest.warns(chkpt.StoreWarning, match="'stage'.*" + str(meta).replace("\\", "\\\\")):
        assert chkpt.open_store(root).lookup("stage", KEY) is None
