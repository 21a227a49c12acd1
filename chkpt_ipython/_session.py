"""The notebook's session: its stage cells, checkpoint directory, switches and listeners.

One ``NotebookSession`` per shell. ``%%chkpt_stage`` cells register here as they run (re-running
an edited cell re-registers it, so the graph follows the notebook); the widget and
``chkpt_ipython.status()`` read the state from here, computed live from the current code and
namespace values.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import chkpt

from . import _stage_cell
from ._guard import Guard
from ._inputs import fingerprint_input
from ._notebook_path import Resolved, resolve_dir
from ._options import StageOptions
from ._pipeline import NotebookPipeline, build
from ._record import Producer, StageRecord
from ._status import StageState, StageStatus, StageSwitches

__all__ = ["NotebookSession", "StageRecord", "session"]

log = logging.getLogger("chkpt.ipython")

STATES = ("cached", "stale", "missing", "running", "failed")

_current: NotebookSession | None = None


def session(shell: Any = None) -> NotebookSession:
    """The session of the running shell (created on first use)."""
    global _current
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None:
            raise RuntimeError(
                "chkpt_ipython needs a running IPython shell (%load_ext chkpt_ipython)"
            )
    if _current is None or _current.shell is not shell:
        _current = NotebookSession(shell)
    return _current


def _forget(shell: Any) -> None:
    global _current
    if _current is not None and _current.shell is shell:
        _current.close()
        _current = None


class NotebookSession:
    """Per-notebook state: stage registry, checkpoint store, per-stage switches, subscribers."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.stages: dict[str, StageRecord] = {}
        self.producers: dict[str, Producer] = {}
        self._fingerprints: dict[str, tuple[Any, str | None]] = {}
        self._explicit_dir: str | None = None
        self._resolved: Resolved | None = None
        self._store: chkpt.Store | None = None
        self._options: StageOptions | None = None
        self._subscribers: list[Callable[[], None]] = []
        self.probes: list[Any] = [Guard(self)]  # correctness checks hooked into every cell run
        self.strict = False  # Config(strict=True) for cells: a value that cannot be stored raises
        self.status_line = True  # show "loaded from checkpoint · 6 KB · saved 3.0 s" under cells
        self._warned_dir = False
        self.current_cell: str | None = None
        self._in_cell = False
        self._deferred: list[Callable[[], None]] = []
        self.current_cell_id: str | None = None
        shell.events.register("pre_run_cell", self._pre_run_cell)
        shell.events.register("post_run_cell", self._post_run_cell)

    def close(self) -> None:
        """Stop listening to the shell (on ``%unload_ext``)."""
        self._finish_deferred()
        for event, callback in (
            ("pre_run_cell", self._pre_run_cell),
            ("post_run_cell", self._post_run_cell),
        ):
            try:
                self.shell.events.unregister(event, callback)
            except ValueError:
                pass

    # -- the checkpoint directory -------------------------------------------------------------

    @property
    def directory(self) -> Path:
        """Where this notebook's checkpoints live (resolved on first use)."""
        return self.resolved.path

    @property
    def resolved(self) -> Resolved:
        """The directory and how it was chosen."""
        if self._resolved is None:
            self._resolved = resolve_dir(self._explicit_dir, self.shell.user_ns, self.current_cell)
            if self._resolved.notebook is None and self._resolved.source not in (
                "set with %chkpt_dir",
                "CHKPT_DIR",
            ):
                self._warn_unknown_notebook(self._resolved)
            log.info("chkpt: checkpoints in %s (%s)", self._resolved.path, self._resolved.source)
        return self._resolved

    def _warn_unknown_notebook(self, resolved: Resolved) -> None:
        if not self._warned_dir:
            self._warned_dir = True
            log.warning(
                "chkpt: cannot tell which notebook this is (%s); checkpoints go to %s. "
                "Set one with %%chkpt_dir PATH or the CHKPT_DIR environment variable.",
                resolved.source,
                resolved.path,
            )

    def set_dir(self, path: str | os.PathLike | None) -> Path:
        """Use ``path`` for checkpoints from now on (None: back to automatic)."""
        self._explicit_dir = os.fspath(path) if path is not None else None
        self._resolved = None
        self._store = None
        self._options = None
        self._notify()
        return self.directory

    @property
    def store(self) -> chkpt.Store:
        """The checkpoint store of this notebook."""
        if self._store is None:
            self._store = chkpt.open_store(self.directory)
        return self._store

    @property
    def _stage_options(self) -> StageOptions:
        if self._options is None:
            self._options = StageOptions(self.directory)
        return self._options

    # -- per-stage switches ---------------------------------------------------------------------

    def options(self, stage: str) -> StageSwitches:
        """``{"load": bool, "store": bool}`` for a stage; both on unless switched off."""
        switches = self._stage_options.get(stage)
        return {"load": switches["load"], "store": switches["store"]}

    def set_options(self, stage: str, load: bool | None = None, store: bool | None = None) -> None:
        """Switch loading/storing of a stage; persisted, applied when the cell next runs."""
        self._stage_options.set(stage, load=load, store=store)
        self._notify()

    def clear(self, stage: str | None = None) -> int:
        """Delete the checkpoints of one stage (or all); returns how many were removed."""
        removed = self.store.clear(stage)
        for record in self.stages.values():
            if stage is None or record.name == stage:
                record.this_session = None if record.state != "running" else record.this_session
        chkpt.events.emit(chkpt.Event("cleared", stage or "*", reason=f"{removed} removed"))
        self._notify()
        return removed

    # -- listeners ------------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` after any change of state; returns a function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def _notify(self) -> None:
        for callback in list(self._subscribers):
            try:
                callback()
            except Exception:
                log.exception("chkpt: session subscriber %r failed", callback)

    def _pre_run_cell(self, info: Any) -> None:
        self._finish_deferred()  # a cell run without post_run_cell (an error in a hook)
        self.current_cell = getattr(info, "raw_cell", None)
        self.current_cell_id = getattr(info, "cell_id", None)
        self._in_cell = True

    def defer(self, finish: Callable[[], None]) -> bool:
        """Run ``finish`` when the current cell has finished; False when not inside a cell."""
        if not self._in_cell:
            return False
        self._deferred.append(finish)
        return True

    def _finish_deferred(self) -> None:
        while self._deferred:
            finish = self._deferred.pop(0)
            try:
                finish()
            except Exception:
                log.exception("chkpt: finishing a stage cell failed")

    def _post_run_cell(self, result: Any) -> None:
        self._in_cell = False
        self._finish_deferred()
        ns = self.shell.user_ns
        for var, producer in list(self.producers.items()):
            if ns.get(var, _MISSING) is not producer.obj:
                del self.producers[var]  # rebound elsewhere: release the old value
        for var, (obj, _) in list(self._fingerprints.items()):
            if ns.get(var, _MISSING) is not obj:
                del self._fingerprints[var]
        self._notify()

    # -- stage cells ----------------------------------------------------------------------------

    def run_cell(self, body: str, **options: Any) -> Any:
        """Run a ``%%chkpt_stage`` cell: load it when its checkpoint is valid, else compute it."""
        __tracebackhide__ = True
        return _stage_cell.run(self, body, **options)

    def config(self, stage: str, *, force: bool = False, store: bool = True) -> chkpt.Config:
        """The core Config a stage cell runs under: this notebook's directory and switches."""
        opts = self.options(stage)
        return chkpt.Config(
            dir=str(self.directory),
            load=bool(opts["load"]),
            store=bool(opts["store"]) and store,
            force=(stage,) if force else (),
            strict=self.strict,
        )

    def notebook_config(self, **changes: Any) -> chkpt.Config:
        """The Config that plans (and runs) the whole notebook pipeline: every stage loadable."""
        return chkpt.Config(**{"dir": str(self.directory), "load": True, **changes})

    def notebook(self, *, memo: bool = True) -> NotebookPipeline:
        """The stage cells as a core pipeline, for the values the namespace holds now.

        ``memo=True`` (status displays, called after every cell) re-hashes a parameter only
        when its name is bound to a new object; running a cell always hashes afresh, so an
        in-place change of a parameter is never missed there.
        """
        fingerprint = self._memo_fingerprint if memo else None
        return build(self.shell, list(self.stages.values()), self.producers, fingerprint)

    def pipeline(self) -> chkpt.Pipeline[Any]:
        """The notebook's stage cells as one ``chkpt.Pipeline`` (for ``plan()``, ``to_dot()``)."""
        found = self.notebook().pipeline
        if found is None:
            raise LookupError("no %%chkpt_stage cell has run in this kernel yet")
        return found

    def stage_digests(self, stages: Iterable[str]) -> dict[str, str]:
        """The digests of what the given stage cells produced, as the namespace holds it now."""
        wanted, ns = set(stages), self.shell.user_ns
        return {
            p.stage: p.digest
            for var, p in self.producers.items()
            if p.stage in wanted and ns.get(var, _MISSING) is p.obj
        }

    def _memo_fingerprint(self, var: str, value: Any) -> str | None:
        cached = self._fingerprints.get(var)
        if cached is not None and cached[0] is value:
            return cached[1]
        fp = fingerprint_input(value)
        self._fingerprints[var] = (value, fp)
        return fp

    def register(self, record: StageRecord) -> StageRecord:
        """Add or replace a stage cell; a re-run cell under a new name drops its old record."""
        for name, other in list(self.stages.items()):
            if name != record.name and _same_cell(other, record):
                del self.stages[name]
        old = self.stages.get(record.name)
        if old is not None:
            record.this_session, record.time_saved = old.this_session, old.time_saved
            record.compute_seconds, record.load_seconds = old.compute_seconds, old.load_seconds
        self.stages[record.name] = record
        return record

    def forget(self, stage: str) -> None:
        """Drop a stage cell from the notebook pipeline (a deleted cell); its checkpoints stay."""
        self.stages.pop(stage, None)
        self._notify()

    def name_taken(self, name: str, cell_id: str | None) -> bool:
        """True when another cell already registered ``name``."""
        old = self.stages.get(name)
        return old is not None and None not in (old.cell_id, cell_id) and old.cell_id != cell_id

    def status(self) -> list[StageStatus]:
        """One record per stage cell, in the order they were first run: the core's plan of the
        notebook pipeline, so a stale stage makes everything downstream stale."""
        if not self.stages:
            return []
        notebook = self.notebook()
        plan = {}
        if notebook.pipeline is not None:
            config = self.notebook_config(verbose=False)
            plan = {step.stage: step for step in notebook.pipeline.plan(config)}
        return [
            self._status_of(record, notebook, plan.get(record.name))
            for record in self.stages.values()
        ]

    def _status_of(
        self, record: StageRecord, notebook: NotebookPipeline, step: chkpt.PlanStep | None
    ) -> StageStatus:
        stage = notebook.stages[record.name]
        hit = step is not None and step.action != "compute"
        entry = self.store.lookup(record.name, step.key) if hit and step and step.key else None
        on_disk = entry if entry is not None else self.store.latest(record.name)
        state: StageState
        if record.state == "running" or record.state == "failed":
            state = record.state
        elif hit:
            state = "cached"
        elif on_disk is not None:
            state = "stale"
        else:
            state = "missing"
        compute = record.compute_seconds
        if compute is None and entry is not None:
            compute = entry.compute_seconds
        reason = chkpt.human_reason(step.reason) if step is not None else ""
        return {
            "stage": record.name,
            "state": state,
            "this_session": record.this_session,
            "inputs": list(notebook.upstream[record.name]),
            "params": sorted(stage.params),
            "outputs": list(record.outputs),
            "size": on_disk.size if on_disk is not None else None,
            "compute_seconds": compute,
            "load_seconds": record.load_seconds,
            "time_saved": record.time_saved,
            "key": step.key if step is not None else None,
            "reason": "" if hit else reason,
            "error": record.error,
            "options": self.options(record.name),
        }

    def record_outcome(
        self, record: StageRecord, outcome: Literal["computed", "loaded", "failed"], seconds: float
    ) -> None:
        """Finish a stage cell's run: remember it, show its status line, tell listeners."""
        record.state = "failed" if outcome == "failed" else None
        if outcome != "failed":
            record.this_session = outcome
            if self.status_line and record.line:
                _show_line(self.shell, record.line)
        _report_line(record, outcome, seconds)
        self._notify()

    def notify(self) -> None:
        """Tell listeners (the widget) that states changed."""
        self._notify()


