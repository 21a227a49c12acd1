"""Running one ``%%chkpt_stage`` cell: a hit restores and replays, a miss runs and stores.

The stored value is a dict::

    {"format": 2, "outputs": {name: value}, "modules": {name: module name},
     "display": {"records": [...], "before_value": n},
     "result": {"data": ..., "metadata": ..., "value"?: last value} | None}

Imports, ``def`` and ``class`` statements are not in it: they are re-executed on a hit.
"""

from __future__ import annotations

import ast
import io
import logging
import pickle
import time
import types
import warnings
from typing import TYPE_CHECKING, Any

import chkpt

from . import _capture, _execute
from ._analysis import CellAnalysis, analyze
from ._keys import CellKey, Producer, source_fingerprint

if TYPE_CHECKING:
    from ._session import NotebookSession, StageRecord

__all__ = ["run"]

log = logging.getLogger("chkpt.ipython")

FORMAT = 2
RESULT_VALUE_LIMIT = 1 << 20  # a last value up to 1 MB is stored as itself


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
    record = _register(session, body, name, inputs, outputs, serializer)
    store = session.store  # resolve the directory before capturing anything
    ck = session.key_of(record)
    record.key = ck.key
    opts = session.options(record.name)
    if ck.key is not None and opts["load"] and not force:
        entry = store.lookup(record.name, ck.key)
        if entry is not None:
            hit = _try_hit(session, record, entry)
            if hit is not _MISS:
                return hit
    record.reason = _why_computed(store, record, ck, force or not opts["load"])
    return _compute(session, record, ck, store=opts["store"] and not no_store)


def _register(
    session: NotebookSession,
    body: str,
    name: str | None,
    inputs: list[str] | None,
    outputs: list[str] | None,
    serializer: str | None,
) -> StageRecord:
    from ._session import StageRecord

    source = session.shell.transform_cell(body)
    analysis = analyze(source)
    cell_id = session.current_cell_id
    if not name:
        name = default_name(analysis, source)
        base, n = name, 1
        while session.name_taken(name, cell_id):
            n += 1
            name = f"{base}_{n}"
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


_MISS = object()


def _try_hit(session: NotebookSession, record: StageRecord, entry: chkpt.Entry) -> Any:
    """Restore a checkpoint; on a damaged or unreadable one return ``_MISS`` (recompute)."""
    __tracebackhide__ = True
    shell = session.shell
    start = time.perf_counter()
    deferred = _execute.rerun_definitions(shell, record.source, record.raw)  # classes to unpickle
    load_start = time.perf_counter()
    try:
        value = session.store.load(entry)
        if not (isinstance(value, dict) and value.get("format") == FORMAT):
            raise chkpt.CorruptCheckpointError(f"{entry.path}: not a chkpt_ipython cell value")
    except (chkpt.ChkptError, OSError) as exc:
        log.warning("chkpt: stage %r: %s; recomputing", record.name, exc)
        return _MISS
    load_seconds = time.perf_counter() - load_start
    shell.user_ns.update(value["outputs"])
    _execute.import_modules(shell, value["modules"])
    _execute.run_deferred(shell, deferred)
    for var, obj in value["outputs"].items():
        session.producers[var] = Producer(record.name, obj, entry.digest)
    _replay(session, value["display"])
    record.load_seconds = load_seconds
    record.compute_seconds = entry.compute_seconds
    record.time_saved += max(entry.compute_seconds - load_seconds, 0.0)
    record.reason = ""
    record.error = ""
    _emit("loaded", record, load_seconds, size=entry.size)
    session.record_outcome(record, "loaded", time.perf_counter() - start)
    return _result(shell, record, value["result"])


def _replay(session: NotebookSession, display: dict) -> None:
    """Show again what the cell showed, in order: what came after its ``Out[n]`` value (inline
    figures) is shown once the cell has finished, as it was the first time."""
    records, split = display["records"], display["before_value"]
    _capture.replay(session.shell, records[:split])
    late = records[split:]
    if late and not session.defer(lambda: _capture.replay(session.shell, late)):
        _capture.replay(session.shell, late)


def _result(shell: Any, record: StageRecord, stored: dict | None) -> Any:
    """The cell's last value: the live object for a bare name, the stored value when it could
    be stored, else a stand-in that displays exactly as the value did."""
    last = record.analysis.last_expression
    if isinstance(last, ast.Name) and last.id in shell.user_ns:
        return shell.user_ns[last.id]
    if stored is None:
        return None
    if "value" in stored:
        return stored["value"]
    return _capture.ReplayedResult(stored["data"], stored["metadata"])


def _storable_result(shell: Any, record: StageRecord, value: Any) -> dict | None:
    """The last value's display, plus the value itself when it pickles small (not a bare name:
    that one is restored from the outputs)."""
    result = _capture.format_result(shell, value)
    if result is None or isinstance(record.analysis.last_expression, ast.Name):
        return result
    try:
        if len(pickle.dumps(value, protocol=5)) <= RESULT_VALUE_LIMIT:
            result["value"] = value
    except Exception:
        pass  # the display alone is replayed
    return result


