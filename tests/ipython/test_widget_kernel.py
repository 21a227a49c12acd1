"""The pipeline widget in a real kernel (nbclient): nodes, states, toggles and their effect.

Each test starts a real IPython kernel, runs cells one at a time, and reads the widget's state
back from the kernel as JSON. nbclient also records the widget state the kernel *sent* over the
comm, which shows the live updates reach a front end without the widget being displayed again.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
# these tests read the widget right after each cell: refresh on every change (no coalescing)
NO_THROTTLE = "import chkpt_ipython._widget as _cw\n_cw.THROTTLE = 0\n"
pytestmark = pytest.mark.timeout(300)


class Kernel:
    """A live kernel; ``run(code)`` executes one more notebook cell and returns its stdout."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.env = {**os.environ, **(env or {})}
        self.nb = nbformat.v4.new_notebook()
        self.nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        self.client = nbclient.NotebookClient(
            self.nb,
            timeout=120,
            kernel_name="python3",
            resources={"metadata": {"path": str(workdir)}},
        )

    def __enter__(self) -> Kernel:
        self._ctx = self.client.setup_kernel(env=self.env)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._ctx.__exit__(*exc)

    def run(self, code: str) -> str:
        cell = nbformat.v4.new_code_cell(code)
        self.nb.cells.append(cell)
        self.client.execute_cell(cell, len(self.nb.cells) - 1)
        return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")

    def outputs(self, index: int = -1) -> list[dict]:
        return self.nb.cells[index].outputs

    def json(self, expr: str):
        return json.loads(
            self.run(f"import json as _j\nprint(_j.dumps({expr}))").strip().splitlines()[-1]
        )

    def synced_state(self, model_id: str) -> dict:
        """The widget state as a front end would have it (from the kernel's comm messages)."""
        return self.client.widget_state[model_id]


STATES = "{s['stage']: [s['state'], s['this_session'], s['load'], s['store']] for s in w.stages}"


# --------------------------------------------------------------------------- with a stand-in session


def test_live_updates_reach_the_front_end_without_redisplay(tmp_path):
    with Kernel(tmp_path, {"PYTHONPATH": os.pathsep.join([str(HERE), str(REPO)])}) as k:
        k.run(
            NO_THROTTLE + "from test_widget import StandInSession, RECORDS\n"
            "from chkpt_ipython._widget import widget\n"
            "s = StandInSession(RECORDS)\nw = widget(s)\ndisplay(w)"
        )
        model_id = k.json("w.model_id")
        k.run("s.update('fit', state='running')")
        assert k.json(STATES)["fit"][0] == "running"
        assert {x["stage"]: x["state"] for x in k.synced_state(model_id)["stages"]}[
            "fit"
        ] == "running"
        k.run("s.update('fit', state='cached', this_session='computed')")
        synced = {x["stage"]: x for x in k.synced_state(model_id)["stages"]}
        assert synced["fit"]["state"] == "cached" and synced["fit"]["this_session"] == "computed"
        # one display (a static copy, kept current through its display id, then the widget):
        # updates went over the comm, not as new outputs
        displays = [
            o for c in k.nb.cells for o in c.outputs if o.get("output_type") == "display_data"
        ]
        assert len(displays) == 2
        assert "chkpt-static-copy" in displays[0]["data"]["text/html"]
        assert "application/vnd.jupyter.widget-view+json" in displays[1]["data"]
        if shutil.which("dot"):
            assert "chkpt-session-computed" in displays[0]["data"]["text/html"]


# --------------------------------------------------------------------------- with the real extension


def _stage(name: str, body: str) -> str:
    return (
        f"%%chkpt_stage {name}\n"
        f"print({name!r}, file=open('runs.txt', 'a'))  # a real run leaves a line\n"
        f"print('computing {name}')\n{body}"
    )


RAW = _stage("raw", "import time\ntime.sleep(0.2)\nraw = list(range(10_000))")
FEATURES = _stage("features", "features = [x * N for x in raw]")
TOTAL = _stage("total", "total = sum(features)")


def _runs(workdir: Path) -> list[str]:
    path = workdir / "runs.txt"
    return path.read_text().split() if path.exists() else []


def _start(k: Kernel) -> None:
    k.run("%load_ext chkpt_ipython")
    k.run("N = 3")
    k.run(
        NO_THROTTLE + "import chkpt_ipython._widget\nw = chkpt_ipython._widget.widget()\ndisplay(w)"
    )


