"""Headless re-execution: ``python -m chkpt_ipython run NOTEBOOK``.

Runs every cell with nbclient in the notebook's directory, with ``JPY_SESSION_NAME`` set to the
notebook's path (as the Jupyter server does), so the run uses the same checkpoints as the
notebook opened in JupyterLab. Stage cells append one JSON line each to the file named by
``CHKPT_IPYTHON_REPORT``; that is how the runner tells computed from loaded.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import chkpt

from ._extras import needs

__all__ = ["REPORT_ENV", "RunResult", "read_report", "run_notebook"]

REPORT_ENV = "CHKPT_IPYTHON_REPORT"
EXECUTED_SUFFIX = ".executed.ipynb"


@dataclasses.dataclass
class RunResult:
    """What a headless run did: where the executed notebook is, and each stage cell's outcome."""

    notebook: Path
    output: Path
    stages: list[dict[str, Any]]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def outcomes(self) -> dict[str, str]:
        """Stage name -> last outcome (``computed``, ``loaded`` or ``failed``)."""
        return {s["stage"]: s["outcome"] for s in self.stages}

    def table(self) -> str:
        """A plain-text table of the stage cells, in the order they ran."""
        rows = [("stage", "outcome", "seconds", "reason")]
        rows += [
            (s["stage"], s["outcome"], f"{s['seconds']:.3f}", s["reason"]) for s in self.stages
        ]
        return chkpt.table(rows)


def default_output(notebook: Path) -> Path:
    """``analysis.ipynb`` -> ``analysis.executed.ipynb`` beside it."""
    return notebook.with_name(notebook.stem + EXECUTED_SUFFIX)


def run_notebook(
    notebook: str | os.PathLike,
    output: str | os.PathLike | None = None,
    *,
    timeout: int = 3600,
    kernel_name: str = "python3",
    env: dict[str, str] | None = None,
) -> RunResult:
    """Execute ``notebook`` top to bottom in a fresh kernel, write it executed, report stages."""
    with needs("running a notebook headless"):
        import nbclient
        import nbformat

    path = Path(notebook).resolve()
    out = Path(output).resolve() if output else default_output(path)
    nb = nbformat.read(path, as_version=4)
    fd, report = tempfile.mkstemp(prefix="chkpt-run-", suffix=".jsonl")
    os.close(fd)
    kernel_env = {**os.environ, **(env or {}), "JPY_SESSION_NAME": str(path), REPORT_ENV: report}
    client = nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(path.parent)}},
    )
    error = None
    try:
        client.execute(env=kernel_env)
    except nbclient.exceptions.CellExecutionError as exc:
        error = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
    finally:
        stages = read_report(report)
        os.unlink(report)
        nb.metadata.setdefault("chkpt_ipython", {})["input_path"] = os.path.relpath(
            path, out.parent
        )
        nbformat.write(nb, out)
    return RunResult(path, out, stages, error)


def read_report(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The JSON lines stage cells wrote to a report file."""
    try:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except FileNotFoundError:
        return []