def _why_computed(store: chkpt.Store, record: StageRecord, ck: CellKey, forced: bool) -> str:
    if forced:
        return "forced"
    if ck.key is None:
        return f"not cacheable: {ck.why}"
    latest = store.latest(record.name)
    if latest is None:
        return "no checkpoint"
    if latest.fingerprint != ck.fingerprint:
        return "code changed"
    changed = sorted(
        k for k in set(ck.inputs) | set(latest.inputs) if ck.inputs.get(k) != latest.inputs.get(k)
    )
    return f"input changed: {', '.join(changed)}" if changed else "input changed"


def _compute(session: NotebookSession, record: StageRecord, ck: CellKey, *, store: bool) -> Any:
    """Run the cell normally (live output, usual tracebacks), then store what it made.

    Inside a cell, displays keep being recorded until the cell has finished (``post_run_cell``):
    matplotlib's inline figures are drawn after the magic returns, after the ``Out[n]`` value,
    and recording them there keeps that order on replay.
    """
    __tracebackhide__ = True
    shell = session.shell
    record.state = "running"
    record.error = ""
    _emit("start", record, 0.0)
    session._notify()
    start = time.perf_counter()
    capture = _capture.Capture(shell).__enter__()
    try:
        value = _execute.run_source(shell, record.source, record.raw)
    except BaseException as exc:
        capture.__exit__()
        seconds = time.perf_counter() - start
        record.error = f"{type(exc).__name__}: {exc}"
        _emit("failed", record, seconds)
        session.record_outcome(record, "failed", seconds)
        raise
    finally:
        capture.stop_streams()
    seconds = time.perf_counter() - start
    shown_before_value = len(capture.records)

    def finish() -> None:
        capture.stop_displays()
        display = {"records": capture.records, "before_value": shown_before_value}
        _finish(session, record, ck, display, value, seconds, store=store)

    if not session.defer(finish):
        _capture.flush_figures(shell)  # not inside a cell: draw pending figures now
        finish()
    return value


def _finish(
    session: NotebookSession,
    record: StageRecord,
    ck: CellKey,
    display: dict,
    value: Any,
    seconds: float,
    *,
    store: bool,
) -> None:
    """Store what a computed cell made, and tell everyone it was computed."""
    record.compute_seconds = seconds
    payload = _payload(session.shell, record, display, value)
    entry = _store(session, record, ck, payload, seconds) if store and ck.key else None
    digest = entry.digest if entry is not None else None
    for var, obj in payload["outputs"].items():
        session.producers[var] = Producer(record.name, obj, digest)
    for var in payload["modules"]:
        session.producers.pop(var, None)
    _emit("computed", record, seconds)
    session.record_outcome(record, "computed", seconds)


def _payload(shell: Any, record: StageRecord, display: dict, value: Any) -> dict[str, Any]:
    ns = shell.user_ns
    outputs: dict[str, Any] = {}
    modules: dict[str, str] = {}
    for var in record.outputs:
        if var not in ns:
            continue  # bound conditionally, or deleted again
        obj = ns[var]
        if isinstance(obj, types.ModuleType):
            modules[var] = obj.__name__
        elif isinstance(obj, io.IOBase) and obj.closed:
            log.debug("chkpt: %s: not storing %r, a closed file", record.name, var)
        else:
            outputs[var] = obj
    return {
        "format": FORMAT,
        "outputs": outputs,
        "modules": modules,
        "display": display,
        "result": _storable_result(shell, record, value),
    }


def _store(
    session: NotebookSession, record: StageRecord, ck: CellKey, payload: dict, seconds: float
) -> chkpt.Entry | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", chkpt.StoreWarning)
            entry = session.store.save(
                record.name,
                ck.key,  # type: ignore[arg-type]
                payload,
                serializer=record.serializer,
                fingerprint=ck.fingerprint,
                inputs=ck.inputs,
                compute_seconds=seconds,
                extra={"chkpt_ipython": FORMAT, "outputs": sorted(payload["outputs"])},
            )
    except chkpt.SerializationError as exc:
        culprit = _unpicklable(payload["outputs"])
        where = f"output {culprit!r} cannot be serialized" if culprit else str(exc)
        log.warning(
            "chkpt: stage %r was computed but not stored: %s. Name the outputs to keep with "
            "--outputs, or delete the value at the end of the cell.",
            record.name,
            where,
        )
        record.reason += " (not stored)"
        return None
    except Exception as exc:  # storing must never cost the user their computation
        log.warning("chkpt: stage %r was computed but not stored: %s", record.name, exc)
        record.reason += " (not stored)"
        return None
    _emit("stored", record, seconds, size=entry.size)
    return entry


def _unpicklable(outputs: dict[str, Any]) -> str | None:
    for var, obj in outputs.items():
        try:
            pickle.dumps(obj, protocol=5)
        except Exception:
            return var
    return None


def _emit(kind: str, record: StageRecord, seconds: float, size: int = 0) -> None:
    chkpt.events.emit(
        chkpt.Event(
            kind,
            record.name,
            key=record.key or "",
            seconds=seconds,
            reason=record.reason,
            size=size,
            extra={"source": "chkpt_ipython"},
        )
    )
