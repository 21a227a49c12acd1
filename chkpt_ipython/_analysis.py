"""Static analysis of a stage cell: which names it reads, binds, and defines.

A cell's *inputs* are the names it reads before (or without) binding them; its *outputs* are the
names it binds at module level. Imports, ``def`` and ``class`` statements at the top level are
*definitions*: they are re-executed on a cache hit rather than pickled.

Code under ``%time``, ``%%time`` and ``%timeit`` is analysed as code: ``%time y = f()`` binds
``y``; ``%timeit g(z)`` reads ``z`` (what it binds stays inside the timer).

>>> a = analyze("get_ipython().run_line_magic('time', 'y = f(x)')")
>>> a.inputs, a.outputs
(('f', 'x'), ('y',))

>>> a = analyze("import math\\ny = math.sqrt(x) + n\\nn = 1\\ndef f():\\n    return y + z")
>>> a.inputs
('x', 'n', 'z')
>>> a.outputs
('y', 'n')
>>> a.defined
('math', 'f')
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import functools
import re
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["CellAnalysis", "analyze"]

_BUILTINS = frozenset(dir(builtins)) | {"display", "get_ipython", "__file__", "__session__"}
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_NAMED_BINDERS = (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)
_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclasses.dataclass(frozen=True)
class CellAnalysis:
    """What one cell reads and binds; ``reads`` keeps builtins, ``inputs`` drops them."""

    reads: tuple[str, ...]
    outputs: tuple[str, ...]
    defined: tuple[str, ...]
    last_expression: ast.expr | None = dataclasses.field(repr=False, compare=False)
    deleted: tuple[str, ...] = ()  # names a top-level ``del`` unbinds (a hit unbinds them too)

    @property
    def inputs(self) -> tuple[str, ...]:
        """Names read that are neither bound by the cell nor builtins."""
        return tuple(n for n in self.reads if n not in _BUILTINS)

    @property
    def first_new_output(self) -> str | None:
        """The first value output that is not also an input (``df = clean(df)`` makes none)."""
        return next((n for n in self.outputs if n not in self.reads), None)


@functools.lru_cache(maxsize=256)
def analyze(source: str) -> CellAnalysis:
    """Analyse Python ``source`` (IPython syntax already transformed); raises SyntaxError."""
    tree = _MagicInliner().visit(ast.parse(source))
    walker = _ModuleWalker()
    for stmt in tree.body:
        walker.statement(stmt)
    deferred = [n for n in walker.deferred if n not in walker.ever_bound]
    reads = _unique([*walker.reads, *deferred])
    definitions = tuple(s for s in tree.body if isinstance(s, _DEFINITIONS))
    defined = _unique(n for s in definitions for n in _bound_by_definition(s))
    value_bound = [n for n in walker.value_bound if n not in walker.deleted]
    last = tree.body[-1] if tree.body else None
    return CellAnalysis(
        reads=reads,
        outputs=_unique(value_bound),
        defined=defined,
        last_expression=last.value if isinstance(last, ast.Expr) else None,
        deleted=tuple(sorted(walker.deleted)),
    )


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def _bound_by_definition(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return [_import_name(alias) for alias in stmt.names if alias.name != "*"]
    return [stmt.name]  # type: ignore[attr-defined]


def _import_name(alias: ast.alias) -> str:
    return alias.asname or alias.name.split(".")[0]


class _ModuleWalker:
    """Walks module-level statements in order, tracking reads before binding."""

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.ever_bound: set[str] = set()
        self.reads: list[str] = []
        self.deferred: list[str] = []
        self.value_bound: list[str] = []
        self.deleted: set[str] = set()

    def statement(self, stmt: ast.stmt) -> None:
        top_definition = isinstance(stmt, _DEFINITIONS)
        for node in _scope_nodes(stmt):
            self.node(node, value=not top_definition)

    def node(self, node: ast.AST, *, value: bool) -> None:
        if isinstance(node, ast.Name):
            self.name(node.id, node.ctx, value=value)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    self.bind(_import_name(alias), value=value)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.deferred.extend(_free_names(node))
            self.bind(node.name, value=value)
        elif isinstance(node, ast.Lambda):
            self.deferred.extend(_free_names(node))
        elif isinstance(node, _COMPREHENSIONS):
            self.comprehension(node, value=value)
        elif isinstance(node, _NAMED_BINDERS) and node.name:
            self.bind(node.name, value=value)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            self.bind(node.rest, value=value)

    def name(self, name: str, ctx: ast.expr_context, *, value: bool) -> None:
        if isinstance(ctx, ast.Load):
            if name not in self.bound:
                self.reads.append(name)
        elif isinstance(ctx, ast.Del):
            self.bound.discard(name)
            self.deleted.add(name)
        else:
            self.bind(name, value=value)

    def bind(self, name: str, *, value: bool) -> None:
        self.bound.add(name)
        self.ever_bound.add(name)
        self.deleted.discard(name)
        if value:
            self.value_bound.append(name)

    def comprehension(self, node: ast.AST, *, value: bool) -> None:
        """Comprehensions run now: their free names are reads at this point; walrus binds here."""
        for name in _free_names(node):
            if name not in self.bound:
                self.reads.append(name)
        for sub in ast.walk(node):
            if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                self.bind(sub.target.id, value=value)


def _scope_nodes(root: ast.AST) -> Iterator[ast.AST]:
    """Nodes of ``root`` in evaluation order, not descending into nested scopes' bodies.

    A nested scope node is yielded itself, after the parts evaluated in this scope (decorators,
    defaults, bases). Assignment values are yielded before their targets.
    """
    if isinstance(root, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.NamedExpr)):
        if root.value is not None:
            yield from _scope_nodes(root.value)
        if isinstance(root, ast.AugAssign) and isinstance(root.target, ast.Name):
            yield ast.Name(id=root.target.id, ctx=ast.Load())
        targets = root.targets if isinstance(root, ast.Assign) else [root.target]
        for target in targets:
            yield from _scope_nodes(target)
        return
    if isinstance(root, (ast.For, ast.AsyncFor)):
        yield from _scope_nodes(root.iter)
        yield from _scope_nodes(root.target)
        for stmt in [*root.body, *root.orelse]:
            yield from _scope_nodes(stmt)
        return
    if isinstance(root, _SCOPES + _COMPREHENSIONS):
        for part in _evaluated_outside(root):
            yield from _scope_nodes(part)
        yield root
        return
    yield root
    for child in ast.iter_child_nodes(root):
        yield from _scope_nodes(child)


def _evaluated_outside(node: ast.AST) -> list[ast.AST]:
    """Parts of a scope node evaluated in the enclosing scope."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        args = node.args
        parts: list[ast.AST] = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
        if not isinstance(node, ast.Lambda):
            parts[:0] = node.decorator_list
        return parts
    if isinstance(node, ast.ClassDef):
        return [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]
    if isinstance(node, _COMPREHENSIONS):
        return [node.generators[0].iter]
    return []


