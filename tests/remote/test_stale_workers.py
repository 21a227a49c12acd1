"""Issue 11.3: a long-lived process pool or Dask worker that imported a stage's module before it
was edited must never store the old code's result under the new code's key (which a local run
would then load). The worker recomputes the fingerprint of the code it actually holds and refuses
with ``StaleWorkerError`` ("worker ran different code for stage ...: restart the workers"); nothing
is computed or stored there. Bytecode caching is on in every process, as users have it."""

from __future__ import annotations

import json

import pytest

import chkpt

from .conftest import run_script

pytestmark = pytest.mark.timeout(150)

STAGE = """
import chkpt

@chkpt.Stage.wrap()
def value():
    return "old"
"""

VIA_HELPER = """
import chkpt
import {helper}

HELPERS = ["{helper}"]

@chkpt.Stage.wrap()
def value():
    return {helper}.word()
"""

HELPER = """
def word():
    return "old"
"""


def write_module(directory, name, edit_in):
    """The stage's module; ``edit_in`` says which file the test edits: the stage's or a helper's."""
    if edit_in == "stage":
        (directory / f"{name}.py").write_text(STAGE)
        return
    (directory / f"{name}_help.py").write_text(HELPER)
    (directory / f"{name}.py").write_text(VIA_HELPER.format(helper=f"{name}_help"))


def runs(proc):
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def stored_keys(path):
    return {e.key for e in chkpt.open_store(path).entries("value")}


@pytest.mark.parametrize("edit_in", ["stage", "helper"])
@pytest.mark.parametrize("kind", ["fork", "spawn"])
def test_a_process_pool_kept_up_across_an_edit_refuses_the_new_key(kind, edit_in, tmp_path):
    modules = tmp_path / "modules"
    modules.mkdir()
    name = f"stale_{kind}_{edit_in}"
    write_module(modules, name, edit_in)
    proc = run_script("stale.py", kind, tmp_path / "store", modules, name)
    first, stale, local = runs(proc)
    assert first["value"] == "old" and first["action"] == "computed"
    assert stale["error"] == "StaleWorkerError", stale
    assert "worker ran different code for stage 'value'" in stale["message"]
    assert "restart the workers" in stale["message"].lower()
    assert stale["key"] != first["key"]
    assert stale["key"] not in stored_keys(tmp_path / "store") - {local["key"]}
    # a local run then computes the new code: the old result was never stored under its key
    assert local["value"] == "new code" and local["action"] == "computed"


@pytest.mark.parametrize("edit_in", ["stage", "helper"])
def test_a_dask_cluster_kept_up_across_an_edit_refuses_the_new_key(dask_cluster, edit_in, tmp_path):
    name = f"stale_dask_{edit_in}"
    write_module(dask_cluster.modules, name, edit_in)
    store, sched = tmp_path / "store", dask_cluster.scheduler_file

    def drive(*how):
        (out,) = runs(run_script("stale.py", sched, store, dask_cluster.modules, name, *how))
        return out

    first = drive("warm")  # both workers import the module as it is now
    assert first == {"value": "old", "action": "computed", "key": first["key"]}
    edited = dask_cluster.modules / (f"{name}.py" if edit_in == "stage" else f"{name}_help.py")
    edited.write_text(edited.read_text().replace('"old"', '"new code"'))
    stale = drive()  # a new driver process imports the new code; the workers hold the old one
    assert stale["error"] == "StaleWorkerError", stale
    assert "worker ran different code for stage 'value'" in stale["message"]
    assert stale["key"] != first["key"] and stored_keys(store) == {first["key"]}
    local = drive("local")
    assert local["value"] == "new code" and local["action"] == "computed"
    if edit_in == "helper":
        return  # restarting the workers (slow) is shown once, with the stage edited
    restarted = drive("restart")  # after client.restart() the workers import the new code
    assert restarted == {"value": "new code", "action": "computed", "key": local["key"]}
