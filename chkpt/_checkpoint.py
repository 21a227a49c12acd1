"""The checkpoint policy, written once: a pipeline run and a notebook cell both ask it.

    identify(stage, inputs)  the key and what went into it (or why there can be none)
    find(stage, identity)    the valid entry, or None; an unreadable store warns and misses
    load(entry)              the value, or ``MISSING`` after a warning: a damaged, unsafe or
                             unreadable checkpoint is never loaded ("checkpoint unreadable")
    why(stage, identity)     why it misses, in one vocabulary (``chkpt.ReasonKind``)
    compute(...)/persist()   run the stage, store the value; storing never loses the value
    announce(...)            the terminal line and the event, the same for every runner

>>> import chkpt, tempfile
>>> policy = chkpt.Checkpoints(chkpt.Config(dir=tempfile.mkdtemp(), load=True))
>>> stage = chkpt.Stage(lambda: 42, name="answer", version=1)
>>> ident = policy.identify(stage)
>>> policy.find(stage, ident) is None, policy.why(stage, ident)
(True, 'no checkpoint')
>>> policy.persist(stage, ident, 42).entry is not None
True
>>> policy.load(policy.find(stage, ident))
42
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from ._config import Config
from ._console import stage_feedback
from ._errors import (
    ChkptError,
    CorruptCheckpointError,
    SerializationError,
    StoreWarning,
    UnsafeStoreError,
)
from ._events import Event, emit, listening
from ._fingerprint import fingerprint_value, make_key
from ._present import stage_line
from ._reads import file_changed, recording
from ._store import Entry, Store
from ._walk import shared_hashes
from ._warn import warn

if TYPE_CHECKING:
    from ._fingerprint import CodeFingerprint
    from ._stage import Stage
    from ._vocab import EventKind

__all__ = ["Checkpoints", "Identity", "MISSING", "Outcome", "Persisted", "StoredRef", "compute"]

log = logging.getLogger("chkpt")

_EMPTY: Mapping[str, str] = MappingProxyType({})


class _Missing:
    """'No value here'; pickles by reference, so it stays itself when a worker returns it."""

    def __reduce__(self) -> str:
        return "MISSING"

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


def naming(stage: str, exc: BaseException) -> str:
    """The error's message, prefixed with the stage unless it already names it."""
    text = str(exc) if isinstance(exc, (ChkptError, OSError)) else f"{type(exc).__name__}: {exc}"
    return text if repr(stage) in text else f"stage {stage!r}: {text}"


_SHORT: list[Any] = []  # one reprlib.Repr, made on first use
# builtin values whose repr is their value (a function's or a module's repr holds an address or
# a path, which would make "parameters changed: g <function g at 0x7f..> -> ..." unreadable)
_SHOWN_TYPES = (
    type(None), bool, int, float, complex, str, bytes, tuple, list, dict, set, frozenset, range
)  # fmt: skip


def _short_repr(value: Any) -> str:
    """A bound parameter as ``chkpt info`` and "parameters changed: n 10 -> 20" show it: builtin
    values bounded by ``reprlib``; other objects (functions too) by their type only (a frame's repr can cost
    milliseconds, and this runs on every key)."""
    if type(value).__module__ != "builtins" or not isinstance(value, _SHOWN_TYPES):
        if getattr(value, "shape", None) == () and type(value).__module__ == "numpy":
            return repr(value)  # a numpy scalar: as cheap as an int
        return f"<{type(value).__qualname__}>"
    if not _SHORT:
        import reprlib

        short = reprlib.Repr()  # keyword arguments only from Python 3.12
        short.maxstring = short.maxother = 60
        _SHORT.append(short)
    return str(_SHORT[0].repr(value))


class Identity(NamedTuple):
    """What a stage's checkpoint is keyed by, for given inputs.

    ``key`` is None when the stage cannot be cached (``why`` says which value cannot be hashed):
    it is then computed every time and never stored, never served from a guess. Inputs are the
    upstream stages' names and their values' digests, in input order.
    """

    key: str | None
    fingerprint: str
    params: str
    input_names: tuple[str, ...] = ()
    input_digests: tuple[str, ...] = ()
    param_digests: Mapping[str, str] = _EMPTY
    param_values: Mapping[str, str] = _EMPTY
    why: str = ""

    @property
    def inputs(self) -> dict[str, str]:
        """``{"<position>:<upstream stage>": digest}``, as recorded in the metadata."""
        return {
            f"{p}:{name}": digest
            for p, (name, digest) in enumerate(zip(self.input_names, self.input_digests))
        }

    def meta(self) -> dict[str, Any]:
        """What the store records beside the value, so a later miss can be explained."""
        extra: dict[str, Any] = {"params": self.params, "bound": dict(self.param_values)}
        if self.param_digests:
            extra["param_digests"] = dict(self.param_digests)
        return {"fingerprint": self.fingerprint, "inputs": self.inputs, "extra": extra}


