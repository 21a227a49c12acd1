"""Executing a pipeline: the order, what is loaded or computed, and why.

Nodes are resolved in topological order. A node's key needs only its inputs' digests, and a
cached input's digest is read from its metadata: so validating a hit never reads upstream data,
and an input whose consumer hits is neither loaded nor recomputed. Values of hits are loaded
lazily, only when a consumer actually computes (or for the final output).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import sys
import time
import uuid
import warnings
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, NamedTuple

from . import _gc
from ._config import Config
from ._errors import (
    ChkptError,
    CorruptCheckpointError,
    SerializationError,
    StoreWarning,
    UnsafeStoreError,
)
from ._events import Event, emit, listening
from ._fingerprint import fingerprint_value, make_key
from ._pipeline import Graph, Pipeline
from ._report import Plan, PlanStep, Result, StageReport
from ._stage import Stage
from ._store import Entry, Store

__all__ = ["run", "plan"]

log = logging.getLogger("chkpt")


class _Missing:
    """'No value here'; pickles by reference, so it stays itself when a worker returns it."""

    def __reduce__(self) -> str:
        return "_MISSING"

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def _naming(stage: str, exc: BaseException) -> str:
    """The error's message, prefixed with the stage unless it already names it."""
    text = str(exc) if isinstance(exc, (ChkptError, OSError)) else f"{type(exc).__name__}: {exc}"
    return text if repr(stage) in text else f"stage {stage!r}: {text}"


def _short_repr(value: Any) -> str:
    """A bound parameter as ``chkpt info`` shows it (bounded: arrays and frames are cut short)."""
    import reprlib

    short = reprlib.Repr()  # keyword arguments only from Python 3.12
    short.maxstring = short.maxother = 60
    return short.repr(value)


class _Ref:
    """A stored value handed to a remote worker by reference, so data never travels via the client."""

    def __init__(self, entry: Entry) -> None:
        self.entry = entry


def _persist(
    store: Store, config: Config, stage: Stage, key: str, value: Any, meta: dict[str, Any]
) -> tuple[str, Entry | None, str]:
    """Store a computed value if configured; returns (digest, entry, warning). Never loses the value."""
    if config.stores(stage):
        try:
            entry = store.save(
                stage.name, key, value, serializer=stage.serializer, safe_only=config.safe, **meta
            )
            return entry.digest, entry, ""
        except SerializationError as exc:
            if config.strict:
                raise
            problem = f"{exc} (the run goes on with the computed value; Config(strict=True) makes this an error)"
        except Exception as exc:  # disk full, read-only, a remote store's own errors...
            reason = str(exc) if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"
            if config.strict:
                raise ChkptError(
                    f"stage {stage.name!r}: cannot write its checkpoint: {reason}"
                ) from exc
            problem = f"stage {stage.name!r}: cannot write its checkpoint ({reason}); the run goes on with the computed value"
    else:  # not stored: the digest storing would have recorded, so early cutoff still works
        with contextlib.suppress(Exception):
            return Store.digest_only(value, stage.serializer, config.safe), None, ""
        problem = ""
    try:
        fp = fingerprint_value(value)
    except Exception:  # a value nothing can serialize (a polars Object column): unique to this run
        fp = None
    return "value:" + (fp or uuid.uuid4().hex), None, problem


class _Outcome(NamedTuple):
    """What a compute task hands back (from a thread, a process or a Dask worker)."""

    value: Any  # _MISSING when it stayed in the store (remote workers)
    digest: str
    entry: Entry | None
    seconds: float
    problem: str  # a warning to show in the client, e.g. why it could not be stored
    action: str  # "computed", or "loaded" when another run stored it while we waited