def test_widget_follows_a_real_notebook(tmp_path):
    env = {"CHKPT_DIR": str(tmp_path / "ckpt")}
    with Kernel(tmp_path, env) as k:
        _start(k)
        model_id = k.json("w.model_id")
        for cell in (RAW, FEATURES, TOTAL):
            k.run(cell)
        states = k.json(STATES)
        assert states == {
            s: ["cached", "computed", True, True] for s in ("raw", "features", "total")
        }
        assert k.json("w.totals['stages']") == 3
        assert k.json("[s['inputs'] for s in w.stages]") == [[], ["raw"], ["features"]]
        synced = {x["stage"]: x["state"] for x in k.synced_state(model_id)["stages"]}
        assert synced == {"raw": "cached", "features": "cached", "total": "cached"}
        if shutil.which("dot"):
            svg = k.json("w.svg")
            assert all(f"<title>{s}</title>" in svg for s in ("raw", "features", "total"))
            static = k.json("w.static_copy()")
            assert static.count("chkpt-session-computed") == 3

        # A changed parameter shows as stale before anything reruns.
        k.run("N = 4")
        states = k.json(STATES)
        assert states["features"][0] == "stale", states
        assert states["raw"][0] == "cached"
        assert k.synced_state(model_id)["stages"][1]["state"] == "stale"
        k.run(FEATURES)
        assert k.json(STATES)["features"][:2] == ["cached", "computed"]

        # clear one stage, through the widget
        k.run("w.clear('total')")
        assert k.json(STATES)["total"][0] == "missing"
        assert k.json("chkpt_ipython.session().status()[2]['state']") == "missing"


def test_toggles_take_effect_on_the_next_run_and_persist(tmp_path):
    env = {"CHKPT_DIR": str(tmp_path / "ckpt")}
    with Kernel(tmp_path, env) as k:
        _start(k)
        for cell in (RAW, FEATURES, TOTAL):
            k.run(cell)
    assert sorted(_runs(tmp_path)) == ["features", "raw", "total"]

    with Kernel(tmp_path, env) as k:  # a new kernel: every stage loads
        _start(k)
        for cell in (RAW, FEATURES, TOTAL):
            k.run(cell)
        assert sorted(_runs(tmp_path)) == ["features", "raw", "total"]
        states = k.json(STATES)
        assert states == {s: ["cached", "loaded", True, True] for s in ("raw", "features", "total")}

        k.run("w.set_load('raw', False)")  # what the widget's "load" checkbox sends
        assert k.json("chkpt_ipython.session().options('raw')") == {
            "load": False,
            "store": True,
        }
        assert k.json(STATES)["raw"][2] is False
        k.run(RAW)
        assert _runs(tmp_path).count("raw") == 2  # recomputed, not loaded
        assert k.json(STATES)["raw"][:2] == ["cached", "computed"]

        k.run("w.set_store('total', False)\nw.clear('total')")
        k.run(TOTAL)
        states = k.json(STATES)
        assert states["total"][:2] == ["missing", "computed"], states  # ran, stored nothing
        assert states["total"][3] is False

        # The same switch from code, seen by the widget.
        k.run("chkpt_ipython.session().set_options('features', load=False)")
        assert k.json(STATES)["features"][2] is False

    with Kernel(tmp_path, env) as k:  # switches persist with the checkpoint directory
        _start(k)
        assert k.json("chkpt_ipython.session().options('raw')") == {
            "load": False,
            "store": True,
        }
        k.run(RAW)
        assert _runs(tmp_path).count("raw") == 3
        k.run("w.clear_all()")
        assert {s[0] for s in k.json(STATES).values()} == {"missing"}


def test_without_graphviz_the_kernel_shows_a_table(tmp_path):
    """With no `dot` on the kernel's PATH the widget shows the table and one install line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = {"CHKPT_DIR": str(tmp_path / "ckpt"), "PATH": str(bin_dir)}
    with Kernel(tmp_path, env) as k:
        assert k.json("__import__('shutil').which('dot')") is None
        _start(k)
        k.run(RAW)
        assert k.json("w.svg") == ""
        assert "install Graphviz" in k.json("w.message")
        assert k.json(STATES)["raw"][0] == "cached"
        html, _live = [
            o["data"].get("text/html", "")
            for c in k.nb.cells
            for o in c.outputs
            if o.get("output_type") == "display_data"
            and "chkpt_ipython" not in o.get("metadata", {})  # a stage cell's status line
        ]
        assert "<table" in html and "install Graphviz" in html


def test_running_and_failed_states_and_the_magic(tmp_path):
    env = {"CHKPT_DIR": str(tmp_path / "ckpt")}
    with Kernel(tmp_path, env) as k:
        _start(k)
        assert k.json("get_ipython().run_line_magic('chkpt_widget', '') is w") is True
        assert k.json("chkpt_ipython.widget() is w") is True
        # While a stage cell runs, the widget already shows it running.
        out = k.run(
            "%%chkpt_stage slow\n"
            "import chkpt_ipython._widget as cw\n"
            "seen = cw.widget().state_of('slow')['state']\n"
            "print('seen while running:', seen)\n"
            "del cw"
        )
        assert "seen while running: running" in out
        assert k.json(STATES)["slow"][:2] == ["cached", "computed"]
        # A stage cell that raises shows as failed, with the error on its node.
        with pytest.raises(nbclient.exceptions.CellExecutionError):
            k.run("%%chkpt_stage broken\nbroken = 1 / 0")
        broken = k.json("w.state_of('broken')")
        assert broken["state"] == "failed"
        assert broken["label"][-1] == "ZeroDivisionError: division by zero"
        if shutil.which("dot"):
            assert "chkpt-state-failed" in k.json("w.static_copy()")
