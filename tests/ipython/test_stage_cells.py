"""``%%chkpt_stage`` in IPython's in-process shell: hits, misses, keys, options, replay.

A cell proves it really ran by appending to ``runs.txt`` (a side effect a replay cannot fake);
``restart()`` gives a fresh namespace and session, as a kernel restart does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import chkpt


def runs() -> list[str]:
    path = Path("runs.txt")
    return path.read_text().split() if path.exists() else []


def mark(name: str) -> str:
    return f'open("runs.txt", "a").write("{name}\\n")\n'


def stage(name: str, body: str, options: str = "") -> str:
    return f"%%chkpt_stage {name} {options}\n" + mark(name) + body


@pytest.fixture
def events():
    seen: list[tuple[str, str]] = []
    unsubscribe = chkpt.events.subscribe(lambda e: seen.append((e.kind, e.stage)))
    yield seen
    unsubscribe()


def test_miss_runs_and_stores_then_a_restart_restores_without_running(ip, events):
    ip.run("N = 4")
    cell = stage(
        "squares", "squares = [i * i for i in range(N)]\nprint('made', len(squares))\nlen(squares)"
    )
    assert ip.run(cell) == 4
    assert ip.stdout == "made 4\n"
    assert ("computed", "squares") in events and ("stored", "squares") in events
    ip.restart()
    ip.run("N = 4")
    assert ip.run(cell) == 4  # the last value is shown again
    assert ip.stdout == "made 4\n"  # and what it printed
    assert ip.ns["squares"] == [0, 1, 4, 9]
    assert runs() == ["squares"]  # ran once
    assert ("loaded", "squares") in events


def test_rich_displays_are_replayed(ip):
    cell = stage(
        "shown",
        "from IPython.display import display\nx = 1\n"
        "display({'text/html': '<b>bold</b>', 'text/plain': 'bold'}, raw=True)\nprint('after')",
    )
    ip.run(cell)
    first = [o.data for o in ip.displays]
    ip.restart()
    ip.run(cell)
    assert [o.data for o in ip.displays] == first
    assert first[0]["text/html"] == "<b>bold</b>"
    assert ip.stdout == "after\n"
    assert runs() == ["shown"]


def test_last_value_that_is_an_output_is_the_live_object(ip):
    cell = stage("frame", "data = {'a': [1, 2]}\ndata")
    ip.run(cell)
    ip.restart()
    value = ip.run(cell)
    assert value is ip.ns["data"]


def test_imports_functions_and_classes_are_re_executed_not_pickled(ip):
    cell = stage(
        "defs",
        "import math\n"
        "class Point:\n"
        "    def __init__(self, x, y):\n"
        "        self.x, self.y = x, y\n"
        "    def norm(self):\n"
        "        return math.hypot(self.x, self.y)\n"
        "def double(v):\n"
        "    return 2 * v\n"
        "p = Point(3, 4)\n",
    )
    ip.run(cell)
    ip.restart()
    ip.run(cell)
    assert runs() == ["defs"]
    assert ip.run("double(p.norm())") == 10.0
    assert isinstance(ip.ns["p"], ip.ns["Point"])
    assert ip.ns["math"].__name__ == "math"


def test_a_parameter_change_recomputes_exactly_the_cells_that_read_it(ip):
    ip.run("A = 1\nB = 10")
    cells = {
        "a2": stage("a2", "a2 = A * 2"),
        "b2": stage("b2", "b2 = B * 2"),
        "both": stage("both", "both = a2 + b2"),
    }
    for cell in cells.values():
        ip.run(cell)
    ip.restart()
    ip.run("A = 5\nB = 10")
    for cell in cells.values():
        ip.run(cell)
    assert runs() == ["a2", "b2", "both", "a2", "both"]
    assert ip.ns["both"] == 30


def test_editing_a_helper_class_or_function_from_a_plain_cell_recomputes_its_readers(ip):
    cell = stage("scored", "scored = Scorer().score(3) + bonus(1)")
    ip.run(
        "class Scorer:\n    def score(self, x):\n        return x * 2\ndef bonus(x):\n    return x"
    )
    ip.run(cell)
    ip.restart()
    ip.run(
        "class Scorer:\n    def score(self, x):\n        return x * 2\ndef bonus(x):\n    return x"
    )
    ip.run(cell)  # same code: a hit
    ip.run(
        "class Scorer:\n    def score(self, x):\n        return x * 3\ndef bonus(x):\n    return x"
    )
    ip.run(cell)  # the class changed
    ip.run("def bonus(x):\n    return x + 1")
    ip.run(cell)  # the function changed
    assert runs() == ["scored", "scored", "scored"]
    assert ip.ns["scored"] == 11


def test_an_upstream_edit_that_keeps_its_output_does_not_recompute_dependants(ip):
    ip.run(stage("base", "base = 1 + 1"))
    ip.run(stage("plus", "plus = base + 1"))
    ip.run(stage("base", "base = 2  # same value, new code"))
    ip.run(stage("plus", "plus = base + 1"))
    assert runs() == ["base", "plus", "base"]
    ip.run(stage("base", "base = 3"))
    ip.run(stage("plus", "plus = base + 1"))
    assert runs()[-2:] == ["base", "plus"]
    assert ip.ns["plus"] == 4


def test_a_stage_output_rebound_in_a_plain_cell_is_keyed_by_its_new_value(ip):
    ip.run(stage("base", "base = 1"))
    ip.run(stage("use", "use = base * 10"))
    ip.run("base = 2")
    ip.run(stage("use", "use = base * 10"))
    assert ip.ns["use"] == 20
    assert runs() == ["base", "use", "use"]


def test_a_raising_cell_stores_nothing_and_reports_failed(ip, events):
    with pytest.raises(ZeroDivisionError):
        ip.run(stage("bad", "bad = 1 / 0"))
    assert ("failed", "bad") in events
    assert ip.session().store.entries("bad") == []
    assert [s["state"] for s in ip.session().status()] == ["failed"]


def test_a_value_that_cannot_be_fingerprinted_means_recompute_never_a_false_hit(ip):
    ip.run("import threading\nLOCK = threading.Lock()")
    cell = stage("locked", "with LOCK:\n    locked = 1")
    ip.run(cell)
    ip.run(cell)
    assert runs() == ["locked", "locked"]
    assert ip.session().store.entries("locked") == []


def test_force_no_store_and_explicit_inputs_outputs(ip):
    ip.run("P = 1\nQ = 1")
    cell = stage("pq", "pq = P + Q\ntmp = 5", "--inputs P --outputs pq")
    ip.run(cell)
    ip.run("Q = 2")  # not a declared input: ignored by the key
    ip.run(cell)
    assert runs() == ["pq"]
    assert "tmp" not in ip.session().store.load(ip.session().store.entries("pq")[0])["outputs"]
    ip.run(stage("pq", "pq = P + Q\ntmp = 5", "--inputs P --outputs pq --force"))
    assert runs() == ["pq", "pq"]
    ip.run(stage("nostore", "nostore = 1", "--no-store"))
    ip.run(stage("nostore", "nostore = 1", "--no-store"))
    assert runs()[-2:] == ["nostore", "nostore"]
    assert ip.session().store.entries("nostore") == []


def test_magics_and_shell_syntax_inside_a_stage_cell(ip):
    cell = "%%chkpt_stage magic\n" + mark("magic") + "%time x = 21\nx2 = x * 2\n"
    ip.run(cell)
    ip.restart()
    ip.run(cell)
    assert ip.ns["x2"] == 42 and runs() == ["magic"]


def test_errors_show_the_cells_own_line(ip):
    result = ip.shell.run_cell("%%chkpt_stage err\nx = 1\ny = undefined_name + 1\n")
    assert isinstance(result.error_in_exec, NameError)
    tb = result.error_in_exec.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    assert tb.tb_lineno == 3  # line 1 is the %%chkpt_stage line, as the user sees the cell


def test_default_stage_names(ip):
    ip.run("%%chkpt_stage\nraw = [3, 1, 2]")
    ip.run("%%chkpt_stage\nraw = sorted(raw)")
    names = [s["stage"] for s in ip.session().status()]
    assert names[0] == "raw" and names[1].startswith("raw_") and len(names) == 2
    ip.run("%%chkpt_stage\nraw = sorted(raw, reverse=True)")  # an edit of the second cell
    names = [s["stage"] for s in ip.session().status()]
    assert len(names) == 2, names


def test_closed_files_from_with_blocks_do_not_block_storing(ip):
    Path("data.txt").write_text("42")
    cell = stage("read", "with open('data.txt') as fh:\n    value = int(fh.read())\n")
    ip.run(cell)
    ip.restart()
    ip.run(cell)
    assert ip.ns["value"] == 42 and runs() == ["read"]


def test_unpicklable_output_is_computed_but_not_stored_with_a_clear_warning(ip):
    cell = stage("gen", "gen = (i for i in range(3))")
    with pytest.warns(chkpt.StoreWarning, match="output 'gen' cannot be serialized") as seen:
        ip.run(cell)
    (warning,) = [w for w in seen if issubclass(w.category, chkpt.StoreWarning)]
    assert "not stored" in str(warning.message) and "strict=True" in str(warning.message)
    assert "gen" in ip.ns
    assert ip.lines == ["chkpt: computed: no checkpoint (not stored)"]
    ip.run(cell)
    assert runs() == ["gen", "gen"]


def test_cells_identified_by_the_front_ends_cell_id(ip):
    """JupyterLab sends cell ids: same default name in two cells -> two stages; an edit that
    renames a cell's stage replaces it instead of leaving a ghost."""

    def run(cell_id: str, source: str) -> None:
        result = ip.shell.run_cell("%%chkpt_stage\n" + source, cell_id=cell_id)
        assert result.success, result.error_in_exec

    run("cell-a", "fig = 1")
    run("cell-b", "fig = 2\nother = 3")
    assert [s["stage"] for s in ip.session().status()] == ["fig", "fig_2"]
    run("cell-a", "fig = 1  # re-run: same stage")
    assert [s["stage"] for s in ip.session().status()] == ["fig", "fig_2"]
    run("cell-a", "chart = 1")
    assert [s["stage"] for s in ip.session().status()] == ["fig_2", "chart"]


