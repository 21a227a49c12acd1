"""Issue 11.2, the cluster itself: a Dask worker that dies without a nanny to restart it leaves the
task waiting for a worker forever, and a scheduler that dies leaves the client without one. Both
fail the run naming the stage (``RemoteStageError``), while the stage itself may run as long as
it needs. Each test has its own small cluster, since it kills it."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from ._cluster import Cluster, child_env
from .conftest import SCRIPTS

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("lose", ["worker", "scheduler"])
def test_losing_the_cluster_fails_the_run(lose, tmp_path):
    pytest.importorskip("distributed")
    (tmp_path / "modules").mkdir()
    cluster = Cluster(tmp_path, tmp_path / "modules", workers=0)
    try:
        cluster.start_worker("worker", nanny=False)
        marker = tmp_path / "started"
        env = {**child_env(), "CHKPT_NO_WORKERS_TIMEOUT": "3"}
        driver = subprocess.Popen(
            [sys.executable, str(SCRIPTS / "lose_cluster.py"), str(cluster.scheduler_file),
             str(tmp_path / "store"), str(marker)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not marker.exists():  # the stage runs on the worker
                assert driver.poll() is None and time.monotonic() < deadline, driver.stderr.read()
                time.sleep(0.1)
            cluster.stop(lose)
            killed = time.monotonic()
            out, err = driver.communicate(timeout=60)
        finally:
            if driver.poll() is None:
                driver.kill()
        waited = time.monotonic() - killed
    finally:
        cluster.close()
    result = json.loads(out.strip().splitlines()[-1])
    assert result["error"] == "RemoteStageError", (result, err[-2000:])
    assert "'long_stage'" in result["message"]
    expected = "no workers for 3 s" if lose == "worker" else "cancelled"
    assert expected in result["message"], result
    assert waited < 30, waited  # the stage would have slept 60 s
