"""The example notebooks in real kernels: restart and re-run recomputes nothing and looks the same.

One first run of ``notebooks/analysis.ipynb`` (shared, module scope) stores its checkpoints; each
test copies the notebook *and* its checkpoints into its own directory and goes on from there in
new kernels (a new kernel per run is a kernel restart).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from nb_harness import NOTEBOOKS, Run, edit_cell, run  # noqa: E402

pytestmark = pytest.mark.timeout(300)

STAGES = {"raw", "features", "model", "plot"}
STAGE_CELLS = [f"%%chkpt_stage {name}" for name in ("raw", "features", "model", "plot")]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory) -> tuple[Path, Run]:
    """The analysis notebook run once in a fresh directory (nothing cached yet)."""
    base = tmp_path_factory.mktemp("analysis")
    shutil.copy(NOTEBOOKS / "analysis.ipynb", base / "analysis.ipynb")
    return base, run(base / "analysis.ipynb")


@pytest.fixture
def analysis(first_run, tmp_path) -> Path:
    """A private copy of the notebook with the checkpoints of the first run."""
    base, _ = first_run
    work = tmp_path / "nb"
    shutil.copytree(base, work, symlinks=True)
    return work / "analysis.ipynb"


def test_first_run_computes_every_stage_into_the_notebooks_own_directory(first_run):
    base, first = first_run
    assert first.outcomes() == dict.fromkeys(STAGES, "computed")
    assert sorted(p.name for p in (base / ".chkpt" / "analysis").iterdir() if p.is_dir()) == sorted(
        STAGES
    )
    assert not (base / ".chkpt" / "_notebook").exists()


def test_restart_and_rerun_recomputes_nothing_and_replays_everything(first_run, analysis):
    _, first = first_run
    second = run(analysis)
    assert second.outcomes() == dict.fromkeys(STAGES, "loaded")
    for first_line in [*STAGE_CELLS, "print(f"]:
        assert second.shown(first_line) == first.shown(first_line), first_line
    # what the replay brought back, spelled out
    assert second.shown("%%chkpt_stage raw")[0] == ("stdout", "downloaded 1,440 hourly readings\n")
    assert "text/html" in second.shown("%%chkpt_stage raw")[1][1]  # the DataFrame's last value
    assert "'intercept'" in second.shown("%%chkpt_stage model")[-1][1]["text/plain"]
    (kind, data), *_ = second.shown("%%chkpt_stage plot")
    assert kind == "display_data" and data["image/png"]  # the matplotlib figure
    assert second.shown("print(f")[0][1].startswith("model R² ")  # restored values are usable


def test_parameter_change_recomputes_exactly_its_dependants(analysis):
    edit_cell(analysis, "# Parameters", "WINDOW = 24", "WINDOW = 12")
    after = run(analysis)
    assert after.loaded() == {"raw"}
    assert after.computed() == {"features", "model", "plot"}
    assert "(window 12 h)" in after.shown("%%chkpt_stage features")[0][1]
    again = run(analysis)
    assert again.outcomes() == dict.fromkeys(STAGES, "loaded")


def test_editing_one_stage_cell_recomputes_it_and_its_dependants_only(analysis):
    edit_cell(analysis, "%%chkpt_stage model", "rcond=None", "rcond=1e-12")
    after = run(analysis)
    assert after.loaded() == {"raw", "features"}
    assert after.computed() == {"model", "plot"}


def test_comment_and_layout_edits_do_not_invalidate(analysis):
    edit_cell(analysis, "%%chkpt_stage features", "raw.assign(", "raw.assign(  # new comment")
    after = run(analysis)
    assert after.outcomes() == dict.fromkeys(STAGES, "loaded")


def test_headless_rerun_of_a_jupyter_session_notebook_hits(tmp_path):
    """Developed in JupyterLab (the server sets JPY_SESSION_NAME), re-run by nbclient without it."""
    shutil.copy(NOTEBOOKS / "minimal.ipynb", tmp_path / "minimal.ipynb")
    nb = tmp_path / "minimal.ipynb"
    lab = run(nb, env={"JPY_SESSION_NAME": str(nb)})
    assert lab.outcomes() == {"squares": "computed", "total": "computed"}
    assert (tmp_path / ".chkpt" / "minimal" / "squares").is_dir()
    headless = run(nb)  # plain nbclient: no session name at all
    assert headless.outcomes() == {"squares": "loaded", "total": "loaded"}
    assert headless.shown("%%chkpt_stage squares") == [("stdout", "computed 10 squares\n")]
    assert headless.shown("%%chkpt_stage total")[-1] == ("execute_result", {"text/plain": "285"})


def test_run_command_writes_the_executed_notebook_and_reports_each_stage(tmp_path):
    shutil.copy(NOTEBOOKS / "minimal.ipynb", tmp_path / "minimal.ipynb")
    command = [sys.executable, "-m", "chkpt_ipython", "run", "minimal.ipynb"]
    first = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "2 computed, 0 loaded" in first.stdout
    second = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    lines = {line.split()[0]: line.split()[1] for line in second.stdout.splitlines()[1:3]}
    assert lines == {"squares": "loaded", "total": "loaded"}
    executed = json.loads((tmp_path / "minimal.executed.ipynb").read_text())
    outputs = [c["outputs"] for c in executed["cells"] if c["cell_type"] == "code"]
    assert outputs[2][0]["text"] == ["computed 10 squares\n"]
    assert executed["metadata"]["chkpt_ipython"]["input_path"] == "minimal.ipynb"


def test_run_command_fails_with_the_cells_error(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext chkpt_ipython"),
        nbformat.v4.new_code_cell("%%chkpt_stage boom\nx = 1\nraise ValueError('no data')"),
    ]
    nbformat.write(nb, tmp_path / "bad.ipynb")
    command = [sys.executable, "-m", "chkpt_ipython", "run", "bad.ipynb"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "boom" in result.stdout and "failed" in result.stdout
    assert "ValueError" in result.stderr
    assert not list((tmp_path / ".chkpt" / "bad").glob("boom/*.meta.json"))


def test_papermill_rerun_hits_despite_its_output_copy_beside_the_notebook(tmp_path, monkeypatch):
    papermill = pytest.importorskip("papermill")
    shutil.copy(NOTEBOOKS / "minimal.ipynb", tmp_path / "minimal.ipynb")
    run(tmp_path / "minimal.ipynb", env={"JPY_SESSION_NAME": str(tmp_path / "minimal.ipynb")})
    report = tmp_path / "report.jsonl"
    monkeypatch.setenv("CHKPT_IPYTHON_REPORT", str(report))  # papermill's kernel inherits it
    papermill.execute_notebook(
        str(tmp_path / "minimal.ipynb"),
        str(tmp_path / "minimal-out.ipynb"),  # written (with our cell in it) while it runs
        cwd=str(tmp_path),
        kernel_name="python3",
        progress_bar=False,
    )
    outcomes = {json.loads(line)["stage"]: json.loads(line)["outcome"] for line in report.open()}
    assert outcomes == {"squares": "loaded", "total": "loaded"}
    assert not (tmp_path / ".chkpt" / "_notebook").exists()


def test_inline_figure_after_the_last_value_replays_in_the_same_order(tmp_path):
    """Inline figures are drawn after the cell's Out[n] value; a hit shows them in that order,
    and a restored figure never shows up again in a later cell."""
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext chkpt_ipython\n%matplotlib inline"),
        nbformat.v4.new_code_cell(
            "%%chkpt_stage chart\nimport matplotlib.pyplot as plt\n"
            "fig, ax = plt.subplots()\nax.plot([1, 3, 2])\nax.set_title('peak')"
        ),
        nbformat.v4.new_code_cell("plt.figure()\nplt.plot([3, 2, 1])\nplt.show()"),
    ]
    path = tmp_path / "fig.ipynb"
    nbformat.write(nb, path)
    first, second = run(path), run(path)
    assert first.outcomes() == {"chart": "computed"} and second.outcomes() == {"chart": "loaded"}
    for result in (first, second):
        kinds = [kind for kind, _ in result.shown("%%chkpt_stage chart")]
        assert kinds == ["execute_result", "display_data"]
        assert "Text(0.5, 1.0, 'peak')" in result.shown("%%chkpt_stage chart")[0][1]["text/plain"]
        assert [kind for kind, _ in result.shown("plt.figure()")] == ["display_data"]
    assert second.shown("%%chkpt_stage chart") == first.shown("%%chkpt_stage chart")
