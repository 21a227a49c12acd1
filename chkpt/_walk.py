"""The walk behind every fingerprint: the code a stage can reach and the values it reads.

One ``Walker`` feeds one SHA-256 with a canonical, type-tagged description of an object graph:

* **code** (user functions, classes, instances, ``partial``, Stages used as helpers, every layer of
  a wrapper: its own code, closure cells and ``__dict__``) is walked first, depth-first in bytecode
  order, following the globals, closure cells and dotted module chains each function reads
  (``_codeinfo``). Library code (stdlib, site-packages, chkpt) is named, not walked.
* **values** read along the way are hashed after all code is known, so that a global some reachable
  code *writes* (``LOG.append``, ``MEMO[k] = v``, ``global n; n += 1``) is recognised as state: it
  is keyed by the value it had when this process first saw that object (rebinding the global to a
  new object re-keys; the stage's own mutations do not), never by its current contents.
* values are canonical: the type is part of every hash, dicts keep their order, sets are sorted by
  their elements' hashes (independent of ``PYTHONHASHSEED``), objects go by their class and state,
  never by an address-bearing ``repr``; user ``__getattr__`` is never triggered.
* a value that cannot be hashed (a lock, an open file) or is over the size budget is reported in
  ``problems`` and keyed by its type only; callers warn about it by name.
"""

from __future__ import annotations

import contextlib
import copyreg
import functools
import hashlib
import importlib
import importlib.util
import os
import sys
import sysconfig
import types
from collections import deque
from collections.abc import Callable, Iterator
from enum import Enum
from typing import Any, NamedTuple

from ._codeinfo import MUTATORS, Chain, code_info
from ._value_types import fingerprinter_for

__all__ = ["Problem", "Walker", "is_user_file", "shared_hashes"]

ITEM_BUDGET = 5_000_000  # values fed per global: a bigger table is reported, not silently cut
BYTE_BUDGET = 2 << 30  # bytes hashed per global (SHA-256: about a second at 2 GB/s)

_ATOMS = frozenset({type(None), bool, int, float, complex, str, bytes, type(...)})
_CONTAINERS = (list, dict, set, frozenset, bytearray, deque)
_BUILTIN_CODE = (
    types.BuiltinFunctionType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    types.MethodWrapperType,
    types.ClassMethodDescriptorType,
    types.GetSetDescriptorType,
    types.MemberDescriptorType,
)
# class attributes that are bookkeeping, not behaviour
_CLASS_SKIP = frozenset(
    [
        "__dict__",
        "__weakref__",
        "__doc__",
        "__module__",
        "__qualname__",
        "__annotations__",
        "__slots__",
        "__dataclass_fields__",
        "__dataclass_params__",
        "__match_args__",
        "_abc_impl",
        "__parameters__",
        "__orig_bases__",
        "__firstlineno__",
        "__static_attributes__",
        "__protocol_attrs__",
        "__slotnames__",
    ]
)


class Problem(NamedTuple):
    """Something a stage reads that is not part of its key by value."""

    label: str  # the global, closure variable or attribute, e.g. "CONN" or "helpers.CACHE"
    type: str
    why: str


class _Unkeyable(Exception):
    pass


_FIRST_SEEN: dict[tuple[Any, ...], tuple[Any, str]] = {}
_SHARED: list[dict[int, tuple[Any, str, int]]] = []


@contextlib.contextmanager
def shared_hashes() -> Iterator[None]:
    """Within the block, a value of a registered type is hashed once, however many stages read
    it (the block must not span a change of it: a run's snapshot of keys, not a session)."""
    _SHARED.append({})
    try:
        yield
    finally:
        _SHARED.pop()