def _free_names(node: ast.AST) -> list[str]:
    """Names a nested scope reads from outside itself (an over-approximation is safe)."""
    local: set[str] = set()
    loads: list[str] = []
    declared_global: set[str] = set()
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        args = node.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None:
                local.add(arg.arg)
        body: list[ast.AST] = [node.body] if isinstance(node, ast.Lambda) else list(node.body)
    elif isinstance(node, ast.ClassDef):
        body = list(node.body)
    elif isinstance(node, _COMPREHENSIONS):
        body = _comprehension_parts(node)
    else:  # pragma: no cover - defensive
        body = [node]
    for part in body:
        for sub in _scope_nodes(part):
            _collect(sub, local, loads, declared_global)
    local -= declared_global
    return [n for n in _unique(loads) if n not in local]


def _comprehension_parts(node: ast.AST) -> list[ast.AST]:
    gens = node.generators  # type: ignore[attr-defined]
    parts: list[ast.AST] = []
    for index, gen in enumerate(gens):
        parts.append(gen.target)
        if index:
            parts.append(gen.iter)
        parts.extend(gen.ifs)
    if isinstance(node, ast.DictComp):
        parts.extend([node.key, node.value])
    else:
        parts.append(node.elt)  # type: ignore[attr-defined]
    return parts


