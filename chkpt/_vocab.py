"""The words chkpt uses for what happens to a stage, typed once for every runner and front end.

A *reason* is always ``"<kind>"`` or ``"<kind>: <detail>"`` with a kind from ``REASONS``, e.g.
``"parameters changed: n 10 -> 20"``; ``reason_kind`` recovers the kind.

>>> reason_kind("parameters changed: n 10 -> 20")
'parameters changed'
>>> reason_kind("code changed")
'code changed'
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "Action",
    "EventKind",
    "PlanAction",
    "ReasonKind",
    "State",
    "ACTIONS",
    "EVENT_KINDS",
    "PLAN_ACTIONS",
    "REASONS",
    "STATES",
    "STALE_REASONS",
    "reason_kind",
]

Action = Literal["pending", "computed", "loaded", "skipped", "failed"]
"""What a run did with a stage (``skipped``: its checkpoint is valid and nobody needed the value)."""

PlanAction = Literal["load", "skip", "compute"]
"""What a run would do with a stage."""

State = Literal["cached", "stale", "missing", "running", "failed"]
"""A stage at a glance: valid checkpoint / a checkpoint under another key / none / ..."""

EventKind = Literal["start", "computed", "loaded", "cached", "failed", "stored", "cleared"]
"""What an ``Event`` reports."""

ReasonKind = Literal[
    "no checkpoint",
    "code changed",
    "parameters changed",
    "input changed",
    "upstream recomputed",
    "forced",
    "not in Config.load",
    "checkpoint unreadable",
    "checkpoint matches",
    "stored meanwhile by another run",
    "not cacheable",
]
"""Why a stage was computed (or loaded)."""

ACTIONS: tuple[Action, ...] = get_args(Action)
PLAN_ACTIONS: tuple[PlanAction, ...] = get_args(PlanAction)
STATES: tuple[State, ...] = get_args(State)
EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)
REASONS: tuple[ReasonKind, ...] = get_args(ReasonKind)

# a checkpoint of the stage existed but was refused: the stage was *stale*
STALE_REASONS: frozenset[str] = frozenset(
    {
        "code changed",
        "parameters changed",
        "input changed",
        "upstream recomputed",
        "checkpoint unreadable",
    }
)


def reason_kind(reason: str) -> str:
    """The kind of a reason (the part before ``": "``)."""
    return reason.partition(": ")[0]
