"""What a stage cell's names and code do not show, checked around its key, run and restore.

The cell runner calls, in order:

* ``check_inputs(session)`` before computing a key: the producers whose values are unchanged
  (an input changed in place since its stage produced it is then keyed by value), and why;
* ``with_generators(session, record, ck)``: the key extended by the states of the global
  random generators the cell uses;
* ``stale_files(entry)`` before serving a hit: a file it read has changed since;
* ``Watch(session, record, ck)`` around computing it: what it changed in place (its inputs,
  globals rebound by helpers), the generators it drew from, the files it read and wrote;
* ``restored(session, record, entry, payload)`` after a hit: the generators' states as the run
  left them, the files it wrote, and the fingerprints of what it produced.

Each detector is its own module (``_mutation``, ``_rng``, ``_files``); this one ties them to a
session. Where chkpt cannot be sure (a value that cannot be fingerprinted), the cell recomputes
and the reason says so.
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

__all__ = ["Watch", "check_inputs", "restored", "stale_files", "with_generators"]

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


def _current_fingerprint(session: Any, obj: Any) -> str | None:
    """The content fingerprint of ``obj`` now, hashed at most once per executed cell."""
    state = _state(session)
    count = getattr(session.shell, "execution_count", 0)
    memo = state.memo.get(id(obj))
    if memo is not None and memo[0] == count and memo[1] is obj:
        return memo[2]
    fp = content_fingerprint(obj)
    state.memo[id(obj)] = (count, obj, fp)
    return fp


# -- before the key -------------------------------------------------------------------------------


def check_inputs(session: Any, reads: Iterable[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """``(producers, reasons)``: the session's producers without the values among ``reads``
    changed in place since their stage produced them (those are keyed by value), and why."""
    state = _state(session)
    ns = session.shell.user_ns
    producers = dict(session.producers)
    reasons: dict[str, str] = {}
    for var in set(reads) & set(producers):
        producer = producers[var]
        produced = state.produced.get(var)
        if produced is None or produced[0] is not producer.obj or ns.get(var) is not producer.obj:
            continue
        before = produced[1]
        if before == IMMUTABLE:
            continue
        now = _current_fingerprint(session, producer.obj)
        if before is None or now is None:
            reasons[var] = f"input {var} cannot be checked for in-place changes"
        elif now != before:
            reasons[var] = f"input {var} changed since stage {producer.stage} produced it"
        else:
            continue
        del producers[var]
    return producers, reasons


def produced(session: Any, outputs: Mapping[str, Any], known: Mapping[str, Any] | None = None):
    """Remember what a stage produced (with ``known`` fingerprints, from its metadata, nothing
    is hashed); returns the fingerprints, to keep in the metadata."""
    state = _state(session)
    fps: dict[str, str | None] = {}
    count = getattr(session.shell, "execution_count", 0)
    for var, obj in outputs.items():
        fp = (known or {}).get(var) or content_fingerprint(obj)
        state.produced[var] = (obj, fp)
        state.memo[id(obj)] = (count, obj, fp)
        fps[var] = fp
    return fps


def with_generators(session: Any, record: Any, ck: Any) -> Any:
    """``ck`` with the states of the global generators the cell uses in its key and inputs."""
    if ck.key is None:
        return ck
    state = _state(session)
    if record.name not in state.generators:  # once per session: what its last run used
        latest = _latest(session, record.name)
        state.generators[record.name] = frozenset(latest.extra.get("rng", ()) if latest else ())
    uses = set(_rng.static_uses(record.source, session.shell.user_ns))
    return _extend(ck, uses | state.generators[record.name])


def _extend(ck: Any, generators: set[str] | frozenset[str]) -> Any:
    if not generators:
        return ck
    inputs = dict(ck.inputs)
    for generator in sorted(generators):
        inputs[f"<{generator} global generator>"] = _rng.digest(generator)  # type: ignore[arg-type]
    extra = [f"{k}={v}" for k, v in sorted(inputs.items()) if k.startswith("<")]
    key = chkpt.make_key(ck.key, *extra)
    return dataclasses.replace(ck, key=key, inputs=inputs)


def _latest(session: Any, name: str) -> Any:
    try:
        return session.store.latest(name)
    except Exception:
        return None


# -- before a hit ---------------------------------------------------------------------------------


def stale_files(entry: Any) -> str | None:
    """Why a checkpoint cannot be served because a file its stage read has changed, or None."""
    from chkpt._reads import file_changed  # the core's file tracking: one mechanism

    return file_changed(entry.extra.get("files_read")) or None


# -- around a computation -------------------------------------------------------------------------


class Watch:
    """Snapshot before a stage cell runs; ``finish()`` tells what the run did beyond its names."""

    def __init__(self, session: Any, record: Any, ck: Any) -> None:
        self.session, self.record, self.ck = session, record, ck
        ns = session.shell.user_ns
        self.ids = {k: id(v) for k, v in ns.items()}
        self.before: dict[str, str | None] = {}
        for var in record.reads:
            if var in ns and not _is_code(ns[var]):
                fp = _current_fingerprint(session, ns[var])
                if fp != IMMUTABLE:
                    self.before[var] = fp
        self.rng_before = _rng.snapshot()
        from chkpt._reads import recording

        ignore = (str(session.directory),)
        self._reading = recording(exclude=ignore)
        self.files_read = self._reading.__enter__()
        self.tracker = _files.Tracker(ignore=ignore).__enter__()
        self._stopped = False

    def stop(self) -> None:
        """Stop recording files (the cell's code has finished); safe to call twice."""
        if not self._stopped:
            self._stopped = True
            self.tracker.__exit__()
            self._reading.__exit__(None, None, None)

    def finish(self) -> tuple[Any, list[str], dict[str, Any], dict[str, Any]]:
        """``(key, extra outputs, payload additions, metadata additions)`` after the run."""
        self.stop()
        ns = self.session.shell.user_ns
        record = self.record
        mutated = []
        for var, before in self.before.items():
            obj = ns.get(var)
            if var in record.outputs or obj is None or id(obj) != self.ids.get(var):
                continue
            if before is None or content_fingerprint(obj) != before:
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
        used = _rng.changed(self.rng_before, _rng.snapshot())
        key = self.ck
        if used:
            state = _state(self.session)
            state.generators[record.name] = state.generators.get(record.name, frozenset()) | used
            missing = {g for g in used if f"<{g} global generator>" not in key.inputs}
            if missing:  # a library drew from it: key by the state it started from
                now = _rng.snapshot()
                for g in missing:
                    _rng.set_state(g, self.rng_before[g])
                key = _extend(key, set(missing) | _generators_in(key))
                for g in missing:
                    _rng.set_state(g, now[g])
        generators = _generators_in(key)
        payload = {
            "rng": {g: _rng.get_state(g) for g in generators},  # type: ignore[arg-type]
            "files": self.tracker.files_written(),
        }
        meta = {"rng": sorted(generators), "files_read": self.files_read}
        return key, mutated + rebound, payload, meta


def _generators_in(ck: Any) -> set[str]:
    return {g for g in _rng.GENERATORS if f"<{g} global generator>" in ck.inputs}


def _is_code(obj: Any) -> bool:
    return isinstance(obj, (types.ModuleType, types.FunctionType, type))


# -- after a hit ----------------------------------------------------------------------------------


def restored(session: Any, record: Any, entry: Any, payload: Mapping[str, Any]) -> None:
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
    produced(session, payload.get("outputs", {}), entry.extra.get("content"))
