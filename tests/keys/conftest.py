"""Scenario suite: pipelines run as real scripts, with bytecode caching on, edited between runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


class Run:
    """One process: its reports (one per ``check`` call), stderr and return code."""

    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.proc = proc
        self.stderr = proc.stderr
        self.reports = [
            json.loads(line.removeprefix("CHKPT-REPORT "))
            for line in proc.stdout.splitlines()
            if line.startswith("CHKPT-REPORT ")
        ]

    @property
    def report(self) -> dict[str, Any]:
        assert len(self.reports) == 1, self.reports
        return self.reports[0]

    def action(self, stage: str, n: int = -1) -> str:
        return self.reports[n]["stages"][stage][0]

    def reason(self, stage: str, n: int = -1) -> str:
        return self.reports[n]["stages"][stage][1]

    def key(self, stage: str, n: int = -1) -> str:
        return self.reports[n]["stages"][stage][2]

    def assert_right(self) -> Run:
        """Every run's value equals the plain (no chkpt) value of the same code."""
        assert self.reports, f"no report; stderr:\n{self.stderr[-3000:]}"
        for r in self.reports:
            assert r["value"] == r["plain"], f"stale: {r}\nstderr:\n{self.stderr[-2000:]}"
        return self

    def hit(self, stage: str, n: int = -1) -> bool:
        return self.action(stage, n) in ("loaded", "skipped")


class Project:
    """A directory of user files; ``run`` executes a script in it as users do."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, name: str, text: str) -> Path:
        file = self.path / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(textwrap.dedent(text).lstrip())
        return file

    def edit(self, name: str, old: str, new: str, same_second: bool = False) -> None:
        """Replace ``old`` by ``new``; ``same_second``: same size and mtime, as an edit saved in
        the same second as the last run (Python then runs the stale ``.pyc``)."""
        file = self.path / name
        text = file.read_text()
        assert old in text, f"{old!r} not in {name}"
        before = file.stat()
        file.write_text(text.replace(old, new))
        if same_second:
            assert len(old.encode()) == len(new.encode()), "a same-size edit needs equal lengths"
            os.utime(file, ns=(before.st_atime_ns, before.st_mtime_ns))
        else:  # a later save: a different second, whatever the file system's resolution
            os.utime(file, ns=(before.st_atime_ns, before.st_mtime_ns + 2_000_000_000))

    def run(self, script: str = "main.py", timeout: float = 180, **env: str) -> Run:
        child_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        child_env.update(
            PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE)]),
            CHKPT_DIR=str(self.path / ".chkpt"),
            **env,
        )
        proc = subprocess.run(
            [sys.executable, script],
            cwd=self.path,
            env=child_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise AssertionError(f"{script} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        return Run(proc)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    work = tmp_path / "project"
    work.mkdir()
    return Project(work)
