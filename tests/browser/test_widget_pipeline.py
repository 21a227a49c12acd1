"""The widget with the real extension in a real browser: what a data scientist sees and does.

JupyterLab and Notebook 7 on localhost, headless Chromium. Each test has its own notebook and
checkpoint directory; checkpoints are made beforehand with ``python -m chkpt_ipython run``
(the headless runner), so the browser opens a notebook whose pipeline is already on disk.

Screenshots go to ``test-artifacts/``; with ``CHKPT_UPDATE_DOCS=1`` the README's pictures in
``docs/`` are refreshed from them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .jupyterlab_harness import (
    cell_index,
    chromium_page,
    jupyterlab,
    missing_requirements,
    open_notebook,
    run_all,
    run_cell,
    set_cell_source,
    wait_idle,
)
from .test_widget_browser import ARTIFACTS, REPO, WidgetView, _notebook

pytestmark = [
    pytest.mark.timeout(420),
    pytest.mark.skipif(
        missing_requirements() is not None and not os.environ.get("CI"),
        reason=str(missing_requirements()),
    ),
]

_NB = "window.jupyterapp.shell.currentWidget"


def _stage(name: str, body: str) -> str:
    return f"%%chkpt_stage {name}\nprint({name!r}, file=open('runs.txt', 'a'))\n{body}"


PIPELINE = [
    "%load_ext chkpt_ipython",
    "import numpy as np\nimport threading\nWINDOW = 7",
    "import chkpt_ipython\nchkpt_ipython.widget()",
    _stage("raw", "import time\ntime.sleep(0.3)\nraw = np.arange(2000.0)"),
    _stage("features", "features = np.convolve(raw, np.ones(WINDOW) / WINDOW, 'same')"),
    _stage("model", "model = float(features.mean())"),
    _stage("report", "report = f'mean {model:.2f}'\nprint(report)"),
]
ORPHAN = _stage("orphan", "orphan = list(range(100))")


def _write(path: Path, cells: list[str]) -> Path:
    import nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(_notebook(cells), path)
    return path


def _headless_run(notebook: Path) -> None:
    """Fill the notebook's checkpoints with the headless runner (as a user would in CI)."""
    proc = subprocess.run(
        [sys.executable, "-m", "chkpt_ipython", "run", str(notebook), "-o", "/dev/null"],
        capture_output=True, text=True, timeout=300, cwd=notebook.parent,
        env={k: v for k, v in os.environ.items() if not k.startswith("CHKPT_")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _entries(notebook: Path, stage: str) -> int:
    import chkpt

    return len(chkpt.open_store(notebook.parent / ".chkpt" / notebook.stem).entries(stage))


def _runs(notebook: Path) -> list[str]:
    path = notebook.parent / "runs.txt"
    return path.read_text().split() if path.exists() else []


def _run_first(page, n: int) -> None:
    for i in range(n):
        run_cell(page, i)


def _save(page) -> None:
    page.evaluate(f"async () => {{ await {_NB}.context.save(); }}")


def _shutdown_kernel(page) -> None:
    page.evaluate(f"async () => {{ await {_NB}.sessionContext.shutdown(); }}")


def _shot(locator, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    locator.screenshot(path=str(path))
    if os.environ.get("CHKPT_UPDATE_DOCS") and name in README_PICTURES:
        shutil.copyfile(path, REPO / "docs" / name)
    return path


#: The pictures the README shows (docs/), refreshed with CHKPT_UPDATE_DOCS=1.
README_PICTURES = {
    "widget-dark.png",
    "widget-fresh-kernel.png",
    "widget-confirm.png",
    "widget-stale.png",
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab-pipeline")
    with jupyterlab(root, tmp_path_factory.mktemp("lab-pipeline-scratch")) as server:
        yield server


@pytest.fixture(scope="module")
def nb7(tmp_path_factory):
    root = tmp_path_factory.mktemp("nb7-pipeline")
    scratch = tmp_path_factory.mktemp("nb7-pipeline-scratch")
    with jupyterlab(root, scratch, app="notebook") as server:
        yield server


def _prepared(server, name: str, extra: list[str] | None = None) -> Path:
    """A notebook whose checkpoints are on disk; ``extra`` cells ran but are no longer in it."""
    notebook = server.root / name / "pipeline.ipynb"
    if extra:
        _write(notebook, PIPELINE + extra)
        _headless_run(notebook)
    _write(notebook, PIPELINE)
    _headless_run(notebook)
    (notebook.parent / "runs.txt").unlink(missing_ok=True)
    return notebook


# --------------------------------------------------------------------------- before anything runs


def test_fresh_kernel_shows_the_saved_pipeline_and_deletes_only_what_it_lists(lab):
    notebook = _prepared(lab, "fresh", extra=[ORPHAN])
    assert _entries(notebook, "orphan") == 1  # on disk, but no cell of the notebook makes it
    with chromium_page() as page:
        w = WidgetView(page, open_notebook(page, lab, "fresh/pipeline.ipynb"))
        _run_first(page, 3)  # extension, parameters, widget: no stage cell has run
        nodes = w.wait_nodes(
            {s: {"chkpt-state-ondisk"} for s in ("raw", "features", "model", "report")}
        )
        assert set(nodes) == {"raw", "features", "model", "report"}
        text = w.locator().inner_text()
        assert "No stage cells" not in text and "not loaded yet" in text
        assert "orphan" not in text
        _shot(w.locator(), "widget-fresh-kernel.png")

        # "clear all" asks first, saying what is lost; cancel keeps everything
        w.locator("button.chkpt-clear-all").click()
        w.wait(".chkpt-confirm")
        confirm = w.locator(".chkpt-confirm-text").inner_text()
        assert "Delete 4 checkpoints of the 4 stages listed" in confirm, confirm
        assert "KB on disk" in confirm and "of compute to redo" in confirm, confirm
        _shot(w.locator(), "widget-confirm.png")
        w.locator("button.chkpt-confirm-cancel").click()
        page.wait_for_selector(w.css(".chkpt-confirm"), state="detached")
        assert _entries(notebook, "raw") == 1

        w.locator("button.chkpt-clear-all").click()
        w.locator("button.chkpt-confirm-delete").click()
        w.wait_nodes({s: {"chkpt-state-missing"} for s in ("raw", "features", "model", "report")})
        assert all(_entries(notebook, s) == 0 for s in ("raw", "features", "model", "report"))
        assert _entries(notebook, "orphan") == 1  # not listed, not deleted
        assert "deleted 4 checkpoint(s)" in w.locator(".chkpt-notice").inner_text()


def _check_reopened(page, server, name: str) -> None:
    """After save, kernel shutdown and reopening: the static copy, never 'model not found'."""
    _save(page)
    _shutdown_kernel(page)
    panel = open_notebook(page, server, name)
    page.wait_for_selector(f"{panel} .chkpt-static-copy svg g.chkpt-stage")
    page.wait_for_timeout(3000)  # the widget manager gives up on a missing model after 2 s
    static = page.locator(f"{panel} .chkpt-static-copy")
    assert static.is_visible()
    assert static.locator("svg g.chkpt-stage").count() == 4
    assert static.locator("table tbody tr").count() == 4
    error = page.locator(f"{panel} >> text=Error displaying widget")
    assert error.count() == 0 or not any(error.nth(i).is_visible() for i in range(error.count()))


def test_run_all_then_reopen_shows_the_static_copy(lab):
    notebook = _prepared(lab, "reopen")
    with chromium_page() as page:
        w = WidgetView(page, open_notebook(page, lab, "reopen/pipeline.ipynb"))
        run_all(page)
        w.wait_nodes({s: {"chkpt-state-cached", "chkpt-session-loaded"} for s in ("raw", "report")})
        assert _runs(notebook) == []  # everything loaded
        # while the live widget shows, its static copy is hidden
        assert not page.locator(".chkpt-static-copy").first.is_visible()
        _check_reopened(page, lab, "reopen/pipeline.ipynb")
        _shot(page.locator(".chkpt-static-copy").first, "widget-reopened.png")

        # a live view hides its copy in any front end (a style it adds), only while it lives
        hides = "document.querySelectorAll('style[id^=\"hide-chkpt-static-\"]').length"
        assert page.evaluate(f"() => {hides}") == 0
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_selector(".chkpt-widget g.chkpt-stage")
        wait_idle(page)
        assert page.evaluate(f"() => {hides}") == 1
        page.evaluate(f"() => {_NB}.dispose()")  # the notebook closed, the page still open
        page.wait_for_function(f"() => {hides} === 0")


# --------------------------------------------------------------------------- stale, and running it


def test_parameter_change_then_run_stale(lab):
    notebook = _prepared(lab, "stale")
    with chromium_page() as page:
        w = WidgetView(page, open_notebook(page, lab, "stale/pipeline.ipynb"))
        run_all(page)
        w.wait_nodes({"features": {"chkpt-state-cached"}})
        params = cell_index(page, "import numpy")
        set_cell_source(page, params, "import numpy as np\nimport threading\nWINDOW = 14")
        run_cell(page, params)
        # stale spreads downstream, before anything reruns, each node saying why in words
        stale = {"chkpt-state-stale"}
        w.wait_nodes({"features": stale, "model": stale, "report": stale})
        assert "chkpt-state-cached" in w.nodes()["raw"]
        assert "WINDOW 7 -> 14" in w.node("features").text_content()
        assert "upstream features changed" in w.node("model").text_content()
        assert "upstream model changed" in w.node("report").text_content()
        assert "saves" not in w.node("features").text_content()  # a stale node saves nothing
        w.node("features").click()
        w.wait('.chkpt-details[data-stage="features"]')
        assert "WINDOW 7 -> 14" in w.locator(".chkpt-details").inner_text()
        _shot(w.locator(), "widget-stale.png")
        assert "run stale (3)" in w.locator("button.chkpt-run-stale").inner_text()
        w.locator("button.chkpt-run-stale").click()
        deadline = time.monotonic() + 60
        while "report" not in _runs(notebook) and time.monotonic() < deadline:
            page.wait_for_timeout(250)
        wait_idle(page)
        assert _runs(notebook) == ["features", "model", "report"], _runs(notebook)
        computed = {"chkpt-state-cached", "chkpt-session-computed"}
        w.wait_nodes({"features": computed, "model": computed, "report": computed})
        assert w.locator("button.chkpt-run-stale").count() == 0


# --------------------------------------------------------------------------- 100 stages


def _hundred() -> list[str]:
    cells = ["%load_ext chkpt_ipython", "import numpy as np\nSCALE = 2",
             "import chkpt_ipython\nchkpt_ipython.widget()"]  # fmt: skip
    for i in range(100):
        reads = f"s{i - 1} + " if i else ""
        side = f" + s{i - 3}" if i >= 3 and i % 4 == 0 else ""
        cells.append(f"%%chkpt_stage s{i}\ns{i} = {reads}np.arange(10) * SCALE{side}")
    return cells


def _label_px(page, w: WidgetView) -> float:
    """The rendered height of a node label's font, in CSS pixels."""
    return page.evaluate(
        """(sel) => {
            const svg = document.querySelector(sel);
            const text = svg.querySelector('g.chkpt-stage text');
            const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
            return parseFloat(text.getAttribute('font-size')) * scale;
        }""",
        w.css(".chkpt-viewport svg"),
    )


def test_a_hundred_stages_stay_readable_at_1024px(lab):
    notebook = lab.root / "hundred" / "pipeline.ipynb"
    _write(notebook, _hundred())
    with chromium_page(width=1024, height=800) as page:
        w = WidgetView(page, open_notebook(page, lab, "hundred/pipeline.ipynb"))
        start = time.monotonic()
        run_all(page, timeout_ms=240_000)
        run_all_seconds = time.monotonic() - start
        w.wait_nodes({"s99": {"chkpt-state-cached"}, "s0": {"chkpt-state-cached"}}, timeout=60)
        page.locator(_NB_CSS + " .jp-Cell").nth(2).scroll_into_view_if_needed()
        page.evaluate(f"() => {_NB}.content.activeCellIndex = 2")
        w.locator().evaluate("e => e.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "widget-100-stages.png"))
        if os.environ.get("CHKPT_UPDATE_DOCS"):
            shutil.copyfile(
                ARTIFACTS / "widget-100-stages.png", REPO / "docs" / "widget-100-stages.png"
            )
        assert w.locator(".chkpt-graph").count() == 1
        assert page.evaluate(
            f"() => document.querySelector('{w.css('.chkpt-viewport svg')}') !== null"
        )
        # top to bottom, labels never below 10 px: the viewport scrolls instead
        assert w.locator(".chkpt-viewport").evaluate("b => b.scrollHeight > b.clientHeight")
        assert _label_px(page, w) >= 9.9
        w.locator("button.chkpt-zoom-out").click()
        w.locator("button.chkpt-zoom-out").click()
        assert _label_px(page, w) >= 9.9  # zooming out stops at the minimum label size
        w.locator("button.chkpt-zoom-100").click()
        px100 = _label_px(page, w)
        w.locator("button.chkpt-zoom-in").click()
        assert _label_px(page, w) > px100
        w.locator("button.chkpt-fit").click()
        assert _label_px(page, w) >= 9.9
        # ctrl + wheel zooms, dragging pans
        box = w.locator(".chkpt-viewport").bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        before = _label_px(page, w)
        page.keyboard.down("Control")
        page.mouse.wheel(0, -400)
        page.keyboard.up("Control")
        page.wait_for_timeout(200)
        assert _label_px(page, w) > before
        top = w.locator(".chkpt-viewport").evaluate("b => b.scrollTop")
        page.mouse.move(box["x"] + 20, box["y"] + box["height"] - 20)
        page.mouse.down()
        page.mouse.move(box["x"] + 20, box["y"] + 20, steps=5)
        page.mouse.up()
        assert w.locator(".chkpt-viewport").evaluate("b => b.scrollTop") > top

        # hover: upstream and downstream stand out
        w.locator("button.chkpt-fit").click()
        w.node("s8").scroll_into_view_if_needed()
        w.node("s8").hover()
        assert "chkpt-up" in w.nodes()["s7"] and "chkpt-down" in w.nodes()["s9"]
        assert "chkpt-up" in w.nodes()["s0"] and "chkpt-down" in w.nodes()["s99"]

        # the table is collapsed; the details of a clicked node show without scrolling past it
        assert not w.locator("details.chkpt-table-box").evaluate("d => d.open")
        w.node("s8").click()
        w.wait('.chkpt-details[data-stage="s8"]')
        assert w.locator(".chkpt-details").is_visible()
        details_top = w.locator(".chkpt-details").bounding_box()["y"]
        assert details_top < w.locator("details.chkpt-table-box").bounding_box()["y"]
        w.locator("details.chkpt-table-box > summary").click()
        assert w.locator("tr.chkpt-row").count() == 100

        # nothing cut off at 1024 px
        for selector in ("button.chkpt-clear-all", ".chkpt-toolbar button.chkpt-fit"):
            right = w.locator(selector).bounding_box()
            assert right["x"] + right["width"] <= 1024, selector
        assert w.locator().evaluate("e => e.scrollWidth <= e.clientWidth + 1")

        # toggle to update: how long a click takes to show on the node
        t0 = time.monotonic()
        w.toggle("s50", "load").uncheck()
        w.wait('g.chkpt-stage[data-stage="s50"] >> text=load off')
        toggle_seconds = time.monotonic() - t0

        # double-click a node: its cell is scrolled into view and selected
        w.locator("button.chkpt-fit").click()
        w.node("s60").scroll_into_view_if_needed()
        w.node("s60").dblclick()
        index = cell_index(page, "%%chkpt_stage s60")
        page.wait_for_function(f"() => {_NB}.content.activeCellIndex === {index}")
        cell = page.locator(f"{_NB_CSS} .jp-Cell").nth(index)
        assert cell.is_visible()
        print(
            json.dumps({"run_all_100_seconds": run_all_seconds, "toggle_seconds": toggle_seconds})
        )
        (ARTIFACTS / "widget-100-stages.json").write_text(
            json.dumps(
                {"run_all_100_seconds": run_all_seconds, "toggle_to_update_seconds": toggle_seconds}
            )
        )


_NB_CSS = ".jp-NotebookPanel:not(.lm-mod-hidden)"


# --------------------------------------------------------------------------- themes


def test_dark_theme_is_readable(lab):
    _prepared(lab, "dark")
    with chromium_page() as page:
        w = WidgetView(page, open_notebook(page, lab, "dark/pipeline.ipynb"))
        run_all(page)
        w.wait_nodes({"report": {"chkpt-state-cached"}})
        w.node("features").click()
        w.wait('tr.chkpt-selected[data-stage="features"]')
        w.locator().scroll_into_view_if_needed()
        _shot(w.locator(), "widget-light.png")
        page.evaluate(
            "() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})"
        )
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        page.wait_for_timeout(500)
        contrast = page.evaluate(
            """(sel) => {
                const td = document.querySelector(sel);
                const rgb = (c) => c.match(/[0-9.]+/g).slice(0, 3).map(Number);
                const lum = (c) => {
                    const [r, g, b] = rgb(c).map((v) => {
                        v /= 255;
                        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
                    });
                    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
                };
                const style = getComputedStyle(td);
                const a = lum(style.color), b = lum(style.backgroundColor);
                return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
            }""",
            w.css('tr.chkpt-selected[data-stage="features"] td.chkpt-name'),
        )
        assert contrast >= 4.5, contrast
        node_fill = w.node("raw").evaluate("g => getComputedStyle(g.querySelector('path')).fill")
        assert node_fill != "rgb(178, 242, 187)"  # the dark set, not the light green
        _shot(w.locator(), "widget-dark.png")
        page.evaluate(
            "() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})"
        )


# --------------------------------------------------------------------------- Notebook 7


def test_notebook7(nb7):
    notebook = _prepared(nb7, "seven")
    with chromium_page() as page:
        w = WidgetView(page, open_notebook(page, nb7, "seven/pipeline.ipynb"))
        _run_first(page, 3)
        w.wait_nodes({s: {"chkpt-state-ondisk"} for s in ("raw", "features", "model", "report")})
        run_all(page)
        w.wait_nodes({s: {"chkpt-state-cached", "chkpt-session-loaded"} for s in ("raw", "report")})
        assert _runs(notebook) == []
        w.node("model").click()
        w.wait('.chkpt-details[data-stage="model"]')
        w.toggle("model", "load").uncheck()
        w.wait('g.chkpt-stage[data-stage="model"] >> text=load off')
        w.node("report").dblclick()
        index = cell_index(page, "%%chkpt_stage report")
        page.wait_for_function(f"() => {_NB}.content.activeCellIndex === {index}")
        w.locator().scroll_into_view_if_needed()
        _shot(w.locator(), "widget-notebook7.png")
        _check_reopened(page, nb7, "seven/pipeline.ipynb")
