"""Helpers for the fault-injection suite: run the child pipeline in a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

CHILD = Path(__file__).with_name("_child.py")


def run_child(
    directory: os.PathLike[str] | str,
    kind: str = "json",
    mb: int = 1,
    seed: int = 0,
    timeout: float = 120,
    **env: str,
) -> tuple[int, dict[str, Any] | None]:
    """(return code, the child's JSON report or None when it died)."""
    proc = subprocess.run(
        [sys.executable, str(CHILD), os.fspath(directory), kind, str(mb), str(seed)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        return 0, json.loads(lines[-1])
    if proc.returncode not in (-9, 0):
        raise AssertionError(f"child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.returncode, None


def assert_right(report: dict[str, Any] | None) -> None:
    """A run after faults gives the right result, and no stored entry holds a wrong value."""
    assert report is not None
    assert report["ok"], report
    assert report["wrong"] == 0, report
