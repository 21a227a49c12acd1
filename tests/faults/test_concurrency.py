"""Several processes and threads on one directory: right results, no torn files, bounded work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter

import pytest

import chkpt
from chkpt import _lock

from ._child import digest, expected, pipeline
from ._kit import CHILD, assert_right


def computes(log) -> Counter:
    return (
        Counter(line.split()[0] for line in log.read_text().splitlines())
        if log.exists()
        else Counter()
    )


def run_processes(store_dir, log, n=4, kind="npy", mb=20, **env):
    procs = [
        subprocess.Popen(
            [sys.executable, str(CHILD), str(store_dir), kind, str(mb), "0"],
            env={**os.environ, "CHKPT_TEST_LOG": str(log), **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    reports = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports


def test_four_processes_compute_each_stage_once(store_dir, tmp_path):
    log = tmp_path / "computes.log"
    reports = run_processes(store_dir, log, CHKPT_TEST_SLOW="0.5")
    for report in reports:
        assert_right(report)
        assert not report["warnings"], report["warnings"]
    assert computes(log) == {"source": 1, "middle": 1, "sink": 1}  # the lock's bound


def test_without_flock_results_stay_right(store_dir, tmp_path, monkeypatch):
    """Where flock is unavailable, duplicate work is possible but results are still right."""
    log = tmp_path / "computes.log"
    reports = run_processes(store_dir, log, n=3, kind="json", CHKPT_TEST_NO_LOCK="1")
    for report in reports:
        assert_right(report)
    assert 1 <= computes(log)["middle"] <= 3


def test_threads_compute_each_stage_once(store_dir, tmp_path, monkeypatch):
    log = tmp_path / "computes.log"
    monkeypatch.setenv("CHKPT_TEST_LOG", str(log))
    monkeypatch.setenv("CHKPT_TEST_SLOW", "0.3")
    want = expected("json", 1, 7)["sink"]
    results, errors, actions = [], [], []

    def work():
        try:
            run = pipeline("json", 1, 7).run(chkpt.Config(dir=store_dir, load=True))
            results.append(digest(run.value))
            actions.append(run["sink"].action)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [want] * 4
    assert computes(log) == {"source": 1, "middle": 1, "sink": 1}
    assert sorted(actions) == ["computed", "loaded", "loaded", "loaded"]  # waiters took its result


def test_lock_timeout_warns_names_stage_and_path_and_goes_on(store_dir, monkeypatch):
    store = chkpt.open_store(store_dir)
    store.lock_timeout = 0.2
    key = "ab" * 16
    with store.lock("stage", key) as held:
        assert held
        done = []

        def other():
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                with store.lock("stage", key) as got:
                    done.append((got, [str(w.message) for w in caught]))

        t = threading.Thread(target=other)
        t.start()
        t.join()
    got, messages = done[0]
    assert got is False
    assert messages and "'stage'" in messages[0] and str(store_dir) in messages[0]


def test_lock_falls_back_on_a_read_only_or_lockless_dir(store_dir, monkeypatch):
    store = chkpt.open_store(store_dir)
    monkeypatch.setattr(_lock, "fcntl", None)
    with store.lock("stage", "ab" * 16) as held:
        assert held is False


def test_gc_never_removes_a_held_lock_and_waiters_survive_removal(store_dir):
    store = chkpt.open_store(store_dir)
    key = "cd" * 16
    with store.lock("stage", key):
        assert store.gc(grace=0) == 0
        assert (store_dir / "stage" / f".{key}.lock").exists()
    assert store.gc(grace=0) == 1  # unheld: removed, and the empty stage dir with it
    assert not (store_dir / "stage").exists()
    with store.lock("stage", key) as held:  # recreated on demand
        assert held


@pytest.mark.parametrize("n", [4])
def test_concurrent_writers_of_different_values_never_tear(store_dir, n):
    """Racing saves of one key with different values: readers see one whole value, never a mix."""
    code = (
        "import sys, numpy as np, chkpt; s = chkpt.open_store(sys.argv[1]);"
        "v = int(sys.argv[2]); [s.save('race', 'ee' * 16, np.full(1 << 20, v)) for _ in range(15)]"
    )
    env = {**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + str(CHILD.parents[2])}
    writers = [
        subprocess.Popen([sys.executable, "-c", code, str(store_dir), str(v)], env=env)
        for v in range(n)
    ]
    store = chkpt.open_store(store_dir)
    seen = 0
    deadline = time.monotonic() + 60
    while any(w.poll() is None for w in writers) and time.monotonic() < deadline:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            entry = store.lookup("race", "ee" * 16)
            if entry is None:
                continue
            try:
                value = store.load(entry)
            except chkpt.CorruptCheckpointError:
                continue  # pruned under our feet: a miss, never a wrong value
        assert len(set(value[:: 1 << 16].tolist() + [int(value[-1])])) == 1
        seen += 1
    for w in writers:
        assert w.wait(timeout=60) == 0
    assert seen > 0
