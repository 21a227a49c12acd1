"""What a stage cell's names and code do not show: a probe on every cell run (``session.probes``).

``Guard`` hooks into ``_stage_cell.CellRun`` at these points:

* ``before_inputs``: a value a stage produced and a plain cell changed in place since (checked by
  content fingerprint) is no longer that stage's output: it becomes a parameter, keyed by value,
  and the reason says so;
* ``before_key``: the states of the global random generators the cell uses join its parameters;
* ``before_compute`` / ``after_run``: what the run did beyond its names: inputs changed in place
  and globals rebound by helpers, generators drawn from, files read (``chkpt.record_reads``,
  the core's mechanism, checked by the policy before a hit) and files written;
* ``after_compute``: those become outputs, the generators' final states and the written files
  are kept in the payload;
* ``after_restore``: generators as the run left them, written files back, fingerprints of what
  was produced (from the payload: a hit hashes nothing).

Each detector is its own module (``_mutation``, ``_rng``, ``_files``, ``_library_values``).
Where chkpt cannot be sure (a value that cannot be fingerprinted), the cell recomputes and the
reason says so.
"""

from __future__ import annotations

import dataclasses
import logging
import types
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

import chkpt

from . import _files, _library_values, _rng
from ._mutation import IMMUTABLE, content_fingerprint

_library_values.register()

__all__ = ["Guard"]

log = logging.getLogger("chkpt.ipython")

_IGNORED_NAMES = frozenset({"_", "__", "___", "In", "Out", "exit", "quit", "get_ipython"})


@dataclasses.dataclass
class _State:
    produced: dict[str, tuple[Any, str | None]] = dataclasses.field(default_factory=dict)
    memo: dict[int, tuple[int, Any, str | None]] = dataclasses.field(default_factory=dict)
    generators: dict[str, frozenset[str]] = dataclasses.field(default_factory=dict)


_STATES: weakref.WeakKeyDictionary[Any, _State] = weakref.WeakKeyDictionary()


def _state(session: Any) -> _State:
    state = _STATES.get(session)
    if state is None:
        state = _STATES[session] = _State()
    return state


def _current_fingerprint(session: Any, obj: Any, fresh: bool = False) -> str | None:
    """The content fingerprint of ``obj`` now, hashed at most once per executed cell."""
    state = _state(session)
    count = getattr(session.shell, "execution_count", 0)
    memo = state.memo.get(id(obj))
    if not fresh and memo is not None and memo[0] == count and memo[1] is obj:
        return memo[2]
    fp = content_fingerprint(obj)
    state.memo[id(obj)] = (count, obj, fp)
    return fp


# -- the probe ------------------------------------------------------------------------------------


