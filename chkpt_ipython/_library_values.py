"""Deterministic fingerprints of common library objects whose pickle is not deterministic.

A ``scipy.stats`` frozen distribution pickles the global numpy generator it draws from, so its
pickle (and a key made from it) differs after every restart and every draw: a stage reading one
would never hit. A scikit-learn estimator is identified by its class, its parameters and its fitted
attributes (``coef_``, ...), which is what its results depend on.

Registered with the core (``chkpt.register_fingerprint``) when the extension loads, so cell
keys and scripts' stage keys both use them; they could move into the core's own registry.
"""

from __future__ import annotations

from typing import Any

import chkpt
from chkpt import hash_bytes

__all__ = ["library_fingerprint", "register"]

_TYPES = ("scipy.stats._distn_infrastructure.rv_frozen", "sklearn.base.BaseEstimator")
_registered = False


def register() -> None:
    """Make the core fingerprint these types this way (types named, never imported)."""
    global _registered
    if not _registered:
        for name in _TYPES:
            chkpt.register_fingerprint(name, _plain)
        _registered = True


def _plain(obj: Any) -> str:
    fp = library_fingerprint(obj)
    if fp is None:  # the core then treats the value as one it cannot key: recompute, say why
        raise ValueError(f"a {type(obj).__qualname__} with a part chkpt cannot fingerprint")
    return fp


def library_fingerprint(obj: Any) -> str | None:
    """A fingerprint for a known library object; None when ``obj`` is not one of them (or one
    of its parts cannot be fingerprinted)."""
    module = type(obj).__module__
    if module.startswith("scipy.stats") and _is_frozen_distribution(obj):
        return _frozen(obj)
    if module.startswith("sklearn") and hasattr(obj, "get_params"):
        return _estimator(obj)
    return None


def _fp(value: Any) -> str | None:
    known = library_fingerprint(value)
    if known is not None:
        return known
    if type(value) in (list, tuple):
        parts = [_fp(item) for item in value]
        return None if None in parts else hash_bytes(type(value).__name__, *parts)  # type: ignore[arg-type]
    if type(value) is dict:
        items = sorted((repr(k), _fp(v)) for k, v in value.items())
        return None if any(v is None for _, v in items) else hash_bytes("dict", repr(items))
    if _is_global_generator(value):
        return "numpy-global-generator"  # its state is the RNG detector's business
    return chkpt.fingerprint_value(value)


def _is_frozen_distribution(obj: Any) -> bool:
    return all(hasattr(obj, attr) for attr in ("dist", "args", "kwds"))


def _frozen(obj: Any) -> str | None:
    dist = obj.dist
    parts = [
        _fp(type(obj)),
        _fp(type(dist)),
        _fp(getattr(dist, "name", "")),
        _fp(obj.args),
        _fp(dict(obj.kwds)),
        _fp(_state(getattr(obj, "random_state", None))),
    ]
    return None if None in parts else hash_bytes("scipy-frozen", *parts)  # type: ignore[arg-type]


def _estimator(obj: Any) -> str | None:
    try:
        params = obj.get_params(deep=False)
    except Exception:
        return None
    fitted = {k: v for k, v in vars(obj).items() if k.endswith("_") and not k.startswith("_")}
    parts = [_fp(type(obj)), _fp(params), _fp(fitted)]
    return None if None in parts else hash_bytes("sklearn-estimator", *parts)  # type: ignore[arg-type]


def _state(generator: Any) -> Any:
    """What a generator object's draws depend on: its state (the global one: a marker)."""
    if generator is None or _is_global_generator(generator):
        return "global"
    if hasattr(generator, "get_state"):
        return generator.get_state(legacy=False)
    bit_generator = getattr(generator, "bit_generator", None)
    return bit_generator.state if bit_generator is not None else generator


def _is_global_generator(value: Any) -> bool:
    import sys

    mtrand = sys.modules.get("numpy.random.mtrand")
    return mtrand is not None and value is getattr(mtrand, "_rand", None)
