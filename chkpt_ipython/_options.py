"""Per-stage load/store switches, persisted beside the notebook's checkpoints.

The file is ``<checkpoint dir>/.chkpt_ipython.json`` (a dot name, so the core store never takes it
for a stage directory). Switches take effect the next time the stage cell runs: ``load=False``
recomputes the cell even when a checkpoint is valid; ``store=False`` does not write one.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

__all__ = ["OPTIONS_FILE", "StageOptions"]

log = logging.getLogger("chkpt.ipython")

OPTIONS_FILE = ".chkpt_ipython.json"
DEFAULT = {"load": True, "store": True}


class StageOptions:
    """The switches of every stage of one checkpoint directory."""

    def __init__(self, directory: Path | None) -> None:
        self.path = directory / OPTIONS_FILE if directory is not None else None
        self._stages: dict[str, dict[str, bool]] = self._read()

    def get(self, stage: str) -> dict[str, bool]:
        """``{"load": bool, "store": bool}`` for a stage (defaults: both on)."""
        return {**DEFAULT, **self._stages.get(stage, {})}

    def set(self, stage: str, load: bool | None = None, store: bool | None = None) -> None:
        """Change a stage's switches and write the file; ``None`` leaves a switch as it is."""
        current = self.get(stage)
        if load is not None:
            current["load"] = bool(load)
        if store is not None:
            current["store"] = bool(store)
        if current == DEFAULT:
            self._stages.pop(stage, None)
        else:
            self._stages[stage] = current
        self._write()

    def _read(self) -> dict[str, dict[str, bool]]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            stages = data["stages"]
            return {
                str(name): {k: bool(v) for k, v in opts.items() if k in DEFAULT}
                for name, opts in stages.items()
                if isinstance(opts, dict)
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("chkpt: ignoring unreadable stage options %s (%s)", self.path, exc)
            return {}

    def _write(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        text = json.dumps({"version": 1, "stages": self._stages}, indent=1, sort_keys=True)
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