def _compute_task(
    stage: Stage,
    args: list[Any],
    store: Store,
    config: Config,
    key: str,
    meta: dict[str, Any],
    ship: bool,
) -> _Outcome:
    """Compute and store one node; runs inline, in a thread, or on a remote worker.

    A stage that is both loaded and stored is computed under its per-key lock (``_lock``): a run
    that waited while another computed the same key takes that checkpoint instead of redoing it.
    """
    shared = config.stores(stage) and config.loads(stage)
    with store.lock(stage.name, key) if shared else contextlib.nullcontext():
        if shared:
            try:
                entry = store.lookup(stage.name, key)
                if entry is not None:
                    start = time.perf_counter()
                    value = store.load(entry, mmap=config.mmap) if ship else _MISSING
                    seconds = time.perf_counter() - start
                    return _Outcome(value, entry.digest, entry, seconds, "", "loaded")
            except (CorruptCheckpointError, UnsafeStoreError, OSError):
                pass  # recompute, as without the lock
        args = [store.load(a.entry, mmap=config.mmap) if isinstance(a, _Ref) else a for a in args]
        start = time.perf_counter()
        value = stage(*args)
        seconds = time.perf_counter() - start
        meta = {**meta, "compute_seconds": seconds}
        digest, entry, problem = _persist(store, config, stage, key, value, meta)
    value = value if ship or entry is None else _MISSING
    return _Outcome(value, digest, entry, seconds, problem, "computed")


