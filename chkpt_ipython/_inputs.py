"""What a stage cell's inputs are: graph edges (values another stage cell produced, still bound)
or parameters (everything else it reads, part of its key by value).

There is no key formula here: the core's checkpoint policy keys a cell like any stage, from its
code (the cell's normalised source), its parameters and its upstream stages' digests.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import re
import types
from collections.abc import Iterable, Mapping
from typing import Any

import chkpt

from ._record import Producer
from ._user_modules import is_user_module, module_fingerprint

__all__ = ["ABSENT", "CellInputs", "classify", "fingerprint_input", "source_fingerprint"]

ABSENT = "<absent>"  # a name the cell reads that is not bound (yet): part of the key as such
_IPYTHON_NAMES = re.compile(r"^(_i+|_i\d+|_[iod]h|In|Out|get_ipython|exit|quit)$")
# earlier results: values like any other, though IPython pushes them as its own (hidden) names
_RESULTS = re.compile(r"^(_{1,3}|_\d+)$")


@dataclasses.dataclass(frozen=True)
class CellInputs:
    """``edges``: name -> upstream stage; ``params``: name -> value (``ABSENT`` when unbound)."""

    edges: dict[str, str]
    params: dict[str, Any]


@functools.lru_cache(maxsize=512)
def source_fingerprint(source: str) -> str:
    """Normalised fingerprint of a cell's (transformed) source: comments and layout do not count."""
    try:
        return chkpt.fingerprint_source(source)
    except SyntaxError:
        return "raw-source:" + (chkpt.fingerprint_value(source) or "")


def classify(
    reads: Iterable[str],
    ns: Mapping[str, Any],
    producers: Mapping[str, Producer],
    hidden: Mapping[str, Any] | None = None,
    stages: Iterable[str] = (),
) -> CellInputs:
    """Split the names a cell reads into edges (a value a stage cell in ``stages`` produced and
    the name still holds) and parameters (the rest, by value)."""
    known = set(stages)
    edges: dict[str, str] = {}
    params: dict[str, Any] = {}
    for var in sorted(set(reads)):
        if not _is_input(var, ns, hidden or {}):
            continue
        producer = producers.get(var)
        if (
            var in ns
            and producer is not None
            and ns[var] is producer.obj
            and producer.stage in known
        ):
            edges[var] = producer.stage
        else:
            params[var] = ns.get(var, ABSENT)
    return CellInputs(edges, params)


def _is_input(var: str, ns: Mapping[str, Any], hidden: Mapping[str, Any]) -> bool:
    """Builtins count only when the user shadowed them; IPython's own names never count."""
    if _IPYTHON_NAMES.match(var):
        return False
    if var in ns and _RESULTS.match(var):
        return True
    if var in ns:
        return not (var in hidden and hidden[var] is ns[var])
    return not hasattr(builtins, var)


def fingerprint_input(value: Any) -> str | None:
    """Fingerprint of a parameter value: library modules by name and version, user modules by
    their code and values, everything else by the core
    (which hashes functions and classes defined in the notebook by their code)."""
    if isinstance(value, types.ModuleType):
        if is_user_module(value):
            return module_fingerprint(value)
        return f"module:{value.__name__}:{getattr(value, '__version__', '')}"
    return chkpt.fingerprint_value(value)
