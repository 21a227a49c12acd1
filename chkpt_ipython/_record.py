"""What the session remembers of each stage cell, and which stage made each namespace value."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from ._analysis import CellAnalysis

__all__ = ["Producer", "StageRecord"]


@dataclasses.dataclass
class StageRecord:
    """One stage cell as last executed, and what happened to it in this session."""

    name: str
    source: str
    raw: str
    analysis: CellAnalysis
    reads: tuple[str, ...]
    outputs: tuple[str, ...]
    serializer: str | None = None
    cell_id: str | None = None
    state: Literal["running", "failed"] | None = None  # while that is so
    this_session: Literal["computed", "loaded"] | None = None
    key: str | None = None
    compute_seconds: float | None = None
    load_seconds: float | None = None
    time_saved: float = 0.0
    reason: str = ""
    error: str = ""
    line: str = ""  # the one-line status shown under the cell


@dataclasses.dataclass
class Producer:
    """The stage cell that produced a namespace value, and the digest of what it produced
    (its checkpoint's digest, or the digest storing would have recorded)."""

    stage: str
    obj: Any
    digest: str
