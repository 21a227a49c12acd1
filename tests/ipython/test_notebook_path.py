"""Finding the notebook, and so its checkpoint directory, the ways real front ends allow."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from chkpt_ipython._notebook_path import find_notebook, resolve_dir

CELL = "%%chkpt_stage raw\nraw = load()"


def write_notebook(path: Path, *sources: str, metadata: dict | None = None) -> Path:
    cells = [{"cell_type": "code", "source": s.splitlines(keepends=True), "metadata": {},
              "outputs": [], "execution_count": None} for s in sources]  # fmt: skip
    nb = {"cells": cells, "metadata": metadata or {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    return path


@pytest.fixture(autouse=True)
def _no_session(monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)


def test_jupyter_session_name_absolute(tmp_path, monkeypatch):
    nb = tmp_path / "sub" / "study.ipynb"
    monkeypatch.setenv("JPY_SESSION_NAME", str(nb))
    resolved = resolve_dir(None, {}, CELL, cwd=tmp_path)
    assert resolved.path == tmp_path / "sub" / ".chkpt" / "study"
    assert resolved.source == "Jupyter session name"


def test_jupyter_session_name_relative_to_the_server_root(tmp_path):
    (tmp_path / "study.ipynb").write_text("{}")
    found, _ = find_notebook({"__session__": "projects/x/study.ipynb"}, None, tmp_path)
    assert found == tmp_path / "study.ipynb"


def test_vscode_notebook_variable(tmp_path):
    nb = tmp_path / "vs.ipynb"
    resolved = resolve_dir(None, {"__vsc_ipynb_file__": str(nb)}, None, cwd=tmp_path)
    assert resolved.path == tmp_path / ".chkpt" / "vs"


def test_headless_the_one_notebook_containing_the_cell(tmp_path):
    write_notebook(tmp_path / "other.ipynb", "print('unrelated')")
    write_notebook(tmp_path / "study.ipynb", "%load_ext chkpt_ipython", CELL)
    resolved = resolve_dir(None, {}, CELL, cwd=tmp_path)
    assert resolved.notebook == tmp_path / "study.ipynb"
    assert resolved.path == tmp_path / ".chkpt" / "study"


def test_copies_written_by_runners_are_not_ambiguous(tmp_path):
    write_notebook(tmp_path / "study.ipynb", CELL)
    write_notebook(tmp_path / "study.nbconvert.ipynb", CELL)
    write_notebook(tmp_path / "study.executed.ipynb", CELL)
    write_notebook(
        tmp_path / "out.ipynb", CELL, metadata={"papermill": {"input_path": "study.ipynb"}}
    )
    assert find_notebook({}, CELL, tmp_path)[0] == tmp_path / "study.ipynb"


def test_two_real_candidates_are_ambiguous(tmp_path):
    write_notebook(tmp_path / "a.ipynb", CELL)
    write_notebook(tmp_path / "b.ipynb", CELL)
    found, why = find_notebook({}, CELL, tmp_path)
    assert found is None and "a.ipynb, b.ipynb" in why
    assert resolve_dir(None, {}, CELL, cwd=tmp_path).path == tmp_path / ".chkpt" / "_notebook"


def test_a_copy_under_another_name_defers_to_the_notebook_with_checkpoints(tmp_path):
    """`jupyter nbconvert --execute study.ipynb --output copy.ipynb`, then the same again."""
    write_notebook(tmp_path / "study.ipynb", CELL)
    write_notebook(tmp_path / "copy.ipynb", CELL)
    (tmp_path / ".chkpt" / "study").mkdir(parents=True)
    assert find_notebook({}, CELL, tmp_path)[0] == tmp_path / "study.ipynb"


def test_explicit_and_env_win(tmp_path, monkeypatch):
    write_notebook(tmp_path / "study.ipynb", CELL)
    monkeypatch.setenv("CHKPT_DIR", str(tmp_path / "env"))
    assert resolve_dir(None, {}, CELL, cwd=tmp_path).path == tmp_path / "env"
    assert resolve_dir(tmp_path / "mine", {}, CELL, cwd=tmp_path).path == tmp_path / "mine"


def test_unknown_notebook_is_said_once_with_the_directory(ip, monkeypatch, caplog, tmp_path):
    monkeypatch.delenv("CHKPT_DIR")
    caplog.set_level(logging.WARNING, "chkpt.ipython")
    ip.run("%%chkpt_stage one\none = 1")
    ip.run("%%chkpt_stage two\ntwo = 2")
    warnings = [
        r.getMessage() for r in caplog.records if "cannot tell which notebook" in r.getMessage()
    ]
    assert len(warnings) == 1
    assert str(Path.cwd() / ".chkpt" / "_notebook") in warnings[0]
    assert "%chkpt_dir" in warnings[0] and "CHKPT_DIR" in warnings[0]


def test_console_sessions_are_not_notebooks_but_jupytext_files_are(tmp_path, monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", "console-1-0f3a")
    assert find_notebook({}, None, tmp_path)[0] is None
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "paired.py"))
    assert find_notebook({}, None, tmp_path)[0] == tmp_path / "paired.py"
