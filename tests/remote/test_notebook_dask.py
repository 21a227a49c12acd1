"""Issue 11.1 in a notebook: stages defined in a real kernel's ``__main__`` run on a
``LocalCluster(processes=True)`` (worker processes without the notebook's namespace), with the
notebook globals they read shipped by value; a re-run hits the workers' checkpoints; a stage cell
edited and re-run in the same kernel is recomputed with its new code (the workers get it by
value: never refused as stale, never served the old result). Executed by nbclient."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.timeout(240)

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

CELLS = [
    """\
import json, os
import chkpt, distributed
cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
client = distributed.Client(cluster)
cfg = chkpt.Config(dir=STORE, executor=client.get_executor(), load=True)""",
    """\
K = 3

class Box:
    def __init__(self, v):
        self.v = v

@chkpt.Stage.wrap()
def where():
    return os.getpid()

@chkpt.Stage.wrap()
def boxed(pid):
    return Box([pid, K * 2]).v  # a notebook class, used on the worker""",
    """\
first = (where >> boxed).run(cfg)
again = (where >> boxed).run(cfg)
print(json.dumps({"value": first.value, "kernel": os.getpid(),
                  "first": first.actions(), "again": again.actions()}))""",
    """\
@chkpt.Stage.wrap()
def boxed(pid):
    return Box([pid, K * 20]).v

edited = (where >> boxed).run(cfg)
print(json.dumps({"value": edited.value, "actions": edited.actions()}))""",
    "client.close(); cluster.close()",
]


def test_notebook_stages_run_on_a_local_cluster(tmp_path):
    nb = nbformat.v4.new_notebook()
    setup = f"STORE = {str(tmp_path / 'store')!r}"
    nb.cells = [nbformat.v4.new_code_cell(setup)] + [nbformat.v4.new_code_cell(c) for c in CELLS]
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    printed = [
        json.loads(out.text)
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if out.output_type == "stream" and out.name == "stdout" and out.text.startswith("{")
    ]
    first, edited = printed
    pid, k2 = first["value"]
    assert pid != first["kernel"] and k2 == 6  # ran on the worker, read the notebook's K
    assert first["first"] == {"where": "computed", "boxed": "computed"}
    assert first["again"] == {"where": "skipped", "boxed": "loaded"}
    assert edited["value"] == [pid, 60]
    assert edited["actions"] == {"where": "skipped", "boxed": "computed"}
