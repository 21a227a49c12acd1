"""The pipeline widget in a real browser: JupyterLab on localhost, driven in headless Chromium.

``test_widget_in_jupyterlab`` runs a real notebook with the real extension: Run All, kernel
restart + Run All (everything loads), the widget's SVG shows every stage with its state, a click
on a stage's "load" toggle, re-running that cell recomputes it. It saves screenshots to
``test-artifacts/``; ``docs/widget.png`` (the README's picture) is written when missing or when
``CHKPT_UPDATE_DOCS=1``, so test runs do not dirty the working tree.

``test_widget_front_end_round_trip`` checks the front end alone (clicks on nodes, toggles, clear
all) against an in-memory stand-in session, so a break there is told apart from one in the
extension.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from .jupyterlab_harness import (
    cell_index,
    cell_text,
    chromium_page,
    copy_file,
    jupyterlab,
    missing_requirements,
    open_notebook,
    restart_kernel,
    run_all,
    run_cell,
    set_cell_source,
)

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
STAGES = ("raw", "features", "total")

pytestmark = [
    pytest.mark.timeout(240),
    # on a developer machine without Chromium this skips, saying what to install; in CI
    # (`.ci/run` installs it) a missing browser must fail, not pass silently
    pytest.mark.skipif(
        missing_requirements() is not None and not os.environ.get("CI"),
        reason=str(missing_requirements()),
    ),
]


def _notebook(cells: list[str]) -> dict:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def _stage_cell(name: str, body: str) -> str:
    return (
        f"%%chkpt_stage {name}\n"
        f"print({name!r}, file=open('runs.txt', 'a'))  # a real run leaves a line\n"
        f"print('computing {name}')\n{body}"
    )


DEMO_CELLS = [
    "%load_ext chkpt_ipython",
    "N = 3",
    _stage_cell(
        "raw", "import time\ntime.sleep(1.2)  # a slow download\nraw = list(range(10_000))"
    ),
    _stage_cell("features", "import time\ntime.sleep(0.4)\nfeatures = [x * N for x in raw]"),
    _stage_cell("total", "total = sum(features)\ntotal"),
    "import chkpt_ipython._widget\nchkpt_ipython._widget.widget()",
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab-root")
    scratch = tmp_path_factory.mktemp("lab-scratch")
    (root / "demo").mkdir()
    import nbformat

    nbformat.write(_notebook(DEMO_CELLS), root / "demo" / "pipeline.ipynb")
    nbformat.write(_notebook(STAND_IN_CELLS), root / "stand_in.ipynb")
    with jupyterlab(root, scratch) as server:
        yield server


class WidgetView:
    """The widget's output in one notebook panel (other open notebooks are not looked at)."""

    def __init__(self, page, panel: str) -> None:
        self.page, self.root = page, f"{panel} .chkpt-widget"

    def css(self, selector: str = "") -> str:
        return f"{self.root} {selector}".strip()

    def locator(self, selector: str = ""):
        return self.page.locator(self.css(selector))

    def node(self, stage: str):
        return self.locator(f'g.chkpt-stage[data-stage="{stage}"]')

    def toggle(self, stage: str, option: str):
        return self.locator(f'input[data-stage="{stage}"][data-option="{option}"]')

    def wait(self, selector: str) -> None:
        self.page.wait_for_selector(self.css(selector))

    def nodes(self) -> dict[str, set[str]]:
        """Stage name -> classes of its node in the widget's SVG."""
        return {
            g.get_attribute("data-stage"): set((g.get_attribute("class") or "").split())
            for g in self.page.query_selector_all(self.css(".chkpt-graph g.chkpt-stage"))
        }

    def wait_nodes(self, expected: dict[str, set[str]], timeout: float = 30) -> dict[str, set[str]]:
        """Wait until every expected stage's node carries the expected classes."""
        deadline = time.monotonic() + timeout
        while True:
            nodes = self.nodes()
            if all(name in nodes and want <= nodes[name] for name, want in expected.items()):
                return nodes
            if time.monotonic() > deadline:
                raise AssertionError(f"widget nodes {nodes} never matched {expected}")
            self.page.wait_for_timeout(200)


