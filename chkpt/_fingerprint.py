"""Fingerprints of code and values, and the cache keys built from them.

A stage's fingerprint is its explicit ``version`` when given, else a hash of its normalised source
(comments, docstrings, decorators and formatting do not count), its default values, and what it
reads from its module: the code of user-level helper functions and classes, and the values of
module-level constants. Library code (stdlib, site-packages) is assumed to be versioned elsewhere.
"""

from __future__ import annotations

import ast
import functools
import inspect
import pickle
import sys
import sysconfig
import textwrap
import types
from collections.abc import Callable
from typing import Any

from ._digest import hash_bytes, new_hasher

__all__ = ["fingerprint_code", "fingerprint_source", "fingerprint_value", "make_key"]


def make_key(*parts: str) -> str:
    """Combine parts, in order, into one hex cache key.

    >>> make_key("a", "b") == make_key("a", "b") != make_key("b", "a")
    True
    """
    return hash_bytes("chkpt-key-1", *parts)


# -- code --------------------------------------------------------------------------------------


def fingerprint_source(source: str) -> str:
    """Hash of Python source with comments, docstrings, decorators and layout removed.

    >>> fingerprint_source("x = 1  # one") == fingerprint_source("x=1")
    True
    >>> fingerprint_source("x = 1") == fingerprint_source("x = 2")
    False
    """
    tree = ast.parse(textwrap.dedent(source))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            node.decorator_list = []
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            _strip_docstring(node)
    return hash_bytes("src", ast.dump(tree, annotate_fields=False, include_attributes=False))


def _strip_docstring(node: Any) -> None:
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        if isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]


_CODE_CACHE: dict[types.CodeType, str] = {}


def _code_hash(obj: Any) -> str:
    """Normalised-source hash of a function or class; bytecode when there is no source."""
    code = getattr(obj, "__code__", None)
    if code is not None and code in _CODE_CACHE:
        return _CODE_CACHE[code]
    try:
        result = fingerprint_source(inspect.getsource(obj))
    except (OSError, TypeError, SyntaxError, IndentationError):
        if code is not None:
            result = _bytecode_hash(code)
        elif isinstance(obj, type):
            result = _members_hash(obj)
        else:
            result = hash_bytes("obj", repr(obj))
    if code is not None:
        if len(_CODE_CACHE) > 4096:
            _CODE_CACHE.clear()
        _CODE_CACHE[code] = result
    return result


def _members_hash(cls: type) -> str:
    """A class without source (defined in a notebook or exec): hash its methods and constants."""
    parts = [cls.__qualname__, repr([b.__qualname__ for b in cls.__bases__])]
    for name, member in sorted(vars(cls).items()):
        if isinstance(member, property):
            member = (member.fget, member.fset, member.fdel)
        funcs = member if isinstance(member, tuple) else (getattr(member, "__func__", member),)
        for func in funcs:
            if inspect.isfunction(func):
                parts.append(f"{name}={_code_hash(func)}")
            elif func is member and _is_constant(member):
                parts.append(f"{name}={fingerprint_value(member)}")
    return hash_bytes("class", *parts)