class Guard:
    """The correctness probe of one notebook session."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.changed: dict[str, str] = {}  # reasons of the current run
        self.watch: _Watch | None = None

    def before_inputs(self, run: Any) -> None:
        self.changed = demote_changed(self.session, run.record.reads)
        self.watch = None

    def before_key(self, run: Any) -> None:
        uses = generators_used(self.session, run.record)
        for generator in sorted(uses):
            run.params[_param(generator)] = _rng.digest(generator)  # type: ignore[arg-type]

    def before_compute(self, run: Any) -> None:
        self.watch = _Watch(self.session, run.record)

    def after_run(self, run: Any) -> None:
        if self.watch is not None:
            self.watch.stop()

    def after_compute(self, run: Any, payload: dict[str, Any]) -> None:
        record, watch = run.record, self.watch
        if self.changed and not record.reason.startswith(("forced", "not cacheable")):
            record.reason = "; ".join(self.changed.values())
        if watch is None:
            return
        self.watch = None
        extra_outputs, used = watch.finish()
        ns = self.session.shell.user_ns
        for var in extra_outputs:
            if var in ns:
                payload["outputs"][var] = ns[var]
        if extra_outputs:
            record.outputs = (
                *record.outputs,
                *(v for v in extra_outputs if v not in record.outputs),
            )
        missing = {g for g in used if _param(g) not in run.params}
        if missing:  # a library drew from a generator the code does not show: key by its state
            for g in sorted(missing):
                run.params[_param(g)] = watch.rng_digests[g]
            run.stage.params.update(run.params)
            digests = self.session.stage_digests(run.notebook.upstream[record.name])
            run.identity = run.notebook.identify(run.policy, record.name, digests)
            record.key = run.identity.key
        generators = sorted(g for g in _rng.GENERATORS if _param(g) in run.params)
        payload["rng"] = {g: _rng.get_state(g) for g in generators}
        payload["files"] = watch.tracker.files_written()
        payload["content"] = {
            k: v for k, v in produced(self.session, payload["outputs"]).items() if v is not None
        }
        run.extra["rng"] = generators
        if watch.reads:
            run.extra["reads"] = watch.reads

    def after_restore(self, run: Any, payload: dict[str, Any]) -> None:
        restored(self.session, run.record, payload)


def _param(generator: str) -> str:
    return f"<{generator} global generator>"


def demote_changed(session: Any, reads: Iterable[str]) -> dict[str, str]:
    """Drop from ``session.producers`` the values among ``reads`` changed in place since their
    stage produced them (they become parameters, keyed by value); returns why, per name."""
    state = _state(session)
    ns = session.shell.user_ns
    reasons: dict[str, str] = {}
    for var in sorted(set(reads) & set(session.producers)):
        producer = session.producers[var]
        produced_as = state.produced.get(var)
        if (
            produced_as is None
            or produced_as[0] is not producer.obj
            or ns.get(var) is not producer.obj
        ):
            continue
        before = produced_as[1]
        if before == IMMUTABLE:
            continue
        now = _current_fingerprint(session, producer.obj)
        if before is None or now is None:
            reasons[var] = f"input {var} cannot be checked for in-place changes"
        elif now != before:
            reasons[var] = f"input {var} changed since stage {producer.stage} produced it"
        else:
            continue
        del session.producers[var]
        del state.produced[var]
    return reasons


def produced(
    session: Any, outputs: Mapping[str, Any], known: Mapping[str, Any] | None = None
) -> dict[str, str | None]:
    """Remember what a stage produced (with ``known`` fingerprints nothing is hashed); returns
    the fingerprints, kept in the payload for the next hit."""
    state = _state(session)
    fps: dict[str, str | None] = {}
    count = getattr(session.shell, "execution_count", 0)
    for var, obj in outputs.items():
        fp = (known or {}).get(var) or content_fingerprint(obj)
        state.produced[var] = (obj, fp)
        state.memo[id(obj)] = (count, obj, fp)
        fps[var] = fp
    return fps


def generators_used(session: Any, record: Any) -> set[str]:
    """The global generators a cell uses: seen in its code, or seen moving when it last ran."""
    state = _state(session)
    if record.name not in state.generators:  # once per session: what its last run used
        latest = _latest(session, record.name)
        state.generators[record.name] = frozenset(latest.extra.get("rng", ()) if latest else ())
    return (
        set(_rng.static_uses(record.source, session.shell.user_ns)) | state.generators[record.name]
    )


def _latest(session: Any, name: str) -> Any:
    try:
        return session.store.latest(name)
    except Exception:
        return None


class _Watch:
    """Snapshot before a stage cell runs; ``finish()`` tells what the run did beyond its names."""

    def __init__(self, session: Any, record: Any) -> None:
        self.session, self.record = session, record
        ns = session.shell.user_ns
        self.ids = {k: id(v) for k, v in ns.items()}
        self.before: dict[str, str | None] = {}
        for var in record.reads:
            if var in ns and not _is_code(ns[var]):
                fp = _current_fingerprint(session, ns[var])
                if fp != IMMUTABLE:
                    self.before[var] = fp
        self.rng_before = _rng.snapshot()
        self.rng_digests: dict[str, str] = {g: _rng.digest(g) for g in _rng.GENERATORS}
        ignore = (str(session.directory),)
        self._reading = chkpt.record_reads(exclude=ignore)
        self.reads: list[dict[str, Any]] = self._reading.__enter__()
        self.tracker = _files.Tracker(ignore=ignore).__enter__()
        self._stopped = False

    def stop(self) -> None:
        """Stop recording files (the cell's code has finished); safe to call twice."""
        if not self._stopped:
            self._stopped = True
            self.tracker.__exit__()
            self._reading.__exit__(None, None, None)
            self.rng_after = _rng.snapshot()

    def finish(self) -> tuple[list[str], set[str]]:
        """(names to store beyond the cell's own outputs, generators it drew from)."""
        self.stop()
        ns = self.session.shell.user_ns
        record = self.record
        mutated = []
        for var, before in self.before.items():
            obj = ns.get(var)
            if var in record.outputs or obj is None or id(obj) != self.ids.get(var):
                continue
            if before is None or _current_fingerprint(self.session, obj, fresh=True) != before:
                mutated.append(var)
        rebound = [
            var
            for var, obj in ns.items()
            if self.ids.get(var) != id(obj)
            and var not in record.outputs
            and var not in record.analysis.outputs  # bound by the cell itself
            and var not in record.analysis.defined
            and not var.startswith("_")
            and var not in _IGNORED_NAMES
            and not _is_code(obj)
        ]
        if mutated:
            log.warning(
                "chkpt: stage %s changed %s in place; stored as output%s of %s, restored on a hit",
                record.name, ", ".join(mutated), "s" if len(mutated) > 1 else "", record.name,
            )  # fmt: skip
        if rebound:
            log.warning(
                "chkpt: stage %s rebound %s (a helper's `global`); stored with %s, restored on a hit",
                record.name, ", ".join(rebound), record.name,
            )  # fmt: skip
        used = _rng.changed(self.rng_before, self.rng_after)
        if used:
            state = _state(self.session)
            state.generators[record.name] = state.generators.get(record.name, frozenset()) | used
        return mutated + rebound, set(used)


def _is_code(obj: Any) -> bool:
    return isinstance(obj, (types.ModuleType, types.FunctionType, type))


def restored(session: Any, record: Any, payload: Mapping[str, Any]) -> None:
    """After a hit: generators as the run left them, written files back, outputs remembered."""
    for generator, state in payload.get("rng", {}).items():
        _rng.set_state(generator, state)
    files = payload.get("files", {})
    if files:
        back, missing = _files.restore_written(files)
        if back:
            log.info("chkpt: stage %s: restored %s", record.name, _files.relative_names(back))
        if missing:
            log.warning(
                "chkpt: stage %s wrote %s, which is missing or changed and too large to keep; "
                "rerun the cell with --force to write it again",
                record.name,
                _files.relative_names(missing),
            )
    produced(session, payload.get("outputs", {}), payload.get("content"))
