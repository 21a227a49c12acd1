"""Run a notebook with ``%%chkpt_stage`` and without it, after the same edits, and compare.

Each notebook in ``notebooks_real/`` says in its metadata (``chkpt_test``) which expressions to
compare at the end (``compare``), which data files sit beside it (``data``) and which edits to
apply between runs (``steps``: edit a cell, edit a file, delete a file). A scenario runs, each in a
fresh kernel (a kernel restart between runs):

1. the first run, 2. an unchanged rerun, 3. one run per edit step,

for two copies in two directories: the notebook as written (chkpt) and the same notebook with the
``%%chkpt_stage`` lines and ``%load_ext chkpt_ipython`` removed (plain). After each run the values
of the ``compare`` expressions are pickled by an appended cell, and each cell's outputs are
reduced to comparable text (stdout and ``text/plain``; timings of ``%time``/``%timeit`` masked;
stderr, where chkpt's notes go, is kept apart).
"""

from __future__ import annotations

import dataclasses
import math
import pickle
import re
import shutil
from pathlib import Path
from typing import Any

import nbformat
from nb_harness import Run, run

NOTEBOOKS_REAL = Path(__file__).resolve().parent / "notebooks_real"
STAGE_LINE = re.compile(r"^%%chkpt_stage\b.*\n?")
DUMP_MARK = "# chkpt-test: dump values"
_TIMINGS = [
    (re.compile(r"CPU times: .*"), "CPU times: <masked>"),
    (re.compile(r"Wall time: .*"), "Wall time: <masked>"),
    (re.compile(r"^.*(?:per loop|loops? each).*$", re.M), "<timeit masked>"),
]
_DUMP = """{mark}
import pickle as _chkpt_test_pickle

def _chkpt_test_values(exprs):
    values = {{}}
    for expr in exprs:
        try:
            value = eval(expr, globals())
        except Exception as exc:
            value = ("<error>", type(exc).__name__)
        try:
            _chkpt_test_pickle.dumps(value)
        except Exception:
            value = ("<unpicklable>", repr(value))
        values[expr] = value
    return values

with open({path!r}, "wb") as _chkpt_test_fh:
    _chkpt_test_pickle.dump(_chkpt_test_values({exprs!r}), _chkpt_test_fh)
"""


@dataclasses.dataclass
class Outcome:
    """One run of one variant: stage outcomes, compared values, shown text per cell."""

    run: Run
    values: dict[str, Any]
    shown: list[list[tuple[str, str]]]
    notes: str  # everything written to stderr (chkpt's notes and warnings)


@dataclasses.dataclass
class StepResult:
    name: str
    chkpt: Outcome
    plain: Outcome

    def mismatches(self) -> list[str]:
        """What differs between the chkpt and the plain run, one line each."""
        lines = []
        for expr, plain_value in self.plain.values.items():
            value = self.chkpt.values.get(expr, ("<error>", "missing"))
            if not same(value, plain_value):
                lines.append(
                    f"{self.name}: {expr}: chkpt {_short(value)} != plain {_short(plain_value)}"
                )
        for index, (mine, theirs) in enumerate(zip(self.chkpt.shown, self.plain.shown)):
            if mine != theirs:
                lines.append(f"{self.name}: cell {index} shows {mine!r} != plain {theirs!r}")
        return lines


def _short(value: Any) -> str:
    text = repr(value).replace("\n", " ")
    return text if len(text) < 160 else text[:157] + "..."


def same(a: Any, b: Any) -> bool:
    """Exact equality of notebook values (NaN equals NaN; numpy and pandas by content and type)."""
    if type(a) is not type(b):
        return False
    module = type(a).__module__.partition(".")[0]
    if module == "pandas":
        return bool(a.equals(b)) and _same_pandas_meta(a, b)
    if module == "numpy":
        import numpy as np

        if isinstance(a, np.ndarray):
            return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        return same(a.item(), b.item())
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def _same_pandas_meta(a: Any, b: Any) -> bool:
    if hasattr(a, "columns"):
        return list(a.columns) == list(b.columns) and list(a.dtypes) == list(b.dtypes)
    return True


