"""The cache key of a stage cell, computed from its code and the current namespace.

    key = make_key(cell source fingerprint, stage name, serializer,
                   for each input in sorted order: "name=stage:<upstream digest>" when the value is
                   the one an upstream stage cell produced, else "name=value:<fingerprint>")

Upstream values enter by the content digest of their stored checkpoint (no hashing of the data);
other values (parameters) by value. A value that cannot be fingerprinted makes the cell
uncacheable for that run: it is recomputed, never falsely served.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import chkpt

__all__ = ["CellKey", "Producer", "cell_key", "fingerprint_input", "source_fingerprint"]

KEY_VERSION = "chkpt_ipython-cell-2"
ABSENT = "absent"
_IPYTHON_NAMES = re.compile(r"^(_+|_i+|_i?\d+|_[iod]h|In|Out|get_ipython|exit|quit)$")


@dataclasses.dataclass
class Producer:
    """The stage cell that produced a namespace value, and its checkpoint's digest."""

    stage: str
    obj: Any
    digest: str | None


@dataclasses.dataclass(frozen=True)
class CellKey:
    """A key (None: uncacheable, see ``why``), and what went into it."""

    key: str | None
    fingerprint: str
    inputs: dict[str, str]
    upstream: dict[str, str]
    params: tuple[str, ...]
    why: str = ""


@functools.lru_cache(maxsize=512)
def source_fingerprint(source: str) -> str:
    """Normalised fingerprint of a cell's (transformed) source."""
    try:
        return chkpt.fingerprint_source(source)
    except SyntaxError:
        return chkpt.make_key("raw-source", source)


def cell_key(
    name: str,
    source: str,
    reads: Iterable[str],
    ns: Mapping[str, Any],
    producers: Mapping[str, Producer],
    serializer: str | None = None,
    hidden: Mapping[str, Any] | None = None,
    value_fingerprint: Callable[[str, Any], str | None] | None = None,
) -> CellKey:
    """Compute the key of a stage cell from its source and the values of the names it reads.

    ``hidden`` is the shell's ``user_ns_hidden``: what IPython itself put in the namespace
    (its ``open``, ``get_ipython``, ...) is not an input while the user has not rebound it.
    ``value_fingerprint(name, value)`` replaces ``fingerprint_input`` (a memo, for status).
    """
    value_fp_of = value_fingerprint or (lambda _name, value: fingerprint_input(value))
    fingerprint = source_fingerprint(source)
    parts = [KEY_VERSION, fingerprint, name, serializer or "auto"]
    inputs: dict[str, str] = {}
    upstream: dict[str, str] = {}
    params: list[str] = []
    for var in sorted(set(reads)):
        if not _is_input(var, ns, hidden or {}):
            continue
        producer = producers.get(var)
        if var in ns and producer is not None and ns[var] is producer.obj:
            upstream[var] = producer.stage
            if producer.digest is not None:
                inputs[var] = f"stage:{producer.stage}:{producer.digest}"
                continue
        else:
            params.append(var)
        value_fp = value_fp_of(var, ns[var]) if var in ns else ABSENT
        if value_fp is None:
            why = f"input {var!r} ({type(ns[var]).__qualname__}) cannot be fingerprinted"
            return CellKey(None, fingerprint, inputs, upstream, tuple(params), why)
        inputs[var] = f"value:{value_fp}"
    parts.extend(f"{var}={digest}" for var, digest in inputs.items())
    return CellKey(chkpt.make_key(*parts), fingerprint, inputs, upstream, tuple(params))


def _is_input(var: str, ns: Mapping[str, Any], hidden: Mapping[str, Any]) -> bool:
    """Builtins count only when the user shadowed them; IPython's own names never count."""
    if _IPYTHON_NAMES.match(var):
        return False
    if var in ns:
        return not (var in hidden and hidden[var] is ns[var])
    import builtins

    return not hasattr(builtins, var)


def fingerprint_input(value: Any) -> str | None:
    """Fingerprint of an input value: modules by name and version, everything else by the core
    (which hashes functions and classes defined in the notebook by their code)."""
    if isinstance(value, types.ModuleType):
        return f"module:{value.__name__}:{getattr(value, '__version__', '')}"
    return chkpt.fingerprint_value(value)
