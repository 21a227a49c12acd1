"""The global random generators a cell uses: part of its key, restored after a hit.

``np.random.seed(1234)`` in a plain cell and ``np.random.normal(...)`` in a stage cell: the
stage's result depends on the global generator's state, an input no name shows. Two generators
are global: the stdlib's ``random`` module and numpy's legacy ``np.random.*`` functions
(``np.random.default_rng`` generators are ordinary values, keyed like any other).

A cell *uses* one when its code calls it (``np.random.normal``, ``random.random``, a function
imported from them, a helper defined in the notebook whose code mentions ``random``), or when it
was seen to change the generator's state while it ran (a library drawing from it internally).
Its key then includes the state before the run, and a hit sets the state the run left, so later
cells draw the same numbers as without chkpt. A generator never seeded starts each process in an
arbitrary state: a cell drawing from it recomputes after every restart (and says so), as its
numbers would differ without chkpt too; seed it, or use ``np.random.default_rng(seed)``.
"""

from __future__ import annotations

import ast
import functools
import sys
import types
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from chkpt import hash_bytes

__all__ = ["GENERATORS", "Generator", "digest", "get_state", "set_state", "static_uses"]

Generator = Literal["random", "numpy"]
GENERATORS: tuple[Generator, ...] = ("random", "numpy")

# np.random names that are not the legacy global generator
_NUMPY_NOT_GLOBAL = frozenset(
    {"default_rng", "Generator", "RandomState", "SeedSequence", "BitGenerator", "PCG64",
     "PCG64DXSM", "MT19937", "Philox", "SFC64", "bit_generator", "mtrand"}
)  # fmt: skip
_RANDOM_NOT_GLOBAL = frozenset({"Random", "SystemRandom"})


def get_state(generator: Generator) -> Any:
    """The generator's state (None when its module was never imported: nothing to track)."""
    if generator == "random":
        module = sys.modules.get("random")
        return module.getstate() if module is not None else None
    mtrand = sys.modules.get("numpy.random.mtrand")
    return mtrand._rand.get_state(legacy=False) if mtrand is not None else None


def set_state(generator: Generator, state: Any) -> None:
    """Put the generator in ``state`` (as ``get_state`` returned it)."""
    if state is None:
        return
    if generator == "random":
        import random

        random.setstate(state)
    else:
        import numpy.random

        numpy.random.mtrand._rand.set_state(state)


def digest(generator: Generator) -> str:
    """A short fingerprint of the generator's current state, for keys."""
    state = get_state(generator)
    if state is None:
        return "unused"
    if generator == "random":
        return hash_bytes("random-state", repr(state))
    return hash_bytes(
        "numpy-legacy-state",
        repr({k: v for k, v in state.items() if k != "state"}),
        state["state"]["key"].tobytes(),
        repr(state["state"]["pos"]),
    )


def static_uses(source: str, ns: Mapping[str, Any]) -> frozenset[Generator]:
    """The global generators ``source`` (IPython syntax already transformed) calls directly, or
    through names bound in ``ns`` (imported functions, helpers defined in the notebook)."""
    facts = _facts(source)
    if facts is None:
        return frozenset(GENERATORS)  # cannot tell: assume both
    direct, chains, names = facts
    found: set[Generator] = set(direct)
    for root, attrs in chains:
        value = ns.get(root)
        if isinstance(value, types.ModuleType):
            found.update(_module_uses(value.__name__, attrs))
    for name in names:
        if name in ns:
            found.update(_value_uses(ns[name]))
    return frozenset(found)


