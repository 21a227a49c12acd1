"""Reads static analysis cannot follow: said out loud, or keyed when they name a literal.

``y = eval("N")``, ``exec(...)``, ``globals()["N"]``: the cell reads names its source does not
show, so a change of ``N`` would not re-key it. chkpt says so once per stage cell (a
``chkpt.KeyWarning``) instead of hitting silently. ``Out[3]`` (an earlier cell's result) is keyed
by value, like ``_3``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from typing import Any

import chkpt

__all__ = ["history_reads", "warn_dynamic_reads"]

_DYNAMIC = ("eval", "exec", "globals", "vars", "locals", "__import__")
_warned: set[tuple[str, str]] = set()


def warn_dynamic_reads(stage: str, reads: Iterable[str], declared: bool) -> None:
    """Warn (once per stage and function) that names read through ``eval`` & co. are not seen."""
    if declared:
        return  # --inputs names the key: the user took charge
    for name in _DYNAMIC:
        if name in reads and (stage, name) not in _warned:
            _warned.add((stage, name))
            chkpt.warn(
                f"chkpt: stage {stage!r} calls {name}(): names it reads that way are not part "
                f"of its key, so changing them does not recompute it. Name them with "
                f"%%chkpt_stage --inputs, or read them directly",
                chkpt.KeyWarning,
                stage=stage,
            )


def history_reads(source: str, ns: Mapping[str, Any]) -> dict[str, Any]:
    """``{"Out[3]": value}`` for each ``Out[<literal>]`` the cell reads."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    out = ns.get("Out")
    found: dict[str, Any] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == "Out"
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, int)
        ):
            n = node.slice.value
            found[f"Out[{n}]"] = out.get(n, "<absent>") if isinstance(out, Mapping) else "<absent>"
    return found
