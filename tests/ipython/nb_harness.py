"""Execute real notebooks in real kernels (nbclient + ipykernel) and read what each stage did.

Every ``run`` starts a new kernel, so consecutive runs are separated by a kernel restart. Stage
cells report their outcome through ``CHKPT_IPYTHON_REPORT`` (one JSON line per stage cell), the
same channel ``python -m chkpt_ipython run`` uses.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import nbclient
import nbformat

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"


@dataclasses.dataclass
class Run:
    nb: Any
    stages: list[dict[str, Any]]

    def outcomes(self) -> dict[str, str]:
        return {s["stage"]: s["outcome"] for s in self.stages}

    def computed(self) -> set[str]:
        return {s["stage"] for s in self.stages if s["outcome"] == "computed"}

    def loaded(self) -> set[str]:
        return {s["stage"] for s in self.stages if s["outcome"] == "loaded"}

    def cell(self, first_line: str) -> Any:
        """The code cell whose source starts with ``first_line``."""
        for cell in self.nb.cells:
            if cell.cell_type == "code" and cell.source.startswith(first_line):
                return cell
        raise KeyError(first_line)

    def shown(self, first_line: str) -> list[tuple[str, Any]]:
        """What a cell showed, comparable across runs: (kind, content) per output."""
        shown = []
        for out in self.cell(first_line).outputs:
            if _is_status_line(out):
                continue  # chkpt's own line under the cell: "computed: ..." / "loaded ..."
            if out.output_type == "stream":
                shown.append((out.name, out.text))
            elif out.output_type in ("display_data", "execute_result"):
                shown.append((out.output_type, dict(out.data)))
            elif out.output_type == "error":
                shown.append(("error", out.ename))
        return shown

    def status_line(self, first_line: str) -> str:
        """The one-line status chkpt showed under a stage cell."""
        lines = [o.data["text/plain"] for o in self.cell(first_line).outputs if _is_status_line(o)]
        assert len(lines) == 1, lines
        return lines[0]


def _is_status_line(output: Any) -> bool:
    return bool(output.get("metadata", {}).get("chkpt_ipython", {}).get("status_line"))


def run(
    path: Path, env: dict[str, str] | None = None, timeout: int = 120, allow_errors: bool = False
) -> Run:
    """Execute the notebook at ``path`` in a fresh kernel started in its directory (a cell that
    raises stops the run, unless ``allow_errors``: then its error is one of its outputs)."""
    nb = nbformat.read(path, as_version=4)
    report = path.parent / f".report-{os.getpid()}-{id(nb)}.jsonl"
    kernel_env = {k: v for k, v in os.environ.items() if k not in ("JPY_SESSION_NAME", "CHKPT_DIR")}
    kernel_env.update(env or {})
    kernel_env["CHKPT_IPYTHON_REPORT"] = str(report)
    kernel_env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    client = nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute(env=kernel_env)
    finally:
        from chkpt_ipython._headless import read_report

        stages = read_report(report)
        report.unlink(missing_ok=True)
    return Run(nb, stages)


def edit_cell(path: Path, first_line: str, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` in the code cell starting with ``first_line``; save."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith(first_line):
            assert old in cell.source, (old, cell.source)
            cell.source = cell.source.replace(old, new)
            break
    else:
        raise KeyError(first_line)
    nbformat.write(nb, path)