@functools.lru_cache(maxsize=256)
def _facts(source: str) -> tuple[frozenset[Generator], tuple, tuple[str, ...]] | None:
    """What the code alone says (parsed once per source): the generators it certainly uses,
    attribute chains on names it does not import itself, and the names it loads."""
    try:
        nodes = list(ast.walk(ast.parse(source)))
    except SyntaxError:
        return None
    aliases = _module_aliases(nodes)
    direct: set[Generator] = set()
    chains, names = [], []
    for node in nodes:
        if isinstance(node, ast.Attribute):
            chain = _chain(node)
            if chain is None:
                continue
            if chain[0] in aliases:
                direct.update(_module_uses(aliases[chain[0]], chain[1]))
            else:
                chains.append(chain)
        elif isinstance(node, ast.ImportFrom) and node.module in ("random", "numpy.random"):
            imported = {a.name for a in node.names}
            if node.module == "random" and imported - _RANDOM_NOT_GLOBAL:
                direct.add("random")
            if node.module == "numpy.random" and imported - _NUMPY_NOT_GLOBAL:
                direct.add("numpy")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            names.append(node.id)
    return frozenset(direct), tuple(dict.fromkeys(chains)), tuple(dict.fromkeys(names))


def _module_aliases(nodes: Iterable[ast.AST]) -> dict[str, str]:
    """Names the cell itself binds to modules: ``import numpy as np`` -> {"np": "numpy"}."""
    aliases = {}
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module == "numpy":
            for alias in node.names:
                if alias.name == "random":
                    aliases[alias.asname or "random"] = "numpy.random"
    return aliases


def _chain(node: ast.Attribute) -> tuple[str, tuple[str, ...]] | None:
    """``np.random.normal`` -> ("np", ("random", "normal"))."""
    attrs: list[str] = []
    current: ast.AST = node
    while isinstance(current, ast.Attribute):
        attrs.insert(0, current.attr)
        current = current.value
    return (current.id, tuple(attrs)) if isinstance(current, ast.Name) else None


def _module_uses(module: str, attrs: list[str] | tuple[str, ...]) -> set[Generator]:
    """``random.random`` -> {"random"}; ``np.random.normal`` -> {"numpy"}; ``np.mean`` -> {}."""
    if module == "numpy":
        if not attrs or attrs[0] != "random":
            return set()
        module, attrs = "numpy.random", attrs[1:]
    if module == "random" and attrs and attrs[0] not in _RANDOM_NOT_GLOBAL:
        return {"random"}
    if module == "numpy.random" and attrs and attrs[0] not in _NUMPY_NOT_GLOBAL:
        return {"numpy"}
    return set()


def _value_uses(value: Any) -> set[Generator]:
    """A bound method of a global generator, or a notebook function whose code mentions one."""
    owner = getattr(value, "__self__", None)
    if owner is not None:
        random = sys.modules.get("random")
        mtrand = sys.modules.get("numpy.random.mtrand")
        if random is not None and owner is getattr(random, "_inst", None):
            return {"random"}
        if mtrand is not None and owner is getattr(mtrand, "_rand", None):
            return {"numpy"}
    code = getattr(value, "__code__", None)
    if code is not None and getattr(value, "__module__", None) == "__main__":
        if "random" in _code_names(code):
            return set(GENERATORS)
    return set()


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def changed(before: Mapping[Generator, Any], after: Mapping[Generator, Any]) -> set[Generator]:
    """Generators whose state differs between two ``snapshot``s."""
    return {g for g in GENERATORS if _differs(before.get(g), after.get(g))}


def snapshot(generators: Iterable[Generator] = GENERATORS) -> dict[Generator, Any]:
    """The states of ``generators``, to compare or restore later."""
    return {g: get_state(g) for g in generators}


def _differs(a: Any, b: Any) -> bool:
    if a is None or b is None:  # first imported during the run: its state was arbitrary anyway
        return False
    if isinstance(a, dict):  # numpy's state holds an array
        return a["state"]["pos"] != b["state"]["pos"] or bool(
            (a["state"]["key"] != b["state"]["key"]).any()
        ) or {k: v for k, v in a.items() if k != "state"} != {
            k: v for k, v in b.items() if k != "state"
        }  # fmt: skip
    return a != b
