"""Clear messages for bad input to the magics, and what the widget shows as a stage's facts."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError


def test_chkpt_set_unknown_stage_lists_the_known_ones(ip):
    ip.run("%%chkpt_stage raw\nraw = 1")
    ip.run("%%chkpt_stage fit\nfit = raw + 1")
    with pytest.raises(UsageError) as err:
        ip.run("%chkpt_set nosuchstage --load off")
    assert "no stage named 'nosuchstage'" in str(err.value)
    assert "known stages: raw, fit" in str(err.value)
    assert ip.session().options("nosuchstage") == {"load": True, "store": True}  # nothing saved
    with pytest.raises(UsageError, match="no stage named 'nope'"):
        ip.run("%chkpt_clear nope")


def test_chkpt_set_on_a_stage_only_on_disk_or_in_the_saved_notebook(ip):
    ip.run("%%chkpt_stage raw\nraw = 1")
    ip.restart()  # a fresh kernel: the stage is on disk only
    assert str(ip.run("%chkpt_set raw --store off")) == "raw: load on, store off"


def test_bad_switch_value_says_what_is_expected(ip):
    ip.run("%%chkpt_stage raw\nraw = 1")
    with pytest.raises(UsageError) as err:
        ip.run("%chkpt_set raw --load maybe")
    assert "expected on/off, got 'maybe'" in str(err.value)
    assert "invalid" not in str(err.value)


def test_syntax_error_in_a_stage_cell_is_short(ip):
    with pytest.raises(UsageError) as err:
        ip.run("%%chkpt_stage bad\nx = 1\ny = = 2")
    message = str(err.value)
    assert message.startswith("SyntaxError in stage cell 'bad', line 3: invalid syntax")
    assert "y = = 2" in message and "^" in message
    assert "_stage_cell" not in message and "ast.py" not in message
    assert ip.session().status() == [] or "bad" not in {r["stage"] for r in ip.session().status()}


def test_syntax_error_shown_in_the_shell_has_no_chkpt_frames(ip):
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        result = ip.shell.run_cell("%%chkpt_stage bad\ny = = 2")
    assert not result.success
    shown = captured.stdout + captured.stderr
    assert "SyntaxError in stage cell 'bad'" in shown
    for internal in ("_stage_cell.py", "_session.py", "_magics.py", "interactiveshell.py"):
        assert internal not in shown, shown


def test_modules_are_never_parameters(ip):
    ip.run("import numpy as np\nimport json as js\nN = 3")
    ip.run("%%chkpt_stage a\na = np.arange(N).tolist() + [len(js.dumps(1))]")
    from chkpt_ipython._widget import PipelineWidget

    w = PipelineWidget(ip.session())
    try:
        assert w.state_of("a")["params"] == ["N"]
    finally:
        w.close()
    table = ip.run("%chkpt_status")
    assert "np" not in table._cells(table[0])[4] and "N" in table._cells(table[0])[4]


def _saved(path, cells):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)
    return path


def test_fresh_kernel_shows_the_saved_notebook_with_the_store_index(ip, tmp_path):
    from chkpt_ipython._widget import PipelineWidget

    cells = ["%%chkpt_stage raw\nraw = [1, 2]", "%%chkpt_stage --force\ntotal = sum(raw) * N"]
    for cell in cells[:1]:
        ip.run(cell)
    ip.restart()  # nothing has run in this kernel; raw is on disk, total never ran
    w = PipelineWidget(ip.session())
    try:
        w._notebook = _saved(tmp_path / "nb.ipynb", ["N = 2", *cells])
        w.refresh()
        assert [(s["stage"], s["state"]) for s in w.stages] == [
            ("raw", "ondisk"),
            ("total", "missing"),
        ]
        assert w.state_of("total")["inputs"] == ["raw"]
        assert w.state_of("raw")["label"][2] == "not loaded yet"
        assert w.render_count == 1
        ip.run(cells[0])  # now it runs: the same node, live
        assert w.state_of("raw")["state"] == "cached" and w.render_count == 1
    finally:
        w.close()


def test_two_cells_with_one_name_are_called_out(ip, tmp_path):
    from chkpt_ipython._widget import PipelineWidget

    w = PipelineWidget(ip.session())
    try:
        w._notebook = _saved(
            tmp_path / "nb.ipynb", ["%%chkpt_stage fit\nfit = 1", "%%chkpt_stage fit\nfit = 2"]
        )
        w.refresh()
        assert "used by more than one stage cell (fit)" in w.message
        assert "used by more than one stage cell" in w.static_copy()
    finally:
        w.close()


def test_confirmation_counts_what_a_clear_deletes(ip):
    from chkpt_ipython._widget import PipelineWidget

    ip.run("%%chkpt_stage raw\nimport time\ntime.sleep(0.05)\nraw = list(range(1000))")
    ip.run("%%chkpt_stage other\nother = 1")
    w = PipelineWidget(ip.session())
    try:
        confirm = w.ask_clear("raw")
        assert confirm["entries"] == 1 and confirm["bytes"] > 1000
        assert confirm["compute_seconds"] >= 0.05
        assert confirm["text"].startswith("Delete 1 checkpoint of stage raw (")
        assert "of compute to redo" in confirm["text"]
        assert w.ask_clear()["stages"] == ["raw", "other"]
        assert ip.session().store.entries("raw")  # asking deletes nothing
        w.clear("raw")
        assert not ip.session().store.entries("raw") and ip.session().store.entries("other")
        assert w.ask_clear("raw")["text"] == "Nothing is stored for stage raw."
    finally:
        w.close()


def test_states_and_reasons_come_from_the_core_plan(ip):
    """Stale spreads downstream; every node says why in words; an unhashable input is named."""
    from chkpt_ipython._widget import PipelineWidget

    ip.run("import threading\nconn = threading.Lock()\nWINDOW = 7")
    ip.run("%%chkpt_stage raw\nraw = list(range(10))")
    ip.run("%%chkpt_stage features\nfeatures = [x * WINDOW for x in raw]")
    ip.run("%%chkpt_stage model\nmodel = sum(features)")
    ip.run("%%chkpt_stage guarded\nwith conn:\n    guarded = model + 1")
    w = PipelineWidget(ip.session())
    try:
        assert w.state_of("guarded")["state"] == "missing"
        assert w.state_of("guarded")["label"][2].startswith("not cacheable: input 'conn'")
        ip.run("WINDOW = 14")
        assert [w.state_of(s)["state"] for s in ("raw", "features", "model")] == [
            "cached", "stale", "stale",
        ]  # fmt: skip
        assert w.state_of("features")["label"][2] == "WINDOW 7 -> 14"
        assert w.state_of("model")["label"][2] == "upstream features changed"
        assert "saves" not in w.state_of("model")["label"][1]
    finally:
        w.close()


def test_a_cell_deleted_from_the_saved_notebook_can_be_forgotten(ip, tmp_path):
    from chkpt_ipython._widget import PipelineWidget

    ip.run("%%chkpt_stage raw\nraw = 1")
    ip.run("%%chkpt_stage gone\ngone = raw + 1")
    w = PipelineWidget(ip.session())
    try:
        w._notebook = _saved(tmp_path / "nb.ipynb", ["%%chkpt_stage raw\nraw = 1"])
        w.refresh()
        assert w.state_of("gone")["not_saved"] is True and w.state_of("raw")["not_saved"] is False
        w._on_front_end_message(w, {"action": "forget", "stage": "gone"}, [])
        assert w.state_of("gone") is None and [s["stage"] for s in w.stages] == ["raw"]
        assert ip.session().store.entries("gone")  # its checkpoints stay
    finally:
        w.close()