class Walker:
    """Feeds one hash with everything reachable from the roots it is given (see module doc)."""

    def __init__(self) -> None:
        self.h = hashlib.sha256()
        self.seen: dict[int, int] = {}  # id of walked code-like objects -> ordinal
        self.active: set[int] = set()  # values being walked (cycle guard)
        self.keep: list[Any] = []  # keeps ids in ``seen`` unique while walking
        # (label for messages, tag that is hashed, value, key that marks it as state)
        self.pending: deque[tuple[str, str, Any, tuple[Any, ...] | None]] = deque()
        self.pending_keys: set[Any] = set()
        self.rebound: set[tuple[Any, ...]] = set()  # (id(namespace), name) written by the code
        self.state: dict[int, Any] = {}  # objects the code mutates in place
        self.problems: list[Problem] = []
        self.env: list[str] = []  # what reads os.environ / os.getenv
        self.items = self.nbytes = 0

    def emit(self, *parts: Any) -> None:
        self.h.update(repr(parts).encode())

    def hexdigest(self) -> str:
        self.drain()
        return self.h.hexdigest()[:32]

    # -- values --------------------------------------------------------------------------------

    def drain(self) -> None:
        """Hash the values read, now that every write of the reachable code is known."""
        while self.pending:
            label, tag, obj, key = self.pending.popleft()
            if key in self.rebound or id(obj) in self.state:
                self.emit("state", tag, _first_seen(key if key in self.rebound else None, obj))
                continue
            self.read(label, obj, tag)

    def read(self, label: str, obj: Any, tag: str = "") -> None:
        """Feed one value read by the code; unhashable or too big: its type, and a problem.

        ``label`` names it in messages; ``tag`` (its name as the code reads it) is hashed.
        """
        saved, self.items, self.nbytes = self.h.copy(), 0, 0
        try:
            self.emit("read", tag)
            self.feed(obj)
        except Exception as exc:  # user code (``__len__``, ``__reduce__``...) never fails a run
            self.h = saved
            name = _type_name(obj)
            self.emit("unkeyed", tag, name)
            why = str(exc) if isinstance(exc, _Unkeyable) else f"{type(exc).__name__}: {exc}"
            self.problems.append(
                Problem(
                    label, name, why if not isinstance(exc, RecursionError) else "too deeply nested"
                )
            )

    def feed(self, obj: Any) -> None:
        t = type(obj)
        self.items += 1
        if self.items > ITEM_BUDGET:
            raise _Unkeyable(f"over the hashing budget ({ITEM_BUDGET:,} items)")
        if t in _ATOMS:
            if t is str or t is bytes:
                self.count(len(obj))
            self.emit(t.__name__, obj)
            return
        oid = id(obj)
        if oid in self.seen:
            self.emit("ref", self.seen[oid])
            return
        if oid in self.active:
            self.emit("cycle")
            return
        if _is_code(obj):
            self.seen[oid] = len(self.seen)
            self.keep.append(obj)
            self.code(obj)
            return
        self.active.add(oid)
        try:
            self.data(obj, t)
        finally:
            self.active.discard(oid)

    def count(self, n: int) -> None:
        self.nbytes += n
        if self.nbytes > BYTE_BUDGET:
            raise _Unkeyable(f"over the hashing budget ({BYTE_BUDGET >> 20:,} MiB)")

    def data(self, obj: Any, t: type) -> None:
        if t is list or t is tuple:
            self.emit(t.__name__, len(obj))
            for item in obj:
                self.feed(item)
        elif t is dict or t is types.MappingProxyType:
            self.items_of(dict.items(obj) if t is dict else obj.items(), len(obj))
        elif t is set or t is frozenset:
            self.set_of(obj)
        elif t is memoryview:
            self.count(obj.nbytes)
            self.emit("memoryview", obj.format, obj.shape)
            self.h.update(obj)
        elif (fingerprint := fingerprinter_for(obj)) is not None:
            self.emit("as", _type_name(obj), self.registered(obj, fingerprint))
        elif isinstance(obj, Enum):  # its class (methods included) and its value
            self.feed(t)
            self.emit("member", obj.name)
            self.feed(obj.__dict__.get("_value_"))
        elif isinstance(obj, (tuple, *_CONTAINERS)):
            self.subclassed(obj, t)
        elif _is_user_class(t) and not _custom_pickling(t):
            self.feed(t)
            self.feed(_instance_state(obj))
        else:
            self.reduced(obj, t)

    def registered(self, obj: Any, fingerprint: Callable[[Any], Any]) -> str:
        """The hash of a value of a registered type (an array, a frame), once per run: several
        stages reading one big global hash it once (``shared_hashes``)."""
        memo = _SHARED[-1] if _SHARED else None
        known = memo.get(id(obj)) if memo is not None else None
        if known is not None and known[0] is obj:
            self.count(known[2])
            return known[1]
        outer, seen, before = self.h, self.seen, self.nbytes
        self.h, self.seen = hashlib.sha256(), {}
        try:
            try:
                plain = fingerprint(obj)
            except Exception as exc:
                raise _Unkeyable(f"{type(exc).__name__}: {exc}") from None
            self.feed(plain)
            digest = self.h.hexdigest()
        finally:
            self.h, self.seen = outer, seen
        if memo is not None:
            memo[id(obj)] = (obj, digest, self.nbytes - before)
        return digest

    def items_of(self, items: Any, n: int) -> None:
        self.emit("dict", n)
        for k, v in items:
            self.feed(k)
            self.feed(v)

    def set_of(self, obj: Any) -> None:
        """Sorted by element hash: iteration order depends on the process's hash seed."""
        outer, seen = self.h, self.seen
        digests = []
        try:
            for item in obj:
                self.h, self.seen = hashlib.sha256(), {}
                self.feed(item)
                digests.append(self.h.hexdigest())
        finally:
            self.h, self.seen = outer, seen
        self.emit(type(obj).__name__, sorted(digests))

    def subclassed(self, obj: Any, t: type) -> None:
        """Namedtuples, OrderedDict, defaultdict, ``class AttrDict(dict)``...: class plus content."""
        self.feed(t)
        if isinstance(obj, dict):
            self.items_of(dict.items(obj), len(obj))
            self.feed(
                getattr(obj, "default_factory", None) if t.__module__ == "collections" else None
            )
        elif isinstance(obj, (set, frozenset)):
            self.set_of(obj)
        elif isinstance(obj, (bytearray,)):
            self.count(len(obj))
            self.emit("bytes", bytes(obj))
        else:
            self.emit("items", len(obj))
            for item in obj:
                self.feed(item)
        self.feed(_instance_state(obj))

    def reduced(self, obj: Any, t: type) -> None:
        """Any other object, as pickle sees it (class, arguments, state), never by address."""
        if isinstance(obj, (types.GeneratorType, types.CoroutineType, types.FrameType)):
            raise _Unkeyable("its value depends on where it was suspended")
        try:
            reducer = copyreg.dispatch_table.get(t)  # re.Pattern and friends register here
            rv = reducer(obj) if reducer is not None else t.__reduce_ex__(obj, 5)  # type: ignore[call-arg]
        except Exception as exc:
            raise _Unkeyable(f"{type(exc).__name__}: {exc}") from None
        if isinstance(rv, str):  # pickled by reference: its name, and what it wraps if anything
            self.emit("global", t.__module__, rv)
            state = _instance_state(obj)
            if isinstance(state, dict) and "__wrapped__" in state:  # lru_cache and friends
                self.feed(state)
            return
        if not isinstance(rv, tuple) or len(rv) < 2:
            raise _Unkeyable("its __reduce__ returns no description of its value")
        self.emit("reduce", len(rv))
        for part in rv[:3]:
            self.feed(part)
        for extra in rv[3:5]:
            if extra is not None:
                self.emit("items")
                for item in extra:
                    self.feed(item)

    # -- code ----------------------------------------------------------------------------------

    def code(self, obj: Any) -> None:
        if isinstance(obj, types.FunctionType):
            self.function(obj)
        elif isinstance(obj, type):
            self.klass(obj)
        elif isinstance(obj, types.MethodType):
            self.emit("method")
            self.feed(obj.__func__)
            self.later(f"{_qualname(obj)}.__self__", obj.__self__, None, "self")
        elif isinstance(obj, types.ModuleType):
            self.emit("module", obj.__name__)
        elif isinstance(obj, functools.partial):
            self.emit("partial")
            self.feed(obj.func)
            self.feed(obj.args)
            self.feed(obj.keywords)
        elif isinstance(obj, (staticmethod, classmethod)):
            self.emit(type(obj).__name__)
            self.feed(obj.__func__)
        elif isinstance(obj, property):
            self.emit("property")
            self.feed((obj.fget, obj.fset, obj.fdel))
        elif _is_stage(obj):
            self.stage(obj)
        else:  # builtins: by name (and what they are bound to, e.g. ``LOG.append``)
            owner = getattr(obj, "__self__", None)
            self.emit("builtin", getattr(obj, "__module__", None), _qualname(obj))
            if owner is not None and not isinstance(owner, types.ModuleType):
                self.feed(type(owner))

    def function(self, f: types.FunctionType) -> None:
        code = f.__code__
        label = f.__qualname__
        if not is_user_file(code.co_filename):
            self.emit("library function", f.__module__, code.co_qualname)
            if f.__dict__:  # functools.wraps' __wrapped__, singledispatch's registry
                self.later(f"{label}.__dict__", f.__dict__, None, "attrs")
            return
        info = code_info(code)
        self.emit("function", info.digest)
        ns = f.__globals__
        self.rebound.update((id(ns), name) for name in info.rebinds)
        if f.__defaults__ or f.__kwdefaults__:
            self.later(f"{label} defaults", (f.__defaults__, f.__kwdefaults__), None, "defaults")
        if f.__dict__:
            self.later(f"{label}.__dict__", f.__dict__, None, "attrs")
        for name, cell in zip(code.co_freevars, f.__closure__ or ()):
            try:
                value = cell.cell_contents
            except ValueError:
                self.emit("empty cell", name)
                continue
            key = ("cell", id(cell))
            if f"free:{name}" in info.rebinds:
                self.rebound.add(key)
            self.reach(f"{label}: {name}", value, key, name)
        for chain in info.chains:
            self.chain(f, chain)

    def chain(self, f: types.FunctionType, chain: Chain) -> None:
        """Resolve ``root.a.b`` through modules to the object it names, and note writes to it."""
        key: tuple[Any, ...] | None
        if chain.kind == "global":
            ns = f.__globals__
            if chain.root not in ns:
                if chain.root not in _builtins(ns):
                    self.emit("undefined", chain.root)  # defined later: the key will change
                return
            obj, key = ns[chain.root], (id(ns), chain.root)
        elif chain.kind == "free":
            try:
                cell = f.__closure__[f.__code__.co_freevars.index(chain.root)]  # type: ignore[index]
                obj, key = cell.cell_contents, ("cell", id(cell))
            except (ValueError, TypeError):
                return
        else:
            obj, key = _module(chain.root, f.__globals__.get("__package__")), None
            if obj is None:
                self.emit("unimportable", chain.root)
                return
        label, attrs = chain.root, list(chain.attrs)
        owner: types.ModuleType | None = None
        while attrs and isinstance(obj, types.ModuleType):
            name = attrs.pop(0)
            owner = obj
            space = vars(obj)
            if name in space:
                obj, key = space[name], (id(space), name)
            elif f"{obj.__name__}.{name}" in sys.modules:
                obj, key = sys.modules[f"{obj.__name__}.{name}"], None
            else:
                self.emit("undefined", f"{label}.{name}")
                if callable(space.get("__getattr__")):  # a module ``__getattr__`` makes it
                    self.reach(f"{label}.__getattr__", space["__getattr__"], None, "getattr")
                return
            label = f"{label}.{name}"
        if obj is os.environ or obj is os.getenv or obj is getattr(os, "getenvb", None):
            self.env.append(f"{f.__qualname__} reads {label}")  # declared or warned, not hashed
            self.emit("environment", label)
            return
        if isinstance(obj, types.ModuleType):
            if chain.write.startswith("attr:"):
                self.rebound.add((id(vars(obj)), chain.write[5:]))
            self.emit("module", obj.__name__)
            return
        if _library_method(owner, obj):  # ``random.seed``: a library's own hidden instance,
            self.emit("library method", label)  # whose state differs in every process
            return
        self.note_write(obj, attrs, chain.write)
        self.reach(label, obj, key, label)

    def note_write(self, obj: Any, attrs: list[str], write: str) -> None:
        if write.startswith("attr:") and not attrs and isinstance(obj, type):
            self.rebound.add(("attr", id(obj), write[5:]))  # ``Counter.n += 1``
        elif (
            write.startswith("attr:")
            or write == "item"
            or (attrs and len(attrs) > 1 and write)
            or write == "call"
            and isinstance(obj, _CONTAINERS)
            and attrs[-1] in MUTATORS
        ):
            self.state[id(obj)] = obj
        elif _is_user_class(type(obj)) and _method_writes_self(
            type(obj), attrs[0] if attrs else "__call__"
        ):
            self.state[id(obj)] = obj  # ``tracker.record(x)`` or ``calls(x)`` assigns ``self.n``

    def reach(self, label: str, obj: Any, key: tuple[Any, ...] | None, tag: str) -> None:
        """Code is walked now (it can reveal writes); values are hashed at the end."""
        if type(obj) in _ATOMS:
            if key not in self.rebound:
                self.emit("read", tag, type(obj).__name__, obj)
                return
        elif _is_code(obj):
            self.emit("reach", tag)
            self.feed(obj)
            return
        self.later(label, obj, key, tag)

    def later(self, label: str, obj: Any, key: tuple[Any, ...] | None, tag: str) -> None:
        dedupe = key if key is not None else ("id", id(obj), tag)
        if dedupe not in self.pending_keys:
            self.pending_keys.add(dedupe)
            self.keep.append(obj)
            self.pending.append((label, tag, obj, key))

    def klass(self, cls: type) -> None:
        if not _is_user_class(cls):
            self.emit("library class", cls.__module__, cls.__qualname__)
            return
        self.emit("class", cls.__qualname__, len(cls.__mro__))
        for base in cls.__mro__[1:]:
            self.feed(base)
        for name, member in list(vars(cls).items()):  # definition order, then run-time additions
            if name in _CLASS_SKIP:
                continue
            if _is_code(member):
                self.emit("member", name)
                self.feed(member)
            else:
                self.later(f"{cls.__qualname__}.{name}", member, ("attr", id(cls), name), name)

    def stage(self, stage: Any) -> None:
        """A Stage used as a helper: what identifies its results (version or code, and params)."""
        self.emit("stage", stage.name, repr(stage.version))
        self.later(f"stage {stage.name!r} params", stage.params, None, "params")
        if stage.version is None:
            self.feed(stage.func)


