"""Static analysis of a stage cell: which names it reads, binds, and defines.

A cell's *inputs* are the names it reads before (or without) binding them; its *outputs* are the
names it binds at module level. Imports, ``def`` and ``class`` statements at the top level are
*definitions*: they are re-executed on a cache hit rather than pickled.

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
from collections.abc import Iterable, Iterator

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
    tree = ast.parse(source)
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
