"""Modules the user writes (``mymod.py`` beside the notebook): keyed by their code, not their name.

A library is named, not hashed (upgrading pandas does not recompute). A module of the user's is
code the cell runs: ``import mymod`` then ``mymod.f(1)`` must recompute when ``f`` is edited and
the kernel restarted. Its functions and classes are fingerprinted by the core (their live
bytecode and what they reach), its other top-level values by content.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import site
import sys
import types
from typing import Any

import chkpt

__all__ = ["imported_user_modules", "is_user_module", "module_fingerprint"]

_OURS = ("chkpt", "chkpt_ipython")


def _library_dirs() -> tuple[str, ...]:
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages()}
    dirs.add(site.getusersitepackages())
    dirs.update(os.path.dirname(os.path.abspath(m.__file__ or "")) + os.sep for m in _own())
    return tuple(os.path.abspath(d) + os.sep for d in dirs if d)


def _own() -> list[types.ModuleType]:
    return [m for m in (sys.modules.get(n) for n in _OURS) if m is not None and m.__file__]


def _is_user_file(path: str | None) -> bool:
    if not path or not path.endswith(".py"):
        return False  # builtin, frozen, C extension or namespace package: not hashed as code
    return not os.path.abspath(path).startswith(_library_dirs())


def is_user_module(module: types.ModuleType) -> bool:
    """True for a module loaded from a ``.py`` file outside the stdlib, site-packages and chkpt."""
    name = module.__name__.partition(".")[0]
    if name in _OURS or name in sys.stdlib_module_names:
        return False
    return _is_user_file(getattr(module, "__file__", None))


def module_fingerprint(module: types.ModuleType) -> str | None:
    """The live content of a user module and of its user submodules (``pkg.sub.f`` is read
    through ``pkg``); None when a value in it cannot be hashed."""
    parts: dict[str, Any] = {}
    for attr, value in sorted(vars(module).items()):
        if attr.startswith("__"):
            continue
        if isinstance(value, types.ModuleType):
            if value.__name__.startswith(module.__name__ + ".") and is_user_module(value):
                parts[attr] = module_fingerprint(value)
                if parts[attr] is None:
                    return None
            continue
        digest = chkpt.fingerprint_value(value)
        if digest is None:
            return None
        parts[attr] = digest
    return f"user-module:{module.__name__}:{chkpt.fingerprint_value(parts)}"


def imported_user_modules(source: str) -> dict[str, types.ModuleType]:
    """User modules a cell's top-level ``import`` statements bind, imported now so they can be
    keyed before the cell runs (a hit re-executes the imports anyway). Modules that cannot be
    found yet (a ``sys.path`` change earlier in the same cell) are left out."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found: dict[str, types.ModuleType] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            names = [(a.name, a.asname or a.name.split(".")[0]) for a in stmt.names]
        elif isinstance(stmt, ast.ImportFrom) and not stmt.level and stmt.module:
            names = [(stmt.module, f"<from {stmt.module}>")]
        else:
            continue
        for module_name, bound in names:
            module = _user_module(module_name)
            if module is not None:
                found[bound] = module
    return found


def _user_module(name: str) -> types.ModuleType | None:
    top = name.partition(".")[0]
    if top in _OURS or top in sys.stdlib_module_names:
        return None
    module = sys.modules.get(name)
    if module is None:
        try:
            top_spec = sys.modules.get(top) or importlib.util.find_spec(top)
            if top_spec is None or not _is_user_file(_origin(top_spec)):
                return None  # a library (or nothing): not imported early, not hashed
            spec = importlib.util.find_spec(name)
            if spec is None or not _is_user_file(spec.origin):
                return None
            module = importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the cell itself will show any import error
            return None
    return module if is_user_module(module) else None


def _origin(spec_or_module: Any) -> str | None:
    return getattr(spec_or_module, "origin", None) or getattr(spec_or_module, "__file__", None)
