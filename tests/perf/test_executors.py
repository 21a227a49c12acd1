"""Config(executor=...): thread pools overlap independent branches, process pools run stages in
other processes; results, keys and checkpoints are the same as a serial run; errors name the stage."""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

import chkpt
from chkpt import Stage

from . import _stages as s

pytestmark = pytest.mark.timeout(120)


def diamond() -> chkpt.Pipeline:
    src = Stage(s.source, version=1)
    return ((src >> Stage(s.scale)), (src >> Stage(s.shift))) >> Stage(s.total)


def checkpoints(path) -> list[tuple[str, str, str, int]]:
    store = chkpt.open_store(path)
    return sorted((e.stage, e.key, e.checksum, e.size) for e in store.entries())


def test_four_half_second_stages_overlap_on_threads(tmp_path):
    naps = tuple(Stage(s.nap, name=f"nap{i}", version=1) for i in range(4))
    p = naps >> Stage(s.add_all)
    with ThreadPoolExecutor(4) as pool:
        start = time.perf_counter()
        result = p.run(chkpt.Config(dir=tmp_path, executor=pool))
        elapsed = time.perf_counter() - start
    assert result.value == 2.0
    assert elapsed < 1.5, f"4 x 0.5 s on 4 threads took {elapsed:.2f} s (serial: 2 s)"
    assert all(r.action == "computed" for r in result.stages)


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_threads_give_serial_results_keys_and_checkpoints(tmp_path, workers):
    serial = diamond().run(chkpt.Config(dir=tmp_path / "serial"))
    with ThreadPoolExecutor(workers) as pool:
        threaded = diamond().run(chkpt.Config(dir=tmp_path / "threads", executor=pool))
    assert threaded.value == serial.value
    assert [r.key for r in threaded.stages] == [r.key for r in serial.stages]
    assert checkpoints(tmp_path / "threads") == checkpoints(tmp_path / "serial")
    with ThreadPoolExecutor(workers) as pool:
        again = diamond().run(chkpt.Config(dir=tmp_path / "threads", load=True, executor=pool))
    assert again.value == serial.value
    assert [r.action for r in again.stages] == ["skipped"] * 3 + ["loaded"]


def test_thread_error_names_the_stage_and_keeps_sibling_checkpoints(tmp_path):
    src = Stage(s.source, version=1)
    p = ((src >> Stage(s.boom)), (src >> Stage(s.shift))) >> Stage(s.total)
    with ThreadPoolExecutor(2) as pool, pytest.raises(ValueError, match="bad input") as info:
        p.run(chkpt.Config(dir=tmp_path, executor=pool))
    assert any("'boom'" in note for note in getattr(info.value, "__notes__", []))
    stored = {e.stage for e in chkpt.open_store(tmp_path).entries()}
    assert {"source", "shift"} <= stored and "boom" not in stored


def test_process_pool_runs_stages_in_workers_with_serial_results(tmp_path):
    p = (
        Stage(s.where, name="w1", version=1),
        Stage(s.where, name="w2", version=1),
    ) >> Stage(s.pids)
    with ProcessPoolExecutor(2) as pool:
        result = p.run(chkpt.Config(dir=tmp_path / "procs", executor=pool))
        assert os.getpid() not in result.value
        assert [r.action for r in result.stages] == ["computed"] * 3

        serial = diamond().run(chkpt.Config(dir=tmp_path / "serial"))
        procs = diamond().run(chkpt.Config(dir=tmp_path / "procs2", executor=pool))
        assert procs.value == serial.value
        assert [r.key for r in procs.stages] == [r.key for r in serial.stages]
        assert checkpoints(tmp_path / "procs2") == checkpoints(tmp_path / "serial")

        again = diamond().run(chkpt.Config(dir=tmp_path / "procs2", load=True, executor=pool))
        assert again.value == serial.value
        assert [r.action for r in again.stages] == ["skipped"] * 3 + ["loaded"]


def test_process_pool_error_names_the_stage(tmp_path):
    p = Stage(s.source, version=1) >> Stage(s.boom)
    with ProcessPoolExecutor(1) as pool, pytest.raises(ValueError, match="bad input") as info:
        p.run(chkpt.Config(dir=tmp_path, executor=pool))
    assert any("'boom'" in note for note in getattr(info.value, "__notes__", []))


def test_process_pool_passes_stored_inputs_by_reference(tmp_path):
    """A stored input goes to the worker as a reference; the worker loads it from the store."""
    p = Stage(s.big, version=1) >> Stage(s.pid_of)
    with ProcessPoolExecutor(1) as pool:
        result = p.run(chkpt.Config(dir=tmp_path, executor=pool))
    pid, total = result.value
    assert pid != os.getpid() and total == 4_000_000.0
    assert isinstance(chkpt.open_store(tmp_path).load(
        chkpt.open_store(tmp_path).entries("big")[0]), np.ndarray)  # fmt: skip
