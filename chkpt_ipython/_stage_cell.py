"""Running one ``%%chkpt_stage`` cell under the core's checkpoint policy.

The cell is a ``chkpt.Stage`` of the notebook pipeline (``_pipeline``); whether its checkpoint is
valid, why not, how it is loaded and stored, and every warning, come from ``chkpt.Checkpoints``,
the same policy a script's pipeline runs under. This module only adds what is particular to a
cell: running code in the user's namespace, recording and replaying what it shows, and the
one-line status under the cell.

A run goes through these steps, in order (``CellRun.run``)::

    inputs   which names are edges (values other stage cells produced) and which parameters
    key      the policy identifies the cell's stage from its code, parameters, upstream digests
    hit      a valid checkpoint is restored (outputs, displays, last value) -- or the policy says
             why not, and the cell computes
    compute  the cell runs live; what it shows is recorded
    outputs  after the cell finished, the payload (outputs + displays) is collected and persisted

Correctness probes (mutated inputs, RNG state, files read and written: ``_guard``) attach to
``session.probes``: each may define ``before_inputs(run)``, ``before_key(run)``,
``before_compute(run)``, ``after_run(run)`` (the cell's code has finished, raised or not),
``after_compute(run, payload)`` and ``after_restore(run, payload)``; ``run.params`` (extra key
inputs by value), ``run.extra`` (checkpoint metadata) and ``payload`` are theirs to extend.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import chkpt

from . import _capture, _execute, _payload
from ._analysis import CellAnalysis, analyze
from ._dynamic import history_reads, warn_dynamic_reads
from ._environ import environment_reads
from ._inputs import source_fingerprint
from ._pipeline import CellStage, NotebookPipeline
from ._record import Producer, StageRecord
from ._user_modules import imported_user_modules

if TYPE_CHECKING:
    from ._session import NotebookSession

__all__ = ["CellRun", "DuplicateStageError", "default_name", "run"]

log = logging.getLogger("chkpt.ipython")

_MISS = object()


class DuplicateStageError(chkpt.ChkptError, ValueError):
    """Two different cells use the same stage name: their checkpoints would overwrite each other."""


def run(
    session: NotebookSession,
    body: str,
    *,
    name: str | None = None,
    force: bool = False,
    no_store: bool = False,
    inputs: list[str] | None = None,
    outputs: list[str] | None = None,
    serializer: str | None = None,
) -> Any:
    """Run a stage cell's ``body``: load it when its checkpoint is valid, else compute and store."""
    __tracebackhide__ = True
    record = register(session, body, name, inputs, outputs, serializer)
    return CellRun(session, record, force=force, store=not no_store).run()


def register(
    session: NotebookSession,
    body: str,
    name: str | None,
    inputs: list[str] | None,
    outputs: list[str] | None,
    serializer: str | None,
) -> StageRecord:
    """Analyse the cell and add it to the session's stage cells (an edit replaces its record)."""
    source = session.shell.transform_cell(body)
    analysis = analyze(source)
    cell_id = session.current_cell_id
    if not name:
        name = default_name(analysis, source)
        base, n = name, 1
        while session.name_taken(name, cell_id):
            n += 1
            name = f"{base}_{n}"
    elif session.name_taken(name, cell_id):
        raise DuplicateStageError(
            f"stage {name!r} is already the name of another %%chkpt_stage cell; two cells "
            f"cannot share a stage name (their checkpoints would replace each other): "
            f"give this one another name"
        )
    record = StageRecord(
        name=name,
        source=source,
        raw=body,
        analysis=analysis,
        reads=tuple(inputs) if inputs is not None else analysis.reads,
        outputs=tuple(outputs) if outputs is not None else analysis.outputs,
        serializer=serializer,
        cell_id=cell_id,
    )
    return session.register(record)


def default_name(analysis: CellAnalysis, source: str) -> str:
    """The first new name the cell binds; a cell that only transforms names gets a code suffix.

    >>> default_name(analyze("raw = load(path)"), "")
    'raw'
    >>> default_name(analyze("df = clean(df)"), "df = clean(df)").startswith("df_")
    True
    """
    if analysis.first_new_output:
        return analysis.first_new_output
    suffix = source_fingerprint(source)[-6:]
    if analysis.outputs:
        return f"{analysis.outputs[0]}_{suffix}"
    return analysis.defined[0] if analysis.defined else f"cell_{suffix}"


