"""Issue 11.2: a task that cannot be shipped, loaded on the worker, or whose result or exception
cannot come back, and a worker that dies, each fail the run within seconds with an error naming
the stage (``RemoteStageError``, the cause as ``__cause__``); an error in one branch stops the
run at once, without waiting for a slow sibling. On process pools (fork, spawn) and on a real
multi-process Dask cluster. (Before: Dask waited forever on the first five.)"""

from __future__ import annotations

import pytest

from .conftest import last_json, run_script

pytestmark = pytest.mark.timeout(120)

KINDS = ["fork", "spawn", "dask"]


def fail(case, kind, tmp_path, request, **kw):
    target = kind
    if kind == "dask":
        target = request.getfixturevalue("dask_cluster").scheduler_file
    modules = tmp_path / "driver_modules"
    modules.mkdir()
    (modules / "driver_only.py").write_text("def plus_one(x):\n    return x + 1\n")
    out = last_json(run_script("failing.py", case, target, tmp_path / "store", modules, **kw))
    assert out["error"] is not None, out
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_an_unpicklable_stage_fails_before_anything_is_sent(kind, tmp_path, request):
    out = fail("unpicklable_stage", kind, tmp_path, request)
    assert out["error"] == "RemoteStageError" and "'holds_a_lock'" in out["message"]
    assert "cannot be sent" in out["message"] and out["cause"] == "TypeError"  # cannot pickle
    assert out["stored"] == ["one"]


@pytest.mark.parametrize("kind", ["dask"])  # pool workers get the driver's sys.path
def test_a_stage_the_worker_cannot_import_fails_naming_it(kind, tmp_path, request):
    out = fail("missing_module", kind, tmp_path, request)
    assert out["error"] == "RemoteStageError" and "'plus_one'" in out["message"]
    assert "cannot be loaded on worker" in out["message"] and "driver_only" in out["message"]


@pytest.mark.parametrize("kind", KINDS)
def test_an_input_that_cannot_be_unpickled_on_the_worker_fails_naming_the_stage(
    kind, tmp_path, request
):
    out = fail("unloadable_param", kind, tmp_path, request)
    assert out["error"] == "RemoteStageError" and "'bomb_param'" in out["message"]
    assert "this object cannot be unpickled" in out["message"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_result_that_cannot_be_pickled_fails_naming_the_stage(kind, tmp_path, request):
    out = fail("unpicklable_result", kind, tmp_path, request)
    assert out["error"] == "RemoteStageError" and "'returns_a_lock'" in out["message"]
    assert "result cannot be sent back" in out["message"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_result_that_cannot_be_unpickled_here_fails_naming_the_stage(kind, tmp_path, request):
    out = fail("unloadable_result", kind, tmp_path, request)
    assert out["error"] == "RemoteStageError" and "'returns_a_bomb'" in out["message"]
    assert "result cannot be loaded in this process" in out["message"]
    assert out["cause"] == "RuntimeError"


@pytest.mark.parametrize("kind", KINDS)
def test_an_exception_that_cannot_be_unpickled_still_names_the_stage(kind, tmp_path, request):
    out = fail("unloadable_exception", kind, tmp_path, request)
    assert out["error"] == "RemoteStageError" and "'raises_needs_two'" in out["message"]
    assert "NeedsTwo: a and b" in out["message"]  # the worker's traceback, as text


@pytest.mark.parametrize("kind", KINDS)
def test_a_worker_that_dies_fails_the_run_naming_the_stage(kind, tmp_path, request):
    out = fail("worker_dies", kind, tmp_path, request)
    assert out["error"] == "RemoteStageError" and "'exits'" in out["message"]
    assert out["cause"] == ("KilledWorker" if kind == "dask" else "BrokenProcessPool")


@pytest.mark.parametrize("kind", KINDS)
def test_a_failing_branch_stops_the_run_without_waiting_for_a_slow_sibling(kind, tmp_path, request):
    slow = 30.0
    out = fail("branch_fails", kind, tmp_path, request)
    assert out["error"] == "ValueError" and out["message"] == "bad input"
    assert any("'boom'" in note for note in out["notes"])
    assert out["seconds"] < slow / 3, out  # the slow sibling still runs: the run did not wait
