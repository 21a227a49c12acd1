"""Which values plain JSON gives back equal and of the same types (the JSON format's rule; also
used for ``attrs`` the xarray format writes as JSON)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["json_exact"]

_LEAVES = frozenset({str, int, bool, type(None)})
_FLOAT = {float}


def json_exact(value: Any) -> bool:
    """True when plain JSON reads ``value`` back equal and with the same types (iterative)."""
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t in (str, int, bool) or v is None:
            continue
        if t is float:
            if not math.isfinite(v):
                return False
        elif t is list:
            kinds = set(map(type, v))  # big flat lists are checked at C speed
            if kinds <= _LEAVES:
                continue
            if kinds == _FLOAT:
                if not all(map(math.isfinite, v)):
                    return False
                continue
            stack.extend(v)
        elif t is dict:
            if not all(type(k) is str for k in v):
                return False
            stack.extend(v.values())
        else:
            return False
    return True
