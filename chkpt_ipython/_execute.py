"""Run a cell's code in the user namespace, as IPython would, keeping its last value.

Code is compiled under a name registered with IPython's compiler cache, so tracebacks show the
cell's own lines (offset by one for the ``%%chkpt_stage`` line).
"""

from __future__ import annotations

import ast
import importlib
import logging
from collections.abc import Iterable
from typing import Any

__all__ = ["import_modules", "rerun_definitions", "run_deferred", "run_source"]

DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

log = logging.getLogger("chkpt.ipython")

_MAGIC_LINE = 1  # the cell's first line is the %%chkpt_stage line itself


def run_source(shell: Any, source: str, raw: str | None = None) -> Any:
    """Execute ``source`` in the shell's namespace; return the value of a final expression."""
    __tracebackhide__ = True
    tree, filename = _parse(shell, source, raw)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    assert last is None or isinstance(last, ast.Expr)
    glob, loc = shell.user_global_ns, shell.user_ns
    if tree.body:
        exec(shell.compile(tree, filename, "exec"), glob, loc)
    if last is None:
        return None
    expr = ast.Expression(last.value)
    return eval(shell.compile(expr, filename, "eval"), glob, loc)


def _parse(shell: Any, source: str, raw: str | None) -> tuple[ast.Module, str]:
    """Parse with line numbers as the user sees them, under a name tracebacks and inspect know."""
    tree = ast.parse(source)
    ast.increment_lineno(tree, _MAGIC_LINE)
    filename = shell.compile.cache("\n" * _MAGIC_LINE + source, shell.execution_count, raw)
    return tree, filename


def rerun_definitions(shell: Any, source: str, raw: str | None = None) -> list[ast.Module]:
    """Re-execute the cell's top-level imports, ``def`` and ``class`` statements.

    Functions get the same source file and lines as when the cell ran, so their fingerprints
    (and the keys of cells that read them) are the same after a restart. A statement failing
    with NameError (a decorator or base class the cell itself makes) is returned, to be run
    again once the cell's outputs are restored.
    """
    __tracebackhide__ = True
    tree, filename = _parse(shell, source, raw)
    deferred = []
    for stmt in tree.body:
        if isinstance(stmt, DEFINITIONS):
            code = shell.compile(ast.Module(body=[stmt], type_ignores=[]), filename, "exec")
            try:
                exec(code, shell.user_global_ns, shell.user_ns)
            except NameError:
                deferred.append(code)
    return deferred


def run_deferred(shell: Any, codes: Iterable[Any]) -> None:
    """Run definitions postponed by ``rerun_definitions`` (now that their names exist)."""
    __tracebackhide__ = True
    for code in codes:
        exec(code, shell.user_global_ns, shell.user_ns)


def import_modules(shell: Any, modules: dict[str, str]) -> None:
    """Bind module-valued outputs again by importing them by name."""
    for name, module in modules.items():
        shell.user_ns[name] = importlib.import_module(module)