def test_two_cells_cannot_share_a_stage_name(ip):
    from chkpt_ipython._stage_cell import DuplicateStageError

    assert ip.shell.run_cell("%%chkpt_stage shared\nfirst = 1", cell_id="a").success
    result = ip.shell.run_cell("%%chkpt_stage shared\nsecond = 2", cell_id="b")
    assert isinstance(result.error_in_exec, DuplicateStageError)
    assert "'shared'" in str(result.error_in_exec) and "another name" in str(result.error_in_exec)
    assert "second" not in ip.ns  # nothing ran, nothing merged
    assert [s["stage"] for s in ip.session().status()] == ["shared"]


def test_a_deleted_stage_cell_can_be_forgotten(ip):
    import chkpt_ipython

    ip.run(stage("gone", "gone = 1"))
    ip.run(stage("kept", "kept = 2"))
    chkpt_ipython.forget("gone")
    assert [s["stage"] for s in chkpt_ipython.status()] == ["kept"]
    assert chkpt_ipython.pipeline().stage.name == "kept"
    assert ip.session().store.entries("gone")  # its checkpoints stay


def test_the_notebook_is_a_core_pipeline(ip):
    import chkpt_ipython

    ip.run("N = 3")
    ip.run(stage("nums", "nums = list(range(N))"))
    ip.run(stage("total", "total = sum(nums)"))
    ip.run(stage("count", "count = len(nums)"))
    p = chkpt_ipython.pipeline()
    assert isinstance(p, chkpt.Pipeline)
    assert [n["stage"] for n in p.to_json()["nodes"]] == ["nums", "total", "count", "(notebook)"]
    assert isinstance(
        p.to_json() and chkpt_ipython.session().notebook().stages["nums"], chkpt.Stage
    )
    plan = p.plan(chkpt_ipython.config())
    assert plan.actions() == {
        "nums": "skip", "total": "load", "count": "load", "(notebook)": "compute"
    }  # fmt: skip
    ip.run("N = 4")
    assert p.plan(chkpt_ipython.config()).actions()["nums"] == "skip"  # built for N = 3
    plan = chkpt_ipython.pipeline().plan(chkpt_ipython.config())
    assert plan["nums"].reason == "parameters changed: N 3 -> 4"
    assert plan["total"].reason == plan["count"].reason == "upstream recomputed: nums"
