"""Exact round trips: every value comes back equal and of the same type."""

from __future__ import annotations

import collections
import datetime
import decimal
import fractions
import json
import math
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import chkpt
from chkpt import Config, Stage, _serializers

Point = collections.namedtuple("Point", "x y")


def deep_equal(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, np.ndarray):
        return (
            a.dtype == b.dtype
            and a.shape == b.shape
            and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        )
    if isinstance(a, pd.Series):
        return a.equals(b) and a.dtype == b.dtype and a.name == b.name
    if isinstance(a, pd.DataFrame):
        return a.equals(b) and list(a.dtypes) == list(b.dtypes) and a.index.equals(b.index)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(deep_equal(a[k], b[k]) for k in a)
    return a == b


VALUES = {
    "str": "héllo",
    "json_dict": {"a": [1, 2.5, None, True, "x"], "b": {"c": -0.0}},
    "big_int": 2**100,
    "tuple": (1, "a", (2.0,)),
    "set": {1, 2, 3},
    "frozenset": frozenset({"a"}),
    "int_keys": {1: "a", 2: "b"},
    "nan": float("nan"),
    "inf": float("inf"),
    "neg_zero": -0.0,
    "bytes": b"\x00\xff",
    "bytearray": bytearray(b"ab"),
    "datetime": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
    "date": datetime.date(2024, 1, 2),
    "decimal": decimal.Decimal("1.10"),
    "fraction": fractions.Fraction(1, 3),
    "namedtuple": Point(1, 2),
    "uuid": uuid.UUID(int=7),
    "path": Path("/a/b"),
    "np_scalar": np.float32(1.5),
    "np_int": np.int64(7),
    "complex": 1 + 2j,
    "array": np.arange(12, dtype=np.float64).reshape(3, 4),
    "fortran": np.asfortranarray(np.arange(6).reshape(2, 3)),
    "noncontiguous": np.arange(20)[::3],
    "zero_d": np.array(3.5),
    "empty": np.zeros((0, 3), dtype=np.int16),
    "structured": np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
    "object_array": np.array([1, "a"], dtype=object),
    "frame": pd.DataFrame(
        {
            "i": [1, 2],
            "f": [0.5, np.nan],
            "s": ["a", "b"],
            "t": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        }
    ),
    "frame_index": pd.DataFrame({"x": [1, 2]}, index=["a", "b"]),
    "series": pd.Series([1, 2], name="s"),
}
EXPECTED = {
    "str": "json",
    "json_dict": "json",
    "big_int": "json",
    "array": "npy",
    "fortran": "npy",
    "frame": "arrow",
    "tuple": "pickle",
    "nan": "pickle",
}


@pytest.mark.parametrize("name", sorted(VALUES))
def test_round_trip_exact(name, tmp_path):
    value = VALUES[name]

    @Stage.wrap(name=name)
    def produce():
        return value

    pipeline = () >> produce
    pipeline(Config(dir=tmp_path))
    run = pipeline.run(Config(dir=tmp_path, load=True))
    assert run[name].action == "loaded"
    assert deep_equal(run.value, value), (run.value, value)
    entry = chkpt.open_store(tmp_path).entries(name)[0]
    if name in EXPECTED:
        assert entry.serializer == EXPECTED[name]


def test_json_is_readable_on_disk(tmp_path):
    store = chkpt.open_store(tmp_path)
    entry = store.save("s", "a" * 32, {"k": [1, 2]})
    assert json.loads(Path(entry.path).read_text()) == {"k": [1, 2]}


def test_per_stage_serializer_and_user_serializers(tmp_path):
    class Upper:
        id, ext, safe = "upper", "txt", True

        def accepts(self, value):
            return isinstance(value, str) and value.isupper()

        def dump(self, value, out):
            out.write(value.encode())

        def load(self, src):
            return src.read().decode()

    chkpt.register_serializer(Upper())
    try:

        @Stage.wrap()
        def shout():
            return "HELLO"

        @Stage.wrap(serializer="pickle")
        def pickled():
            return [1]

        (() >> shout)(Config(dir=tmp_path))
        (() >> pickled)(Config(dir=tmp_path))
        store = chkpt.open_store(tmp_path)
        assert store.entries("shout")[0].serializer == "upper"
        assert store.entries("pickled")[0].serializer == "pickle"
        assert (() >> shout)(Config(dir=tmp_path, load=True)) == "HELLO"
    finally:
        _serializers._USER.clear()


def test_unknown_serializer_name_is_a_clear_error():
    with pytest.raises(chkpt.SerializationError, match="unknown serializer 'nope'"):
        Stage(lambda: 1, serializer="nope")


def test_safe_mode_refuses_pickle(tmp_path):
    @Stage.wrap()
    def tup():
        return (1, 2)

    with pytest.warns(chkpt.StoreWarning, match="tup"):
        assert (() >> tup)(Config(dir=tmp_path, safe=True)) == (1, 2)
    assert chkpt.open_store(tmp_path).entries() == []


def test_a_value_json_cannot_write_falls_back_to_the_next_serializer(tmp_path):
    value = {"text": "lone surrogate \ud800"}  # passes the JSON type check, cannot be UTF-8 encoded

    @Stage.wrap()
    def odd_text():
        return value

    pipeline = () >> odd_text
    pipeline(Config(dir=tmp_path))
    assert chkpt.open_store(tmp_path).entries("odd_text")[0].serializer == "pickle"
    assert pipeline(Config(dir=tmp_path, load=True)) == value


def test_a_user_serializer_whose_check_raises_is_skipped(tmp_path):
    class Fussy:
        id, ext, safe = "fussy", "bin", True

        def accepts(self, value):
            raise RuntimeError("cannot decide")

        def dump(self, value, out):
            raise AssertionError("never called")

        def load(self, src):
            raise AssertionError("never called")

    chkpt.register_serializer(Fussy())
    try:
        assert (() >> Stage(lambda: [1, 2], name="plain"))(Config(dir=tmp_path)) == [1, 2]
        assert chkpt.open_store(tmp_path).entries("plain")[0].serializer == "json"
    finally:
        _serializers._USER.clear()


def test_a_named_serializer_that_cannot_hold_the_value_falls_back_with_a_warning(tmp_path):
    """``serializer="json"`` on a tuple: JSON would load a list. The tuple is stored by the best
    serializer that holds it exactly, and a warning names the stage."""

    @Stage.wrap(serializer="json")
    def pair():
        return (1, 2)

    pipeline = () >> pair
    with pytest.warns(chkpt.StoreWarning, match="'pair'.*json serializer cannot store a tuple"):
        assert pipeline(Config(dir=tmp_path)) == (1, 2)
    assert chkpt.open_store(tmp_path).entries("pair")[0].serializer == "pickle"
    loaded = pipeline.run(Config(dir=tmp_path, load=True))
    assert loaded.value == (1, 2) and type(loaded.value) is tuple
    assert loaded.actions() == {"pair": "loaded"}
