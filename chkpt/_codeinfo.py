"""What one code object is and what it reaches, read from its bytecode (cached per code object).

A fingerprint must describe the code that actually runs, not the file on disk: a module edited
while a process still runs the old code, or a same-size edit saved within the same second (Python
then runs the stale ``.pyc``), make the source lie. So this reads the live code object:

* ``digest``: its instructions with constants resolved to their values (constants no instruction
  loads, such as a docstring, do not count), recursively through nested code objects (lambdas,
  comprehensions, inner functions), plus its signature shape. Line numbers, comments and layout
  are not in the bytecode, so they do not count. The function's own annotations are not in its
  code either (they are evaluated where it is defined and never run when it runs), so they do not
  count; a nested function's annotations are evaluated when the outer one runs, so they do.
  Bytecode differs between Python versions, so ``sys.implementation.cache_tag`` is part of it.
* ``chains``: the globals and closure variables it reads, with the attribute names that follow
  them (``pkg.sub.f``), so dotted module chains resolve to what they name, and an attribute name
  that merely equals a global's name (``obj.helper``) links nothing.
* what it writes: ``global`` rebinding, attribute or item assignment, and mutating calls of
  builtin containers (``LOG.append``), so state is told apart from input.
"""

from __future__ import annotations

import dis
import hashlib
import sys
import types
from typing import NamedTuple

__all__ = ["Chain", "CodeInfo", "code_info", "MUTATORS"]

# Methods that change a builtin container in place: calling one on a global makes it state.
MUTATORS = frozenset(
    [
        "append",
        "extend",
        "insert",
        "remove",
        "pop",
        "clear",
        "update",
        "setdefault",
        "popitem",
        "add",
        "discard",
        "sort",
        "reverse",
        "appendleft",
        "extendleft",
        "popleft",
        "rotate",
        "difference_update",
        "intersection_update",
        "symmetric_difference_update",
        "__setitem__",
        "__delitem__",
        "__iadd__",
    ]
)

_LOAD_ROOT = frozenset({"LOAD_GLOBAL", "LOAD_NAME"})
_LOAD_FREE = frozenset({"LOAD_DEREF", "LOAD_CLASSDEREF"})
_LOAD_ATTR = frozenset({"LOAD_ATTR", "LOAD_METHOD"})
_TRANSPARENT = frozenset({"CACHE", "EXTENDED_ARG", "NOP", "PRECALL", "PUSH_NULL"})
_HASCONST = frozenset(dis.hasconst)


class Chain(NamedTuple):
    """A read: ``root`` (a global, a closure variable or an imported module) and attributes after it.

    ``write`` is "" for a read, "attr:<name>" when the chain's value gets attribute ``name``
    assigned, "item" when an item of it is assigned or deleted, "call" when its last attribute is a
    mutating method (``append``).
    """

    kind: str  # "global" | "free" | "module" | "self" (the first argument)
    root: str
    attrs: tuple[str, ...]
    write: str = ""


class CodeInfo(NamedTuple):
    digest: str
    chains: tuple[Chain, ...]
    rebinds: frozenset[str]  # globals (and "free:<name>" closure cells) it rebinds or deletes
    writes_self: bool  # assigns attributes or items of its first argument (a method's ``self``)


_CACHE: dict[types.CodeType, CodeInfo] = {}


def code_info(code: types.CodeType) -> CodeInfo:
    """The cached analysis of ``code`` (code objects are immutable, so it never goes stale)."""
    info = _CACHE.get(code)
    if info is None:
        if len(_CACHE) > 50_000:  # notebooks redefine functions forever: bound the memory
            _CACHE.clear()
        info = _CACHE[code] = _analyse(code)
    return info


