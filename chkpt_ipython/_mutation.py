"""Fast content fingerprints, to tell whether an object was changed in place.

Notebooks mutate objects (``df["c"] = ...``, ``X /= 16``, ``model.fit(X, y)``, ``xs.append(1)``):
a name still pointing to the object a stage produced says nothing about its content. A
fingerprint taken when the value was produced (or restored) and again before it is used tells.

It is made for speed, not for keys: numpy and pandas buffers are hashed directly (xxh3 when
``xxhash`` is installed), at about the cost of one pass over the data; immutable values cost
nothing (``IMMUTABLE``); other objects are hashed through their pickle. ``None`` means the content
cannot be told (an object that does not pickle): callers must then assume it changed.
"""

from __future__ import annotations

import pickle
import types
from collections.abc import Callable
from typing import Any, Final

from chkpt import new_hasher

__all__ = ["IMMUTABLE", "content_fingerprint", "is_immutable"]

IMMUTABLE: Final = "immutable"

_SCALARS = (type(None), bool, int, float, complex, str, bytes, range, type(Ellipsis))
_CODE = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)


def is_immutable(obj: Any, depth: int = 0) -> bool:
    """True for values that cannot change in place (scalars, tuples and frozensets of them).

    >>> is_immutable((1, "a", frozenset({2}))), is_immutable((1, [2]))
    (True, False)
    """
    t = type(obj)
    if t in _SCALARS:
        return True
    if t in (tuple, frozenset) and depth < 8 and len(obj) < 10_000:
        return all(is_immutable(item, depth + 1) for item in obj)
    return False


def content_fingerprint(obj: Any) -> str | None:
    """``IMMUTABLE``, a hash of the object's content, or None when it cannot be told.

    >>> xs = [1, 2]; before = content_fingerprint(xs); xs.append(3)
    >>> before != content_fingerprint(xs), content_fingerprint((1, 2))
    (True, 'immutable')
    """
    if is_immutable(obj) or isinstance(obj, _CODE):
        return IMMUTABLE
    h = new_hasher()
    try:
        ok = _feed(h, obj, 0)
    except Exception:  # a __reduce__ that raises, a recursion: content unknown
        return None
    return h.hexdigest() if ok else None


def _feed(h: Any, obj: Any, depth: int) -> bool:
    t = type(obj)
    h.update(f"\x00{t.__module__}.{t.__qualname__}\x00".encode())
    if t in _SCALARS:
        h.update(repr(obj).encode())
        return True
    feeder = _FEEDERS.get(t.__module__.partition(".")[0])
    if feeder is not None:
        done = feeder(h, obj)
        if done is not None:
            return done
    if t.__module__.startswith(("scipy.", "sklearn.")):
        from ._library_values import library_fingerprint

        known = library_fingerprint(obj)  # their pickles can hold the global generator's state
        if known is not None:
            h.update(known.encode())
            return True
    if depth < 4 and t in (list, tuple) and len(obj) < 100_000:
        h.update(len(obj).to_bytes(8, "little"))
        return all(_feed(h, item, depth + 1) for item in obj)
    if depth < 4 and t is dict and len(obj) < 100_000:
        h.update(len(obj).to_bytes(8, "little"))
        return all(_feed(h, k, depth + 1) and _feed(h, v, depth + 1) for k, v in obj.items())
    return _feed_pickle(h, obj)


def _feed_pickle(h: Any, obj: Any) -> bool:
    if isinstance(obj, (types.GeneratorType,)) or hasattr(obj, "fileno"):
        return False
    h.update(pickle.dumps(obj, protocol=5))
    return True


def _feed_array(h: Any, arr: Any) -> bool:
    """An ndarray's dtype, shape and buffer (no copy when it is contiguous)."""
    import numpy as np

    if arr.dtype.hasobject:
        return _feed_pickle(h, arr)
    h.update(f"{arr.dtype.str}{arr.shape}".encode())
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    h.update(memoryview(arr.reshape(-1).view(np.uint8)) if arr.size else b"")
    return True


def _feed_numpy(h: Any, obj: Any) -> bool | None:
    import numpy as np

    if isinstance(obj, np.ndarray):
        return _feed_array(h, obj)
    return None


def _feed_pandas(h: Any, obj: Any) -> bool | None:
    """Frames column by column: a numeric column is a view of its block, hashed without a copy."""
    import pandas as pd

    if isinstance(obj, pd.DataFrame):
        h.update(repr((obj.shape, list(obj.columns), [str(d) for d in obj.dtypes])).encode())
        ok = _feed_index(h, obj.index) and _feed_attrs(h, obj)
        return ok and all(_feed_values(h, obj.iloc[:, i]) for i in range(obj.shape[1]))
    if isinstance(obj, pd.Series):
        h.update(repr((obj.shape, obj.name, str(obj.dtype))).encode())
        return _feed_index(h, obj.index) and _feed_attrs(h, obj) and _feed_values(h, obj)
    if isinstance(obj, pd.Index):
        return _feed_index(h, obj)
    return None


def _feed_attrs(h: Any, obj: Any) -> bool:
    if obj.attrs:
        h.update(repr(sorted(obj.attrs.items(), key=repr)).encode())
    return True


def _feed_index(h: Any, index: Any) -> bool:
    import pandas as pd

    h.update(repr((type(index).__name__, index.names, str(index.dtype))).encode())
    if isinstance(index, pd.RangeIndex):
        h.update(repr((index.start, index.stop, index.step)).encode())
        return True
    if isinstance(index, pd.MultiIndex):
        return all(_feed_index(h, index.get_level_values(i)) for i in range(index.nlevels))
    return _feed_values(h, index)


def _feed_values(h: Any, values: Any) -> bool:
    """A Series' or Index's values: numeric buffers directly, others through pandas' hashing."""
    import numpy as np
    import pandas as pd

    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biufcmMV":
        return _feed_array(h, values.to_numpy(copy=False))
    if isinstance(dtype, pd.DatetimeTZDtype):
        return _feed_array(h, values.array.asi8 if hasattr(values, "array") else values.asi8)
    hashed = pd.util.hash_array(np.asarray(values, dtype=object), categorize=False)
    nulls = np.asarray(pd.isna(values))
    return _feed_array(h, hashed) and _feed_array(h, nulls)


_FEEDERS: dict[str, Callable[[Any, Any], bool | None]] = {
    "numpy": _feed_numpy,
    "pandas": _feed_pandas,
}
