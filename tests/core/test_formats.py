"""PyData values in safe native formats: Arrow IPC, sparse ``.npy`` components, PNG, plugins.

Every value either comes back exactly (same types, dtypes, index, names, freq) from a safe format,
or falls through to pickle: never an inexact checkpoint.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import scipy.sparse as sp
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from hypothesis.extra import pandas as hpd
from PIL import Image

import chkpt
from chkpt import Config, Stage

ROOT = Path(__file__).resolve().parents[2]


def exact(a, b) -> bool:
    """Equal, of the same type, and (for pandas) with the same dtypes, index, names and freq."""
    if type(a) is not type(b):
        return False
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(
            a, b, check_exact=True, check_freq=True, check_flags=True,
            check_index_type=True, check_column_type=True, check_categorical=True,
        )  # fmt: skip
        assert type(a.columns) is type(b.columns) and type(a.index) is type(b.index)
        assert same_levels(a.index, b.index) and same_levels(a.columns, b.columns)
        return True
    if isinstance(a, pd.Series):
        pd.testing.assert_series_equal(
            a, b, check_exact=True, check_freq=True, check_index_type=True
        )
        assert type(a.index) is type(b.index) and same_levels(a.index, b.index)
        return True
    if isinstance(a, pl.DataFrame):
        return a.schema == b.schema and a.equals(b)
    if isinstance(a, pl.Series):
        return (a.name, a.dtype) == (b.name, b.dtype) and a.equals(b)
    if isinstance(a, pa.Table | pa.RecordBatch):
        return a.equals(b, check_metadata=True)
    if sp.issparse(a):
        return sparse_exact(a, b)
    if isinstance(a, xr.DataArray | xr.Dataset):
        variables = a.variables if isinstance(a, xr.Dataset) else {None: a.variable}
        others = b.variables if isinstance(b, xr.Dataset) else {None: b.variable}
        return (
            a.identical(b)
            and repr(a) == repr(b)  # variable order too
            and all(v.encoding == others[k].encoding for k, v in variables.items())
            and all(a[k].dtype == b[k].dtype for k in a.coords)
        )
    if isinstance(a, Image.Image):
        return (a.mode, a.size, a.tobytes(), a.info) == (b.mode, b.size, b.tobytes(), b.info) and (
            a.getpalette() == b.getpalette()
        )
    raise TypeError(type(a))


def same_levels(a, b) -> bool:
    """MultiIndex levels (unused labels included) and codes, which assert_frame_equal skips."""
    if not isinstance(a, pd.MultiIndex):
        return True
    return all(x.equals(y) and x.dtype == y.dtype for x, y in zip(a.levels, b.levels)) and all(
        np.array_equal(x, y) for x, y in zip(a.codes, b.codes)
    )


def sparse_exact(a, b) -> bool:
    if (a.format, a.shape, a.dtype) != (b.format, b.shape, b.dtype):
        return False
    names = {"csr": "data indices indptr", "csc": "data indices indptr", "bsr": "data indices indptr",
             "coo": "data coords", "dia": "data offsets"}.get(a.format)  # fmt: skip
    if names is None:  # lil, dok: no arrays of their own
        return (a != b).nnz == 0 and sorted(a.todok().items()) == sorted(b.todok().items())
    for name in names.split():
        xs, ys = getattr(a, name), getattr(b, name)
        for x, y in zip(*((v,) if name != "coords" else v for v in (xs, ys)), strict=True):
            if x.dtype != y.dtype or not np.array_equal(x, y):
                return False
    return True


def frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


rng = np.random.default_rng(0)
ARROW = {
    "plain": frame(i=[1, 2], f=[0.5, np.nan], s=["a", "b"], t=pd.to_datetime(["2024-01-01", None])),
    "range_index": pd.DataFrame({"x": [1, 2]}, index=pd.RangeIndex(5, 9, 2, name="r")),
    "str_index": pd.DataFrame({"x": [1, 2]}, index=["a", "b"]),
    "multi_index": pd.DataFrame(
        {"x": [1, 2, 3]},
        index=pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)], names=["k", None]),
    ),
    "tz_index_freq": pd.DataFrame(
        {"x": [1, 2]},
        index=pd.date_range("2024-03-30", periods=2, freq="D", tz="Europe/Paris", name="t"),
    ),
    "business_days": pd.DataFrame({"x": [1, 2, 3]}, index=pd.bdate_range("2024-01-05", periods=3)),
    "multi_index_missing_labels": pd.DataFrame(
        {"x": [1, 2, 3]},
        index=pd.MultiIndex.from_arrays([["a", None, "b"], [1, 2, np.nan]], names=["k", 0]),
    ),
    "multi_index_unused_levels": pd.DataFrame(
        {"x": range(4)}, index=pd.MultiIndex.from_product([["a", "b"], [1, 2]])
    )[:2],
    "series_multi_index_tz": pd.Series(
        [1, 2],
        index=pd.MultiIndex.from_arrays(
            [pd.DatetimeIndex(["2024-01-01", "2024-06-01"], tz="Asia/Tokyo"), [True, False]]
        ),
    ),
    "timedelta_index": pd.DataFrame({"x": [1, 2]}, index=pd.timedelta_range("1s", periods=2)),
    "categorical_index": pd.DataFrame({"x": [1, 2]}, index=pd.CategoricalIndex(["a", "b"])),
    "float_index_nan": pd.DataFrame({"x": [1, 2]}, index=[0.5, np.nan]),
    "categoricals": frame(
        c=pd.Categorical(["x", "y", "x"], categories=["y", "x", "z"], ordered=True),
        n=pd.Categorical([1, 2, None]),
    ),
    "nullable": frame(
        i=pd.array([1, None], dtype="Int64"),
        u=pd.array([1, None], dtype="UInt8"),
        b=pd.array([True, None], dtype="boolean"),
        f=pd.array([1.5, None], dtype="Float64"),
        s=pd.array(["a", None], dtype="string"),
        p=pd.array(["a", None], dtype="string[pyarrow]"),
        a=pd.array([1, None], dtype="int64[pyarrow]"),
    ),  # fmt: skip
    "object_strings": frame(o=pd.Series(["a", "b"], dtype=object)),
    "object_bytes": frame(o=pd.Series([b"a", b"\x00"], dtype=object)),
    "numpy_dtypes": frame(
        h=np.array([1, 2], dtype=np.float16),
        u=np.array([2**64 - 1, 0], dtype=np.uint64),
        b=[True, False],
        z=[-0.0, np.inf],
        td=pd.to_timedelta([1, 2], unit="s"),
        ns=pd.DatetimeIndex(["2024-01-01", "NaT"]).as_unit("ns"),
    ),  # fmt: skip
    "int_column_labels": pd.DataFrame(rng.random((3, 4))),
    "named_int_columns": pd.DataFrame({1: [1], 2: [2]}).rename_axis("c", axis=1),
    "multi_columns": pd.DataFrame(
        [[1, 2]], columns=pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")])
    ),
    "empty": pd.DataFrame(),
    "no_rows": frame(a=pd.Series([], dtype="int32")),
    "series": pd.Series([1, 2], name="s"),
    "series_unnamed_nan": pd.Series([1.5, np.nan]),
    "series_int_name": pd.Series([1, 2], name=3, index=["a", "b"]),
    "series_categorical": pd.Series(pd.Categorical(["a", "b"]), name="c"),
    "series_object_str": pd.Series(["a", "b"], dtype=object, name="o"),
    "series_freq": pd.Series([1.0, 2.0], index=pd.date_range("2024", periods=2, freq="h")),
    "pa_table": pa.table({"a": [1, 2], "s": ["x", None]}, metadata={"k": "v"}),
    "pa_chunked": pa.concat_tables([pa.table({"a": [1]}), pa.table({"a": [2, 3]})]),
    "pa_batch": pa.record_batch({"a": [1, 2]}),
    "pa_empty_batch": pa.record_batch({"a": pa.array([], pa.int8())}),
    "pl_frame": pl.DataFrame(
        {
            "a": [1, None],
            "s": ["x", "y"],
            "l": [[1], [2, 3]],
            "st": [{"q": 1}, {"q": 2}],
            "c": pl.Series(["u", "v"], dtype=pl.Categorical),
            "e": pl.Series(["u", "v"], dtype=pl.Enum(["u", "v", "w"])),
            "d": pl.Series(["1.10", None]).cast(pl.Decimal(10, 2)),
            "t": pl.Series([0, 1]).cast(pl.Datetime("ms", "Asia/Tokyo")),
        }
    ),  # fmt: skip
    "pl_series": pl.Series("n", [1.5, None]),
}
PICKLED = {  # no safe format takes them exactly: pickle, and refused under safe=True
    "object_mixed": frame(o=pd.Series([1, "a"], dtype=object)),
    "object_numbers": frame(o=pd.Series([1, 2.5], dtype=object)),
    "object_str_none": frame(o=pd.Series(["a", None], dtype=object)),
    "multi_index_object_level": pd.DataFrame(
        {"x": [1, 2]},
        index=pd.MultiIndex.from_arrays([pd.Index(["a", "b"], dtype=object), [1, 2]]),
    ),
    "object_index": pd.DataFrame({"x": [1, 2]}, index=pd.Index([1, "a"], dtype=object)),
    "complex": frame(c=[1 + 2j]),
    "period": frame(p=pd.period_range("2024", periods=2, freq="M")),
    "interval_index": pd.DataFrame({"x": [1, 2]}, index=pd.interval_range(0, 2)),
    "attrs": pd.DataFrame({"x": [1]}).pipe(lambda d: d.attrs.update(unit="m") or d),
    "duplicate_columns": pd.DataFrame([[1, 2]], columns=["a", "a"]),
    "series_tuple_name": pd.Series([1], name=("a", "b")),
    "custom_business_freq": pd.DataFrame(
        {"x": [1, 2]},
        index=pd.bdate_range("2024-01-01", periods=2, freq="C", holidays=["2024-01-02"]),
    ),
    "image_info_object": Image.new("RGB", (2, 2)),
    "image_float": Image.new("F", (2, 2)),
}
PICKLED["image_info_object"].info["thing"] = object()
TEMP = xr.DataArray(
    np.arange(12.0).reshape(4, 3),
    dims=("time", "x"),
    coords={
        "time": pd.date_range("2024-01-01", periods=4),
        "x": ["a", "b", "c"],
        "lon": ("x", [1.5, 2.5, 3.5]),
        "run": 7,
    },
    name="temp",
    attrs={"units": "K", "levels": [1, 2]},
)
TEMP.encoding["dtype"] = "float32"
XARRAY = {
    "xr_dataarray": TEMP,
    "xr_unnamed": xr.DataArray(np.array([b"a", b"bc"])),
    "xr_scalar": xr.DataArray(np.timedelta64(3, "s")),
    "xr_dataset": xr.Dataset(
        {"temp": TEMP, "rain": ("time", np.array([1, 2, 3, 4], dtype=np.int16), {"u": "mm"})},
        attrs={"title": "t", "n": 3},
    ),
    "xr_coord_first": xr.Dataset(coords={"x": [10, 20]}).assign(a=("x", [1.0, np.nan])),
    "xr_empty": xr.Dataset(),
}
PICKLED.update(
    xr_tuple_attr=xr.DataArray([1], attrs={"t": (1, 2)}),
    xr_object=xr.DataArray(np.array([1, "a"], dtype=object)),
    xr_multiindex=xr.Dataset(coords={"a": [1, 2], "b": ["x", "y"]}).stack(z=("a", "b")),
    xr_tz_index=xr.DataArray(
        [1, 2], dims="t", coords={"t": pd.date_range("2024", periods=2, tz="UTC")}
    ),
    xr_int_name=xr.DataArray([1], name=1),
)
m = sp.random(30, 20, density=0.2, format="csr", random_state=0, dtype=np.float32)
SPARSE = {f"{fmt}_{kind}": getattr(sp, f"{fmt}_{kind}")(m) for fmt in
          ("csr", "csc", "coo", "bsr", "dia", "lil", "dok") for kind in ("matrix", "array")}  # fmt: skip
IMAGES = {
    mode: Image.fromarray(rng.integers(0, 255, (9, 7, 3), dtype=np.uint8)).convert(mode)
    for mode in ("1", "L", "LA", "P", "RGB", "RGBA")
}
IMAGES["I;16"] = Image.fromarray(rng.integers(0, 65535, (9, 7), dtype=np.uint16))
SAFE = {
    **{k: ("arrow", v) for k, v in ARROW.items()},
    **{k: ("sparse", v) for k, v in SPARSE.items()},
    **{f"image_{k}": ("png", v) for k, v in IMAGES.items()},
    **{k: ("xarray", v) for k, v in XARRAY.items()},
}


def round_trip(tmp_path, name, value, **config):
    pipe = () >> Stage(lambda: value, name="v", version=1)
    pipe(Config(dir=tmp_path, **config))
    run = pipe.run(Config(dir=tmp_path, load=True, **config))
    assert run["v"].action == "loaded"
    return run.value, chkpt.open_store(tmp_path).entries("v")[0]


@pytest.mark.parametrize("name", sorted(SAFE))
def test_safe_formats_round_trip_exactly_even_in_safe_mode(tmp_path, name):
    expected, value = SAFE[name]
    back, entry = round_trip(tmp_path, name, value, safe=True)
    assert entry.serializer == expected
    assert exact(value, back)
    mapped, _ = round_trip(tmp_path, name, value, safe=True, mmap=True)
    assert exact(value, mapped)


@pytest.mark.parametrize("name", sorted(PICKLED))
def test_values_no_safe_format_takes_exactly_fall_through_to_pickle(tmp_path, name):
    value = PICKLED[name]
    back, entry = round_trip(tmp_path / "a", name, value)
    assert entry.serializer == "pickle"
    assert type(back) is type(value)
    with pytest.warns(chkpt.StoreWarning, match=type(value).__name__):
        out = (() >> Stage(lambda: value, name="v", version=1))(
            Config(dir=tmp_path / "b", safe=True)
        )
    assert out is value and not chkpt.open_store(tmp_path / "b").entries()


def test_a_value_no_format_can_write_is_still_returned(tmp_path):
    """A polars Object column: Arrow refuses it and so does pickle; the run still returns it."""
    value = pl.DataFrame({"o": pl.Series([object()], dtype=pl.Object)})
    assert not chkpt.get_serializer("arrow").accepts(value)
    with pytest.warns(chkpt.StoreWarning, match="DataFrame"):
        out = (() >> Stage(lambda: value, name="v", version=1))(Config(dir=tmp_path))
    assert out is value


def test_arrow_is_memory_mapped_not_copied(tmp_path):
    table = pa.table({"x": np.arange(2_000_000, dtype=np.int64)})
    round_trip(tmp_path, "t", table)
    entry = chkpt.open_store(tmp_path).entries("v")[0]
    before = pa.total_allocated_bytes()
    mapped = chkpt.open_store(tmp_path).load(entry, mmap=True)
    assert pa.total_allocated_bytes() - before < 1 << 20  # 16 MB of data, nothing allocated
    assert mapped.equals(table)
    copied = chkpt.open_store(tmp_path).load(entry)
    assert copied.equals(table)


def test_polars_frame_is_smaller_than_its_pickle_and_loads_as_polars(tmp_path):
    df = pl.DataFrame({"i": np.arange(100_000), "s": ["abc", "de"] * 50_000})
    back, entry = round_trip(tmp_path, "p", df)
    assert entry.serializer == "arrow" and back.equals(df)
    assert (tmp_path / "v" / entry.payload).stat().st_size == entry.size


# -- hypothesis: whatever the frame, exact or pickle ------------------------------------------

DTYPES = ["int8", "uint16", "int64", "float32", "float64", "bool", "datetime64[ns]", "object"]


@st.composite
def frames(draw):
    columns = draw(st.lists(st.sampled_from(DTYPES), max_size=4))
    index = {
        "range": None,
        "int": hpd.indexes(dtype="int64", max_size=6, unique=False),
        "str": hpd.indexes(elements=st.text(max_size=3), max_size=6),
        "datetime": hpd.indexes(dtype="datetime64[ns]", max_size=6),
    }[draw(st.sampled_from(["range", "int", "str", "datetime"]))]
    cols = [hpd.column(f"c{i}", dtype=dt if dt != "object" else object,
                       elements=st.one_of(st.text(max_size=3), st.none(), st.integers())
                       if dt == "object" else None) for i, dt in enumerate(columns)]  # fmt: skip
    df = draw(hpd.data_frames(cols, index=index) if index is not None else hpd.data_frames(cols))
    for change in draw(st.lists(st.sampled_from(sorted(CHANGES)), max_size=3)):
        try:
            df = CHANGES[change](df)
        except (ValueError, TypeError, OverflowError):  # e.g. tz-localizing year 1677: skip it
            pass
    return df.iloc[:, 0] if df.shape[1] and draw(st.booleans()) else df


def _each(df, kinds, convert):
    """``df`` with every column of one of ``kinds`` converted."""
    out = df.copy()
    for i, dt in enumerate(df.dtypes):
        if getattr(dt, "kind", "") in kinds:
            out.isetitem(i, convert(df.iloc[:, i]))
    return out


CHANGES = {  # what users do to frames after building them
    "categorical": lambda df: _each(df, "iuO", lambda c: c.astype("category")),
    "nullable": lambda df: _each(df, "iub", lambda c: c.convert_dtypes()),
    "tz": lambda df: _each(df, "M", lambda c: c if c.dt.tz else c.dt.tz_localize(
        "Europe/Paris", ambiguous="NaT", nonexistent="NaT")),
    "multiindex": lambda df: df.set_index([df.index, np.arange(len(df)) % 2]),
    "named_index": lambda df: df.rename_axis([f"i{k}" for k in range(df.index.nlevels)]),
    "named_columns": lambda df: df.rename_axis("cols", axis=1),
}  # fmt: skip


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(frames())
def test_any_frame_is_exact_in_arrow_or_goes_to_pickle(tmp_path_factory, df):
    tmp = tmp_path_factory.mktemp("h")
    store = chkpt.open_store(tmp)
    entry = store.save("f", "0" * 32, df)
    assert entry.serializer in ("arrow", "pickle")
    assert exact(df, store.load(entry))
    if entry.serializer == "arrow":
        assert exact(df, store.load(entry, mmap=True))


@st.composite
def sparse_values(draw):
    shape = draw(st.tuples(st.integers(0, 6), st.integers(0, 6)))
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int8, np.bool_, np.complex64]))
    dense = draw(
        hnp.arrays(dtype, shape, elements=hnp.from_dtype(np.dtype(dtype), allow_nan=False))
    )
    fmt = draw(st.sampled_from(["csr", "csc", "coo", "bsr", "dia", "lil", "dok"]))
    kind = draw(st.sampled_from(["matrix", "array"]))
    value = getattr(sp, f"{fmt}_{kind}")(dense)
    if fmt in ("csr", "csc") and draw(st.booleans()):
        value.indices = value.indices.astype(np.int64)
        value.indptr = value.indptr.astype(np.int64)
    return value


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(sparse_values())
def test_any_sparse_matrix_round_trips_exactly(tmp_path_factory, value):
    store = chkpt.open_store(tmp_path_factory.mktemp("s"), safe=True)
    entry = store.save("m", "0" * 32, value, safe_only=True)
    assert entry.serializer == "sparse"
    assert exact(value, store.load(entry))


def test_sparse_keeps_duplicates_explicit_zeros_and_unsorted_indices(tmp_path):
    csr = sp.csr_matrix(
        (np.array([1.0, 0.0, 2.0]), np.array([3, 1, 1]), np.array([0, 2, 3])), shape=(2, 5)
    )
    coo = sp.coo_array((np.array([1, 2]), (np.array([0, 0]), np.array([1, 1]))), shape=(3, 3))
    store = chkpt.open_store(tmp_path)
    for value in (csr, coo, sp.coo_array(np.array([0, 1, 0, 2]))):  # and a 1-d array
        back = store.load(store.save("m", "0" * 32, value))
        assert exact(value, back) and back.nnz == value.nnz
    assert not back.has_canonical_format or value.has_canonical_format


# -- damaged files: verified before any byte reaches the decoder ------------------------------


@pytest.mark.parametrize(
    "name", ["plain", "pl_frame", "pa_table", "csr_array", "image_RGB", "xr_dataset"]
)
@pytest.mark.parametrize("how", ["bitflip", "truncate"])
@pytest.mark.parametrize("mmap", [False, True])
def test_damaged_payloads_are_detected_before_decoding(tmp_path, name, how, mmap):
    value = SAFE[name][1]
    store = chkpt.open_store(tmp_path)
    entry = store.save("v", "0" * 32, value)
    path = Path(entry.path)
    data = bytearray(path.read_bytes())
    if how == "bitflip":
        data[len(data) // 2] ^= 0x10
    else:
        del data[len(data) // 2 :]
    path.write_bytes(bytes(data))
    with pytest.raises(chkpt.CorruptCheckpointError, match="checksum|size") as err:
        store.load(entry, mmap=mmap)
    assert "cannot decode" not in str(err.value) and str(path) in str(err.value)
    # and a pipeline recomputes instead of loading it
    calls = []
    pipe = () >> Stage(lambda: calls.append(1) or value, name="v", version=1)
    pipe(Config(dir=tmp_path / "p"))
    entry = chkpt.open_store(tmp_path / "p").entries("v")[0]
    Path(entry.path).write_bytes(bytes(data))
    with pytest.warns(chkpt.StoreWarning, match="checksum mismatch|wrong size"):
        assert exact(value, pipe(Config(dir=tmp_path / "p", load=True, mmap=mmap)))
    assert len(calls) == 2


# -- subprocesses: optional libraries absent, not imported, plugins ----------------------------


def run_python(code: str, *paths: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, str(ROOT)])}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def test_without_pyarrow_and_polars_frames_go_to_pickle_and_the_rest_works(tmp_path):
    proc = run_python(f"""
        import sys, warnings
        sys.modules["pyarrow"] = None  # blocked: importing it raises ImportError
        sys.modules["polars"] = None
        import numpy as np, pandas as pd, scipy.sparse as sp
        import chkpt
        store = chkpt.open_store({str(tmp_path)!r})
        df = pd.DataFrame({{"x": [1, 2]}}, index=pd.Index(["a", "b"], name="k"))
        e = store.save("f", "0" * 32, df)
        assert e.serializer == "pickle", e.serializer
        assert store.load(e).equals(df)
        e = store.save("m", "0" * 32, sp.eye(3, format="csr"))
        assert e.serializer == "sparse" and (store.load(e) != sp.eye(3)).nnz == 0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = (() >> chkpt.Stage(lambda: df, name="s", version=1))(
                chkpt.Config(dir={str(tmp_path / "safe")!r}, safe=True))
        assert out is df and any("DataFrame" in str(w.message) for w in caught), caught
        print("ok")
    """)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_choosing_a_format_imports_no_library_the_user_did_not(tmp_path):
    proc = run_python(f"""
        import sys
        import numpy as np
        import chkpt
        store = chkpt.open_store({str(tmp_path)!r})
        for i, value in enumerate([{{"a": 1}}, (1, 2), np.arange(3), b"x"]):
            store.load(store.save(f"s{{i}}", "0" * 32, value))
        print(sorted(m for m in ("pyarrow", "polars", "pandas", "scipy", "PIL") if m in sys.modules))
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


