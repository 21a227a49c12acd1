"""The pipeline widget in a real browser: JupyterLab on localhost, driven in headless Chromium.

``test_widget_in_jupyterlab`` runs a real notebook with the real extension: Run All, kernel
restart + Run All (everything loads), the widget's SVG shows every stage with its state, a click
on a stage's "load" toggle, re-running that cell recomputes it. It saves screenshots to
``test-artifacts/`` and refreshes ``docs/widget.png`` (the README's picture).

``test_widget_front_end_round_trip`` checks the front end alone (clicks on nodes, toggles, clear
all) against an in-memory stand-in session, so a break there is told apart from one in the
extension.
"""

from __future__ import annotations

import json
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
)

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
STAGES = ("raw", "features", "total")

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(missing_requirements() is not None, reason=str(missing_requirements())),
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
    _stage_cell("raw", "import time\ntime.sleep(0.3)\nraw = list(range(10_000))"),
    _stage_cell("features", "features = [x * N for x in raw]"),
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


def _nodes(page) -> dict[str, set[str]]:
    """Stage name -> classes of its node in the widget's SVG."""
    return {
        g.get_attribute("data-stage"): set((g.get_attribute("class") or "").split())
        for g in page.query_selector_all(".chkpt-widget .chkpt-graph g.chkpt-stage")
    }


def _wait_nodes(page, expected: dict[str, set[str]], timeout: float = 30) -> dict[str, set[str]]:
    """Wait until every expected stage's node carries the expected classes."""
    deadline = time.monotonic() + timeout
    while True:
        nodes = _nodes(page)
        if all(name in nodes and want <= nodes[name] for name, want in expected.items()):
            return nodes
        if time.monotonic() > deadline:
            raise AssertionError(f"widget nodes {nodes} never matched {expected}")
        page.wait_for_timeout(200)


def _runs(server) -> list[str]:
    path = server.root / "demo" / "runs.txt"
    return path.read_text().split() if path.exists() else []


def test_widget_in_jupyterlab(lab):
    import chkpt_ipython

    if not hasattr(chkpt_ipython, "load_ipython_extension"):
        pytest.skip("the notebook extension (chkpt_ipython) is not there yet")
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as page:
        try:
            _drive_demo(page, lab)
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "widget-browser-failure.png"))
            raise


def _drive_demo(page, lab) -> None:
    open_notebook(page, lab, "demo/pipeline.ipynb")
    cached = {"chkpt-state-cached"}

    # 1. First Run All: every stage computed and stored.
    run_all(page)
    assert sorted(_runs(lab)) == sorted(STAGES), cell_text(
        page, cell_index(page, "%%chkpt_stage raw")
    )
    _wait_nodes(page, {s: cached | {"chkpt-session-computed"} for s in STAGES})

    # 2. Restart + Run All: every stage loaded, nothing runs again.
    restart_kernel(page)
    run_all(page)
    assert sorted(_runs(lab)) == sorted(STAGES)
    nodes = _wait_nodes(page, {s: cached | {"chkpt-session-loaded"} for s in STAGES})
    assert set(nodes) == set(STAGES)
    assert "computing raw" in cell_text(page, cell_index(page, "%%chkpt_stage raw"))  # replayed
    widget = page.locator(".chkpt-widget")
    widget.scroll_into_view_if_needed()
    widget.screenshot(path=str(ARTIFACTS / "widget-loaded.png"))

    # 3. Clicking a node selects the stage.
    page.locator('.chkpt-widget g.chkpt-stage[data-stage="features"]').click()
    page.wait_for_selector('.chkpt-widget g.chkpt-selected[data-stage="features"]')
    page.wait_for_selector('.chkpt-widget .chkpt-details[data-stage="features"]')

    # 4. Load off for "features" (a click in the widget), re-run its cell: it recomputes.
    page.locator('.chkpt-widget input[data-stage="features"][data-option="load"]').uncheck()
    page.wait_for_selector('.chkpt-widget g.chkpt-stage[data-stage="features"] >> text=load off')
    assert not page.locator(
        '.chkpt-widget input[data-stage="features"][data-option="load"]'
    ).is_checked()
    run_cell(page, cell_index(page, "%%chkpt_stage features"))
    assert _runs(lab).count("features") == 2, _runs(lab)
    assert "computing features" in cell_text(page, cell_index(page, "%%chkpt_stage features"))
    _wait_nodes(
        page,
        {
            "features": cached | {"chkpt-session-computed"},
            "raw": cached | {"chkpt-session-loaded"},
        },
    )

    widget.scroll_into_view_if_needed()
    widget.screenshot(path=str(ARTIFACTS / "widget.png"))
    page.screenshot(path=str(ARTIFACTS / "widget-jupyterlab.png"), full_page=True)
    copy_file(ARTIFACTS / "widget.png", REPO / "docs" / "widget.png")


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
        open_notebook(page, lab, "stand_in.ipynb")
        run_all(page)
        nodes = _wait_nodes(
            page,
            {
                "raw": {"chkpt-state-cached", "chkpt-session-loaded"},
                "features": {"chkpt-state-cached", "chkpt-session-computed"},
                "fit": {"chkpt-state-stale"},
                "report": {"chkpt-state-running"},  # updated live by the last cell
            },
        )
        assert set(nodes) == {"raw", "features", "fit", "report"}
        assert "install Graphviz" not in page.locator(".chkpt-widget").inner_text()
        assert "4 stages" in page.locator(".chkpt-widget .chkpt-totals").inner_text()

        page.locator('.chkpt-widget g.chkpt-stage[data-stage="fit"]').click()
        page.wait_for_selector('.chkpt-widget tr.chkpt-selected[data-stage="fit"]')

        page.locator('.chkpt-widget input[data-stage="fit"][data-option="load"]').uncheck()
        page.wait_for_selector('.chkpt-widget g.chkpt-stage[data-stage="fit"] >> text=load off')
        page.locator('.chkpt-widget input[data-stage="raw"][data-option="store"]').uncheck()
        page.locator('.chkpt-widget button.chkpt-clear[data-stage="features"]').click()
        _wait_nodes(page, {"features": {"chkpt-state-missing"}})
        clear_all = page.locator(".chkpt-widget button.chkpt-clear-all")
        clear_all.click()  # arms
        clear_all.click()  # confirms
        _wait_nodes(
            page, {s: {"chkpt-state-missing"} for s in ("raw", "features", "fit", "report")}
        )

        calls_cell = cell_index(page, "import json")
        run_cell(page, calls_cell)
        calls = json.loads(cell_text(page, calls_cell))
        assert calls == [
            ["set_options", "fit", False, None],
            ["set_options", "raw", None, False],
            ["clear", "features"],
            ["clear", None],
        ]
        page.locator(".chkpt-widget").screenshot(path=str(ARTIFACTS / "widget-stand-in.png"))
