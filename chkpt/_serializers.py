"""How values become bytes and back, exactly.

A value is written as JSON only if it reads back equal and of the same types; numpy arrays go to
``.npy``; pyarrow, polars and pandas frames to Arrow IPC (``_arrow``), scipy.sparse and xarray
objects to ``.npy`` components (``_sparse``, ``_xarray``), PIL images to PNG (``_image``), when each
round-trips exactly; everything
else to pickle protocol 5. The first serializer that accepts a value wins, in this order: those
registered with ``register_serializer``, then those other packages declare in the
``chkpt.serializers`` entry-point group (loaded once, on first use), then the built-in ones.
"""

from __future__ import annotations

import io
import json
import pickle
import threading
from typing import Any, BinaryIO, Protocol, runtime_checkable

from ._arrow import ArrowSerializer
from ._errors import PluginWarning, SerializationError
from ._image import PNGSerializer
from ._jsonexact import json_exact as _json_exact
from ._npy import NpySerializer, _aligned_buffer  # noqa: F401 (_aligned_buffer: bench, tests)
from ._sparse import SparseSerializer
from ._warn import warn
from ._xarray import XarraySerializer

__all__ = [
    "Serializer",
    "register_serializer",
    "get_serializer",
    "choose_serializer",
    "serializers",
]


@runtime_checkable
class Serializer(Protocol):
    """What a serializer provides. ``safe`` means loading cannot run arbitrary code."""

    id: str
    ext: str
    safe: bool

    def accepts(self, value: Any) -> bool: ...
    def dump(self, value: Any, out: BinaryIO) -> None: ...
    def load(self, src: BinaryIO) -> Any: ...


# -- JSON --------------------------------------------------------------------------------------


_DIGITS_ONLY = bytes(48 if 48 <= c <= 57 else 32 for c in range(256))  # digit -> "0", else " "
_LONG_NUMBER = b"0" * 19


def _has_long_number(data: bytes) -> bool:
    """True if ``data`` has a run of 19+ digits (an int orjson may read as a float).

    A translate + find runs at memory speed; the regex ``\\d{19,}`` took ~0.2 s on 14 MB of
    ints. Floats never qualify: their repr has at most 17 significant digits.
    """
    return _LONG_NUMBER in data.translate(_DIGITS_ONLY)


def _orjson() -> Any:
    try:
        import orjson
    except ImportError:
        return None
    return orjson


class JSONSerializer:
    """Readable on disk; used only for values that survive JSON exactly. orjson when installed."""

    id, ext, safe = "json", "json", True

    def accepts(self, value: Any) -> bool:
        return _json_exact(value)

    def dump(self, value: Any, out: BinaryIO) -> None:
        orjson = _orjson()
        if orjson is not None:
            try:
                out.write(orjson.dumps(value))
                return
            except (TypeError, orjson.JSONEncodeError):
                pass  # e.g. integers beyond 64 bits: the stdlib handles them
        out.write(json.dumps(value, ensure_ascii=False, allow_nan=False).encode())

    def load(self, src: BinaryIO) -> Any:
        data = src.read()
        orjson = _orjson()
        if orjson is not None and not _has_long_number(data):  # orjson reads huge ints as floats
            try:
                return orjson.loads(data)
            except orjson.JSONDecodeError:
                pass
        return json.loads(data)


# -- numpy -------------------------------------------------------------------------------------


def _is_type(value: Any, module: str, name: str) -> bool:
    t = type(value)
    return t.__name__ == name and t.__module__.partition(".")[0] == module


# -- pandas ------------------------------------------------------------------------------------


class ParquetSerializer:
    """Plain pandas frames (simple dtypes, default index) as Parquet, when pyarrow is installed."""

    id, ext, safe = "parquet", "parquet", True

    def accepts(self, value: Any) -> bool:
        if not _is_type(value, "pandas", "DataFrame") or value.attrs:
            return False
        try:
            import pandas as pd
            import pyarrow  # noqa: F401
        except ImportError:
            return False
        index, cols = value.index, value.columns
        if (
            type(index) is not pd.RangeIndex
            or index.start != 0
            or index.step != 1
            or index.name is not None
        ):
            return False
        if type(cols) is not pd.Index or not cols.is_unique or cols.name is not None:
            return False
        if not all(type(c) is str for c in cols):
            return False
        return all(dt.kind in "biufM" or isinstance(dt, pd.StringDtype) for dt in value.dtypes)

    def dump(self, value: Any, out: BinaryIO) -> None:
        buf = io.BytesIO()  # pyarrow wants a real file object
        value.to_parquet(buf, engine="pyarrow", index=False)
        out.write(buf.getbuffer())

    def load(self, src: BinaryIO) -> Any:
        import pandas as pd

        return pd.read_parquet(io.BytesIO(src.read()), engine="pyarrow")