def _show_line(shell: Any, line: str) -> None:
    """The one-line status under a stage cell (tagged, so comparisons can leave it out)."""
    text = f"chkpt: {line}"
    shell.display_pub.publish(
        data={
            "text/plain": text,
            "text/html": f'<div style="color:#777;font-size:smaller">{_escape(text)}</div>',
        },
        metadata={"chkpt_ipython": {"status_line": True}},
    )


def _escape(text: str) -> str:
    import html

    return html.escape(text)


_MISSING = object()
_DERIVED = re.compile(r"_[0-9a-f]{6}$")


def _same_cell(old: StageRecord, new: StageRecord) -> bool:
    """Is ``new`` an edit of ``old``? By cell id when the front end sends one; else a cell
    named after its code is the same cell when it reads and binds the same names."""
    if old.cell_id is not None and new.cell_id is not None:
        return old.cell_id == new.cell_id
    return bool(
        _DERIVED.search(old.name)
        and _DERIVED.search(new.name)
        and (old.reads, old.outputs) == (new.reads, new.outputs)
    )


def _report_line(record: StageRecord, outcome: str, seconds: float) -> None:
    """Append one JSON line per stage cell to ``$CHKPT_IPYTHON_REPORT`` (headless runs)."""
    path = os.environ.get("CHKPT_IPYTHON_REPORT")
    if not path:
        return
    import json

    line = {
        "stage": record.name,
        "outcome": outcome,
        "seconds": round(seconds, 6),
        "key": record.key,
        "reason": record.reason,
        "time": time.time(),
    }
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
    except OSError as exc:
        log.warning("chkpt: cannot write the run report %s: %s", path, exc)
