"""chkpt for notebooks: ``%load_ext chkpt_ipython``, then ``%%chkpt_stage`` on expensive cells.

A stage cell's outputs (the names it binds) and what it showed (prints, plots, its last value)
are checkpointed per notebook under ``<notebook dir>/.chkpt/<notebook stem>/``, keyed by the
cell's code, the values of the parameters it reads and the checkpoints of the stage cells it
reads from. Restart the kernel and "Run All": valid cells are restored instead of rerun.

The Python API mirrors the line magics: ``status()`` (``%chkpt_status``), ``clear()``
(``%chkpt_clear``), ``checkpoint_dir()`` (``%chkpt_dir``), ``set_options()`` (``%chkpt_set``),
``widget()`` (``%chkpt_widget``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ._extras import needs
from ._session import NotebookSession, session
from ._status import StageState, StageStatus, StageSwitches

__all__ = [
    "NotebookSession",
    "StageState",
    "StageStatus",
    "StageSwitches",
    "checkpoint_dir",
    "clear",
    "config",
    "forget",
    "load_ipython_extension",
    "options",
    "pipeline",
    "session",
    "set_options",
    "status",
    "unload_ipython_extension",
    "widget",
]

_registered: dict[int, Any] = {}


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics and start the notebook session (``%load_ext chkpt_ipython``)."""
    with needs("%load_ext chkpt_ipython"):
        from ._magics import ChkptMagics

    if id(ipython) in _registered:
        return
    magics = ChkptMagics(ipython)
    ipython.register_magics(magics)
    _registered[id(ipython)] = magics
    session(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove exactly what ``load_ipython_extension`` registered."""
    from ._session import _forget

    magics = _registered.pop(id(ipython), None)
    if magics is not None:
        manager = ipython.magics_manager
        for kind, names in magics.magics.items():
            for name in names:
                manager.magics[kind].pop(name, None)
        manager.registry.pop(type(magics).__name__, None)
    _forget(ipython)


def status() -> list[StageStatus]:
    """One dict per stage cell (``stage``, ``state`` in cached/stale/missing/running/failed, ...)."""
    return _current_session().status()


def pipeline() -> Any:
    """The notebook's stage cells as one ``chkpt.Pipeline``: ``pipeline().plan(config())``,
    ``pipeline().to_dot()`` work as for a script (several final cells join in ``(notebook)``)."""
    return _current_session().pipeline()


def config(**changes: Any) -> Any:
    """The ``chkpt.Config`` of this notebook's stage cells (its directory, loading on), for the
    core API: ``pipeline().plan(config())``, ``pipeline().run(config())``."""
    return _current_session().notebook_config(**changes)


def forget(stage: str) -> None:
    """Drop a stage cell you deleted from the notebook pipeline (its checkpoints stay on disk)."""
    _current_session().forget(stage)


def clear(stage: str | None = None) -> int:
    """Delete the checkpoints of one stage, or all of this notebook's; returns how many."""
    return _current_session().clear(stage)


def checkpoint_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """This notebook's checkpoint directory; with ``path``, use that one from now on."""
    sess = _current_session()
    return sess.set_dir(path) if path is not None else sess.directory


def options(stage: str) -> StageSwitches:
    """A stage's switches: ``{"load": bool, "store": bool}``."""
    return _current_session().options(stage)


def set_options(stage: str, load: bool | None = None, store: bool | None = None) -> None:
    """Switch loading/storing of one stage; applies the next time its cell runs."""
    _current_session().set_options(stage, load=load, store=store)


def widget() -> Any:
    """The pipeline widget of this notebook (needs the ``ipython`` extra: ipywidgets, graphviz)."""
    with needs("chkpt_ipython.widget()"):
        from ._widget import widget as make_widget

        return make_widget(_current_session())


def _current_session() -> NotebookSession:
    with needs("chkpt_ipython"):
        return session()