_new_identity = functools.partial(tuple.__new__, Identity)  # the hot path: no argument parsing


class Persisted(NamedTuple):
    """What storing a computed value gave: its digest, the entry (None if not stored), a problem."""

    digest: str
    entry: Entry | None
    problem: str  # a warning for the user, e.g. why it could not be stored


class Outcome(NamedTuple):
    """What a compute task hands back (from a thread, a process or a Dask worker)."""

    value: Any  # MISSING when it stayed in the store (remote workers)
    digest: str
    entry: Entry | None
    seconds: float
    problem: str
    action: Literal["computed", "loaded"]  # loaded: another run stored it while we waited


class StoredRef:
    """A stored value handed to a remote worker by reference, so data never travels via the client."""

    def __init__(self, entry: Entry) -> None:
        self.entry = entry


def persist(
    store: Store,
    config: Config,
    stage: Stage,
    key: str | None,
    value: Any,
    meta: dict[str, Any],
    explain: Callable[[Exception], str] | None = None,
) -> Persisted:
    """Store a computed value if configured. Never loses the value: a failure is a ``problem``
    (an error only under ``Config(strict=True)``). ``explain(exc)`` may name the culprit."""
    if key is not None and config.stores(stage):
        try:
            entry = store.save(
                stage.name, key, value, serializer=stage.serializer, safe_only=config.safe, **meta
            )
            return Persisted(entry.digest, entry, "")
        except SerializationError as exc:
            if config.strict:
                raise
            what = explain(exc) if explain is not None else str(exc)
            problem = f"{what} (the run goes on with the computed value; Config(strict=True) makes this an error)"
        except Exception as exc:  # disk full, read-only, a remote store's own errors...
            reason = str(exc) if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"
            if config.strict:
                raise ChkptError(
                    f"stage {stage.name!r}: cannot write its checkpoint: {reason}"
                ) from exc
            problem = f"stage {stage.name!r}: cannot write its checkpoint ({reason}); the run goes on with the computed value"
    else:  # not stored: the digest storing would have recorded, so early cutoff still works
        with contextlib.suppress(Exception):
            return Persisted(Store.digest_only(value, stage.serializer, config.safe), None, "")
        problem = ""
    try:
        fp = fingerprint_value(value)
    except Exception:  # a value nothing can serialize (a polars Object column): unique to this run
        fp = None
    return Persisted("value:" + (fp or uuid.uuid4().hex), None, problem)


def compute(
    stage: Stage,
    args: list[Any],
    store: Store,
    config: Config,
    key: str | None,
    meta: dict[str, Any],
    ship: bool,
) -> Outcome:
    """Compute and store one stage; runs inline, in a thread, or on a remote worker.

    A stage that is both loaded and stored is computed under its per-key lock: a run that
    waited while another computed the same key takes that checkpoint instead of redoing it.
    """
    shared = key is not None and config.stores(stage) and config.loads(stage)
    with store.lock(stage.name, key) if shared else contextlib.nullcontext():  # type: ignore[arg-type]
        if shared:
            try:
                entry = store.lookup(stage.name, key)  # type: ignore[arg-type]
                if entry is not None and not file_changed(entry.extra.get("reads")):
                    start = time.perf_counter()
                    value = store.load(entry, mmap=config.mmap) if ship else MISSING
                    seconds = time.perf_counter() - start
                    return Outcome(value, entry.digest, entry, seconds, "", "loaded")
            except (CorruptCheckpointError, UnsafeStoreError, OSError):
                pass  # recompute, as without the lock
        args = [
            store.load(a.entry, mmap=config.mmap) if isinstance(a, StoredRef) else a for a in args
        ]
        start = time.perf_counter()
        with recording(exclude=_store_dirs(config)) as reads:
            value = stage(*args)
        seconds = time.perf_counter() - start
        meta = {**meta, "compute_seconds": seconds}
        if reads:  # the files it read are inputs: a hit is checked against them
            meta["extra"] = {**meta.get("extra", {}), "reads": reads}
        digest, entry, problem = persist(store, config, stage, key, value, meta)
    value = value if ship or entry is None else MISSING
    return Outcome(value, digest, entry, seconds, problem, "computed")


