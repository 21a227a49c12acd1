"""Issue 11.4: a real multi-node shape. A scheduler and two workers run as separate OS processes on
loopback (``dask scheduler``, ``dask worker``); the driver is a user's script, run as its own
process, whose stages are defined in its ``if __name__ == "__main__":`` block. Workers write the
checkpoints to the shared store; only keys, digests and small results travel: a 64 MiB value never
passes through the driver, whether it is computed, hit, or read by a consumer that recomputes."""

from __future__ import annotations

import pytest

import chkpt

from .conftest import last_json, run_script

pytestmark = pytest.mark.timeout(150)

MB = 64


def test_big_values_stay_with_the_workers_and_the_store(dask_cluster, tmp_path):
    store = tmp_path / "shared"
    out = last_json(run_script("multinode.py", dask_cluster.scheduler_file, store, MB))
    assert out["runs"] == {
        "first": {"big": "computed", "summary": "computed"},
        "hit": {"big": "skipped", "summary": "loaded"},
        "consumer_changed": {"big": "skipped", "summary": "computed"},
    }
    first, changed = out["values"]
    assert first["sum"] == MB * 2**20 / 8 and changed["sum"] == 2 * first["sum"]
    assert out["driver"] not in (first["pid"], changed["pid"])  # computed on workers
    assert out["tasks"] == 3
    # what crossed the wire per task: a few KB of keys, digests, references and small results
    assert out["max_sent"] < 64 * 1024 and out["max_received"] < 64 * 1024, out
    assert out["peak_growth_mb"] < MB / 2, out  # the driver never held the value
    (entry,) = chkpt.open_store(store).entries("big")
    assert entry.size >= MB * 2**20  # written by a worker into the shared store
