"""Config: what to load, what to store, where, and with which executor."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from concurrent.futures import Executor  # not imported at run time: `import chkpt` stays fast

    from ._stage import Stage

__all__ = ["Config", "default_dir"]

Selection = bool | Collection["Stage | str"]


def default_dir() -> str:
    """``$CHKPT_DIR`` if set, else ``.chkpt`` under the working directory."""
    return os.environ.get("CHKPT_DIR") or os.path.join(os.getcwd(), ".chkpt")


def _name_of(item: Any) -> str:
    """A stage's name, or a name given as a string (Config never imports Stage: no cycle)."""
    return item if isinstance(item, str) else str(getattr(item, "name", item))


def _is_stage(value: Any) -> bool:
    return callable(value) and isinstance(getattr(value, "name", None), str)


def _selects(selection: Selection, stage: Stage) -> bool:
    if isinstance(selection, bool):
        return selection
    return any(s is stage or _name_of(s) == stage.name for s in selection)


@dataclasses.dataclass(frozen=True)
class Config:
    """How to run a pipeline.

    ``load`` and ``store`` are each ``True``, ``False``, or a collection of stages or stage names.
    By default every stage is computed and stored; list the stages you want loaded from their
    checkpoints (a checkpoint is used only if its key still matches: never a stale one).

    >>> from chkpt import Stage
    >>> Config(load=["download"]).loads(Stage(print, name="download"))
    True
    """

    store: Selection = True
    load: Selection = False
    dir: str | os.PathLike[str] | None = None
    force: Collection[Stage | str] = ()
    executor: Executor | None = None
    strict: bool = False
    safe: bool = False
    mmap: bool = False
    keep: int = 5
    durable: bool = False
    verbose: bool | None = None
    on_event: Callable[[Any], None] | None = None
    storage_options: dict[str, Any] | None = None  # for an fsspec URL ``dir`` (e.g. S3 endpoint)

    def __post_init__(self) -> None:
        for field in ("store", "load", "force"):
            value = getattr(self, field)
            if isinstance(value, str) or _is_stage(value):
                object.__setattr__(self, field, (value,))
            elif not isinstance(value, bool) and not isinstance(value, Collection):
                raise TypeError(
                    f"Config.{field} must be True, False or a collection of stages/names"
                )
        if self.keep < 0:
            raise ValueError("Config.keep must be >= 0 (0 keeps every entry)")

    @property
    def path(self) -> str:
        """The checkpoint directory this config uses."""
        return os.fspath(self.dir) if self.dir is not None else default_dir()

    def unknown_names(self, stages: Collection[str]) -> dict[str, list[str]]:
        """Names in ``load``/``store``/``force`` that are not among ``stages`` (likely typos)."""
        unknown = {}
        for field in ("load", "store", "force"):
            selection = getattr(self, field)
            if isinstance(selection, bool):
                continue
            names = [_name_of(s) for s in selection]
            missing = [n for n in names if n not in stages]
            if missing:
                unknown[field] = missing
        return unknown

    def loads(self, stage: Stage) -> bool:
        return _selects(self.load, stage) and not self.forces(stage)

    def stores(self, stage: Stage) -> bool:
        return _selects(self.store, stage)

    def forces(self, stage: Stage) -> bool:
        return _selects(tuple(self.force), stage)
