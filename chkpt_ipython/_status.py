"""What ``chkpt_ipython.status()`` reports per stage cell: typed, so editors and type checkers
know each field and the few strings a state can be."""

from __future__ import annotations

from typing import Literal, TypedDict

__all__ = ["StageState", "StageStatus", "StageSwitches", "ThisSession"]

#: cached: a checkpoint matches the cell's current key; stale: only checkpoints of other keys;
#: missing: none stored; running / failed: the cell's last run, while that is so.
StageState = Literal["cached", "stale", "missing", "running", "failed"]
#: What the cell did in this kernel session (None: it has not run since the kernel started).
ThisSession = Literal["computed", "loaded"] | None


class StageSwitches(TypedDict):
    """A stage's load/store switches (``chkpt_ipython.options(stage)``)."""

    load: bool
    store: bool


class StageStatus(TypedDict):
    """One stage cell, as ``status()`` and the widget see it."""

    stage: str
    state: StageState
    this_session: ThisSession
    inputs: list[str]  # stage cells it reads from
    params: list[str]  # other names it reads (by value)
    outputs: list[str]  # names it assigns
    size: int | None  # bytes on disk (any key), None if nothing is stored
    compute_seconds: float | None
    load_seconds: float | None
    time_saved: float
    key: str | None
    reason: str  # why it is stale or was recomputed
    error: str
    options: StageSwitches