def plain_copy(nb: Any) -> Any:
    """The notebook without chkpt: no ``%%chkpt_stage`` lines, no ``%load_ext chkpt_ipython``."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.source = STAGE_LINE.sub("", cell.source)
        if cell.source.strip() == "%load_ext chkpt_ipython":
            cell.source = "pass"
    return nb


def shown(nb: Any) -> list[list[tuple[str, str]]]:
    """Per code cell (the dump cell excluded), what it showed, as comparable text."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code" or cell.source.startswith(DUMP_MARK):
            continue
        items = []
        for out in cell.outputs:
            if out.output_type == "stream" and out.name == "stdout":
                if items and items[-1][0] == "stdout":  # how prints split into messages varies
                    items[-1] = ("stdout", items[-1][1] + _mask(out.text))
                else:
                    items.append(("stdout", _mask(out.text)))
            elif out.output_type in ("display_data", "execute_result"):
                if out.get("metadata", {}).get("chkpt_ipython", {}).get("status_line"):
                    continue  # chkpt's own line under the cell ("loaded from checkpoint ...")
                data = out.get("data", {})
                kinds = ",".join(sorted(k for k in data if k != "text/html"))
                items.append((kinds, _mask(data.get("text/plain", ""))))
            elif out.output_type == "error":
                items.append(("error", out.ename))
        cells.append(items)
    return cells


def _mask(text: str) -> str:
    for pattern, replacement in _TIMINGS:
        text = pattern.sub(replacement, text)
    return text


def notes(nb: Any) -> str:
    """Everything the notebook wrote to stderr."""
    return "".join(
        out.text
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "stream" and out.name == "stderr"
    )


class Scenario:
    """One notebook in two directories (chkpt and plain), run step by step."""

    def __init__(self, name: str, base: Path) -> None:
        self.name = name
        source = NOTEBOOKS_REAL / f"{name}.ipynb"
        nb = nbformat.read(source, as_version=4)
        self.meta = nb.metadata["chkpt_test"]
        self.dirs = {"chkpt": base / "chkpt", "plain": base / "plain"}
        for variant, where in self.dirs.items():
            where.mkdir(parents=True)
            for data in self.meta.get("data", []):
                shutil.copy(NOTEBOOKS_REAL / data, where / data)
            book = nb if variant == "chkpt" else plain_copy(nb)
            dump = where / "values.pickle"
            book.cells.append(
                nbformat.v4.new_code_cell(
                    _DUMP.format(mark=DUMP_MARK, path=str(dump), exprs=self.meta["compare"])
                )
            )
            nbformat.write(book, where / f"{name}.ipynb")

    def steps(self) -> list[dict[str, Any]]:
        return [{"name": "first run"}, {"name": "unchanged rerun"}, *self.meta["steps"]]

    def run_step(self, step: dict[str, Any]) -> StepResult:
        for where in self.dirs.values():
            for edit in step.get("edits", []):
                apply_edit(where, self.name, edit)
        outcomes = {variant: self._run(where) for variant, where in self.dirs.items()}
        return StepResult(step["name"], outcomes["chkpt"], outcomes["plain"])

    def _run(self, where: Path) -> Outcome:
        result = run(where / f"{self.name}.ipynb", timeout=300, allow_errors=True)
        with open(where / "values.pickle", "rb") as fh:
            values = pickle.load(fh)
        return Outcome(result, values, shown(result.nb), notes(result.nb))

    def entries(self) -> set[str]:
        """The checkpoint files of the chkpt copy (to tell whether a run stored anything)."""
        root = self.dirs["chkpt"] / ".chkpt"
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def apply_edit(where: Path, name: str, edit: dict[str, str]) -> None:
    """Edit a cell (the first whose source, without its stage line, starts with ``cell``), edit
    a file, or delete a file; the same in both copies."""
    if "delete" in edit:
        (where / edit["delete"]).unlink(missing_ok=True)
        return
    if "file" in edit:
        path = where / edit["file"]
        text = path.read_text()
        assert edit["old"] in text, (edit, path)
        path.write_text(text.replace(edit["old"], edit["new"], 1))
        return
    path = where / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and STAGE_LINE.sub("", cell.source).startswith(edit["cell"]):
            assert edit["old"] in cell.source, (edit, cell.source)
            cell.source = cell.source.replace(edit["old"], edit["new"], 1)
            break
    else:
        raise KeyError(edit["cell"])
    nbformat.write(nb, path)
