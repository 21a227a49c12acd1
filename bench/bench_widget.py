"""The widget's cost on an all-cached Run All, with and without the widget (real kernels).

    PYTHONPATH=. .venv/bin/python bench/bench_widget.py [STAGES ...]   # default: 25 100

Writes a notebook of N stage cells (a chain with side branches, each reading a parameter), runs
it once to fill the checkpoints, then times "Run All" of the all-cached notebook in a fresh
kernel (nbclient, sequential like a front end's Run All) with the widget displayed in the first
cells and without it. The time is from the first stage cell starting to the last one finishing,
from nbclient's per-cell timing; each figure is the best of ``--repeat`` runs. The widget's own
time in the kernel during the stage cells (its refreshes, Graphviz included) is printed beside
it: on a busy machine it is the steadier figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
from pathlib import Path


def notebook_cells(n: int, widget: bool) -> list[str]:
    cells = ["%load_ext chkpt_ipython", "import numpy as np\nSCALE = 2"]
    if widget:
        cells.append("import chkpt_ipython\nchkpt_ipython.widget()")
        # count the widget's own time from here: what it costs the Run All of the stage cells
        cells.append(
            "_w = chkpt_ipython.widget()\n_w.refresh_count = _w.render_count = 0\n"
            "_w.refresh_seconds = 0.0"
        )
    for i in range(n):
        reads = f"s{i - 1} + " if i else ""
        side = f" + s{i - 3}" if i >= 3 and i % 4 == 0 else ""
        cells.append(f"%%chkpt_stage s{i}\ns{i} = {reads}np.arange(100) * SCALE{side}")
    if widget:  # the widget's own time in the kernel: refreshes, Graphviz runs
        cells.append(
            "import json\nw = chkpt_ipython.widget()\n"
            "print(json.dumps([w.refresh_count, w.render_count, w.refresh_seconds]))"
        )
    return cells


def write_notebook(path: Path, cells: list[str]) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def run(path: Path, env: dict[str, str]) -> tuple[float, list[str]]:
    """Execute the notebook; seconds from the first stage cell's start to the last's end."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", record_timing=True,
        resources={"metadata": {"path": str(path.parent)}},
    )  # fmt: skip
    client.execute(env={**os.environ, **env, "JPY_SESSION_NAME": str(path)})
    stage_cells = [c for c in nb.cells if c.source.startswith("%%chkpt_stage")]

    def at(cell, key):
        return dt.datetime.fromisoformat(cell.metadata.execution[key].replace("Z", "+00:00"))

    start = at(stage_cells[0], "iopub.execute_input")
    end = at(stage_cells[-1], "shell.execute_reply")
    outs = [o.get("text", "") for o in nb.cells[-1].outputs]
    return (end - start).total_seconds(), outs


def measure(n: int, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="chkpt-bench-widget-") as tmp:
        root = Path(tmp)
        env = {"CHKPT_DIR": str(root / "ckpt")}
        with_w, without = root / "with.ipynb", root / "without.ipynb"
        write_notebook(with_w, notebook_cells(n, True))
        write_notebook(without, notebook_cells(n, False))
        run(without, env)  # fill the checkpoints (both notebooks share CHKPT_DIR)
        best = {"with": float("inf"), "without": float("inf"), "in_kernel": float("inf")}
        for _ in range(repeat):  # interleaved, so machine noise hits both alike
            for name, path in (("without", without), ("with", with_w)):
                seconds, outs = run(path, env)
                best[name] = min(best[name], seconds)
                if name == "with":
                    refreshes, renders, spent = json.loads("".join(outs).strip().splitlines()[-1])
                    if spent < best["in_kernel"]:
                        best.update(in_kernel=spent, refreshes=refreshes, renders=renders)
        best["overhead"] = best["with"] / best["without"] - 1
        return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("stages", nargs="*", type=int, default=[25, 100])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(
        "stages  without widget  with widget  wall-clock cost  widget's own time (refreshes, renders)"
    )
    for n in args.stages:
        r = measure(n, args.repeat)
        own = r["in_kernel"] / r["without"]
        print(
            f"{n:6d}  {r['without']:13.3f}s  {r['with']:10.3f}s  {r['overhead']:+14.1%}"
            f"  {r['in_kernel'] * 1000:.1f} ms = {own:.1%} ({r['refreshes']}, {r['renders']})"
        )
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
