"""Environment variables a stage cell reads by name: part of its key, as a script's ``env=``.

``v = os.environ["DATA_DIR"]`` in a stage cell depends on a value no name in the notebook holds.
The variables read with a literal name (``os.environ[...]``, ``os.environ.get(...)``,
``os.getenv(...)``, ``environ`` imported from ``os``) join the key by value, and a change
recomputes with ``environment changed: NAME``. A name computed at run time is not seen.
"""

from __future__ import annotations

import ast
import os

__all__ = ["environment_reads"]


def environment_reads(source: str) -> dict[str, str | None]:
    """``{"$NAME": current value or None}`` for each variable the cell reads by a literal name."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    names: dict[str, str | None] = {}
    for node in ast.walk(tree):
        name = _literal_read(node)
        if name is not None:
            names[f"${name}"] = os.environ.get(name)
    return names


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def _literal_read(node: ast.AST) -> str | None:
    key: ast.AST | None = None
    if isinstance(node, ast.Subscript) and _is_environ(node.value):
        key = node.slice
    elif isinstance(node, ast.Call) and node.args and _reads_environ(node.func):
        key = node.args[0]
    if isinstance(key, ast.Constant) and isinstance(key.value, str):
        return key.value
    return None


def _reads_environ(func: ast.AST) -> bool:
    """``os.environ.get``, ``environ.setdefault``, ``os.getenv``, ``getenv``."""
    if isinstance(func, ast.Attribute):
        if func.attr in ("get", "setdefault"):
            return _is_environ(func.value)
        return func.attr == "getenv"
    return isinstance(func, ast.Name) and func.id == "getenv"
