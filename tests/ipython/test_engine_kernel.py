"""The notebook pipeline in real kernels (nbclient, a new kernel per run): stage cells are core
stages, the status line under each cell, reasons in words, and the core's plan over the notebook."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("nbclient")
import nbformat  # noqa: E402
from nb_harness import edit_cell, run  # noqa: E402

pytestmark = pytest.mark.timeout(300)

CELLS = [
    "%load_ext chkpt_ipython",
    "WINDOW = 7",
    "%%chkpt_stage raw\nraw = list(range(40))",
    "%%chkpt_stage features\nfeatures = [sum(raw[i:i + WINDOW]) for i in range(len(raw))]",
    "%%chkpt_stage model\nmodel = max(features)\nmodel",
    "import chkpt_ipython, json\n"
    "print('STATUS', json.dumps({s['stage']: [s['state'], s['reason']] "
    "for s in chkpt_ipython.status()}))",
    "WINDOW = 21",
    "print('LATER', json.dumps({s['stage']: [s['state'], s['reason']] "
    "for s in chkpt_ipython.status()}))\n"
    "p = chkpt_ipython.pipeline()\n"
    "print('PLAN', json.dumps(p.plan(chkpt_ipython.config()).actions()))\n"
    "print('DOT', json.dumps(p.to_dot()))",
]


def notebook(tmp_path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    path = tmp_path / "engine.ipynb"
    nbformat.write(nb, path)
    return path


def printed(result, tag: str) -> object:
    for cell in result.nb.cells:
        for out in cell.outputs:
            if out.output_type == "stream":
                for line in out.text.splitlines():
                    if line.startswith(tag + " "):
                        return json.loads(line[len(tag) + 1 :])
    raise KeyError(tag)


def test_status_lines_reasons_and_the_core_plan_over_the_notebook(tmp_path):
    path = notebook(tmp_path)
    first = run(path)
    assert first.computed() == {"raw", "features", "model"}
    assert first.status_line("%%chkpt_stage raw") == "chkpt: computed: no checkpoint"
    assert printed(first, "STATUS") == {
        "raw": ["cached", ""],
        "features": ["cached", ""],
        "model": ["cached", ""],
    }
    # after WINDOW = 21 in a plain cell, before anything reruns: stale, and downstream too
    assert printed(first, "LATER") == {
        "raw": ["cached", ""],
        "features": ["stale", "WINDOW 7 -> 21"],
        "model": ["stale", "upstream features changed"],
    }
    assert printed(first, "PLAN") == {"raw": "load", "features": "compute", "model": "compute"}
    dot = printed(first, "DOT")
    assert '"raw"' in dot and '"model"' in dot and "->" in dot

    edit_cell(path, "WINDOW = 7", "7", "14")
    second = run(path)
    assert second.loaded() == {"raw"} and second.computed() == {"features", "model"}
    line = second.status_line("%%chkpt_stage raw")
    assert line.startswith("chkpt: loaded from checkpoint · ") and " B" in line
    assert second.status_line("%%chkpt_stage features") == "chkpt: computed: WINDOW 7 -> 14"
    assert second.status_line("%%chkpt_stage model") == (
        "chkpt: computed: upstream features changed"
    )
    assert second.shown("%%chkpt_stage model") == first.shown("%%chkpt_stage model")[:0] + [
        (
            "execute_result",
            {"text/plain": str(max(sum(list(range(40))[i : i + 14]) for i in range(40)))},
        )
    ]


def test_a_symlink_looped_metadata_path_warns_and_recomputes_in_a_real_kernel(tmp_path):
    path = notebook(tmp_path)
    run(path)
    metas = sorted((tmp_path / ".chkpt").rglob("*.meta.json"))
    raw_meta = [m for m in metas if m.parent.name == "raw"]
    assert len(raw_meta) == 1
    raw_meta[0].unlink()
    os.symlink(raw_meta[0], raw_meta[0])
    again = run(path)  # no CellExecutionError: the cell warns and recomputes
    assert "raw" in again.computed() and again.loaded() >= {"features", "model"}
    errors = [o.text for o in again.cell("%%chkpt_stage raw").outputs if o.get("name") == "stderr"]
    assert any("StoreWarning" in text and "'raw'" in text for text in errors), errors