# -- helpers -----------------------------------------------------------------------------------


def _module(name: str, package: str | None) -> types.ModuleType | None:
    """The module an import inside a function names: imported now if it is not yet (the stage
    would import it when it runs, so this is the code that will run)."""
    try:
        if name.startswith("."):
            name = importlib.util.resolve_name(name, package)
        module = sys.modules.get(name)
        return module if module is not None else importlib.import_module(name)
    except Exception:  # an optional import the function guards: nothing to key
        return None


def _library_method(module: types.ModuleType | None, obj: Any) -> bool:
    """A library function bound to a library object, as a library module exports it."""
    if module is None or not isinstance(obj, types.MethodType):
        return False
    path = getattr(module, "__file__", None)
    code = getattr(obj.__func__, "__code__", None)
    return (
        path is not None
        and code is not None
        and not is_user_file(path)
        and not is_user_file(code.co_filename)
        and not _is_user_class(type(obj.__self__))
    )


def _first_seen(key: tuple[Any, ...] | None, obj: Any) -> str:
    """The hash of the value state had when this process first saw it (by name or by object)."""
    slot = ("name", key) if key is not None else ("object", id(obj))
    known = _FIRST_SEEN.get(slot)
    if known is None or (key is None and known[0] is not obj):
        walker = Walker()
        walker.read("state", obj)
        known = _FIRST_SEEN[slot] = (obj if key is None else None, walker.hexdigest())
    return known[1]


