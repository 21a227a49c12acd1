"""What a stage cell leaves behind, as one stored value, and how a hit puts it back.

The stored value is a dict::

    {"format": 2, "outputs": {name: value}, "modules": {name: module name},
     "display": {"records": [...], "before_value": n},
     "result": {"data": ..., "metadata": ..., "value"?: last value} | None,
     "deleted": [names a top-level del unbound]}

Imports, ``def`` and ``class`` statements are not in it: they are re-executed on a hit.
"""

from __future__ import annotations

import ast
import io
import logging
import pickle
import types
from collections.abc import Callable
from typing import Any

from . import _capture, _execute
from ._record import StageRecord

__all__ = ["FORMAT", "collect", "is_payload", "restore", "unpicklable"]

log = logging.getLogger("chkpt.ipython")

FORMAT = 2
RESULT_VALUE_LIMIT = 1 << 20  # a last value up to 1 MB is stored as itself


def is_payload(value: Any) -> bool:
    """Is ``value`` what a stage cell stores (not some other stage's checkpoint)?"""
    return isinstance(value, dict) and value.get("format") == FORMAT


def collect(shell: Any, record: StageRecord, display: dict, value: Any) -> dict[str, Any]:
    """The payload of a cell that just ran: its outputs from the namespace, what it showed."""
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
        # names the cell unbound (``del tmp``): a hit unbinds them too, as the run did
        "deleted": [var for var in record.analysis.deleted if var not in ns],
    }


def restore(
    shell: Any,
    record: StageRecord,
    payload: dict[str, Any],
    deferred: list[Any],
    defer: Callable[[Callable[[], None]], bool],
) -> Any:
    """Put a hit's outputs back into the namespace, show again what the cell showed, and return
    the cell's last value. ``deferred``: definitions to run once the outputs exist."""
    __tracebackhide__ = True
    shell.user_ns.update(payload["outputs"])
    for var in payload.get("deleted", ()):
        shell.user_ns.pop(var, None)
    _execute.import_modules(shell, payload["modules"])
    _execute.run_deferred(shell, deferred)
    _replay(shell, payload["display"], defer)
    return _result(shell, record, payload["result"])


def _replay(shell: Any, display: dict, defer: Callable[[Callable[[], None]], bool]) -> None:
    """Show again what the cell showed, in order: what came after its ``Out[n]`` value (inline
    figures) is shown once the cell has finished, as it was the first time."""
    records, split = display["records"], display["before_value"]
    _capture.replay(shell, records[:split])
    late = records[split:]
    if late and not defer(lambda: _capture.replay(shell, late)):
        _capture.replay(shell, late)


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


def unpicklable(outputs: dict[str, Any]) -> str | None:
    """The first output that cannot be pickled (to name it when storing fails)."""
    for var, obj in outputs.items():
        try:
            pickle.dumps(obj, protocol=5)
        except Exception:
            return var
    return None