# -- pickle ------------------------------------------------------------------------------------


class PickleSerializer:
    """Everything else. Pickle is code: the store refuses to load it from shared-writable places."""

    id, ext, safe = "pickle", "pkl", False

    def accepts(self, value: Any) -> bool:
        return True

    def dump(self, value: Any, out: BinaryIO) -> None:
        pickle.dump(value, out, protocol=5)

    def load(self, src: BinaryIO) -> Any:
        return pickle.load(src)


# -- registry ----------------------------------------------------------------------------------

_BUILTIN: list[Serializer] = [
    JSONSerializer(),
    NpySerializer(),
    ArrowSerializer(),
    SparseSerializer(),
    PNGSerializer(),
    XarraySerializer(),
    ParquetSerializer(),  # no longer chosen (Arrow accepts all it did); loads older checkpoints
    PickleSerializer(),
]
_USER: list[Serializer] = []
_PLUGINS: list[Serializer] | None = None
_PLUGINS_LOCK = threading.Lock()
ENTRY_POINT_GROUP = "chkpt.serializers"


def serializers() -> list[Serializer]:
    """All serializers, in the order they are tried: registered, then plugins, then built-in."""
    return [*_USER, *_plugins(), *_BUILTIN]


def _plugins() -> list[Serializer]:
    """Serializers other packages declare under the ``chkpt.serializers`` entry-point group.

    Read once per process, on first use (not at import: scanning installed distributions costs
    milliseconds). An entry point names a serializer object, a class or a factory; one that fails
    to load or is not a serializer is skipped with a warning naming it, never a failed run."""
    global _PLUGINS
    if _PLUGINS is not None:
        return _PLUGINS
    with _PLUGINS_LOCK:
        if _PLUGINS is None:
            _PLUGINS = []  # a plugin that asks for serializers() while loading sees none
            _PLUGINS = _load_plugins()
    return _PLUGINS


def _load_plugins() -> list[Serializer]:
    from importlib.metadata import entry_points

    found: list[Serializer] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            if isinstance(obj, type) or (callable(obj) and not isinstance(obj, Serializer)):
                obj = obj()  # a class or a factory
            if not isinstance(obj, Serializer):
                raise TypeError(f"{obj!r} lacks id/ext/safe/accepts/dump/load")
        except Exception as exc:
            dist = getattr(ep.dist, "name", None) or "?"
            warn(
                f"skipping serializer plugin {ep.name!r} ({ep.value}, from {dist}): "
                f"{type(exc).__name__}: {exc}",
                PluginWarning,
            )
            continue
        found.append(obj)
    return found


def register_serializer(serializer: Serializer) -> Serializer:
    """Register a serializer; it is tried before the built-in ones. Returns it (usable as decorator)."""
    if not isinstance(serializer, Serializer):
        raise TypeError(f"{serializer!r} lacks id/ext/safe/accepts/dump/load")
    _USER[:] = [s for s in _USER if s.id != serializer.id]
    _USER.insert(0, serializer)
    return serializer


def get_serializer(ident: str | Serializer) -> Serializer:
    """The serializer with this id (or the serializer itself)."""
    if not isinstance(ident, str):
        return ident
    for s in serializers():
        if s.id == ident:
            return s
    known = ", ".join(s.id for s in serializers())
    raise SerializationError(f"unknown serializer {ident!r}; known: {known}")


def choose_serializer(value: Any, safe_only: bool = False) -> Serializer:
    """The first serializer that accepts ``value`` (only loading-safe ones if ``safe_only``)."""
    for s in serializers():
        if (s.safe or not safe_only) and s.accepts(value):
            return s
    raise SerializationError(
        f"no safe serializer accepts a value of type {type(value).__qualname__}"
    )