class _Run:
    def __init__(self, pipeline: Pipeline, config: Config | None, gc_enabled: bool = True) -> None:
        self.config = config if config is not None else Config()
        self.graph = g = Graph(pipeline)
        checked: set[tuple[int, int, tuple[str, ...]]] = set()  # stages often share a function
        for i, node in enumerate(g.nodes):
            stage = node.stage
            sig = (id(stage.func), len(g.inputs[i]), tuple(stage.params))
            if sig not in checked:
                stage.check_inputs(len(g.inputs[i]), g.where(i))
                checked.add(sig)
        names = {node.stage.name for node in g.nodes}
        for field, missing in self.config.unknown_names(names).items():
            warnings.warn(
                f"chkpt: Config.{field} names {', '.join(map(repr, missing))}, not a stage of this "
                f"pipeline (its stages: {', '.join(sorted(names))})",
                stacklevel=4,
            )
        self.store = Store(
            self.config.path,
            keep=self.config.keep,
            durable=self.config.durable,
            safe=self.config.safe,
            storage_options=self.config.storage_options,
        )
        n = len(g.nodes)
        self.keys: list[str] = [""] * n
        self.digests: list[str] = [""] * n
        self.entries: list[Entry | None] = [None] * n
        self.values: list[Any] = [_MISSING] * n
        self.reports = [StageReport(node.stage.name, "pending") for node in g.nodes]
        self._ids: dict[int, tuple[str, str]] = {}
        self._code: dict[int, str] = {}  # id(func) -> code fingerprint, for this run
        executor = self.config.executor
        self.ship = executor is None or isinstance(executor, ThreadPoolExecutor)
        self.gc_enabled = gc_enabled  # the collector's state outside the run
        # what a worker process needs of the config: not the executor or callbacks (unpicklable)
        self.task_config = (
            self.config
            if self.ship
            else dataclasses.replace(self.config, executor=None, on_event=None)
        )

    # -- keys and hits -------------------------------------------------------------------------

    def identity(self, stage: Stage) -> tuple[str, str]:
        """(code fingerprint, params fingerprint), computed once per stage per run."""
        ident = self._ids.get(id(stage))
        if ident is None:
            ident = self._ids[id(stage)] = (self.code(stage), stage.params_fingerprint())
        return ident

    def code(self, stage: Stage) -> str:
        """The stage's code fingerprint; stages sharing a function hash it once per run."""
        if stage.version is not None:
            return stage.fingerprint()
        fp = self._code.get(id(stage.func))
        if fp is None:
            fp = self._code[id(stage.func)] = stage.fingerprint()
        return fp

    def key(self, i: int) -> str:
        stage = self.graph.nodes[i].stage
        fp, params = self.identity(stage)
        ser = stage.serializer.id if stage.serializer else ""
        self.keys[i] = make_key(fp, params, ser, *(self.digests[j] for j in self.graph.inputs[i]))
        return self.keys[i]

    def meta(self, i: int) -> dict[str, Any]:
        fp, params = self.identity(self.graph.nodes[i].stage)
        inputs = {
            f"{p}:{self.graph.nodes[j].stage.name}": self.digests[j]
            for p, j in enumerate(self.graph.inputs[i])
        }
        bound = {k: _short_repr(v) for k, v in self.graph.nodes[i].stage.params.items()}
        return {"fingerprint": fp, "inputs": inputs, "extra": {"params": params, "bound": bound}}

    def lookup(self, i: int) -> Entry | None:
        stage = self.graph.nodes[i].stage
        if not self.config.loads(stage):
            return None
        key = self.key(i)
        try:
            return self.store.lookup(stage.name, key)
        except Exception as exc:  # an unreadable dir, a remote store's own errors: recompute
            warnings.warn(
                f"chkpt: stage {stage.name!r}: cannot read checkpoints ({exc!r}); recomputing",
                StoreWarning,
                stacklevel=4,
            )
            return None

    def why(self, i: int) -> str:
        """Why node ``i`` is recomputed, in the user's words."""
        stage = self.graph.nodes[i].stage
        if self.config.forces(stage):
            return "forced"
        if not self.config.loads(stage):
            return "not in Config.load"
        try:
            latest = self.store.latest(stage.name)
        except Exception:  # only an explanation: never fail a run for it
            latest = None
        if latest is None:
            return "no checkpoint"
        meta = self.meta(i)
        if latest.fingerprint != meta["fingerprint"]:
            return "code changed"
        if latest.extra.get("params", "") != meta["extra"]["params"]:
            return "parameters changed"
        if latest.inputs != meta["inputs"]:
            return "input changed"
        return "no checkpoint"

    # -- values --------------------------------------------------------------------------------

    def value(self, i: int) -> Any:
        """The value of node ``i`` (loading a hit, or recomputing it if its checkpoint is corrupt)."""
        if self.values[i] is _MISSING and self.entries[i] is not None:
            self.load(i)
        if self.values[i] is _MISSING:
            self.compute(i, self.why(i) if self.entries[i] is None else "checkpoint unreadable")
        return self.values[i]

    def load(self, i: int) -> None:
        entry, report = self.entries[i], self.reports[i]
        assert entry is not None
        start = time.perf_counter()
        try:
            self.values[i] = self.store.load(entry, mmap=self.config.mmap)
        except Exception as exc:  # damaged, unsafe, unreadable: never loaded, recomputed
            warnings.warn(
                f"chkpt: {_naming(entry.stage, exc)}; recomputing", StoreWarning, stacklevel=4
            )
            self.entries[i] = None
            return
        if report.action != "computed":  # a worker computed and stored it: still "computed"
            report.action, report.seconds = "loaded", time.perf_counter() - start
            self.event(i, "loaded")

    def arg(self, j: int) -> Any:
        if self.values[j] is _MISSING and not self.ship and self.entries[j] is not None:
            return _Ref(self.entries[j])  # type: ignore[arg-type]
        return self.value(j)

    # -- computing -----------------------------------------------------------------------------

    def compute(self, i: int, reason: str) -> None:
        """Compute node ``i`` inline (its inputs first, depth-first without recursion)."""
        stack = [i]
        while stack:
            n = stack[-1]
            missing = [j for j in self.graph.inputs[n] if self.values[j] is _MISSING]
            for j in missing:
                if self.entries[j] is not None:
                    self.load(j)
            missing = [j for j in missing if self.values[j] is _MISSING]
            if missing:
                stack.extend(missing)
                continue
            stack.pop()
            if self.values[n] is _MISSING:
                self.start(n, reason if n == i else "checkpoint unreadable")
                self.finish(n, self.run_task(n, [self.values[j] for j in self.graph.inputs[n]]))

    def start(self, i: int, reason: str) -> None:
        self.reports[i].reason = reason
        self.key(i)  # inputs may have been recomputed since the key was first derived
        self.event(i, "start")

    def run_task(self, i: int, args: list[Any]) -> Any:
        stage = self.graph.nodes[i].stage
        try:
            with _gc.as_user_left_it(self.gc_enabled):
                return _compute_task(
                    stage, args, self.store, self.config, self.keys[i], self.meta(i), True
                )
        except BaseException as exc:
            self.fail(i, exc)
            raise

    def fail(self, i: int, exc: BaseException) -> None:
        stage = self.graph.nodes[i].stage
        self.reports[i].action = "failed"
        self.event(i, "failed")
        if (
            isinstance(exc, Exception)
            and hasattr(exc, "add_note")
            and not isinstance(exc, ChkptError)
        ):
            exc.add_note(f"chkpt: raised by stage {stage.name!r} ({self.graph.where(i)})")
        log.error(
            "%-24s failed (%s): %s: %s", stage.name, self.graph.where(i), type(exc).__name__, exc
        )

    def finish(self, i: int, outcome: _Outcome) -> None:
        value, digest, entry, seconds, problem, action = outcome
        if problem:
            warnings.warn(f"chkpt: {problem}", StoreWarning, stacklevel=4)
        self.values[i], self.digests[i], self.entries[i] = value, digest, entry
        report = self.reports[i]
        report.action, report.seconds, report.key = action, seconds, self.keys[i]
        report.bytes = entry.size if entry else 0
        if action == "loaded":
            report.reason = "stored meanwhile by another run"
        self.event(i, action)

    # -- the schedule --------------------------------------------------------------------------

    def execute(self) -> Result:
        g = self.graph
        waiting = [len(set(ins)) for ins in g.inputs]
        ready = deque(i for i, w in enumerate(waiting) if w == 0)
        running: dict[Future[Any], int] = {}
        while ready or running:
            while ready:
                i = ready.popleft()
                if self.resolve(i):
                    self.release(i, waiting, ready)
                elif self.config.executor is None:
                    self.value(i)
                    self.release(i, waiting, ready)
                else:
                    running[self.submit(i)] = i
            if running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    i = running.pop(future)
                    self.collect(i, future, running)
                    self.release(i, waiting, ready)
        root = len(g.nodes) - 1
        value = self.value(root)
        for report in self.reports:
            if report.action == "pending":
                report.action = "skipped"  # a valid checkpoint whose value nobody needed
                log.info(
                    "%-24s %-40s %8s", report.stage, "skipped (checkpoint valid, not needed)", ""
                )
        return Result(value, self.reports)

    def resolve(self, i: int) -> bool:
        """True if node ``i`` hits: its digest comes from metadata, its value stays on disk."""
        entry = self.lookup(i)
        if entry is None:
            return False
        self.entries[i], self.digests[i] = entry, entry.digest
        report = self.reports[i]
        report.key, report.bytes, report.reason = entry.key, entry.size, "checkpoint matches"
        self.event(i, "cached")
        return True

    def release(self, i: int, waiting: list[int], ready: deque[int]) -> None:
        for c in self.graph.consumers[i]:
            waiting[c] -= 1
            if waiting[c] == 0:
                ready.append(c)

    def submit(self, i: int) -> Future[Any]:
        args = [self.arg(j) for j in self.graph.inputs[i]]
        self.start(i, self.why(i))
        stage = self.graph.nodes[i].stage
        assert self.config.executor is not None
        return self.config.executor.submit(
            _compute_task,
            stage,
            args,
            self.store,
            self.task_config,
            self.keys[i],
            self.meta(i),
            self.ship,
        )

    def collect(self, i: int, future: Future[Any], running: dict[Future[Any], int]) -> None:
        try:
            outcome = future.result()
        except CorruptCheckpointError:  # a worker found an input damaged: redo it here
            for j in self.graph.inputs[i]:
                self.value(j)
            outcome = self.run_task(i, [self.values[j] for j in self.graph.inputs[i]])
        except BaseException as exc:
            self.fail(i, exc)
            wait(running)  # let sibling branches finish and store their checkpoints
            raise
        self.finish(i, outcome)

    # -- feedback ------------------------------------------------------------------------------

    def event(self, i: int, kind: str) -> None:
        report = self.reports[i]
        if kind in ("loaded", "computed"):
            stale = report.reason not in ("", "no checkpoint", "not in Config.load")
            what = (
                f"stale -> recomputed ({report.reason})" if kind == "computed" and stale else kind
            )
            if kind == "computed" and not stale and report.reason:
                what = f"computed ({report.reason})"
            log.info("%-24s %-40s %8.2fs", report.stage, what, report.seconds)
        if self.config.on_event is not None or listening():
            event = Event(
                kind, report.stage, self.keys[i], report.seconds, report.reason, report.bytes
            )
            emit(event, self.config.on_event)