def _explain(page, w: WidgetView, cells: dict[str, int]) -> str:
    """What the notebook and the widget showed, for a failure message."""
    outputs = "\n".join(f"--- {name}:\n{cell_text(page, i)}" for name, i in cells.items())
    return f"{outputs}\n--- widget:\n{w.locator().inner_text()}"


def _runs(server) -> list[str]:
    path = server.root / "demo" / "runs.txt"
    return path.read_text().split() if path.exists() else []


def test_widget_in_jupyterlab(lab):
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as page:
        try:
            _drive_demo(page, lab)
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "widget-browser-failure.png"))
            raise


def _drive_demo(page, lab) -> None:
    w = WidgetView(page, open_notebook(page, lab, "demo/pipeline.ipynb"))
    cached = {"chkpt-state-cached"}
    cell = {name: cell_index(page, f"%%chkpt_stage {name}") for name in STAGES}

    # 1. First Run All: every stage computed and stored.
    run_all(page)
    assert sorted(_runs(lab)) == sorted(STAGES), cell_text(page, cell["raw"])
    w.wait_nodes({s: cached | {"chkpt-session-computed"} for s in STAGES})

    # 2. Restart + Run All: every stage loaded, nothing runs again.
    restart_kernel(page)
    run_all(page)
    assert sorted(_runs(lab)) == sorted(STAGES), _explain(page, w, cell)
    nodes = w.wait_nodes({s: cached | {"chkpt-session-loaded"} for s in STAGES})
    assert set(nodes) == set(STAGES)
    assert "computing raw" in cell_text(page, cell["raw"])  # its output, replayed
    assert "3 stages" in w.locator(".chkpt-totals").inner_text()
    w.locator().scroll_into_view_if_needed()
    w.locator().screenshot(path=str(ARTIFACTS / "widget-loaded.png"))

    # 3. Clicking a node selects the stage.
    w.node("features").click()
    w.wait('g.chkpt-selected[data-stage="features"]')
    w.wait('tr.chkpt-selected[data-stage="features"]')
    w.wait('.chkpt-details[data-stage="features"]')

    # 4. Load off for "features" (a click in the widget), re-run its cell: it recomputes.
    w.toggle("features", "load").uncheck()
    w.wait('g.chkpt-stage[data-stage="features"] >> text=load off')
    assert not w.toggle("features", "load").is_checked()
    run_cell(page, cell["features"])
    assert _runs(lab).count("features") == 2, _runs(lab)
    assert "computing features" in cell_text(page, cell["features"])
    w.wait_nodes(
        {"features": cached | {"chkpt-session-computed"}, "raw": cached | {"chkpt-session-loaded"}}
    )

    # 5. A changed parameter turns its consumers stale before anything reruns.
    n_cell = cell_index(page, "N = ")
    set_cell_source(page, n_cell, "N = 4")
    run_cell(page, n_cell)
    w.wait_nodes({"features": {"chkpt-state-stale"}, "raw": cached})
    run_cell(page, cell["features"])
    assert _runs(lab).count("features") == 3, _runs(lab)
    w.wait_nodes({"features": cached | {"chkpt-session-computed"}, "total": {"chkpt-state-stale"}})

    w.locator().scroll_into_view_if_needed()
    w.locator().screenshot(path=str(ARTIFACTS / "widget.png"))
    page.screenshot(path=str(ARTIFACTS / "widget-jupyterlab.png"))
    readme_picture = REPO / "docs" / "widget.png"
    if os.environ.get("CHKPT_UPDATE_DOCS") or not readme_picture.exists():
        copy_file(ARTIFACTS / "widget.png", readme_picture)


# ----------------------------------------------------------------- front end against a stand-in

STAND_IN_CELLS = [
    f"import sys\nsys.path.insert(0, {str(REPO / 'tests' / 'ipython')!r})\n"
    "from test_widget import StandInSession, RECORDS\n"
    "from chkpt_ipython._widget import widget\n"
    "s = StandInSession(RECORDS)",
    "widget(s)",
    "import json\nprint(json.dumps(s.calls))",
    "s.update('report', state='running')",
]