def _is_code(obj: Any) -> bool:
    return isinstance(
        obj,
        (
            types.FunctionType,
            type,
            types.MethodType,
            types.ModuleType,
            functools.partial,
            staticmethod,
            classmethod,
            property,
            *_BUILTIN_CODE,
        ),
    ) or _is_stage(obj)


def _is_stage(obj: Any) -> bool:
    """A chkpt Stage? Found through ``sys.modules``, not imported: ``_stage`` imports the
    fingerprinting (an import here would be a cycle), and no Stage exists before it is loaded."""
    module = sys.modules.get("chkpt._stage")
    return module is not None and isinstance(obj, module.Stage)


def _qualname(obj: Any) -> str:
    try:
        return str(obj.__qualname__)
    except Exception:
        return type(obj).__qualname__


def _type_name(obj: Any) -> str:
    t = type(obj)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _builtins(ns: dict[str, Any]) -> Any:
    b = ns.get("__builtins__", {})
    return b if isinstance(b, dict) else vars(b)


def _instance_state(obj: Any) -> Any:
    """An instance's ``__dict__`` and slots, read without running user ``__getattr__``."""
    try:
        state: Any = dict(object.__getattribute__(obj, "__dict__"))
    except (AttributeError, TypeError):
        state = None
    slots = []
    for klass in type(obj).__mro__:
        names = vars(klass).get("__slots__", ())
        for name in (names,) if isinstance(names, str) else names:
            if name in ("__dict__", "__weakref__"):
                continue
            try:
                slots.append((name, object.__getattribute__(obj, name)))
            except AttributeError:
                slots.append((name, "<unset>"))
    return (state, slots) if slots else state


