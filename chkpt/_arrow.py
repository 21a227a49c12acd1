"""Arrow IPC (Feather v2) checkpoints: pyarrow, polars and pandas values, safe, exact, mappable.

One uncompressed IPC file per value (so it can be memory-mapped and read without a copy); which
library and shape to rebuild goes in the file footer's metadata, never in the table's own.
Decoding runs no code: a safe format, also under ``Config(safe=True)``.

Exact or not at all: a value is written only if it reads back equal and of the same types. For
pandas this is decided in two steps: ``accepts`` applies a cheap rule (known dtypes, unique
column labels, no ``attrs``), and ``dump`` converts the frame once, reads it back from an empty
file (no rows; the same schema, index levels and metadata, through the same code as a load) and
compares dtypes, index and column labels with the original; any difference (and object columns
holding anything but ``str``, or anything but ``bytes``) raises ``SerializationError``, so the
store falls through to the next serializer (pickle).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, BinaryIO

from ._errors import SerializationError
from ._npy import _aligned_buffer

__all__ = ["ArrowSerializer", "arrow_kind"]

_KINDS = {
    ("pyarrow", "Table"): "pyarrow.Table",
    ("pyarrow", "RecordBatch"): "pyarrow.RecordBatch",
    ("polars", "DataFrame"): "polars.DataFrame",
    ("polars", "Series"): "polars.Series",
    ("pandas", "DataFrame"): "pandas.DataFrame",
    ("pandas", "Series"): "pandas.Series",
}
_SERIES_COLUMN = "__chkpt_series__"
_META_KEY = b"chkpt"


def arrow_kind(value: Any) -> str | None:
    """``"pandas.DataFrame"`` etc. for the types this format stores, else None (no imports)."""
    t = type(value)
    return _KINDS.get((t.__module__.partition(".")[0], t.__name__))


def _pyarrow() -> Any:
    if "pyarrow" not in sys.modules:  # importing it costs ~0.1 s: only for values that need it
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            return None
    return sys.modules["pyarrow"]


class ArrowSerializer:
    """pyarrow Tables/RecordBatches, polars and pandas frames/series as Arrow IPC files."""

    id, ext, safe = "arrow", "arrow", True

    def accepts(self, value: Any) -> bool:
        kind = arrow_kind(value)
        if kind is None or _pyarrow() is None:
            return False
        if kind.startswith("pandas."):
            return _pandas_rule(value)
        if kind.startswith("polars."):
            pl = sys.modules["polars"]
            dtypes = value.dtypes if kind == "polars.DataFrame" else [value.dtype]
            return not any(dt == pl.Object for dt in dtypes)
        return True

    def dump(self, value: Any, out: BinaryIO) -> None:
        import pyarrow.ipc as ipc

        kind = arrow_kind(value)
        meta: dict[str, Any] = {"kind": kind, "version": 1}
        if kind in ("pyarrow.RecordBatch", "pyarrow.Table"):
            table = value
        elif kind is not None and kind.startswith("polars."):
            table = _from_polars(value, kind)
        elif kind is not None and kind.startswith("pandas."):
            table = _from_pandas(value, kind, meta)
        else:
            raise SerializationError(f"not an Arrow-like value: {type(value).__qualname__}")
        footer = {_META_KEY: json.dumps(meta).encode()}
        with ipc.new_file(_Sink(out), table.schema, metadata=footer) as writer:
            if kind == "pyarrow.RecordBatch":
                writer.write_batch(table)
            elif table.num_rows == 0 and kind != "pyarrow.Table":
                writer.write_batch(_one_empty_batch(table))  # keeps dictionaries (index levels)
            else:
                writer.write_table(table)

    def load(self, src: BinaryIO) -> Any:
        import pyarrow as pa

        return _decode(pa.py_buffer(_read_aligned(src)))

    def load_mapped(self, f: BinaryIO) -> Any:
        """Read through a memory map of the open (verified) file: Arrow buffers point into it,
        no copy (pandas still converts). The map lives as long as the value uses it."""
        import mmap

        import pyarrow as pa

        return _decode(pa.py_buffer(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)))


def _one_empty_batch(table: Any) -> Any:
    """A 0-row table as one batch: ``write_table`` writes no batch at all for it, which would
    drop the dictionaries (a MultiIndex's levels) the schema alone does not carry."""
    import pyarrow as pa

    columns = [c.chunk(0) if c.num_chunks else pa.nulls(0, c.type) for c in table.columns]
    return pa.RecordBatch.from_arrays(columns, schema=table.schema)


class _Sink:
    """The file-object surface pyarrow asks of a sink, over any writable (the store's hasher)."""

    closed = False

    def __init__(self, out: BinaryIO) -> None:
        self.out, self.size = out, 0

    def write(self, data: Any) -> int:
        n = len(memoryview(data).cast("B"))
        self.out.write(data)
        self.size += n
        return n

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        pass

    def close(self) -> None:  # pyarrow closes its sink; the store closes the file
        self.closed = True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


def _decode(source: Any) -> Any:
    import pyarrow.ipc as ipc

    reader = ipc.open_file(source)
    meta = json.loads((reader.metadata or {})[_META_KEY])
    kind = meta["kind"]
    if kind == "pyarrow.RecordBatch":
        return reader.get_batch(0)
    table = reader.read_all()
    if kind == "pyarrow.Table":
        return table
    if kind.startswith("polars."):
        import polars as pl

        frame: Any = pl.from_arrow(table, rechunk=False)
        return frame.to_series() if kind == "polars.Series" else frame
    if kind.startswith("pandas."):
        return _to_pandas(table, kind, meta)
    raise ValueError(f"unknown Arrow checkpoint kind {kind!r}")


def _read_aligned(src: Any) -> Any:
    """The whole file in page-aligned memory (Arrow wants aligned buffers), read in one pass."""
    size = _remaining(src)
    if size is None:
        return src.read()
    buf = _aligned_buffer(size)
    view = memoryview(buf)[:size]
    got = 0
    while got < size:
        n = src.readinto(view[got:])
        if not n:
            raise ValueError(f"truncated Arrow file: {got} of {size} bytes")
        got += n
    return view


def _remaining(src: Any) -> int | None:
    """Bytes left in ``src``: the store's bounded reader knows; a plain file asks the OS."""
    limit = getattr(src, "limit", None)
    if isinstance(limit, int):
        return limit - int(getattr(src, "size", 0))
    try:
        return os.fstat(src.fileno()).st_size - src.tell()
    except (AttributeError, OSError, ValueError):
        return None


# -- polars ------------------------------------------------------------------------------------


def _from_polars(value: Any, kind: str) -> Any:
    import polars as pl
    import pyarrow as pa

    if kind == "polars.Series":
        table = pa.table({value.name: _polars_to_arrow(value)})
        back: Any = pl.from_arrow(table.slice(0, 0))
        back = back.to_series()
        same = back.dtype == value.dtype and back.name == value.name
    else:
        table = _polars_to_arrow(value)
        empty: Any = pl.from_arrow(table.slice(0, 0))
        same = empty.schema == value.schema
    if not same:
        raise SerializationError("this polars value does not survive Arrow IPC exactly")
    return table


def _polars_to_arrow(value: Any) -> Any:
    """polars' own Arrow layout (string views...) when pyarrow reads it: no copy either way
    (the default, large strings, copies every string out and back: 1M strings, 16 + 56 ms)."""
    import polars as pl

    newest = getattr(getattr(pl, "CompatLevel", None), "newest", None)
    if newest is not None:
        try:
            return value.to_arrow(compat_level=newest())
        except Exception:  # an older pyarrow without string views
            pass
    return value.to_arrow()


# -- pandas ------------------------------------------------------------------------------------

_NUMPY_KINDS = frozenset("biufmMO")  # bool, ints, floats, timedelta, datetime, object (checked)


def _dtype_ok(dtype: Any) -> bool:
    import pandas as pd

    if isinstance(dtype, pd.CategoricalDtype):
        return _dtype_ok(dtype.categories.dtype)
    if isinstance(dtype, pd.DatetimeTZDtype | pd.StringDtype | pd.ArrowDtype):
        return True
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return isinstance(dtype, _masked_dtypes())
    return dtype.kind in _NUMPY_KINDS and dtype.itemsize <= 8


def _masked_dtypes() -> tuple[type, ...]:
    """pandas' nullable dtypes (Int64, Float64, boolean...), all round-tripped by pyarrow."""
    import pandas as pd

    names = [f"{s}Int{b}Dtype" for s in ("", "U") for b in (8, 16, 32, 64)]
    return tuple(getattr(pd, n) for n in [*names, "Float32Dtype", "Float64Dtype", "BooleanDtype"])


def _index_ok(index: Any) -> bool:
    import pandas as pd

    if isinstance(index, pd.MultiIndex):
        return all(_dtype_ok(level.dtype) for level in index.levels)
    return _dtype_ok(index.dtype)


def _pandas_rule(value: Any) -> bool:
    """The cheap part of the exactness check: known dtypes, unique labels, no ``attrs``."""
    if value.attrs:
        return False
    if type(value).__name__ == "Series":
        if not _simple_name(value.name):
            return False
        dtypes = [value.dtype]
    else:
        if not value.columns.is_unique or not _index_ok(value.columns):
            return False
        dtypes = list(value.dtypes)
    return _index_ok(value.index) and all(_dtype_ok(dt) for dt in dtypes)


def _is_object(dtype: Any) -> bool:
    import numpy as np

    return isinstance(dtype, np.dtype) and dtype.kind == "O"


def _objects_ok(values: Any) -> bool:
    """An object column or index survives Arrow only if all its items are str, or all bytes."""
    kinds = set(map(type, values))
    return kinds <= {str} or kinds <= {bytes}


def _from_pandas(value: Any, kind: str, meta: dict[str, Any]) -> Any:
    import pandas as pd
    import pyarrow as pa

    frame = value
    if kind == "pandas.Series":
        meta["name"] = value.name
        frame = value.rename(None).to_frame(name=_SERIES_COLUMN)
    if isinstance(frame.index, pd.DatetimeIndex | pd.TimedeltaIndex) and frame.index.freq:
        freq = frame.index.freqstr
        if pd.tseries.frequencies.to_offset(freq) != frame.index.freq:
            raise SerializationError(f"index frequency {frame.index.freq!r} is not exact as text")
        meta["freq"] = freq
    if type(frame.columns) is pd.RangeIndex:  # pyarrow makes it an Index of int64
        if not _simple_name(frame.columns.name):
            raise SerializationError("a RangeIndex of columns with a name that is not str or int")
        cols = frame.columns
        meta["columns_range"] = [cols.start, cols.stop, cols.step, cols.name]
    for labels in [*_levels(frame.index), *_levels(frame.columns)]:
        if _is_object(labels.dtype) and not _objects_ok(labels):
            raise SerializationError("an object index holds values other than str (or bytes)")
    objects = []
    for position, dtype in enumerate(frame.dtypes):
        if _is_object(dtype):
            if not _objects_ok(frame.iloc[:, position]):
                raise SerializationError(
                    f"column {frame.columns[position]!r} holds Python objects other than str"
                )
            objects.append(position)
    if objects:  # pandas >= 3 reads str columns back as its `str` dtype: say they were object
        meta["object_columns"] = objects
    why = ""
    multi = isinstance(frame.index, pd.MultiIndex) and all(map(_simple_name, frame.index.names))
    for as_codes in (True, False) if multi else (False,):
        tried = dict(meta)
        try:
            table = _codes_table(frame, tried) if as_codes else pa.Table.from_pandas(frame)
        except (pa.ArrowException, ValueError, TypeError) as exc:
            why = f"pyarrow cannot convert it: {exc}"
            continue
        why = _difference(value, _decode(_empty_file(table, tried)))
        if not why:
            meta.update(tried)
            return table
    raise SerializationError(f"it would not read back exactly ({why})")


def _empty_file(table: Any, meta: dict[str, Any]) -> Any:
    """The file ``dump`` would write, with no rows: reading it back takes the very path a load
    takes (schema, dictionaries, metadata), at the cost of the schema and index levels only."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    sink = pa.BufferOutputStream()
    footer = {_META_KEY: json.dumps(meta).encode()}
    with ipc.new_file(sink, table.schema, metadata=footer) as writer:
        writer.write_batch(_one_empty_batch(table.slice(0, 0)))
    return sink.getvalue()


def _level_column(i: int) -> str:
    return f"__chkpt_level_{i}__"


def _codes_table(frame: Any, meta: dict[str, Any]) -> Any:
    """A MultiIndex as its levels and codes (Arrow dictionaries), not as full columns: pandas
    then rebuilds it without factorizing every row (0.65 s for 1M rows and two levels)."""
    import pandas as pd
    import pyarrow as pa

    index = frame.index
    table = pa.Table.from_pandas(frame.set_axis(pd.RangeIndex(len(frame)), axis=0))
    for i, (level, codes) in enumerate(zip(index.levels, index.codes)):
        indices = pa.array(codes, mask=codes < 0)  # -1 (a missing label) is null
        column = pa.DictionaryArray.from_arrays(indices, pa.Array.from_pandas(level))
        table = table.append_column(_level_column(i), column)
    meta["levels"] = list(index.names)
    ranges = {i: lv for i, lv in enumerate(index.levels) if type(lv) is pd.RangeIndex}
    if ranges:  # pandas may keep a level as a RangeIndex: rebuilt as one
        meta["range_levels"] = {str(i): [lv.start, lv.stop, lv.step] for i, lv in ranges.items()}
    return table


def _index_from_codes(table: Any, meta: dict[str, Any]) -> tuple[Any, Any]:
    """The table without its level columns, and the MultiIndex they encode."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    names, ranges = meta["levels"], meta.get("range_levels", {})
    levels, codes = [], []
    for i in range(len(names)):
        chunks = table.column(_level_column(i))
        column = chunks.combine_chunks() if chunks.num_chunks else pa.nulls(0, chunks.type)
        if str(i) in ranges:
            levels.append(pd.RangeIndex(*ranges[str(i)]))
        else:
            levels.append(pd.Index(column.dictionary.to_pandas()))
        codes.append(pc.fill_null(column.indices, -1).to_numpy(zero_copy_only=False))
    table = table.drop_columns([_level_column(i) for i in range(len(names))])
    return table, pd.MultiIndex(levels=levels, codes=codes, names=names, verify_integrity=False)


def _levels(index: Any) -> list[Any]:
    return list(index.levels) if hasattr(index, "levels") else [index]


def _to_pandas(table: Any, kind: str, meta: dict[str, Any]) -> Any:
    import pandas as pd

    index = None
    if "levels" in meta:
        table, index = _index_from_codes(table, meta)
    frame = table.to_pandas()
    if index is not None:
        frame.index = index
    freq = meta.get("freq")
    if freq:
        cls = pd.DatetimeIndex if isinstance(frame.index, pd.DatetimeIndex) else pd.TimedeltaIndex
        frame.index = cls(frame.index, freq=freq)
    for position in meta.get("object_columns", ()):
        frame.isetitem(position, frame.iloc[:, position].astype(object))
    if "columns_range" in meta:
        start, stop, step, name = meta["columns_range"]
        frame.columns = pd.RangeIndex(start, stop, step, name=name)
    if kind == "pandas.Series":
        return frame[_SERIES_COLUMN].rename(meta["name"])
    return frame


def _simple_name(name: Any) -> bool:
    """Names that JSON (and pyarrow's pandas metadata) give back equal and of the same type."""
    return name is None or type(name) in (str, int, bool)


def _same_dtype(a: Any, b: Any) -> bool:
    import pandas as pd

    if type(a) is not type(b) or a != b:
        return False
    if isinstance(a, pd.CategoricalDtype):
        return a.ordered == b.ordered and _same_dtype(a.categories.dtype, b.categories.dtype)
    return True


def _same_index(a: Any, b: Any) -> bool:
    if type(a).__name__ == "RangeIndex":  # an empty read-back drops its name and bounds; the full
        return type(b) is type(a) and _simple_name(a.name)  # one restores them from metadata
    if type(a) is not type(b) or list(a.names) != list(b.names):
        return False
    return all(
        type(x) is type(y) and _same_dtype(x.dtype, y.dtype) for x, y in zip(_levels(a), _levels(b))
    )


def _difference(value: Any, back: Any) -> str:
    """What an empty read-back of the converted schema changed, or "" (types, labels, names)."""
    if type(back) is not type(value):
        return f"a {type(back).__name__}"
    if not _same_index(value.index, back.index):
        return "index type, names or dtype"
    if type(value).__name__ == "Series":
        return "" if _same_dtype(value.dtype, back.dtype) and value.name == back.name else "dtype"
    if not _same_index(value.columns, back.columns) or not value.columns.equals(back.columns):
        return "column labels"
    for label, a, b in zip(value.columns, value.dtypes, back.dtypes):
        if not _same_dtype(a, b):
            return f"column {label!r}: {a} -> {b}"
    return ""
