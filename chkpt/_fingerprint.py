"""Fingerprints of code and values, and the cache keys built from them (the public face).

A stage's fingerprint is its explicit ``version`` when given, else the fingerprint of the code
that actually runs: live bytecode (``_codeinfo``), followed through everything it reaches, with
the values it reads hashed canonically (``_walk``). Everything that enters a key is SHA-256.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Callable
from typing import Any, NamedTuple

from ._digest import hash_bytes
from ._walk import Problem, Walker, describe

__all__ = [
    "CodeFingerprint",
    "code_fingerprint",
    "fingerprint_code",
    "fingerprint_source",
    "fingerprint_value",
    "make_key",
    "unkeyed_warning",
    "warn_unkeyed",
]


def make_key(*parts: str) -> str:
    """Combine parts, in order, into one hex cache key.

    >>> make_key("a", "b") == make_key("a", "b") != make_key("b", "a")
    True
    """
    return hash_bytes("chkpt-key-1", *parts)


# -- code --------------------------------------------------------------------------------------


def fingerprint_source(source: str) -> str:
    """Hash of Python source with comments, docstrings, decorators and layout removed.

    For code that exists only as text (a notebook cell before it runs); functions are
    fingerprinted by their live code (``fingerprint_code``), never by their source.

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


class CodeFingerprint(NamedTuple):
    """A stage function's fingerprint and what it reads that the fingerprint cannot describe."""

    digest: str  # deterministic: equal wherever the same code and values run (workers check it)
    problems: tuple[Problem, ...]  # values it cannot hash (unhashable, over budget)
    env: tuple[str, ...]  # reads of os.environ / os.getenv, e.g. "load reads os.environ"

    @property
    def unkeyed(self) -> str:
        """Why a key cannot describe this code ("" if it can): the values it cannot hash."""
        if not self.problems:
            return ""
        what = ", ".join(f"{p.label} ({p.type})" for p in dict.fromkeys(self.problems))
        return f"reads {what}, which cannot be hashed"


def code_fingerprint(func: Callable[..., Any]) -> CodeFingerprint:
    """Fingerprint of the code that runs when ``func`` is called, with everything it reaches.

    See ``_walk`` for what is followed; the result is equal across processes, hash seeds and
    machines running the same Python version.
    """
    walker = describe(func)
    return CodeFingerprint(walker.hexdigest(), tuple(walker.problems), tuple(walker.env))


def fingerprint_code(func: Callable[..., Any]) -> str:
    """Fingerprint of a function: its live bytecode, defaults, and the code and values it reaches.

    Comments, docstrings and layout do not count; behaviour does.

    >>> def f(x=1):
    ...     return x  # a comment
    >>> def g(x=1):
    ...     '''A docstring.'''
    ...     return x
    >>> fingerprint_code(f) == fingerprint_code(g)
    True
    >>> def h(x=2):
    ...     return x
    >>> fingerprint_code(f) == fingerprint_code(h)
    False
    """
    return code_fingerprint(func).digest


_WARNED: set[str] = set()


def warn_unkeyed(stage: str, fp: CodeFingerprint) -> None:
    """Warn once per process and stage about what its key cannot describe."""
    text = unkeyed_warning(stage, fp)
    if text and text not in _WARNED:
        _WARNED.add(text)
        from ._errors import KeyWarning
        from ._warn import warn

        warn(text, KeyWarning)


def unkeyed_warning(stage: str, fp: CodeFingerprint) -> str:
    """The one warning for a stage whose key cannot describe everything it reads ("" if none)."""
    lines = [f"{p.label} ({p.type}: {p.why})" for p in dict.fromkeys(fp.problems)]
    text = ""
    if lines:
        text = (
            f"stage {stage!r} reads {', '.join(lines)}, which cannot be part of its key, so it "
            "is recomputed on every run. Pass it as an input or bind it (stage.bind(name=value)), "
            "or set Stage.wrap(version=...) and bump it when what the stage does changes."
        )
    if fp.env:
        text += (" " if text else "") + (
            f"stage {stage!r} reads environment variables ({'; '.join(dict.fromkeys(fp.env))}), "
            'which are not part of its key: declare them with Stage.wrap(env=["NAME", ...]).'
        )
    return text


# -- values ------------------------------------------------------------------------------------


def fingerprint_value(obj: Any) -> str | None:
    """Type-tagged content hash of a value, or None when it cannot be hashed reliably.

    The type is part of the hash, so ``1``, ``1.0``, ``True`` and ``"1"`` all differ; dicts keep
    their order (it is observable), sets do not depend on the hash seed.

    >>> fingerprint_value(1) != fingerprint_value(1.0) != fingerprint_value("1")
    True
    >>> fingerprint_value({"b": 2, "a": 1}) == fingerprint_value({"a": 1, "b": 2})
    False
    >>> import threading
    >>> fingerprint_value(threading.Lock()) is None
    True
    """
    return value_fingerprint(obj)[0]


def value_fingerprint(obj: Any) -> tuple[str | None, list[str]]:
    """``fingerprint_value(obj)`` and the environment reads of the code the value holds (a helper
    function passed as a parameter that calls ``os.getenv``): not part of any key, so said."""
    walker = Walker()
    walker.read("value", obj)
    digest = walker.hexdigest()
    return (None if walker.problems else digest), list(dict.fromkeys(walker.env))


def warn_environment(stage: str, reads: list[str]) -> None:
    """Warn once per process about environment reads reached through a stage's parameters."""
    if reads:
        warn_unkeyed(stage, CodeFingerprint("", (), tuple(reads)))
