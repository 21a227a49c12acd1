"""HTML exports of executed notebooks carry the widget's static graph and table.

nbclient saves the widget state of an executed notebook, and nbconvert's HTML then prefers the
(live) widget view to any text/html fallback of the same output; so the widget's static copy
is an output of its own. Checked on real exports: ``python -m chkpt_ipython run`` then
``jupyter nbconvert --to html``, and ``jupyter nbconvert --execute --to html``.
"""

from __future__ import annotations

import html.parser
import os
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytestmark = pytest.mark.timeout(300)

CELLS = [
    "%load_ext chkpt_ipython",
    "import numpy as np\nN = 3",
    "import chkpt_ipython\nchkpt_ipython.widget()",
    "%%chkpt_stage raw\nraw = np.arange(100)",
    "%%chkpt_stage features\nfeatures = raw * N",
    "%%chkpt_stage total\ntotal = int(features.sum())",
]


class _Static(html.parser.HTMLParser):
    """Node titles and table rows inside the static copies of an exported page."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # > 0 inside a div.chkpt-static-copy
        self.nodes: list[str] = []
        self.rows = 0
        self._in_node = self._in_title = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self.depth:
            self.depth += tag == "div"
        elif tag == "div" and "chkpt-static-copy" in (a.get("class") or ""):
            self.depth = 1
        if not self.depth:
            return
        if tag == "g" and "chkpt-stage" in (a.get("class") or ""):
            self._in_node = True
        elif tag == "title" and self._in_node:
            self._in_title = True
        elif tag == "tr":
            self.rows += 1

    def handle_endtag(self, tag):
        if self.depth and tag == "div":
            self.depth -= 1
        if tag == "title":
            self._in_title = False
        if tag == "g":
            self._in_node = False

    def handle_data(self, data):
        if self._in_title:
            self.nodes.append(data.strip())


def _notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CHKPT_")}


def _check(page: str) -> None:
    parsed = _Static()
    parsed.feed(page)
    assert sorted(parsed.nodes) == ["features", "raw", "total"], parsed.nodes
    assert parsed.rows == 1 + 3  # header and one row per stage
    assert "<svg" in page
    assert page.count('class="node chkpt-stage chkpt-state-cached') == 3


def test_headless_run_then_html_export_shows_the_graph(tmp_path):
    notebook = _notebook(tmp_path / "pipe.ipynb")
    for _ in range(2):  # computed, then loaded: both exports carry the graph
        out = tmp_path / "pipe.executed.ipynb"
        run = subprocess.run(
            [sys.executable, "-m", "chkpt_ipython", "run", str(notebook), "-o", str(out)],
            capture_output=True, text=True, timeout=240, env=_env(),
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        executed = nbformat.read(out, as_version=4)
        assert executed.metadata.get("widgets"), "nbclient saved the widget state"
        subprocess.run(
            [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(out)],
            check=True, capture_output=True, timeout=120, env=_env(),
        )  # fmt: skip
        _check(out.with_suffix(".html").read_text())


def test_nbconvert_execute_to_html_shows_the_graph(tmp_path):
    notebook = _notebook(tmp_path / "conv.ipynb")
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--execute", "--to", "html", str(notebook)],
        capture_output=True, text=True, timeout=240, env=_env(), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "conv.html").read_text()
    _check(page)
    # the copy was kept current as the stage cells after it ran: all computed and stored
    assert page.count("chkpt-session-computed") >= 3, page[page.find("chkpt-static-copy") :][:3000]