def test_widget_front_end_round_trip(lab):
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as page:
        w = WidgetView(page, open_notebook(page, lab, "stand_in.ipynb"))
        run_all(page)
        nodes = w.wait_nodes(
            {
                "raw": {"chkpt-state-cached", "chkpt-session-loaded"},
                "features": {"chkpt-state-cached", "chkpt-session-computed"},
                "fit": {"chkpt-state-stale"},
                "report": {"chkpt-state-running"},  # updated live by the last cell
            }
        )
        assert set(nodes) == {"raw", "features", "fit", "report"}
        assert "install Graphviz" not in w.locator().inner_text()
        assert "4 stages" in w.locator(".chkpt-totals").inner_text()
        legend = w.locator(".chkpt-legend").inner_text()
        for word in ("cached", "stale", "missing", "running", "failed", "computed", "loaded"):
            assert word in legend

        w.node("fit").click()
        w.wait('tr.chkpt-selected[data-stage="fit"]')
        w.node("raw").focus()  # nodes are reachable from the keyboard too
        page.keyboard.press("Enter")
        w.wait('g.chkpt-selected[data-stage="raw"]')

        w.toggle("fit", "load").uncheck()
        w.wait('g.chkpt-stage[data-stage="fit"] >> text=load off')
        w.toggle("raw", "store").uncheck()
        w.wait('g.chkpt-stage[data-stage="raw"] >> text=store off')
        # deleting asks first, in the widget; "cancel" deletes nothing
        w.locator('button.chkpt-clear[data-stage="features"]').click()
        w.wait(".chkpt-confirm >> text=stage features")
        w.locator("button.chkpt-confirm-cancel").click()
        page.wait_for_selector(w.css(".chkpt-confirm"), state="detached")
        w.locator('button.chkpt-clear[data-stage="features"]').click()
        w.locator("button.chkpt-confirm-delete").click()
        w.wait_nodes({"features": {"chkpt-state-missing"}})
        w.locator("button.chkpt-clear-all").click()
        w.wait(".chkpt-confirm >> text=the 4 stages listed")
        w.locator("button.chkpt-confirm-delete").click()
        w.wait_nodes({s: {"chkpt-state-missing"} for s in ("raw", "features", "fit", "report")})

        calls_cell = cell_index(page, "import json")
        run_cell(page, calls_cell)
        calls = json.loads(cell_text(page, calls_cell))
        assert calls == [
            ["set_options", "fit", False, None],
            ["set_options", "raw", None, False],
            ["clear", "features"],
            *[["clear", s] for s in ("raw", "features", "fit", "report")],  # only what it lists
        ]
        w.locator().screenshot(path=str(ARTIFACTS / "widget-stand-in.png"))


def test_widget_without_graphviz_shows_the_table(tmp_path_factory):
    """A server (and kernel) whose PATH has no `dot`: a table, one install line, working toggles."""
    import nbformat

    root = tmp_path_factory.mktemp("lab-root-nodot")
    scratch = tmp_path_factory.mktemp("lab-scratch-nodot")
    nbformat.write(_notebook(STAND_IN_CELLS), root / "stand_in.ipynb")
    empty_bin = scratch / "bin"
    empty_bin.mkdir()
    ARTIFACTS.mkdir(exist_ok=True)
    with jupyterlab(root, scratch, path=str(empty_bin)) as lab, chromium_page() as page:
        w = WidgetView(page, open_notebook(page, lab, "stand_in.ipynb"))
        run_all(page)
        w.wait('tr.chkpt-row[data-stage="report"].chkpt-state-running')
        assert "install Graphviz" in w.locator(".chkpt-message").inner_text()
        assert w.locator(".chkpt-graph").count() == 0
        assert w.locator("tr.chkpt-row").count() == 4
        w.toggle("fit", "load").uncheck()
        w.wait('tr.chkpt-row[data-stage="fit"] input[data-option="load"]:not(:checked)')
        calls_cell = cell_index(page, "import json")
        run_cell(page, calls_cell)
        assert json.loads(cell_text(page, calls_cell)) == [["set_options", "fit", False, None]]
        w.locator().screenshot(path=str(ARTIFACTS / "widget-no-graphviz.png"))
