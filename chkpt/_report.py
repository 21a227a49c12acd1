"""What a run did (Result) or would do (Plan), per stage."""

from __future__ import annotations

import dataclasses
from typing import Any

from ._present import table as _table

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._vocab import Action, PlanAction

__all__ = ["StageReport", "Result", "PlanStep", "Plan"]


@dataclasses.dataclass(slots=True)
class StageReport:
    """One stage of a run. ``action``: computed, loaded, skipped (hit, value not needed), failed."""

    stage: str
    action: Action
    reason: str = ""
    seconds: float = 0.0
    key: str = ""
    bytes: int = 0


class _Reports:
    stages: list[Any]

    def __getitem__(self, stage: str) -> Any:
        """The (last) report for a stage name."""
        for report in reversed(self.stages):
            if report.stage == stage:
                return report
        raise KeyError(stage)

    def __iter__(self) -> Any:
        return iter(self.stages)

    def __len__(self) -> int:
        return len(self.stages)


@dataclasses.dataclass
class Result(_Reports):
    """The value of a run's output stage, and what happened to every stage."""

    value: Any
    stages: list[StageReport]

    def actions(self) -> dict[str, str]:
        """``{stage: action}``, handy in tests and logs."""
        return {r.stage: r.action for r in self.stages}

    def __str__(self) -> str:
        rows = [("stage", "action", "seconds", "bytes", "reason")]
        rows += [
            (r.stage, r.action, f"{r.seconds:.3f}", str(r.bytes), r.reason) for r in self.stages
        ]
        return _table(rows)


@dataclasses.dataclass(slots=True)
class PlanStep:
    """What a run would do with one stage: ``load``, ``skip`` (hit, value not needed) or ``compute``."""

    stage: str
    action: PlanAction
    reason: str = ""
    key: str | None = None


@dataclasses.dataclass
class Plan(_Reports):
    """What a run would do, per stage (``pipeline.plan(config)``), from metadata only."""

    stages: list[PlanStep]

    def actions(self) -> dict[str, str]:
        return {s.stage: s.action for s in self.stages}

    def __str__(self) -> str:
        return _table(
            [("stage", "action", "reason")] + [(s.stage, s.action, s.reason) for s in self.stages]
        )
