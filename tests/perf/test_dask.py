"""A real dask.distributed LocalCluster (2 worker processes): stages run on the workers, which
write their own checkpoints to the shared store; only digests and references travel."""

from __future__ import annotations

import os
import pickle
from concurrent.futures import Executor, Future
from typing import Any

import pytest

import chkpt
from chkpt import Stage

from . import _stages as s

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit="1GiB",
        dashboard_address=None,
    )
    with cluster, distributed.Client(cluster) as c:
        yield c


class Recording(Executor):
    """Forwards to another executor and keeps what was sent and what came back."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.sent: list[tuple[Any, ...]] = []
        self.futures: list[Future[Any]] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.sent.append(args)
        future = self.inner.submit(fn, *args, **kwargs)
        self.futures.append(future)
        return future


def diamond() -> chkpt.Pipeline:
    src = Stage(s.source, version=1)
    return ((src >> Stage(s.scale)), (src >> Stage(s.shift))) >> Stage(s.total)


def entries(path) -> list[tuple[str, str, str]]:
    return sorted((e.stage, e.key, e.checksum) for e in chkpt.open_store(path).entries())


def test_stages_run_on_workers(client, tmp_path):
    p = (Stage(s.where, name="w1", version=1), Stage(s.where, name="w2", version=1)) >> Stage(
        s.pids
    )
    result = p.run(chkpt.Config(dir=tmp_path, executor=client.get_executor()))
    worker_pids = set(client.run(os.getpid).values())
    assert set(result.value) <= worker_pids and os.getpid() not in result.value
    assert [r.action for r in result.stages] == ["computed"] * 3


def test_keys_checkpoints_and_hits_match_a_local_run(client, tmp_path):
    local = diamond().run(chkpt.Config(dir=tmp_path / "local"))
    remote = diamond().run(chkpt.Config(dir=tmp_path / "dask", executor=client.get_executor()))
    assert remote.value == local.value
    assert [r.key for r in remote.stages] == [r.key for r in local.stages]
    assert entries(tmp_path / "dask") == entries(tmp_path / "local")  # written by the workers

    cfg = chkpt.Config(dir=tmp_path / "dask", load=True, executor=client.get_executor())
    again = diamond().run(cfg)
    assert again.value == local.value
    assert [r.action for r in again.stages] == ["skipped"] * 3 + ["loaded"]
    # a local run over the checkpoints the workers wrote hits too
    assert diamond().run(chkpt.Config(dir=tmp_path / "dask", load=True)).value == local.value


def test_large_results_do_not_travel_through_the_client(client, tmp_path):
    executor = Recording(client.get_executor())
    p = Stage(s.big, version=1) >> Stage(s.pid_of)
    result = p.run(chkpt.Config(dir=tmp_path, executor=executor))
    pid, total = result.value
    assert pid != os.getpid() and total == 4_000_000.0

    # what crossed the wire per task: a reference to the 32 MB array, never the array
    assert len(executor.futures) == 2
    assert max(len(pickle.dumps(f.result())) for f in executor.futures) < 64 * 1024
    assert max(len(pickle.dumps(args)) for args in executor.sent) < 64 * 1024
    (big,) = chkpt.open_store(tmp_path).entries("big")
    assert big.size > 32_000_000  # the 32 MB array stayed in the store, written by a worker