def _bytecode_hash(code: types.CodeType) -> str:
    consts = [
        _bytecode_hash(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts
    ]
    return hash_bytes("bytecode", code.co_code, repr(consts), repr(code.co_names))


def fingerprint_code(func: Callable[..., Any]) -> str:
    """Fingerprint of a function: its source, defaults, and the user code and constants it reads.

    >>> def f(x=1):
    ...     return x  # a comment
    >>> def g(x=1):
    ...     '''A docstring.'''
    ...     return x
    >>> fingerprint_code(f) == fingerprint_code(g)
    False
    """
    return _fingerprint_code(inspect.unwrap(func), set())


def _fingerprint_code(func: Any, seen: set[int]) -> str:
    seen.add(id(func))
    parts = [_code_hash(func)]
    if isinstance(func, type):
        return parts[0]
    defaults = (getattr(func, "__defaults__", None), getattr(func, "__kwdefaults__", None))
    parts.append(fingerprint_value(defaults) or "defaults:?")
    for name, value in _dependencies(func):
        value = getattr(value, "__wrapped__", value)  # a Stage, or a functools.wraps decorator
        if id(value) in seen:
            continue
        if _is_user_code(value):
            parts.append(f"{name}={_fingerprint_code(value, seen)}")
        elif _is_constant(value):
            parts.append(f"{name}={fingerprint_value(value)}")
    return hash_bytes("code", *parts)


def _is_constant(value: Any, budget: int = 10_000) -> bool:
    """Plain data (scalars in lists, tuples, sets, dicts), small enough to hash on every run.

    Other objects a function reads (models, arrays, open resources) are not part of its
    fingerprint: pass them as inputs or bound parameters to make them part of the key.
    """
    stack = [value]
    while stack:
        v = stack.pop()
        budget -= 1
        if budget < 0:
            return False
        if type(v) in _SCALARS:
            continue
        if type(v) in (list, tuple, set, frozenset):
            stack.extend(v)
        elif type(v) is dict:
            stack.extend(v)
            stack.extend(v.values())
        else:
            return False
    return True


def _dependencies(func: Any) -> list[tuple[str, Any]]:
    """(name, object) pairs for globals, closure cells and user-module attributes a function reads."""
    code = getattr(func, "__code__", None)
    if code is None:
        return []
    names = _names(code)
    globals_ = getattr(func, "__globals__", {})
    found: list[tuple[str, Any]] = []
    for name in sorted(names):
        if name in globals_:
            found.append((name, globals_[name]))
    modules = [v for _, v in found if isinstance(v, types.ModuleType) and _is_user_module(v)]
    for module in modules:
        for name in sorted(names):
            if name in vars(module):
                found.append((f"{module.__name__}.{name}", vars(module)[name]))
    for name, cell in zip(code.co_freevars, func.__closure__ or ()):
        try:
            found.append((name, cell.cell_contents))
        except ValueError:  # empty cell
            pass
    return found


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _is_user_code(obj: Any) -> bool:
    if not (inspect.isfunction(obj) or inspect.isclass(obj)):
        return False
    return _is_user_module_name(getattr(obj, "__module__", None) or "")


def _is_user_module(module: types.ModuleType) -> bool:
    return _is_user_module_name(module.__name__)


@functools.lru_cache(maxsize=1024)
def _is_user_module_name(name: str) -> bool:
    """True for code the user is editing: __main__, notebooks, files outside the installation."""
    if name in ("__main__", "builtins") or name.startswith("chkpt"):
        return name == "__main__"
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if module is None or path is None:
        return name.partition(".")[0] not in sys.stdlib_module_names
    return not path.startswith(_library_dirs())


@functools.lru_cache(maxsize=1)
def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    dirs |= {p for p in sys.path if p.endswith(("site-packages", "dist-packages"))}
    return tuple(sorted(dirs))


# -- values ------------------------------------------------------------------------------------

_SCALARS = (type(None), bool, int, float, complex, str, bytes)


def fingerprint_value(obj: Any) -> str | None:
    """Type-tagged content hash of a value, or None when it cannot be hashed reliably.

    The type is part of the hash, so ``1``, ``1.0``, ``True`` and ``"1"`` all differ.

    >>> fingerprint_value(1) != fingerprint_value(1.0) != fingerprint_value("1")
    True
    >>> fingerprint_value({"b": 2, "a": 1}) == fingerprint_value({"a": 1, "b": 2})
    True
    >>> fingerprint_value(object()) is None
    True
    """
    try:
        h = new_hasher()
        return h.hexdigest() if _feed(h, obj) else None
    except (RecursionError, TypeError, ValueError, pickle.PicklingError, AttributeError):
        return None


def _feed(h: Any, obj: Any) -> bool:
    t = type(obj)
    h.update(f"\x00{t.__module__}.{t.__qualname__}\x00".encode())
    if t in _SCALARS:
        h.update(obj if t is bytes else repr(obj).encode())
        return True
    if t in (list, tuple) or (isinstance(obj, tuple) and hasattr(obj, "_fields")):
        h.update(len(obj).to_bytes(8, "little"))
        return all(_feed(h, item) for item in obj)
    if t in (set, frozenset):
        items = sorted(v for v in map(fingerprint_value, obj) if v)
        h.update(repr(items).encode())
        return len(items) == len(obj)
    if t is dict:
        items = sorted((fingerprint_value(k), fingerprint_value(v)) for k, v in obj.items())
        h.update(repr(items).encode())
        return all(k and v for k, v in items)
    feeder = _FEEDERS.get(t.__module__.partition(".")[0])
    if feeder is not None:
        return feeder(h, obj)
    if inspect.isfunction(obj) or inspect.isclass(obj):
        h.update(fingerprint_code(obj).encode())
        return True
    return _feed_pickle(h, obj)


def _feed_numpy(h: Any, obj: Any) -> bool:
    import numpy as np

    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            return _feed_pickle(h, obj)
        h.update(f"{obj.dtype.str}{obj.shape}".encode())
        h.update(memoryview(np.ascontiguousarray(obj)).cast("B"))
        return True
    if isinstance(obj, np.generic):
        h.update(repr(obj.item()).encode() + obj.dtype.str.encode())
        return True
    return _feed_pickle(h, obj)


def _feed_pandas(h: Any, obj: Any) -> bool:
    import pandas as pd

    if isinstance(obj, (pd.DataFrame, pd.Series, pd.Index)):
        try:
            hashed = pd.util.hash_pandas_object(obj, index=not isinstance(obj, pd.Index))
        except TypeError:
            return _feed_pickle(h, obj)
        dtypes = obj.dtypes if isinstance(obj, pd.DataFrame) else obj.dtype
        names = list(obj.columns) if isinstance(obj, pd.DataFrame) else [obj.name]
        h.update(repr((dtypes, names, type(obj.index) if hasattr(obj, "index") else None)).encode())
        h.update(memoryview(hashed.to_numpy()).cast("B"))
        return True
    return _feed_pickle(h, obj)


_FEEDERS = {"numpy": _feed_numpy, "pandas": _feed_pandas}


def _feed_pickle(h: Any, obj: Any) -> bool:
    """Fallback: the pickle of objects that pickle by value; never for modules or open resources."""
    if isinstance(obj, (types.ModuleType, types.GeneratorType)) or hasattr(obj, "fileno"):
        return False
    if type(obj).__reduce__ is object.__reduce__ and not hasattr(obj, "__dict__"):
        if not hasattr(obj, "__slots__") and type(obj).__reduce_ex__ is object.__reduce_ex__:
            return False  # a bare object(): its identity is all it has
    h.update(pickle.dumps(obj, protocol=5))
    return True