_console_handler: logging.Handler | None = None


def _console_logging(verbose: bool | None) -> None:
    """By default, in a terminal, show one line per stage (unless logging is configured)."""
    global _console_handler
    logger = logging.getLogger("chkpt")
    want = (
        verbose
        if verbose is not None
        else (
            sys.stderr.isatty()
            and not logging.getLogger().handlers
            and not [h for h in logger.handlers if h is not _console_handler]
        )
    )
    if want and _console_handler is None:
        _console_handler = logging.StreamHandler()
        _console_handler.setFormatter(logging.Formatter("chkpt: %(message)s"))
        logger.addHandler(_console_handler)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
    elif verbose is False and _console_handler is not None:
        logger.removeHandler(_console_handler)
        _console_handler = None


def run(pipeline: Pipeline, config: Config | None = None) -> Result:
    """Run ``pipeline`` under ``config``; see ``Pipeline.run``."""
    _console_logging(config.verbose if config else None)
    inline = config is None or config.executor is None  # threads may run stages: no pause then
    with _gc.paused() if inline else contextlib.nullcontext(gc.isenabled()) as gc_enabled:
        return _Run(pipeline, config, gc_enabled).execute()


def plan(pipeline: Pipeline, config: Config | None = None) -> Plan:
    """Dry run: what each stage would do, from metadata only."""
    with _gc.paused():
        return _plan(pipeline, config)


def _plan(pipeline: Pipeline, config: Config | None) -> Plan:
    r = _Run(pipeline, config)
    g = r.graph
    known = [False] * len(g.nodes)
    steps = []
    for i, node in enumerate(g.nodes):
        unknown = [g.nodes[j].stage.name for j in g.inputs[i] if not known[j]]
        if not unknown and r.resolve(i):
            known[i] = True
            steps.append(PlanStep(node.stage.name, "skip", "checkpoint matches", r.keys[i]))
        elif unknown:
            inputs = (
                f"input {unknown[0]} is"
                if len(unknown) == 1
                else f"inputs {', '.join(unknown)} are"
            )
            why = f"{inputs} recomputed (it may still hit if their output is unchanged)"
            steps.append(PlanStep(node.stage.name, "compute", why))
        else:
            steps.append(PlanStep(node.stage.name, "compute", r.why(i), r.keys[i]))
    needed = [False] * len(g.nodes)
    needed[-1] = True
    for i in reversed(range(len(g.nodes))):
        if needed[i] and steps[i].action == "skip":
            steps[i].action = "load"
        if steps[i].action == "compute":
            for j in g.inputs[i]:
                needed[j] = True
    return Plan(steps)
