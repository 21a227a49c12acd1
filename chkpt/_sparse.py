"""scipy.sparse matrices and arrays as a few ``.npy`` arrays: safe (no pickle), exact, no scipy import.

The file is a JSON header line (class, shape, which arrays follow) then each component array as
``.npy`` (the same writer and reader as plain arrays). The components are stored as they are,
index dtype included, and set back on the rebuilt object, so format, class (``csr_matrix`` vs
``csr_array``), dtype, shape, explicit zeros, duplicates and index order all come back as they were.
``lil`` and ``dok`` have no array form: they are stored as ``csr`` / ``coo`` and converted back
(same values, dtype and shape).
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

from ._npy import NpySerializer

__all__ = ["SparseSerializer"]

_COMPONENTS = {
    "csr": ("data", "indices", "indptr"),
    "csc": ("data", "indices", "indptr"),
    "bsr": ("data", "indices", "indptr"),
    "coo": ("data", "coords"),
    "dia": ("data", "offsets"),
}
_VIA = {"lil": "csr", "dok": "coo"}  # formats without arrays of their own
_MAGIC = b"CHKPT-SPARSE 1\n"


def _format(value: Any) -> str | None:
    t = type(value)
    if not t.__module__.startswith("scipy.sparse"):
        return None
    fmt, _, kind = t.__name__.rpartition("_")
    if kind in ("matrix", "array") and (fmt in _COMPONENTS or fmt in _VIA):
        return fmt
    return None


class SparseSerializer:
    """scipy.sparse ``csr/csc/coo/bsr/dia/lil/dok`` matrices and arrays."""

    id, ext, safe = "sparse", "spz", True

    def accepts(self, value: Any) -> bool:
        fmt = _format(value)
        return fmt is not None and value.dtype.kind in "biufc"

    def dump(self, value: Any, out: BinaryIO) -> None:
        fmt = _format(value)
        assert fmt is not None
        stored = getattr(value, "to" + _VIA[fmt])() if fmt in _VIA else value
        base = _VIA.get(fmt, fmt)
        arrays = {}
        for name in _COMPONENTS[base]:
            if name == "coords":
                coords = getattr(stored, "coords", None) or (stored.row, stored.col)
                arrays.update({f"coords{i}": c for i, c in enumerate(coords)})
            else:
                arrays[name] = getattr(stored, name)
        header = {
            "class": type(value).__name__,
            "shape": list(value.shape),
            "arrays": list(arrays),
            "canonical": bool(getattr(stored, "has_canonical_format", False)),
        }
        out.write(_MAGIC + json.dumps(header).encode() + b"\n")
        npy = NpySerializer()
        for array in arrays.values():
            npy.dump(array, out)

    def load(self, src: BinaryIO) -> Any:
        import scipy.sparse as sp

        if src.read(len(_MAGIC)) != _MAGIC:
            raise ValueError("not a chkpt sparse file")
        header = json.loads(src.readline(1 << 16))
        cls = getattr(sp, header["class"])
        fmt = cls.__name__.rpartition("_")[0]
        if fmt not in _COMPONENTS and fmt not in _VIA:
            raise ValueError(f"not a sparse format: {header['class']!r}")
        npy = NpySerializer()
        arrays = {name: npy.load(src) for name in header["arrays"]}
        shape = tuple(header["shape"])
        base = _VIA.get(fmt, fmt)
        built = getattr(sp, f"{base}_{cls.__name__.rpartition('_')[2]}")
        if base == "coo":
            coords = tuple(arrays[f"coords{i}"] for i in range(len(arrays) - 1))
            value = built((arrays["data"], coords), shape=shape, copy=False)
            _set_coords(value, coords)
            value.has_canonical_format = header["canonical"]
        elif base == "dia":
            value = built((arrays["data"], arrays["offsets"]), shape=shape, copy=False)
            value.data, value.offsets = arrays["data"], arrays["offsets"]
        else:
            parts = (arrays["data"], arrays["indices"], arrays["indptr"])
            value = built(parts, shape=shape, copy=False)
            value.data, value.indices, value.indptr = parts  # keep the index dtype as stored
            value.has_canonical_format = header["canonical"]
        return getattr(value, "to" + fmt)() if fmt in _VIA else value


def _set_coords(value: Any, coords: tuple[Any, ...]) -> None:
    if hasattr(value, "coords"):
        value.coords = coords
    else:  # scipy < 1.13
        value.row, value.col = coords
