"""How values of library types enter a fingerprint: a registry matched by type name.

A fingerprinter turns a value into plain data (bytes, tuples, dicts, scalars) that describes it
completely; that data is then fingerprinted like any other value. Types are matched by their
``module.qualname`` along the MRO, so registering numpy's or scipy's types never imports them:
chkpt stays stdlib-only and pays nothing for libraries the user does not use.

>>> import fractions
>>> register_fingerprint("fractions.Fraction", lambda f: (f.numerator, f.denominator))
>>> fingerprinter_for(fractions.Fraction(1, 3)) is not None
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["register_fingerprint", "fingerprinter_for"]

_REGISTRY: dict[str, Callable[[Any], Any]] = {}
_BY_TYPE: dict[type, Callable[[Any], Any] | None] = {}


def register_fingerprint(type_name: str | type, func: Callable[[Any], Any]) -> None:
    """Fingerprint instances of ``type_name`` (``"pkg.module.Class"`` or the class) by ``func(obj)``.

    ``func`` returns plain data that determines the value (it is fingerprinted in its place);
    subclasses match too, the nearest registered class in the MRO wins.
    """
    if isinstance(type_name, type):
        type_name = f"{type_name.__module__}.{type_name.__qualname__}"
    _REGISTRY[type_name] = func
    _BY_TYPE.clear()


def fingerprinter_for(obj: Any) -> Callable[[Any], Any] | None:
    """The registered fingerprinter for ``obj``'s type, if any (cached per type)."""
    t = type(obj)
    try:
        return _BY_TYPE[t]
    except KeyError:
        pass
    found = None
    for klass in t.__mro__:
        found = _REGISTRY.get(f"{klass.__module__}.{klass.__qualname__}")
        if found is not None:
            break
    _BY_TYPE[t] = found
    return found


# -- numpy and pandas, by content ------------------------------------------------------------


def _ndarray(a: Any) -> Any:
    if a.dtype.hasobject:
        return ("object-array", a.shape, a.tolist())
    import numpy as np

    flat = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
    return (a.dtype.str, a.shape, flat.data if flat.size else b"")


def _numpy_scalar(x: Any) -> Any:
    return (x.dtype.str, x.item())


def _vectorize(v: Any) -> Any:
    # not its __dict__: ``_ufunc`` is a cache filled by the first call
    return (v.pyfunc, v.otypes, sorted(map(repr, v.excluded)), v.signature, v.cache)


def _pandas(obj: Any) -> Any:
    import pandas as pd

    if isinstance(obj, pd.DataFrame):
        columns = [(repr(c), str(t)) for c, t in obj.dtypes.items()]
        try:
            rows = pd.util.hash_pandas_object(obj, index=True).to_numpy()
        except TypeError:  # unhashable cells (lists, dicts): by their values
            rows = obj.to_dict("split")
        return ("DataFrame", columns, _pandas(obj.index), rows)
    if isinstance(obj, pd.Series):
        try:
            values = pd.util.hash_pandas_object(obj, index=True).to_numpy()
        except TypeError:
            values = obj.tolist()
        return ("Series", repr(obj.name), str(obj.dtype), _pandas(obj.index), values)
    if isinstance(obj, pd.Index):
        try:
            values = pd.util.hash_pandas_object(obj).to_numpy()
        except TypeError:
            values = obj.tolist()
        return (type(obj).__name__, list(map(repr, obj.names)), str(obj.dtype), values)
    raise TypeError(f"no pandas fingerprint for {type(obj).__qualname__}")


for _name, _func in {
    "numpy.ndarray": _ndarray,
    "numpy.generic": _numpy_scalar,
    "numpy.vectorize": _vectorize,
    "pandas.DataFrame": _pandas,  # pandas >= 3 names its classes by the public module
    "pandas.Series": _pandas,
    "pandas.Index": _pandas,
    "pandas.core.frame.DataFrame": _pandas,
    "pandas.core.series.Series": _pandas,
    "pandas.core.indexes.base.Index": _pandas,
}.items():
    register_fingerprint(_name, _func)
