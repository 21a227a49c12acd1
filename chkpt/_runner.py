"""Executing a pipeline: the order in which stages are resolved, loaded or computed.

Scheduling only: whether a checkpoint is valid, why not, and how a value is stored are the
checkpoint policy's (``_checkpoint``), which notebook cells share. Nodes are resolved in
topological order. A node's key needs only its inputs' digests, and a cached input's digest is
read from its metadata: so validating a hit never reads upstream data, and an input whose
consumer hits is neither loaded nor recomputed. Values of hits are loaded lazily, only when a
consumer actually computes (or for the final output).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, NoReturn

from . import _gc, _remote
from ._checkpoint import MISSING, Checkpoints, Identity, Outcome, StoredRef, compute
from ._config import Config
from ._console import stage_feedback
from ._errors import (
    ChkptError,
    ConfigWarning,
    CorruptCheckpointError,
    KeyWarning,
    RemoteStageError,
    StoreWarning,
)
from ._graph import Graph
from ._present import skipped_line
from ._report import Plan, PlanStep, Result, StageReport
from ._store import Entry
from ._warn import warn

if TYPE_CHECKING:
    from ._pipeline import Pipeline
    from ._vocab import EventKind

__all__ = ["run", "plan"]

log = logging.getLogger("chkpt")

_POLL = 1.0  # seconds between checks that a remote executor can still make progress


def _for_workers(config: Config) -> Config:
    """What a worker process needs of the config: stage names instead of stages (which may not
    pickle by themselves), and not the executor or callbacks (unpicklable)."""
    names: dict[str, Any] = {
        field: value if isinstance(value, bool) else tuple(getattr(s, "name", s) for s in value)
        for field in ("load", "store", "force")
        for value in [getattr(config, field)]
    }
    return dataclasses.replace(config, executor=None, on_event=None, **names)


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
            warn(
                f"Config.{field} names {', '.join(map(repr, missing))}, not a stage of this "
                f"pipeline (its stages: {', '.join(sorted(names))})",
                ConfigWarning,
            )
        self.policy = Checkpoints(self.config)
        self.store = self.policy.store
        for name in self.policy.snapshot(node.stage for node in g.nodes):
            warn(
                f"two different stages of this pipeline are named {name!r} (other code, "
                "parameters or version): their results are told apart by key, but reports, "
                "Config.load/store and `chkpt ls` cannot; give each its own name=",
                KeyWarning,
            )
        n = len(g.nodes)
        self.idents: list[Identity | None] = [None] * n
        self.digests: list[str] = [""] * n
        self.entries: list[Entry | None] = [None] * n
        self.values: list[Any] = [MISSING] * n
        self.reports = [StageReport(node.stage.name, "pending") for node in g.nodes]
        by_node = [node.stage.name for node in g.nodes]
        self.names = [tuple(by_node[j] for j in ins) for ins in g.inputs]
        executor = self.config.executor
        self.ship = executor is None or isinstance(executor, ThreadPoolExecutor)
        self.gc_enabled = gc_enabled  # the collector's state outside the run
        self.task_config = self.config if self.ship else _for_workers(self.config)

    # -- keys and hits (the policy decides; the runner remembers per node) -----------------------

    def identify(self, i: int) -> Identity:
        """Node ``i``'s identity from its inputs' current digests."""
        g, digests = self.graph, self.digests
        ins = g.inputs[i]
        ident = self.idents[i] = self.policy.identify(
            g.nodes[i].stage, self.names[i], tuple([digests[j] for j in ins])
        )
        return ident

    def key(self, i: int) -> str | None:
        ident = self.idents[i]
        return ident.key if ident is not None else None

    def meta(self, i: int) -> dict[str, Any]:
        ident = self.idents[i]
        assert ident is not None
        return ident.meta()

    def why(self, i: int) -> str:
        """Why node ``i`` is recomputed, in the user's words."""
        ident = self.idents[i] or self.identify(i)
        return self.policy.why(self.graph.nodes[i].stage, ident)

    # -- values --------------------------------------------------------------------------------

    def value(self, i: int) -> Any:
        """The value of node ``i`` (loading a hit, or recomputing it if its checkpoint is corrupt)."""
        if self.values[i] is MISSING and self.entries[i] is not None:
            self.load(i)
        if self.values[i] is MISSING:
            self.compute(i, self.why(i) if self.entries[i] is None else "checkpoint unreadable")
        return self.values[i]

    def load(self, i: int) -> None:
        entry, report = self.entries[i], self.reports[i]
        assert entry is not None
        start = time.perf_counter()
        value = self.policy.load(entry)
        if value is MISSING:  # damaged, unsafe, unreadable: never loaded, recomputed
            self.entries[i] = None
            return
        self.values[i] = value
        if report.action != "computed":  # a worker computed and stored it: still "computed"
            report.action, report.seconds = "loaded", time.perf_counter() - start
            self.event(i, "loaded")

    def arg(self, j: int) -> Any:
        if self.values[j] is MISSING and not self.ship and self.entries[j] is not None:
            return StoredRef(self.entries[j])  # type: ignore[arg-type]
        return self.value(j)

    # -- computing -----------------------------------------------------------------------------

    def compute(self, i: int, reason: str) -> None:
        """Compute node ``i`` inline (its inputs first, depth-first without recursion)."""
        stack = [i]
        while stack:
            n = stack[-1]
            missing = [j for j in self.graph.inputs[n] if self.values[j] is MISSING]
            for j in missing:
                if self.entries[j] is not None:
                    self.load(j)
            missing = [j for j in missing if self.values[j] is MISSING]
            if missing:
                stack.extend(missing)
                continue
            stack.pop()
            if self.values[n] is MISSING:
                self.start(n, reason if n == i else "checkpoint unreadable")
                self.finish(n, self.run_task(n, [self.values[j] for j in self.graph.inputs[n]]))

    def start(self, i: int, reason: str) -> None:
        self.reports[i].reason = reason
        self.identify(i)  # inputs may have been recomputed since the key was first derived
        self.event(i, "start")

    def run_task(self, i: int, args: list[Any]) -> Any:
        stage = self.graph.nodes[i].stage
        try:
            with _gc.as_user_left_it(self.gc_enabled):
                return compute(
                    stage, args, self.store, self.config, self.key(i), self.meta(i), True
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
            and not any(
                str(n).startswith("chkpt: raised by") for n in getattr(exc, "__notes__", ())
            )
        ):
            exc.add_note(f"chkpt: raised by stage {stage.name!r} ({self.graph.where(i)})")
        log.error(
            "%-24s failed (%s): %s: %s", stage.name, self.graph.where(i), type(exc).__name__, exc
        )

    def finish(self, i: int, outcome: Outcome) -> None:
        value, digest, entry, seconds, problem, action = outcome
        if problem:
            warn(problem, StoreWarning, stage=self.graph.nodes[i].stage.name)
        self.values[i], self.digests[i], self.entries[i] = value, digest, entry
        report = self.reports[i]
        report.action, report.seconds, report.key = action, seconds, self.key(i) or ""
        report.bytes = entry.size if entry else 0
        if action == "loaded":
            report.reason = "stored meanwhile by another run"
        elif entry is not None:
            self.event(i, "stored")
        self.event(i, action)

    # -- the schedule --------------------------------------------------------------------------

    def execute(self) -> Result:
        g = self.graph
        waiting = [len(set(ins)) for ins in g.inputs]
        ready = deque(i for i, w in enumerate(waiting) if w == 0)
        running: dict[Future[Any], int] = {}
        watch = _remote.Watch(self.config.executor)
        while ready or running:
            while ready:
                i = ready.popleft()
                if self.resolve(i):
                    self.release(i, waiting, ready)
                elif self.config.executor is None:
                    self.value(i)
                    self.release(i, waiting, ready)
                else:
                    running[self.submit(i, running)] = i
            if running:
                done, _ = wait(running, timeout=_POLL, return_when=FIRST_COMPLETED)
                for future in done:
                    i = running.pop(future)
                    self.collect(i, future, running)
                    self.release(i, waiting, ready)
                if not done and (problem := watch.check(time.monotonic())):
                    i = min(running.values())
                    name = g.nodes[i].stage.name
                    self.abandon(i, RemoteStageError(f"stage {name!r}: {problem}"), running)
        root = len(g.nodes) - 1
        value = self.value(root)
        for report in self.reports:
            if report.action == "pending":
                report.action = "skipped"  # a valid checkpoint whose value nobody needed
                stage_feedback("%s", skipped_line(report.stage), verbose=self.config.verbose)
        return Result(value, self.reports)

    def resolve(self, i: int, announce: bool = True) -> bool:
        """True if node ``i`` hits: its digest comes from metadata, its value stays on disk."""
        entry = self.policy.find(self.graph.nodes[i].stage, self.identify(i))
        if entry is None:
            return False
        self.entries[i], self.digests[i] = entry, entry.digest
        report = self.reports[i]
        report.key, report.bytes, report.reason = entry.key, entry.size, "checkpoint matches"
        if announce:  # a plan only looks: no events
            self.policy.announce("cached", report.stage, entry.key, 0.0, report.reason, entry.size)
        return True

    def release(self, i: int, waiting: list[int], ready: deque[int]) -> None:
        for c in self.graph.consumers[i]:
            waiting[c] -= 1
            if waiting[c] == 0:
                ready.append(c)

    def submit(self, i: int, running: dict[Future[Any], int]) -> Future[Any]:
        args = [self.arg(j) for j in self.graph.inputs[i]]
        self.start(i, self.why(i))
        stage = self.graph.nodes[i].stage
        executor = self.config.executor
        assert executor is not None
        task = (args, self.store, self.task_config, self.key(i), self.meta(i), self.ship)
        try:
            if self.ship:  # threads: the same process, nothing to pickle or verify
                return executor.submit(compute, stage, *task)
            blob = _remote.pack(stage.name, compute, stage, *task)  # fails here, before sending
            return executor.submit(_remote.run_packed, stage.name, self.graph.where(i), blob)
        except BaseException as exc:
            as_is = self.ship or isinstance(exc, ChkptError)  # else: the executor's own error
            self.abandon(i, exc if as_is else _remote.explain(stage.name, exc), running)

    def collect(self, i: int, future: Future[Any], running: dict[Future[Any], int]) -> None:
        name = self.graph.nodes[i].stage.name
        try:
            try:
                reply = future.result()
            except BaseException as exc:  # the executor failed it (a stage's errors are in reply)
                if self.ship:
                    raise
                raise _remote.explain(name, exc) from exc
            outcome = reply if self.ship else _remote.unpack(name, reply)
        except CorruptCheckpointError:  # a worker found an input damaged: redo it here
            for j in self.graph.inputs[i]:
                self.value(j)
            outcome = self.run_task(i, [self.values[j] for j in self.graph.inputs[i]])
        except BaseException as exc:
            self.abandon(i, exc, running)
        self.finish(i, outcome)

    def abandon(self, i: int, exc: BaseException, running: dict[Future[Any], int]) -> NoReturn:
        """Fail the run for node ``i`` now. Tasks not started are cancelled; tasks already running
        (a worker cannot be interrupted) finish in the background and still store their
        checkpoints, but the run does not wait for them."""
        for future in running:
            future.cancel()
        self.fail(i, exc)
        raise exc

    # -- feedback ------------------------------------------------------------------------------

    def event(self, i: int, kind: EventKind) -> None:
        report = self.reports[i]
        self.policy.announce(
            kind, report.stage, self.key(i), report.seconds, report.reason, report.bytes
        )


def run(pipeline: Pipeline, config: Config | None = None) -> Result:
    """Run ``pipeline`` under ``config``; see ``Pipeline.run``."""
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
        if not unknown and r.resolve(i, announce=False):
            known[i] = True
            steps.append(PlanStep(node.stage.name, "skip", "checkpoint matches", r.key(i)))
        elif unknown:  # it may still hit if their outputs come out unchanged
            why = f"upstream recomputed: {', '.join(unknown)}"
            steps.append(PlanStep(node.stage.name, "compute", why))
        else:
            steps.append(PlanStep(node.stage.name, "compute", r.why(i), r.key(i)))
    needed = [False] * len(g.nodes)
    needed[-1] = True
    for i in reversed(range(len(g.nodes))):
        if needed[i] and steps[i].action == "skip":
            steps[i].action = "load"
        if steps[i].action == "compute":
            for j in g.inputs[i]:
                needed[j] = True
    return Plan(steps)
