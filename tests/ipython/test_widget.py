"""The pipeline widget's pure graph functions and its state, driven by a stand-in session.

The stand-in has the notebook session's interface (``status``, ``options``, ``set_options``,
``clear``, ``subscribe``); the real-kernel tests in ``test_widget_kernel.py`` use the real one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from chkpt_ipython import _graph as G
from chkpt_ipython import _widget as W

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` not installed")


class StandInSession:
    """In-memory session with the same interface as chkpt_ipython._session.NotebookSession."""

    def __init__(self, records: list[dict]) -> None:
        self.records = [dict(r) for r in records]
        self.opts: dict[str, dict] = {}
        self.callbacks: list = []
        self.calls: list[tuple] = []

    def status(self) -> list[dict]:
        return [dict(r) for r in self.records]

    def options(self, stage: str) -> dict:
        return dict(self.opts.get(stage, {"load": True, "store": True}))

    def set_options(self, stage, load=None, store=None):
        self.calls.append(("set_options", stage, load, store))
        opts = self.options(stage)
        if load is not None:
            opts["load"] = load
        if store is not None:
            opts["store"] = store
        self.opts[stage] = opts
        self.notify()

    def clear(self, stage=None):
        self.calls.append(("clear", stage))
        for r in self.records:
            if stage is None or r["stage"] == stage:
                r.update(state="missing", size=0, time_saved=0, this_session=None)
        self.notify()

    def subscribe(self, callback):
        self.callbacks.append(callback)
        return lambda: self.callbacks.remove(callback)

    def notify(self):
        for cb in list(self.callbacks):
            cb()

    def update(self, stage: str, **fields):
        next(r for r in self.records if r["stage"] == stage).update(fields)
        self.notify()


RECORDS = [
    {"stage": "raw", "state": "cached", "this_session": "loaded", "inputs": [], "params": ["URL"],
     "size": 5 * 1024**2, "compute_seconds": 40.0, "load_seconds": 0.5, "time_saved": 39.5, "key": "k1"},
    {"stage": "features", "state": "cached", "this_session": "computed", "inputs": ["raw"],
     "params": ["N"], "size": 2048, "compute_seconds": 3.0, "load_seconds": 0.1, "time_saved": 2.9,
     "key": "k2"},
    {"stage": "fit", "state": "stale", "this_session": None, "inputs": ["features"], "params": [],
     "size": 1024, "compute_seconds": 10.0, "load_seconds": 0.0, "time_saved": 10.0, "key": "k3"},
    {"stage": "report", "state": "missing", "this_session": None, "inputs": ["fit", "raw"],
     "params": [], "size": 0, "compute_seconds": 0.0, "load_seconds": 0.0, "time_saved": 0.0, "key": "k4"},
]  # fmt: skip


def svg_nodes(svg: str) -> dict[str, set[str]]:
    """Stage name -> classes of its node group in a Graphviz SVG."""
    root = ET.fromstring(svg)
    ns = {"s": "http://www.w3.org/2000/svg"}
    nodes = {}
    for g in root.iter("{http://www.w3.org/2000/svg}g"):
        classes = set((g.get("class") or "").split())
        if "chkpt-stage" in classes:
            nodes[g.find("s:title", ns).text] = classes
    return nodes


# --------------------------------------------------------------------------- pure functions


def test_node_label_shows_state_size_time_saved_and_session():
    assert W.node_label(RECORDS[0]) == [
        "raw",
        "cached · 5.0 MB · saves 39.5 s",
        "loaded this session",
    ]
    assert W.node_label(RECORDS[1])[2] == "computed this session"
    assert W.node_label(RECORDS[3]) == ["report", "missing", "\xa0"]  # always three lines
    assert W.node_label(RECORDS[2], {"load": False, "store": False})[-1] == "load off, store off"
    stale = W.node_label({**RECORDS[2], "reason": "WINDOW 7 -> 14"})
    assert stale == ["fit", "stale · 1.0 KB", "WINDOW 7 -> 14"]  # a stale node saves nothing
    long = W.node_label({"stage": "s" * 60, "state": "failed", "error": "E" * 80})
    assert all(len(line) <= W.LINE_CHARS for line in long) and long[0].endswith("…")


def test_build_dot_has_one_node_per_stage_and_dataflow_edges():
    dot = W.build_dot(RECORDS)
    for r in RECORDS:
        assert f'"{r["stage"]}" [' in dot
    edges = set(re.findall(r'"(\w+)" -> "(\w+)" \[class="chkpt-edge', dot))
    assert edges == {("raw", "features"), ("features", "fit"), ("fit", "report"), ("raw", "report")}
    assert f'fillcolor="{W.STATE_COLOURS["stale"]}"' in dot


def test_build_dot_ignores_inputs_that_are_not_stages_and_quotes_names():
    dot = W.build_dot([{"stage": 'odd "name"', "state": "cached", "inputs": ["nowhere"]}])
    assert "nowhere" not in dot
    assert '"odd \\"name\\"" [' in dot


def test_unknown_state_draws_as_missing():
    assert "chkpt-state-missing" in W.build_dot([{"stage": "x", "state": "weird"}])


@needs_dot
def test_render_svg_draws_every_stage_with_its_state_classes():
    svg = W.render_svg(W.build_dot(RECORDS))
    assert svg is not None and svg.startswith("<svg")
    nodes = svg_nodes(svg)
    assert set(nodes) == {"raw", "features", "fit", "report"}
    assert {"chkpt-state-cached", "chkpt-session-loaded"} <= nodes["raw"]
    assert {"chkpt-state-cached", "chkpt-session-computed"} <= nodes["features"]
    assert "chkpt-state-stale" in nodes["fit"]
    assert "chkpt-state-missing" in nodes["report"]
    assert "saves 39.5 s" in svg and "5.0 MB" in svg
    assert 'class="edge chkpt-edge chkpt-from-0 chkpt-to-1"' in svg
    assert "<!--" not in svg and 'class="node chkpt-stage chkpt-state-stale' in svg


def test_render_svg_returns_none_without_dot(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert W.render_svg("digraph { a -> b }") is None


def test_render_svg_returns_none_on_bad_dot():
    assert W.render_svg("this is not dot") is None


def test_totals_count_disk_and_time_saved_by_cached_stages():
    t = W.totals(RECORDS)
    assert t["stages"] == 4
    assert t["disk_bytes"] == 5 * 1024**2 + 2048 + 1024
    assert t["time_saved_seconds"] == pytest.approx(39.5 + 2.9)  # the stale stage saves nothing
    assert t["text"] == "4 stages · 5.0 MB on disk · 42.4 s saved by cached stages"


def test_static_html_is_a_readable_table_with_the_message():
    page = W.static_html(RECORDS, {"fit": {"load": False}}, None, W.INSTALL_GRAPHVIZ)
    assert "<table" in page and page.count("<tr>") == 1 + len(RECORDS)
    assert "install Graphviz" in page
    assert "<td>off</td>" in page  # fit's load toggle
    assert "&lt;" in W.static_html([{"stage": "<script>", "state": "cached"}])


# --------------------------------------------------------------------------- the widget


@pytest.fixture
def session():
    return StandInSession(RECORDS)


@pytest.fixture
def w(session):
    widget = W.PipelineWidget(session)
    yield widget
    widget.close()


def test_widget_is_an_anywidget_with_static_esm_and_css():
    import anywidget

    assert issubclass(W.PipelineWidget, anywidget.AnyWidget)
    assert (W._HERE / "widget.js").read_text().rstrip().endswith("export default { render };")
    assert (W._HERE / "widget.css").is_file()


def test_widget_state_mirrors_the_session(w):
    assert [s["stage"] for s in w.stages] == ["raw", "features", "fit", "report"]
    assert w.state_of("fit")["state"] == "stale"
    assert w.state_of("raw")["this_session"] == "loaded"
    assert w.state_of("raw")["load"] is True and w.state_of("raw")["store"] is True
    assert w.totals["stages"] == 4
    assert [e["key"] for e in w.legend] == [*W.STATES, "computed", "loaded"]
    if shutil.which("dot"):
        assert set(svg_nodes(w.svg)) == {"raw", "features", "fit", "report"}
        assert w.message == ""


def test_widget_follows_session_changes_without_redisplay(w, session):
    session.update("fit", state="running")
    assert w.state_of("fit")["state"] == "running"
    session.update("fit", state="cached", this_session="computed", time_saved=9.0)
    assert w.state_of("fit")["state"] == "cached"
    assert w.state_of("fit")["this_session"] == "computed"
    if shutil.which("dot"):
        renders = w.render_count
        # the layout is kept (no Graphviz run for a state change); the static copy follows
        static = w.static_copy()
        svg = static[static.index("<svg") : static.index("</svg>") + 6]
        assert {"chkpt-state-cached", "chkpt-session-computed"} <= svg_nodes(svg)["fit"]
    session.records.append({"stage": "extra", "state": "missing", "inputs": ["report"]})
    session.notify()
    assert w.state_of("extra") is not None and w.totals["stages"] == 5
    if shutil.which("dot"):
        assert w.render_count == renders + 1 and "extra" in svg_nodes(w.svg)  # a new node


def test_toggles_go_through_the_session(w, session):
    w.set_load("fit", False)
    assert session.calls[-1] == ("set_options", "fit", False, None)
    assert w.state_of("fit")["load"] is False
    assert "load off" in w.state_of("fit")["label"]
    w.set_store("raw", False)
    assert session.calls[-1] == ("set_options", "raw", None, False)
    assert w.state_of("raw")["store"] is False
    w.clear("raw")
    assert session.calls[-1] == ("clear", "raw")
    assert w.state_of("raw")["state"] == "missing"
    w.clear_all()  # one stage at a time: only what the widget lists
    assert session.calls[-4:] == [("clear", s) for s in ("raw", "features", "fit", "report")]
    assert {s["state"] for s in w.stages} == {"missing"}


def test_options_set_from_code_show_in_the_widget(w, session):
    session.set_options("features", load=False)  # e.g. what a magic does
    assert w.state_of("features")["load"] is False


def test_front_end_messages_map_to_session_calls(w, session):
    w._on_front_end_message(w, {"action": "set_load", "stage": "fit", "value": False}, [])
    w._on_front_end_message(w, {"action": "set_store", "stage": "fit", "value": False}, [])
    w._on_front_end_message(w, {"action": "clear", "stage": "report", "value": None}, [])
    w._on_front_end_message(w, {"action": "clear_all", "stage": None}, [])
    w._on_front_end_message(w, {"action": "nonsense"}, [])  # logged, never raises
    assert session.calls == [
        ("set_options", "fit", False, None),
        ("set_options", "fit", None, False),
        ("clear", "report"),
        *[("clear", s) for s in ("raw", "features", "fit", "report")],
    ]


def test_selecting_a_stage_and_losing_it(w, session):
    w.select("fit")
    assert w.selected == "fit"
    session.records = [r for r in session.records if r["stage"] != "fit"]
    session.notify()
    assert w.selected == ""


def test_a_broken_session_never_raises(session):
    widget = W.PipelineWidget(session)
    try:

        def boom():
            raise RuntimeError("status exploded")

        session.status = boom
        session.notify()  # the subscription callback swallows and reports
        assert "status exploded" in widget.message
    finally:
        widget.close()


def test_close_unsubscribes(session):
    widget = W.PipelineWidget(session)
    assert len(session.callbacks) == 1
    widget.close()
    assert session.callbacks == []


def test_one_widget_per_session(session):
    first = W.widget(session)
    try:
        assert W.widget(session) is first
        other = StandInSession(RECORDS[:1])
        second = W.widget(other)
        assert second is not first
        second.close()
    finally:
        first.close()
    assert W.widget(session) is not first
    W.widget(session).close()


def test_mimebundle_carries_a_static_html_fallback(w):
    data, _ = w._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert "<table" in data["text/html"]


_NO_DOT_SCRIPT = """
import os, shutil
assert shutil.which("dot") is None, os.environ["PATH"]
from chkpt_ipython import _graph as G
from chkpt_ipython import _widget as W
from test_widget import StandInSession, RECORDS
w = W.PipelineWidget(StandInSession(RECORDS))
assert w.svg == "", w.svg[:80]
assert "install Graphviz" in w.message
assert [s["stage"] for s in w.stages] == ["raw", "features", "fit", "report"]
data, _ = w._repr_mimebundle_()
assert "<table" in data["text/html"] and "install Graphviz" in data["text/html"]
w.set_load("fit", False)
assert w.state_of("fit")["load"] is False
print("OK")
"""


def test_without_dot_shows_table_and_install_line(tmp_path):
    """In a process whose PATH has no `dot`, the widget degrades and never raises."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = {
        **os.environ,
        "PATH": str(bin_dir),
        "PYTHONPATH": os.pathsep.join([os.path.dirname(__file__), REPO]),
    }
    proc = subprocess.run(
        [sys.executable, "-c", _NO_DOT_SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("OK")


def test_widget_never_writes_to_the_store():
    """View state only: the widget reads the store's index, deletes only through the session."""
    source = (W._HERE / "_widget.py").read_text() + (W._HERE / "_preview.py").read_text()
    forbidden_words = ("open_store", "session.store", ".save(", "_remove(", ".gc(")
    for forbidden in forbidden_words:
        assert forbidden not in source, forbidden


def test_docstring_examples():
    """The examples in the widget module's docstrings run (pytest collects only chkpt/'s)."""
    import doctest

    from chkpt_ipython import _preview

    result = doctest.testmod(G)
    assert result.attempted >= 8 and result.failed == 0
    assert doctest.testmod(_preview).failed == 0


def test_time_saved_falls_back_to_compute_minus_load():
    assert W.time_saved({"time_saved": 0.0, "compute_seconds": 3.0, "load_seconds": 0.5}) == 2.5
    assert W.time_saved({"time_saved": 7.0, "compute_seconds": 3.0}) == 7.0
    assert W.time_saved({"compute_seconds": None, "load_seconds": None}) == 0.0
    assert "saves 3.0 s" in W.node_label({"stage": "x", "state": "cached", "compute_seconds": 3})[1]
