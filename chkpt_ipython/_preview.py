"""The pipeline before anything runs: the saved notebook's stage cells and the store's index.

In a fresh kernel the session knows no stage cells until they run. The widget still shows the
pipeline: the ``%%chkpt_stage`` cells of the notebook file the session resolved, each with what
the checkpoint store holds for it ("cached on disk, not loaded yet"). Read-only: the notebook
file and the store's index are only read.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shlex
from collections.abc import Container, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._analysis import analyze

__all__ = ["inventory", "merge", "preview_records", "saved_stage_cells"]

log = logging.getLogger("chkpt.ipython.widget")

_MAGIC = "%%chkpt_stage"
_VALUED = {"--inputs", "--outputs", "--serializer"}


def _magic_name(line: str) -> str | None:
    """The NAME argument of a ``%%chkpt_stage`` line, if any.

    >>> _magic_name("%%chkpt_stage fit --force"), _magic_name("%%chkpt_stage --inputs a,b")
    ('fit', None)
    """
    try:
        words = shlex.split(line[len(_MAGIC) :])
    except ValueError:
        words = line[len(_MAGIC) :].split()
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = word in _VALUED
        else:
            return word
    return None


def _option(line: str, name: str) -> list[str] | None:
    words = line.split()
    for i, word in enumerate(words):
        if word == name and i + 1 < len(words):
            return [n.strip() for n in words[i + 1].split(",") if n.strip()]
        if word.startswith(name + "="):
            return [n.strip() for n in word.split("=", 1)[1].split(",") if n.strip()]
    return None


@functools.lru_cache(maxsize=1)
def _transformer() -> Any:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()


@functools.lru_cache(maxsize=4096)
def _transform(body: str) -> str:
    """IPython syntax (``!ls``, ``%time``) to Python, as the kernel would."""
    try:
        return _transformer().transform_cell(body)
    except Exception:
        return body


def saved_stage_cells(notebook: Path) -> list[dict[str, Any]]:
    """The ``%%chkpt_stage`` cells of a saved ``.ipynb``, in order: name, reads, outputs, id.

    Read again only when the file changes. Unreadable files and cells that do not parse are
    skipped (logged), never raised.
    """
    try:
        st = os.stat(notebook)
    except OSError:
        return []
    return [dict(c) for c in _read_stage_cells(str(notebook), st.st_mtime_ns, st.st_size)]


@functools.lru_cache(maxsize=8)
def _read_stage_cells(notebook: str, _mtime_ns: int, _size: int) -> tuple[dict[str, Any], ...]:
    return tuple(_stage_cells_of(Path(notebook)))


def _stage_cells_of(notebook: Path) -> list[dict[str, Any]]:
    try:
        nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
        cells = nb.get("cells") or []
    except (OSError, ValueError, AttributeError) as exc:
        log.debug("cannot read the notebook %s: %s", notebook, exc)
        return []
    found: list[dict[str, Any]] = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source") or ""
        source = "".join(source) if isinstance(source, list) else str(source)
        first, _, body = source.lstrip().partition("\n")
        if not first.startswith(_MAGIC):
            continue
        try:
            analysis = analyze(_transform(body))
        except SyntaxError:
            continue
        name = _magic_name(first)
        if not name:
            try:
                from ._stage_cell import default_name

                name = default_name(analysis, _transform(body))
            except Exception:
                name = analysis.first_new_output or (analysis.outputs or ("cell",))[0]
        inputs = _option(first, "--inputs")
        outputs = _option(first, "--outputs")
        found.append(
            {
                "stage": name,
                "reads": list(inputs if inputs is not None else analysis.inputs),
                "outputs": list(outputs if outputs is not None else analysis.outputs),
                "cell_id": cell.get("id"),
            }
        )
    return found


def preview_records(
    cells: Sequence[Mapping[str, Any]], store: Any, skip: Container[str] = ()
) -> list[dict[str, Any]]:
    """Status-like records for saved stage cells: ``ondisk`` when the store has an entry.

    The store's index is not read for the stages in ``skip`` (those the session knows).
    """
    producer: dict[str, str] = {}
    records = []
    for cell in cells:
        name = str(cell["stage"])
        inputs = sorted({producer[v] for v in cell["reads"] if v in producer})
        for var in cell["outputs"]:
            producer[var] = name
        latest = None
        try:
            latest = store.latest(name) if store is not None and name not in skip else None
        except Exception as exc:  # an unreadable store must not break the view
            log.debug("cannot read the store's index for %s: %s", name, exc)
        records.append(
            {
                "stage": name,
                "state": "ondisk" if latest is not None else "missing",
                "this_session": None,
                "inputs": inputs,
                "params": [],
                "outputs": list(cell["outputs"]),
                "size": getattr(latest, "size", None),
                "compute_seconds": getattr(latest, "compute_seconds", None),
                "load_seconds": None,
                "time_saved": 0.0,
                "key": getattr(latest, "key", None),
                "reason": "",
                "error": "",
                "cell_id": cell.get("cell_id"),
                "preview": True,
            }
        )
    return records


def merge(live: Sequence[Mapping], preview: Sequence[Mapping]) -> list[dict[str, Any]]:
    """The session's records, plus saved stage cells that have not run yet, in notebook order.

    >>> [r["stage"] for r in merge([{"stage": "b"}], [{"stage": "a"}, {"stage": "b"}, {"stage": "c"}])]
    ['a', 'b', 'c']
    """
    live_by_name = {str(r.get("stage")): dict(r) for r in live}
    out: list[dict[str, Any]] = []
    for record in preview:
        name = str(record.get("stage"))
        out.append(live_by_name.pop(name, {}) or dict(record))
    out.extend(live_by_name.values())  # cells run but not (yet) saved in the file
    return out


def inventory(store: Any, stages: Sequence[str]) -> dict[str, Any]:
    """What clearing ``stages`` would delete: entry count, bytes and compute seconds, per stage."""
    per_stage = {}
    for stage in stages:
        try:
            entries = store.entries(stage)
        except Exception as exc:
            log.debug("cannot list the checkpoints of %s: %s", stage, exc)
            entries = []
        per_stage[stage] = {
            "entries": len(entries),
            "bytes": sum(int(getattr(e, "size", 0) or 0) for e in entries),
            "compute_seconds": sum(float(getattr(e, "compute_seconds", 0) or 0) for e in entries),
        }
    return {
        "stages": per_stage,
        "entries": sum(s["entries"] for s in per_stage.values()),
        "bytes": sum(s["bytes"] for s in per_stage.values()),
        "compute_seconds": sum(s["compute_seconds"] for s in per_stage.values()),
    }