def _custom_pickling(t: type) -> bool:
    return (
        t.__reduce_ex__ is not object.__reduce_ex__
        or t.__reduce__ is not object.__reduce__
        or getattr(t, "__getstate__", object.__getstate__) is not object.__getstate__
    )


def _method_writes_self(cls: type, name: str) -> bool:
    for klass in cls.__mro__:
        member = vars(klass).get(name)
        if member is not None:
            func = getattr(member, "__func__", member)
            code = getattr(func, "__code__", None)
            return code is not None and code_info(code).writes_self
    return False


@functools.lru_cache(maxsize=4096)
def is_user_file(filename: str) -> bool:
    """True for code the user writes: anything outside the stdlib, site-packages and chkpt.

    ``<stdin>``, ``<string>`` (exec) and notebook cells are user code; frozen modules are not.
    """
    if filename.startswith("<frozen"):
        return False
    return (
        not os.path.abspath(filename).startswith(_library_dirs()) if filename[:1] != "<" else True
    )


@functools.lru_cache(maxsize=4096)
def _is_user_class_cached(cls: type) -> bool:
    name = cls.__module__ or ""
    if name == "builtins":
        return False
    if name == "__main__":
        return True
    prefix = cls.__qualname__ + "."
    for member in vars(cls).values():  # its methods say where it was written
        code = getattr(getattr(member, "__func__", member), "__code__", None)
        # not the ones a metaclass puts there (an Enum's ``__new__`` comes from enum.py)
        if isinstance(code, types.CodeType) and code.co_qualname.startswith(prefix):
            return is_user_file(code.co_filename)
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if path is None:  # __main__ of a notebook, exec'd code; C modules of the stdlib are not
        return name.partition(".")[0] not in sys.stdlib_module_names
    return is_user_file(path)


def _is_user_class(cls: type) -> bool:
    try:
        return _is_user_class_cached(cls)
    except TypeError:  # an unhashable metaclass
        return False


@functools.lru_cache(maxsize=1)
def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    dirs |= {p for p in sys.path if p.endswith(("site-packages", "dist-packages"))}
    here = os.path.dirname(os.path.abspath(__file__))
    dirs |= {here, os.path.join(os.path.dirname(here), "chkpt_ipython")}
    return tuple(sorted(os.path.join(os.path.abspath(d), "") for d in dirs))


def describe(func: Callable[..., Any]) -> Walker:
    """A drained walker over ``func`` (its digest, problems and environment reads)."""
    walker = Walker()
    walker.read(_qualname(func), func)
    walker.drain()
    return walker
