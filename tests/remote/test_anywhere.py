"""Issue 11.1: stages defined anywhere users define them (a script's top level and its
``if __name__ == "__main__":`` block, closures, lambdas, ``functools.partial``, recursive stages,
classes from ``__main__`` in bound parameters) run on process pools (fork and spawn) and on a real
multi-process Dask cluster, and a second run hits every checkpoint the workers wrote."""

from __future__ import annotations

import pytest

from .conftest import last_json, run_script

pytestmark = pytest.mark.timeout(150)

EXPECTED = {"closure": 15, "lambda": 7, "partial": 6, "fact": 120, "how": 6}


@pytest.mark.parametrize("kind", ["fork", "spawn", "dask"])
def test_stages_defined_in_a_script_run_on_workers(kind, tmp_path, request):
    target = kind
    if kind == "dask":
        target = request.getfixturevalue("dask_cluster").scheduler_file
    out = last_json(run_script("anywhere.py", target, tmp_path / "store"))
    value = out["value"]
    assert {k: value[k] for k in EXPECTED} == EXPECTED
    assert out["driver"] not in [*value["pids"], value["pid"]]  # computed by workers
    assert set(out["first"].values()) == {"computed"}
    assert out["again"].pop("gather") == "loaded"
    assert set(out["again"].values()) == {"skipped"}


def test_without_cloudpickle_a_closure_fails_before_submitting(tmp_path):
    """Nothing can ship a closure then: a clear error naming the stage, and no worker started."""
    out = last_json(run_script("no_cloudpickle.py", tmp_path / "store"))
    assert out["error"] == "RemoteStageError"
    assert "'closure'" in out["message"] and "cloudpickle" in out["message"]
    assert out["cause"] == "PicklingError"
    assert out["workers_started"] == 0
    # stages of importable modules and a script's top level still go by reference
    assert out["top_level_by_reference"] is True
