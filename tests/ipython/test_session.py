"""The notebook session: live status, per-stage switches, clearing, listeners, load/unload."""

from __future__ import annotations

import json
from pathlib import Path

import chkpt_ipython
from chkpt_ipython._options import OPTIONS_FILE

STATUS_KEYS = {
    "stage", "state", "this_session", "inputs", "params", "size", "compute_seconds",
    "load_seconds", "time_saved", "key",
}  # fmt: skip


def states(ip) -> dict[str, str]:
    return {s["stage"]: s["state"] for s in chkpt_ipython.status()}


def test_status_is_live_cached_stale_missing_and_names_edges(ip):
    ip.run("N = 3")
    ip.run("%%chkpt_stage nums\nnums = list(range(N))")
    ip.run("%%chkpt_stage total\ntotal = sum(nums)")
    rows = {s["stage"]: s for s in chkpt_ipython.status()}
    assert set(rows["nums"]) >= STATUS_KEYS
    assert rows["nums"]["state"] == rows["total"]["state"] == "cached"
    assert rows["total"]["inputs"] == ["nums"] and rows["total"]["params"] == []
    assert rows["nums"]["params"] == ["N"] and rows["nums"]["inputs"] == []
    assert rows["nums"]["this_session"] == "computed" and rows["nums"]["size"] > 0
    ip.run("N = 4")  # a parameter cell: nums is stale before anything reruns, and so is total
    assert states(ip) == {"nums": "stale", "total": "stale"}
    reasons = {s["stage"]: s["reason"] for s in chkpt_ipython.status()}
    assert reasons == {"nums": "N 3 -> 4", "total": "upstream nums changed"}
    assert chkpt_ipython.status()[0]["size"] == rows["nums"]["size"]  # the stale one on disk
    ip.run("N = 3")
    assert states(ip) == {"nums": "cached", "total": "cached"}
    ip.run("%%chkpt_stage opener\nopener = open")  # IPython's own names are not parameters
    assert chkpt_ipython.status()[-1]["params"] == []
    chkpt_ipython.clear("total")
    assert {k: v for k, v in states(ip).items() if k != "opener"} == {
        "nums": "cached",
        "total": "missing",
    }


def test_status_after_restart_reports_loaded_and_time_saved(ip):
    cell = "%%chkpt_stage slow\nimport time\ntime.sleep(0.2)\nslow = 1"
    ip.run(cell)
    ip.restart()
    ip.run(cell)
    (row,) = chkpt_ipython.status()
    assert row["state"] == "cached" and row["this_session"] == "loaded"
    assert row["compute_seconds"] >= 0.2 and row["time_saved"] > 0.1
    assert row["load_seconds"] is not None and row["load_seconds"] < 0.2


def test_running_state_is_seen_by_listeners_while_the_cell_runs(ip):
    seen = []
    unsubscribe = ip.session().subscribe(lambda: seen.append(states(ip)))
    ip.run("%%chkpt_stage work\nwork = 1")
    assert {"work": "running"} in seen
    assert seen[-1] == {"work": "cached"}
    count = len(seen)
    ip.run("x = 1")  # any cell finishing notifies
    assert len(seen) == count + 1
    unsubscribe()
    ip.run("x = 2")
    assert len(seen) == count + 1


def test_options_default_persist_and_apply_on_the_next_run(ip, tmp_path):
    sess = ip.session()
    assert sess.options("any") == {"load": True, "store": True}
    cell = "%%chkpt_stage opt\n" + 'open("runs.txt", "a").write("x")\n' + "opt = 1"
    ip.run(cell)
    seen = []
    sess.subscribe(lambda: seen.append(1))
    sess.set_options("opt", load=False)
    assert seen  # an options change notifies
    saved = json.loads((sess.directory / OPTIONS_FILE).read_text())
    assert saved["stages"]["opt"] == {"load": False, "store": True}
    ip.restart()
    assert ip.session().options("opt") == {"load": False, "store": True}  # persisted
    ip.run(cell)
    assert Path("runs.txt").read_text() == "xx"  # load off: recomputed although cached
    ip.session().set_options("opt", load=True, store=False)
    stored = len(ip.session().store.entries("opt"))
    ip.run("%%chkpt_stage opt\nopt = 2")
    assert len(ip.session().store.entries("opt")) == stored  # store off: nothing new written
    assert chkpt_ipython.status()[0]["state"] == "stale"


def test_line_magics(ip, tmp_path):
    ip.run("%%chkpt_stage a\na = 1")
    table = ip.run("%chkpt_status")
    assert "a" in repr(table) and "cached" in repr(table) and "<table>" in table._repr_html_()
    assert str(ip.run("%chkpt_set a --load off")) == "a: load off, store on"
    assert chkpt_ipython.options("a") == {"load": False, "store": True}
    assert ip.run("%chkpt_clear a") == "removed 1 checkpoint(s) of stage 'a'"
    assert "(CHKPT_DIR)" in ip.run("%chkpt_dir")
    new = tmp_path / "elsewhere"
    assert str(new) in ip.run(f"%chkpt_dir {new}")
    assert chkpt_ipython.checkpoint_dir() == new
    ip.run("%%chkpt_stage b\nb = 1")
    assert (new / "b").is_dir()


def test_unload_removes_exactly_what_load_registered(ip):
    shell = ip.shell
    ip.shell.run_line_magic("unload_ext", "chkpt_ipython")
    before_magics = {k: dict(v) for k, v in shell.magics_manager.magics.items()}
    before_events = {k: list(v) for k, v in shell.events.callbacks.items()}
    before_registry = set(shell.magics_manager.registry)
    shell.run_line_magic("load_ext", "chkpt_ipython")
    assert "chkpt_stage" in shell.magics_manager.magics["cell"]
    for name in ("chkpt_dir", "chkpt_status", "chkpt_clear", "chkpt_set", "chkpt_widget"):
        assert name in shell.magics_manager.magics["line"]
    shell.run_line_magic("unload_ext", "chkpt_ipython")
    assert {k: dict(v) for k, v in shell.magics_manager.magics.items()} == before_magics
    assert {k: list(v) for k, v in shell.events.callbacks.items()} == before_events
    assert set(shell.magics_manager.registry) == before_registry
    shell.run_line_magic("load_ext", "chkpt_ipython")  # the fixture unloads at the end


def test_widget_magic_displays_the_widget_module(ip, monkeypatch):
    import chkpt_ipython._widget as widget_module

    made = []
    monkeypatch.setattr(widget_module, "widget", lambda session=None: made.append(session) or "W")
    assert ip.run("%chkpt_widget") == "W"
    assert made == [ip.session()]
