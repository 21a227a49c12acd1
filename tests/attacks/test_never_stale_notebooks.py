"""Adversarial notebooks: after an edit and a restart + Run All, a notebook with ``%%chkpt_stage``
cells ends with the same namespace and prints as the same notebook without them.

Each run is a fresh kernel (nbclient). The plain notebook is the reference: the chkpt notebook must
match it after the edit, and an unchanged rerun must load every stage cell.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbclient
import nbformat

_DUMP = """
import json as _json
print("NSDUMP" + _json.dumps({k: repr(globals()[k]) for k in _NAMES if k in globals()}))
"""


def _strip(cell: str) -> str:
    return cell.split("\n", 1)[1] if cell.startswith("%%chkpt_stage") else cell


def _run(cells: list[str], names: list[str], wd: Path, chkpt: bool) -> tuple[dict, list, list]:
    """Run the notebook in a new kernel: (names' reprs, each cell's prints, chkpt status lines)."""
    first = f"%load_ext chkpt_ipython\n%chkpt_dir {wd / 'ck'}" if chkpt else "pass"
    body = [c if chkpt else _strip(c) for c in cells]
    last = f"_NAMES = {names!r}\n{_DUMP}"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in [first, *body, last]]
    nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(wd)}}
    ).execute()
    prints, status = [], []
    for cell in nb.cells[1:-1]:
        prints.append("".join(o.text for o in cell.outputs if o.output_type == "stream"
                              and o.name == "stdout"))  # fmt: skip
        status += [
            o.data["text/plain"] for o in cell.outputs if "chkpt_ipython" in o.get("metadata", {})
        ]
    (dump,) = [o.text for o in nb.cells[-1].outputs if o.output_type == "stream"]
    return json.loads(dump.split("NSDUMP", 1)[1]), prints, status


def _check(
    tmp_path: Path, before: list[str], after: list[str], names: list[str], edit=None
) -> list:
    """Run ``before`` with chkpt, apply ``edit`` to the directory, run ``after`` with chkpt twice
    and without chkpt once; both chkpt runs must equal the plain one. Returns the status lines
    of the run after the edit and of the unchanged rerun."""
    wd, plain = tmp_path / "nb", tmp_path / "plain"
    wd.mkdir(exist_ok=True)
    plain.mkdir(exist_ok=True)
    _run(before, names, wd, chkpt=True)
    if edit:
        edit(wd)
        edit(plain)
    expected = _run(after, names, plain, chkpt=False)[:2]
    edited = _run(after, names, wd, chkpt=True)
    rerun = _run(after, names, wd, chkpt=True)
    assert edited[:2] == expected
    assert rerun[:2] == expected
    assert rerun[2] and all("loaded from checkpoint" in line for line in rerun[2]), rerun[2]
    return [edited[2], rerun[2]]


def _module(wd: Path, body: str) -> None:
    path = wd / "mymod.py"
    if path.exists():
        time.sleep(1.1)  # a new mtime second: Python must not reuse the old .pyc
    path.write_text(body)
    os.utime(path)


def test_user_module_edited_between_runs_recomputes(tmp_path: Path) -> None:
    """``mymod.py`` beside the notebook is code the cells run: imported in a plain cell, in the
    stage cell itself, or read through ``from mymod import f``."""
    cells = lambda: [  # noqa: E731
        "import sys; sys.path.insert(0, '.')\nimport mymod",
        "%%chkpt_stage plain_import\nv = mymod.f(1)\nprint(v)",
        "%%chkpt_stage own_import\nimport mymod as mm\nw = mm.g(2)\nprint(w)",
        "%%chkpt_stage from_import\nfrom mymod import f\nu = f(10)",
    ]
    (tmp_path / "nb").mkdir()
    (tmp_path / "plain").mkdir()
    one = "def f(x):\n    return x + 1\n\ndef g(x):\n    return x * K\n\nK = 2\n"
    two = "def f(x):\n    return x + 2\n\ndef g(x):\n    return x * K\n\nK = 3\n"
    for wd in (tmp_path / "nb", tmp_path / "plain"):
        _module(wd, one)
    edited, _ = _check(
        tmp_path, cells(), cells(), ["v", "w", "u"], edit=lambda wd: _module(wd, two)
    )
    assert not any("loaded" in line for line in edited), edited
    assert "0x" not in " ".join(edited), edited  # reasons name what changed, never an address


def test_del_in_a_stage_cell_is_replayed_on_a_hit(tmp_path: Path) -> None:
    cells = [
        "tmp = 3\nscratch = 1",
        "%%chkpt_stage uses_tmp\nw = tmp * 2\ndel tmp",
        "%%chkpt_stage own_scratch\nscratch = 5\nz = scratch + 1\ndel scratch",
        "print('tmp' in globals(), 'scratch' in globals(), w, z)",
    ]
    _check(tmp_path, cells, cells, ["w", "z", "tmp", "scratch"])


def test_helper_edit_reason_names_the_function_not_its_address(tmp_path: Path) -> None:
    before = ["def g(x):\n    return x + 1", "%%chkpt_stage use\nr = g(10)\nprint(r)"]
    after = ["def g(x):\n    return x + 2", "%%chkpt_stage use\nr = g(10)\nprint(r)"]
    edited, _ = _check(tmp_path, before, after, ["r"])
    assert edited == ["chkpt: computed: g changed"], edited


def test_environment_variable_read_by_a_stage_cell_is_keyed(tmp_path: Path) -> None:
    cell = "%%chkpt_stage env\nimport os\nv = os.environ['MYV'] + os.getenv('MYW', '-')"
    before = ["import os\nos.environ['MYV'] = 'a'", cell]
    after = ["import os\nos.environ['MYV'] = 'b'", cell]
    edited, _ = _check(tmp_path, before, after, ["v"])
    assert edited == ["chkpt: computed: environment changed: MYV"], edited


def _package(wd: Path, plus: int) -> None:
    (wd / "pkg").mkdir(exist_ok=True)
    (wd / "pkg" / "__init__.py").write_text("")
    _module(wd, "")  # unused: keeps the one-second mtime step of an edit
    (wd / "pkg" / "sub.py").write_text(f"def f(x):\n    return x + {plus}\n")


def test_user_submodule_read_through_its_package_is_keyed(tmp_path: Path) -> None:
    """``import pkg.sub`` in a plain cell binds ``pkg``: the cell reads ``pkg.sub.f`` through it."""
    cells = [
        "import sys; sys.path.insert(0, '.')\nimport pkg.sub",
        "%%chkpt_stage a\nv = pkg.sub.f(1)",
    ]
    for wd in (tmp_path / "nb", tmp_path / "plain"):
        wd.mkdir()
        _package(wd, 1)
    edited, _ = _check(tmp_path, cells, cells, ["v"], edit=lambda wd: _package(wd, 2))
    assert edited == ["chkpt: computed: pkg changed"], edited


def test_an_earlier_result_read_as_out_n_is_keyed(tmp_path: Path) -> None:
    before = ["5", "%%chkpt_stage a\ny = Out[2] + 1"]  # Out[1] is the setup cell's
    after = ["6", "%%chkpt_stage a\ny = Out[2] + 1"]
    edited, _ = _check(tmp_path, before, after, ["y"])
    assert edited == ["chkpt: computed: Out[2] 5 -> 6"], edited


def test_eval_in_a_stage_cell_says_what_chkpt_cannot_see(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(f"%load_ext chkpt_ipython\n%chkpt_dir {tmp_path / 'ck'}"),
        nbformat.v4.new_code_cell("N = 1"),
        nbformat.v4.new_code_cell("%%chkpt_stage a\ny = eval('N') + 1"),
    ]
    nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    said = "".join(o.text for o in nb.cells[2].outputs if o.output_type == "stream")
    assert "KeyWarning" in said and "calls eval()" in said and "--inputs" in said, said