class CellRun:
    """One execution of one stage cell (see the module docstring for its steps)."""

    def __init__(self, session: NotebookSession, record: StageRecord, *, force: bool, store: bool):
        self.session, self.record, self.shell = session, record, session.shell
        self.policy = chkpt.Checkpoints(
            session.config(record.name, force=force, store=store), session.store
        )
        self.notebook: NotebookPipeline | None = None
        self.stage: CellStage | None = None
        self.identity: chkpt.Identity | None = None
        self.params: dict[str, Any] = {}  # extra key inputs by value (probes add theirs)
        self.extra: dict[str, Any] = {}  # extra checkpoint metadata (probes add theirs)

    def _probe(self, hook: str, *args: Any) -> None:
        for probe in self.session.probes:
            method = getattr(probe, hook, None)
            if method is not None:
                method(self, *args)

    # -- inputs and key ------------------------------------------------------------------------

    def key(self) -> chkpt.Identity:
        """The cell's identity under the policy, for the values its names hold now."""
        session, name = self.session, self.record.name
        self._probe("before_inputs")
        self.notebook = session.notebook(memo=False)
        self.stage = self.notebook.stages[name]
        self._probe("before_key")
        # user modules the cell imports itself are code it runs: key them too
        self.params.update(imported_user_modules(self.record.source))
        self.params.update(environment_reads(self.record.source))  # os.environ["NAME"]
        self.params.update(history_reads(self.record.source, self.shell.user_ns))  # Out[3]
        declared = self.record.reads != self.record.analysis.reads  # --inputs given
        warn_dynamic_reads(name, self.record.analysis.reads, declared)
        if self.params:
            self.stage.params.update(self.params)
        digests = session.stage_digests(self.notebook.upstream[name])
        self.identity = self.notebook.identify(self.policy, name, digests)
        self.record.key = self.identity.key
        return self.identity

    def _announce(self, kind: chkpt.EventKind, seconds: float = 0.0, size: int = 0) -> None:
        record = self.record
        self.policy.announce(
            kind, record.name, record.key, seconds, record.reason, size, {"source": "chkpt_ipython"}
        )

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> Any:
        __tracebackhide__ = True
        ident = self.key()
        assert self.stage is not None
        entry = self.policy.find(self.stage, ident)
        if entry is not None:
            self.record.reason = "checkpoint matches"
            self._announce("cached", 0.0, entry.size)
            result = self.restore(entry)
            if result is not _MISS:
                return result
        self.record.reason = (
            "checkpoint unreadable" if entry is not None else self.policy.why(self.stage, ident)
        )
        return self.compute()

    def restore(self, entry: chkpt.Entry) -> Any:
        """Put a valid checkpoint back; ``_MISS`` when it cannot be loaded (the policy warned)."""
        __tracebackhide__ = True
        session, record, shell = self.session, self.record, self.shell
        start = time.perf_counter()
        deferred = _execute.rerun_definitions(
            shell, record.source, record.raw
        )  # classes to unpickle
        load_start = time.perf_counter()
        payload = self.policy.load(entry, accept=_payload.is_payload)
        if payload is chkpt.MISSING:
            return _MISS
        load_seconds = time.perf_counter() - load_start
        result = _payload.restore(shell, record, payload, deferred, session.defer)
        for var, obj in payload["outputs"].items():
            session.producers[var] = Producer(record.name, obj, entry.digest)
        self._probe("after_restore", payload)
        saved = max(entry.compute_seconds - load_seconds, 0.0)
        record.load_seconds, record.compute_seconds = load_seconds, entry.compute_seconds
        record.time_saved += saved
        record.reason, record.error = "checkpoint matches", ""
        record.line = chkpt.cell_line("loaded", size=entry.size, saved=entry.compute_seconds)
        self._announce("loaded", load_seconds, entry.size)
        session.record_outcome(record, "loaded", time.perf_counter() - start)
        return result

    def compute(self) -> Any:
        """Run the cell normally (live output, usual tracebacks), then store what it made.

        Inside a cell, displays keep being recorded until the cell has finished (``post_run_cell``):
        matplotlib's inline figures are drawn after the magic returns, after the ``Out[n]`` value,
        and recording them there keeps that order on replay.
        """
        __tracebackhide__ = True
        session, record, shell = self.session, self.record, self.shell
        record.state, record.error = "running", ""
        self._announce("start")
        session.notify()
        start = time.perf_counter()
        self._probe("before_compute")
        capture = _capture.Capture(shell).__enter__()
        try:
            value = _execute.run_source(shell, record.source, record.raw)
        except BaseException as exc:
            self._probe("after_run")
            capture.__exit__()
            seconds = time.perf_counter() - start
            record.error = f"{type(exc).__name__}: {exc}"
            self._announce("failed", seconds)
            session.record_outcome(record, "failed", seconds)
            raise
        finally:
            capture.stop_streams()
        self._probe("after_run")
        seconds = time.perf_counter() - start
        shown_before_value = len(capture.records)

        def finish() -> None:
            capture.stop_displays()
            display = {"records": capture.records, "before_value": shown_before_value}
            self.outputs(_payload.collect(shell, record, display, value), seconds)

        # strict: a value that cannot be stored must raise here, in the cell, not in a hook
        if self.policy.config.strict or not session.defer(finish):
            _capture.flush_figures(shell)  # draw pending figures now
            finish()
        return value

    def outputs(self, payload: dict[str, Any], seconds: float) -> None:
        """Persist a computed cell's payload through the policy, and tell everyone."""
        session, record = self.session, self.record
        assert self.stage is not None and self.identity is not None
        self._probe("after_compute", payload)
        record.compute_seconds = seconds
        extra = {
            "chkpt_ipython": _payload.FORMAT,
            "outputs": sorted(payload["outputs"]),
            **self.extra,
        }
        done = self.policy.persist(
            self.stage, self.identity, payload, seconds, extra, explain=self._explain
        )
        record.line = chkpt.cell_line("computed", record.reason)
        if done.entry is not None:
            self._announce("stored", seconds, done.entry.size)
        elif self.identity.key is not None and self.policy.config.stores(self.stage):
            record.line += " (not stored)"
        for var, obj in payload["outputs"].items():
            session.producers[var] = Producer(record.name, obj, done.digest)
        for var in payload["modules"]:
            session.producers.pop(var, None)
        self._announce("computed", seconds, done.entry.size if done.entry else 0)
        session.record_outcome(record, "computed", seconds)

    def _explain(self, exc: Exception) -> str:
        """Why the payload cannot be stored, naming the output at fault."""
        assert self.stage is not None
        outputs = {}
        ns = self.shell.user_ns
        for var in self.record.outputs:
            if var in ns:
                outputs[var] = ns[var]
        culprit = _payload.unpicklable(outputs)
        what = f"output {culprit!r} cannot be serialized" if culprit else str(exc)
        return (
            f"stage {self.record.name!r} was computed but not stored: {what}. Name the outputs "
            f"to keep with --outputs, or delete the value at the end of the cell"
        )