def _collect(sub: ast.AST, local: set[str], loads: list[str], declared: set[str]) -> None:
    if isinstance(sub, ast.Name):
        (loads.append if isinstance(sub.ctx, ast.Load) else local.add)(sub.id)
    elif isinstance(sub, (ast.Global, ast.Nonlocal)):
        declared.update(sub.names)
    elif isinstance(sub, (ast.Import, ast.ImportFrom)):
        local.update(_import_name(a) for a in sub.names if a.name != "*")
    elif isinstance(sub, _SCOPES + _COMPREHENSIONS):
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            local.add(sub.name)
        loads.extend(_free_names(sub))
    elif isinstance(sub, _NAMED_BINDERS) and sub.name:
        local.add(sub.name)


_TIMEIT_OPTION = re.compile(r"^\s*(?:-[nrp]\s*\d+(?:\.\d+)?|-[tcqo])\s+")


class _MagicInliner(ast.NodeTransformer):
    """Replace timing magics (``get_ipython().run_line_magic('time', code)`` after IPython's
    transformation) by the code they run: inline for ``time``, reads only for ``timeit``."""

    def visit_Expr(self, node: ast.Expr) -> Any:
        magic = _timing_magic(node.value)
        if magic is None:
            return self.generic_visit(node)
        kind, code = magic
        inner = _parse_ipython(code)
        if inner is None:
            return node
        if kind == "time":
            return [self.visit(stmt) for stmt in inner.body] or ast.Pass()
        return ast.Expr(_reads_of(inner))

    def visit_Call(self, node: ast.Call) -> Any:
        magic = _timing_magic(node)
        if magic is None:
            return self.generic_visit(node)
        kind, code = magic
        inner = _parse_ipython(code)
        if inner is None:
            return node
        body = inner.body
        if kind == "time" and len(body) == 1 and isinstance(body[0], ast.Expr):
            return self.visit(body[0].value)
        return _reads_of(inner)


def _timing_magic(node: ast.AST) -> tuple[str, str] | None:
    """("time" | "timeit", code) for a call of a timing magic with literal arguments."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    method, owner = node.func.attr, node.func.value
    if method not in ("run_line_magic", "run_cell_magic"):
        return None
    if not (isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name)):
        return None
    if owner.func.id != "get_ipython" or node.keywords:
        return None
    args = node.args
    if not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
        return None
    values = [a.value for a in args]  # type: ignore[attr-defined]
    if not values or values[0] not in ("time", "timeit"):
        return None
    if method == "run_line_magic" and len(values) == 2:
        code = values[1]
    elif method == "run_cell_magic" and len(values) == 3:
        setup = values[1] if values[0] == "timeit" else ""
        code = _strip_timeit_options(setup) + "\n" + values[2]
    else:
        return None
    if values[0] == "timeit":
        code = _strip_timeit_options(code)
    return values[0], code


def _strip_timeit_options(code: str) -> str:
    while True:
        stripped = _TIMEIT_OPTION.sub("", code, count=1)
        if stripped == code:
            return code.strip() if "\n" not in code else code
        code = stripped


def _parse_ipython(code: str) -> ast.Module | None:
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return ast.parse(TransformerManager().transform_cell(code))
    except (SyntaxError, ImportError, ValueError):
        return None


def _reads_of(tree: ast.Module) -> ast.expr:
    """A tuple expression reading the names ``tree`` reads (what a timer's code needs)."""
    walker = _ModuleWalker()
    for stmt in _MagicInliner().visit(tree).body:
        walker.statement(stmt)
    names = _unique([*walker.reads, *(n for n in walker.deferred if n not in walker.ever_bound)])
    return ast.Tuple(elts=[ast.Name(id=n, ctx=ast.Load()) for n in names], ctx=ast.Load())
