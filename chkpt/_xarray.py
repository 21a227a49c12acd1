"""xarray DataArrays and Datasets as a JSON header and ``.npy`` arrays: safe, exact, no netCDF.

netCDF would need netCDF4 or h5netcdf and cannot encode every ``attrs`` value or dtype; this
format keeps what an in-memory xarray object is: each variable's dims, values (any non-object
numpy dtype, datetimes and strings included), ``attrs`` and ``encoding``, which variables are
coordinates, the object's name and attrs. Only objects it rebuilds identically are accepted:
numpy-backed (not dask or lazily loaded), string names, JSON-exact ``attrs``/``encoding``, and
default indexes; ``dump`` rebuilds the object from its own arrays and compares its structure
(variables, types, dims, dtypes, coordinates, indexes, attrs) before writing. Anything else
falls through to pickle.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

from ._errors import SerializationError
from ._jsonexact import json_exact
from ._npy import NpySerializer

__all__ = ["XarraySerializer"]

_MAGIC = b"CHKPT-XARRAY 1\n"
_KINDS = frozenset("biufcmMUS")  # numpy dtypes .npy stores without pickle


def _kind(value: Any) -> str | None:
    t = type(value)
    if t.__module__.partition(".")[0] == "xarray" and t.__name__ in ("DataArray", "Dataset"):
        return t.__name__
    return None


class XarraySerializer:
    """In-memory ``xarray.DataArray`` / ``xarray.Dataset`` with numpy data and JSON-exact attrs."""

    id, ext, safe = "xarray", "xnpy", True

    def accepts(self, value: Any) -> bool:
        kind = _kind(value)
        if kind is None:
            return False
        variables = _variables(value)
        if kind == "DataArray" and not (value.name is None or type(value.name) is str):
            return False
        for name, var in variables:
            data = var._data  # the wrapped array: numpy, or a lazy/dask/index adapter
            if type(name) not in (str, type(None)) or not all(type(d) is str for d in var.dims):
                return False
            if type(data).__name__ not in ("ndarray", "PandasIndexingAdapter"):
                return False
            if not type(var.dtype).__module__.startswith("numpy") or var.dtype.kind not in _KINDS:
                return False
            if not json_exact(dict(var.attrs)) or not json_exact(dict(var.encoding)):
                return False
        if not json_exact(dict(value.attrs)):
            return False
        return all(type(index).__name__ == "PandasIndex" for index in value.xindexes.values())

    def dump(self, value: Any, out: BinaryIO) -> None:
        kind = _kind(value)
        variables = _variables(value)
        coords = set(value.coords)
        header = {
            "kind": kind,
            "name": value.name if kind == "DataArray" else None,
            "attrs": dict(value.attrs) if kind == "Dataset" else {},
            "variables": [
                {
                    "name": name,
                    "dims": list(var.dims),
                    "attrs": dict(var.attrs),
                    "encoding": dict(var.encoding),
                    "coord": name in coords,
                }
                for name, var in variables
            ],
        }
        arrays = [var.values for _, var in variables]
        rebuilt = _build(header, arrays)
        if _structure(rebuilt) != _structure(value):
            raise SerializationError("this xarray object would not be rebuilt identically")
        out.write(_MAGIC + json.dumps(header).encode() + b"\n")
        npy = NpySerializer()
        for array in arrays:
            npy.dump(array, out)

    def load(self, src: BinaryIO) -> Any:
        if src.read(len(_MAGIC)) != _MAGIC:
            raise ValueError("not a chkpt xarray file")
        header = json.loads(src.readline(1 << 24))
        npy = NpySerializer()
        return _build(header, [npy.load(src) for _ in header["variables"]])


def _variables(value: Any) -> list[tuple[Any, Any]]:
    """(name, Variable) of every variable; a DataArray's own data first, under its name."""
    if _kind(value) == "DataArray":
        return [(None, value.variable), *value.coords.variables.items()]
    return list(value.variables.items())


def _build(header: dict[str, Any], arrays: list[Any]) -> Any:
    """The object, its variables inserted in their original order (so its repr is the same)."""
    import xarray as xr

    variables = []
    for spec, array in zip(header["variables"], arrays, strict=True):
        var = xr.Variable(spec["dims"], array, attrs=spec["attrs"], encoding=spec["encoding"])
        variables.append((spec["name"], spec["coord"], var))
    if header["kind"] == "DataArray":
        (_, _, data), *coords = variables
        array = xr.DataArray(data, coords={n: v for n, _, v in coords}, name=header["name"])
        array.encoding = dict(data.encoding)  # the constructor drops it
        return array
    value = xr.Dataset(attrs=header["attrs"])
    for name, coord, var in variables:
        if coord:
            value.coords[name] = var
        else:
            value[name] = var
    return value


def _structure(value: Any) -> Any:
    """Everything but the values: what the rebuilt object must share with the original."""
    variables = [
        (name, type(var).__name__, var.dims, str(var.dtype), var.shape, var.attrs, var.encoding)
        for name, var in _variables(value)
    ]
    indexes = [(name, type(index).__name__) for name, index in value.xindexes.items()]
    name = value.name if _kind(value) == "DataArray" else None
    return type(value), name, variables, list(value.coords), indexes, dict(value.attrs)