def _analyse(code: types.CodeType) -> CodeInfo:
    instrs = [i for i in dis.get_instructions(code) if i.opname != "CACHE"]
    words: list[str] = [sys.implementation.cache_tag, _shape(code)]
    for ins in instrs:
        if ins.opcode in _HASCONST:
            words.append(f"{ins.opname} {_const(ins.argval)}")
        elif ins.opname in _TRANSPARENT or ins.opname.startswith("JUMP"):
            words.append(f"{ins.opname} {ins.arg}")  # jump offsets: relative, layout-free
        else:
            words.append(f"{ins.opname} {ins.argval!r}" if ins.arg is not None else ins.opname)
    chains, rebinds = _reads_and_writes(code, instrs)
    writes_self = any(c.kind == "self" and c.write for c in chains)
    chains = [c for c in chains if c.kind != "self"]
    mine = set(code.co_freevars)
    for const in code.co_consts:  # nested code shares the globals; its free names may be ours
        if isinstance(const, types.CodeType):
            inner = code_info(const)
            rebinds |= {r for r in inner.rebinds if not r.startswith("free:") or r[5:] in mine}
            chains += [c for c in inner.chains if c.kind != "free" or c.root in mine]
    digest = hashlib.sha256("\n".join(words).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return CodeInfo(digest, tuple(dict.fromkeys(chains)), frozenset(rebinds), writes_self)


def _shape(code: types.CodeType) -> str:
    """Signature shape: argument counts and names (keyword calls bind by name), flags."""
    nargs = code.co_argcount + code.co_kwonlyargcount
    nargs += bool(code.co_flags & 0x04) + bool(code.co_flags & 0x08)  # *args, **kwargs
    return repr(
        (
            code.co_argcount,
            code.co_posonlyargcount,
            code.co_kwonlyargcount,
            code.co_flags & 0x03AF,  # varargs/generator/coroutine kinds, not compiler bookkeeping
            code.co_varnames[:nargs],
            code.co_freevars,
        )
    )


def _const(value: object) -> str:
    """A constant's canonical text: nested code by digest, frozensets sorted (hash-seed free)."""
    if isinstance(value, types.CodeType):
        return "code:" + code_info(value).digest
    if isinstance(value, tuple):
        return "(" + ",".join(_const(v) for v in value) + ")"
    if isinstance(value, frozenset):
        return "frozenset{" + ",".join(sorted(_const(v) for v in value)) + "}"
    return f"{type(value).__name__}:{value!r}"


def _reads_and_writes(
    code: types.CodeType, instrs: list[dis.Instruction]
) -> tuple[list[Chain], set[str]]:
    chains: list[Chain] = []
    rebinds: set[str] = set()
    owner: dict[int, int] = {}  # instruction index -> index in chains of the chain it is part of
    modules: dict[str, str] = {}  # local name -> module bound by an import inside the function
    cur: tuple[str, str, list[str], int] | None = None  # kind, root, attributes, first index
    imported = pending_import = ""
    first = code.co_varnames[0] if code.co_argcount else None

    def flush(end: int, write: str = "") -> None:
        nonlocal cur
        if cur is not None:
            for k in range(cur[3], end):
                owner[k] = len(chains)
            chains.append(Chain(cur[0], cur[1], tuple(cur[2]), write))
            cur = None

    for n, ins in enumerate(instrs):
        op = ins.opname
        if op in _TRANSPARENT:
            continue
        if op in _LOAD_ROOT or (op in _LOAD_FREE and ins.argval in code.co_freevars):
            flush(n)
            cur = ("global" if op in _LOAD_ROOT else "free", ins.argval, [], n)
        elif op.startswith("LOAD_FAST") and ins.argval in modules:
            flush(n)
            cur = ("module", modules[ins.argval], [], n)
        elif op.startswith("LOAD_FAST") and ins.argval == first:
            flush(n)
            cur = ("self", str(first), [], n)
        elif op in _LOAD_ATTR and cur is not None:
            cur[2].append(ins.argval)
        elif op in ("STORE_ATTR", "DELETE_ATTR") and cur is not None:
            flush(n, f"attr:{ins.argval}")
        elif op == "LOAD_CONST" and cur is not None and _reflected(chains, instrs, n):
            cur[2].append(ins.argval)  # ``getattr(mod, "name")`` reads ``mod.name``
        elif op == "LOAD_CONST" and cur is not None and _imports(cur, ins.argval):
            flush(n)  # ``importlib.import_module("pkg.mod")``: that module, as an import
            pending_import = ins.argval
        elif op == "CALL" and pending_import:
            flush(n)
            cur, pending_import = ("module", pending_import, [], n), ""
        else:
            if op in ("STORE_ATTR", "DELETE_ATTR", "STORE_SUBSCR", "DELETE_SUBSCR"):
                flush(n)
                producer = _producer(instrs, n, 1 if op.endswith("ATTR") else 2)
                if producer is not None and producer in owner:
                    k = owner[producer]
                    write = f"attr:{ins.argval}" if op.endswith("ATTR") else "item"
                    chains[k] = chains[k]._replace(write=write)
            flush(n)
            if op in ("STORE_GLOBAL", "DELETE_GLOBAL"):
                rebinds.add(ins.argval)
            elif op in ("STORE_DEREF", "DELETE_DEREF") and ins.argval in code.co_freevars:
                rebinds.add(f"free:{ins.argval}")
            elif op == "IMPORT_NAME":
                level = instrs[n - 2].argval if instrs[n - 2].opname == "LOAD_CONST" else 0
                imported = "." * (level if isinstance(level, int) else 0) + ins.argval
                continue
            elif op == "IMPORT_FROM" and imported:
                chains.append(Chain("module", imported, (ins.argval,)))
                continue
            elif op.startswith("STORE_FAST") and imported and instrs[n - 1].opname == "IMPORT_NAME":
                dots = len(imported) - len(imported.lstrip("."))
                modules[ins.argval] = imported if dots else imported.partition(".")[0]
            imported = ""
    flush(len(instrs))
    return [c._replace(write="call") if _mutating(c) else c for c in chains], rebinds


_GETATTRS = (Chain("global", "getattr", ()), Chain("global", "hasattr", ()))
_IMPORTERS = (("importlib", ("import_module",)), ("import_module", ()))


def _reflected(chains: list[Chain], instrs: list[dis.Instruction], n: int) -> bool:
    """``getattr(x, "name")`` or ``hasattr``: a constant name right after the chain ``x`` that
    follows ``getattr``, then the call (or a default)."""
    if not chains or chains[-1] not in _GETATTRS or not isinstance(instrs[n].argval, str):
        return False
    after = next((i for i in instrs[n + 1 :] if i.opname not in _TRANSPARENT), None)
    return after is not None and (after.opname == "CALL" or after.opname.startswith("LOAD_"))


def _imports(cur: tuple[str, str, list[str], int], name: object) -> bool:
    return (
        cur[0] == "global"
        and (cur[1], tuple(cur[2])) in _IMPORTERS
        and isinstance(name, str)
        and not name.startswith(".")
    )


def _mutating(chain: Chain) -> bool:
    return not chain.write and bool(chain.attrs) and chain.attrs[-1] in MUTATORS


def _producer(instrs: list[dis.Instruction], n: int, target: int) -> int | None:
    """Index of the instruction that pushed the stack item ``target`` deep (1 = top) at ``n``.

    A backward walk over stack effects: good for straight-line code (``MEMO[key(x)] = v``,
    ``X[k] += 1``, ``self.n += 1``); what it cannot follow returns None (the global then stays an
    input: a needless recompute at worst, never a stale hit).
    """
    if instrs[n - 1].opname == "SWAP":  # augmented assignment: find where the target was copied
        want = ("COPY", "COPY") if target == 2 else ("COPY", "LOAD_ATTR")
        n = next(
            (
                j
                for j in range(n - 2, 0, -1)
                if (instrs[j].opname, instrs[j + 1].opname) == want
                and (target == 2 or instrs[j].arg == 1)
            ),
            -1,
        )
        if n < 0:
            return None
    depth = 0
    for j in range(n - 1, -1, -1):
        ins = instrs[j]
        if ins.opname in ("CACHE", "EXTENDED_ARG", "NOP"):
            continue
        if ins.opname.startswith(("JUMP", "POP_JUMP", "RETURN", "FOR_ITER", "SWAP", "COPY")):
            return None
        try:
            depth += dis.stack_effect(ins.opcode, ins.arg, jump=False)
        except ValueError:
            return None
        if depth >= target:
            return j if depth == target else None
    return None