# (code fingerprint, params fingerprint, serializer id, param digests, param values, why not)
_StageIdentity = tuple[str, str, str, Mapping[str, str], Mapping[str, str], str]


class Checkpoints:
    """The checkpoint policy of one config over one store (one per run, or per notebook cell run).

    It caches code fingerprints for its lifetime: stages sharing a function hash it once.
    """

    def __init__(self, config: Config | None = None, store: Store | None = None) -> None:
        self.config = config if config is not None else Config()
        self.store = store if store is not None else open_config_store(self.config)
        self._code: dict[int, CodeFingerprint] = {}  # id(func) -> its code fingerprint
        self._ids: dict[int, _StageIdentity] = {}
        self._changed: dict[tuple[str, str], str] = {}  # (stage, key) -> "file changed: ..."

    # -- keys ----------------------------------------------------------------------------------

    def identify(
        self, stage: Stage, names: tuple[str, ...] = (), digests: tuple[str, ...] = ()
    ) -> Identity:
        """The key of ``stage`` given its upstream stages' names and their values' digests."""
        fp, params, ser, param_digests, values, why = self._ids.get(id(stage)) or self._identity(
            stage
        )
        if why:
            return Identity(None, fp, params, names, digests, param_digests, values, why)
        key = make_key(fp, params, ser, *digests)
        return _new_identity((key, fp, params, names, digests, param_digests, values, ""))

    def snapshot(self, stages: Iterable[Stage]) -> list[str]:
        """Take the identity of every stage now, before any of them runs: a stage that writes a
        global another one reads cannot change that one's key halfway through a run.

        Returns the names given to two different stages (other code, parameters or version).
        """
        seen: dict[str, tuple[str, str]] = {}
        clashes = []
        with shared_hashes():  # a big global array read by many stages is hashed once
            for stage in stages:
                fp, params = (self._ids.get(id(stage)) or self._identity(stage))[:2]
                if seen.setdefault(stage.name, (fp, params)) != (fp, params):
                    clashes.append(stage.name)
        return list(dict.fromkeys(clashes))

    def _identity(self, stage: Stage) -> _StageIdentity:
        """What identifies ``stage`` whatever its inputs; computed once per stage."""
        ser = stage.serializer.id if stage.serializer else ""
        unkeyed = ""
        if stage.version is not None:
            fp = stage.fingerprint()
        else:
            code = self._code.get(id(stage.func))
            if code is None:
                code = self._code[id(stage.func)] = stage.code_fingerprint()
            fp, unkeyed = code.digest, code.unkeyed
        ident: _StageIdentity = (fp, "", ser, _EMPTY, _EMPTY, unkeyed)
        if (stage.params or stage.env) and not unkeyed:
            try:
                digests = {**stage.param_fingerprints(), **_env_digests(stage.env)}
            except TypeError as exc:
                ident = (fp, "", ser, _EMPTY, _EMPTY, str(exc))
            else:
                values = {
                    k: r for k, v in stage.params.items() if (r := _short_repr(v)) is not None
                }
                values.update((f"${n}", repr(os.environ.get(n))[:40]) for n in stage.env)
                ident = (fp, stage.params_fingerprint(digests), ser, digests, values, "")
        self._ids[id(stage)] = ident
        return ident

    # -- hits ----------------------------------------------------------------------------------

    def find(self, stage: Stage, ident: Identity) -> Entry | None:
        """The valid checkpoint for ``ident``, if loading is allowed; an unreadable store misses."""
        if ident.key is None or not self.config.loads(stage):
            return None
        try:
            entry = self.store.lookup(stage.name, ident.key)
        except Exception as exc:  # an unreadable dir, a remote store's own errors: recompute
            warn(f"cannot read checkpoints ({exc!r}); recomputing", StoreWarning, stage=stage.name)
            return None
        reads = entry.extra.get("reads") if entry is not None else None
        if reads and (changed := file_changed(reads)):  # a file it read changed: an input did
            self._changed[(stage.name, ident.key)] = changed
            return None
        return entry

    def load(self, entry: Entry, accept: Callable[[Any], bool] | None = None) -> Any:
        """The stored value, or ``MISSING`` after a warning (damaged, unsafe, unreadable, or
        refused by ``accept``): the caller recomputes with reason "checkpoint unreadable"."""
        try:
            value = self.store.load(entry, mmap=self.config.mmap)
            if accept is not None and not accept(value):
                raise CorruptCheckpointError(f"{entry.path}: not a value this stage stores")
            return value
        except Exception as exc:
            warn(f"{naming(entry.stage, exc)}; recomputing", StoreWarning, stage=entry.stage)
            return MISSING

    # -- misses --------------------------------------------------------------------------------

    def why(self, stage: Stage, ident: Identity) -> str:
        """Why ``stage`` is computed rather than loaded, in the user's words."""
        if self.config.forces(stage):
            return "forced"
        if ident.key is None:
            return f"not cacheable: {ident.why}"
        if not self.config.loads(stage):
            return "not in Config.load"
        if (stage.name, ident.key) in self._changed:
            return self._changed[(stage.name, ident.key)]
        try:
            latest = self.store.latest(stage.name)
        except Exception:  # only an explanation: never fail a run for it
            latest = None
        return explain(latest, ident)

    def persist(
        self,
        stage: Stage,
        ident: Identity,
        value: Any,
        compute_seconds: float = 0.0,
        extra: dict[str, Any] | None = None,
        explain: Callable[[Exception], str] | None = None,
    ) -> Persisted:
        """Store a value computed outside ``compute`` (a notebook cell); warns on a problem."""
        meta = ident.meta()
        meta["compute_seconds"] = compute_seconds
        if extra:
            meta["extra"] = {**meta["extra"], **extra}
        done = persist(self.store, self.config, stage, ident.key, value, meta, explain)
        if done.problem:
            warn(done.problem, StoreWarning, stage=stage.name)
        return done

    # -- feedback ------------------------------------------------------------------------------

    def announce(
        self,
        kind: EventKind,
        stage: str,
        key: str | None = "",
        seconds: float = 0.0,
        reason: str = "",
        size: int = 0,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Log the stage's line (computed/loaded) and publish its event."""
        if kind == "loaded" or kind == "computed":
            stage_feedback(
                "%s", stage_line(kind, stage, reason, seconds), verbose=self.config.verbose
            )
        on_event = self.config.on_event
        if on_event is not None or listening():
            emit(Event(kind, stage, key or "", seconds, reason, size, extra or {}), on_event)


def explain(latest: Entry | None, ident: Identity) -> str:
    """Why the newest checkpoint of a stage (``latest``) does not serve ``ident``."""
    if latest is None:
        return "no checkpoint"
    if latest.fingerprint != ident.fingerprint:
        return "code changed"
    if latest.extra.get("params", "") != ident.params:
        return _params_changed(latest.extra, ident)
    if latest.inputs != ident.inputs:
        changed = [
            label.partition(":")[2] or label
            for label in dict.fromkeys([*ident.inputs, *latest.inputs])
            if ident.inputs.get(label) != latest.inputs.get(label)
        ]
        return f"input changed: {', '.join(dict.fromkeys(changed))}"
    if latest.key == ident.key:
        return "checkpoint unreadable"
    return "no checkpoint"


def _env_digests(names: tuple[str, ...]) -> dict[str, str]:
    """Declared environment variables, as parameters named ``$NAME``."""
    return {f"${n}": make_key("env", repr(os.environ.get(n))) for n in names}


def _params_changed(old_extra: dict[str, Any], ident: Identity) -> str:
    """``parameters changed: n 10 -> 20, mode`` (values shown when short scalars), or
    ``environment changed: NAME`` for a declared environment variable."""
    old = old_extra.get("param_digests")
    if not isinstance(old, dict):
        return "parameters changed"
    old_values = old_extra.get("bound") or {}
    parts, env = [], []
    for name in sorted(set(old) | set(ident.param_digests)):
        if old.get(name) == ident.param_digests.get(name):
            continue
        if name.startswith("$"):
            env.append(name[1:])
            continue
        before, after = old_values.get(name), ident.param_values.get(name)
        if name not in old:
            parts.append(f"{name} added")
        elif name not in ident.param_digests:
            parts.append(f"{name} removed")
        elif before and after and before != after and len(before) + len(after) <= 60:
            parts.append(f"{name} {before} -> {after}")
        else:
            parts.append(f"{name} changed")
    said = [f"parameters changed: {', '.join(parts)}"] if parts else []
    said += [f"environment changed: {', '.join(env)}"] if env else []
    return "; ".join(said) or "parameters changed"


def _store_dirs(config: Config) -> tuple[str, ...]:
    """Where checkpoints live, when local: the store's own reads are not a stage's inputs."""
    path = str(config.path)
    return () if "://" in path else (os.path.abspath(path),)


def open_config_store(config: Config) -> Store:
    """The store a config names (directory, retention, durability, safety, fsspec options)."""
    return Store(
        config.path,
        keep=config.keep,
        durable=config.durable,
        safe=config.safe,
        storage_options=config.storage_options,
    )