PLUGIN = """
import fractions, chkpt

class FractionSerializer:
    id, ext, safe = "fraction", "frac", True
    def accepts(self, value):
        return type(value) is fractions.Fraction
    def dump(self, value, out):
        out.write(f"{value.numerator}/{value.denominator}".encode())
    def load(self, src):
        return fractions.Fraction(src.read().decode())

def broken():
    raise RuntimeError("plugin exploded")
"""


def make_plugin(site: Path) -> None:
    """A tiny installed distribution: a module and a dist-info declaring entry points."""
    (site / "chkpt_frac.py").write_text(PLUGIN)
    info = site / "chkpt_frac-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: chkpt-frac\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[chkpt.serializers]\n"
        "fraction = chkpt_frac:FractionSerializer\n"
        "exploding = chkpt_frac:broken\n"
        "missing = chkpt_frac_gone:Serializer\n"
    )


def test_entry_point_plugins_load_lazily_once_and_broken_ones_warn(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    make_plugin(site)
    proc = run_python(
        f"""
        import fractions, sys, warnings
        import chkpt
        from chkpt import _serializers
        assert _serializers._PLUGINS is None and "chkpt_frac" not in sys.modules  # lazy
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            store = chkpt.open_store({str(tmp_path / "store")!r}, safe=True)
            e = store.save("f", "0" * 32, fractions.Fraction(1, 3), safe_only=True)
            assert e.serializer == "fraction", e.serializer
            assert store.load(e) == fractions.Fraction(1, 3)
            chkpt.get_serializer("fraction")
        assert "chkpt_frac" in sys.modules
        for w in caught:
            print(w.category.__name__, w.message)
    """,
        str(site),
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2, lines  # each broken plugin warned about once, the good one used
    assert all(line.startswith("PluginWarning") and "chkpt-frac" in line for line in lines)
    assert "'exploding'" in lines[0] and "plugin exploded" in lines[0]
    assert "'missing'" in lines[1] and "chkpt_frac_gone" in lines[1]
    payload = next((tmp_path / "store" / "f").glob("*.frac"))
    assert payload.read_text() == "1/3"


def test_plugin_formats_load_in_a_process_that_only_reads(tmp_path):
    """A checkpoint written by a plugin's format is readable wherever the plugin is installed."""
    site = tmp_path / "site"
    site.mkdir()
    make_plugin(site)
    write = f"""
        import fractions, chkpt
        chkpt.open_store({str(tmp_path / "s")!r}).save("f", "0" * 32, fractions.Fraction(2, 7))
    """
    assert run_python(write, str(site)).returncode == 0
    read = f"""
        import chkpt
        store = chkpt.open_store({str(tmp_path / "s")!r})
        print(store.load(store.entries("f")[0]))
    """
    with_plugin = run_python(read, str(site))
    assert with_plugin.stdout.strip() == "2/7", with_plugin.stderr
    without = run_python(read)
    assert without.returncode != 0 and "not registered here" in without.stderr


def test_readme_formats_table_names_every_builtin_serializer():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("| Python type") :]
    for ser in chkpt._serializers._BUILTIN:
        assert f"`{ser.id}`" in section, ser.id


@pytest.mark.parametrize(
    "name", ["multi_index", "pl_frame", "pa_batch", "coo_array", "image_P", "xr_dataset"]
)
def test_formats_work_on_a_remote_store_where_nothing_is_mapped(name):
    value = SAFE[name][1]
    store = chkpt.open_store(f"memory://chkpt-formats-{name}", safe=True)
    entry = store.save("v", "0" * 32, value, safe_only=True)
    assert entry.serializer == SAFE[name][0]
    assert exact(value, store.load(entry)) and exact(value, store.load(entry, mmap=True))
