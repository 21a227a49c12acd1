"""kill -9 at every step of computing and storing: the next run never loads a partial checkpoint."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

import chkpt
from chkpt._fs import writer_tag

from ._kit import CHILD, assert_right, run_child

POINTS = ["compute", "dump", "payload_written", "payload_renamed", "meta_written", "meta_renamed"]


# every storing point at the 1st, 2nd and 3rd commit of a run; computing once is enough
KILLS = [("compute", 1)] + [
    (point, nth) for point in POINTS if point != "compute" for nth in (1, 2, 3)
]


@pytest.mark.parametrize(("point", "nth"), KILLS)
def test_kill_at_each_point_small_json(store_dir, point, nth):
    rc, _ = run_child(store_dir, "json", CHKPT_TEST_KILL_AT=f"{point}:{nth}")
    assert rc == -signal.SIGKILL
    rc, report = run_child(store_dir, "json")
    assert_right(report)
    assert not report["warnings"], report["warnings"]  # a kill leaves nothing that looks corrupt


@pytest.mark.parametrize("kind", ["npy", "pickle"])
@pytest.mark.parametrize("point", ["dump", "payload_renamed", "meta_written"])
def test_kill_while_storing_120mb(store_dir, kind, point):
    rc, _ = run_child(store_dir, kind, mb=120, CHKPT_TEST_KILL_AT=f"{point}:2")
    assert rc == -signal.SIGKILL
    rc, report = run_child(store_dir, kind, mb=120)
    assert_right(report)
    if point != "dump":  # the 2nd commit is the middle stage's: its upstream survived the kill
        assert report["actions"]["source"] in ("loaded", "skipped")


def test_kill_twice_in_a_row_then_resume(store_dir):
    for point in ("payload_renamed:1", "meta_written:1", "dump:2"):
        rc, _ = run_child(store_dir, "npy", mb=8, CHKPT_TEST_KILL_AT=point)
        assert rc == -signal.SIGKILL
    rc, report = run_child(store_dir, "npy", mb=8)
    assert_right(report)


def test_kill_after_random_delays(store_dir):
    """Real SIGKILLs from outside, at random moments of a 40 MB pipeline."""
    rng = random.Random(5)
    for _ in range(6):
        proc = subprocess.Popen(
            [sys.executable, str(CHILD), str(store_dir), "npy", "40", "0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.2, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    rc, report = run_child(store_dir, "npy", mb=40)
    assert_right(report)


def test_leftover_temps_are_ignored_and_removed_by_gc(store_dir):
    for point in ("dump:1", "payload_renamed:1", "meta_written:2"):
        run_child(store_dir, "json", CHKPT_TEST_KILL_AT=point)
    leftovers = [f for _, _, files in os.walk(store_dir) for f in files if f.endswith(".tmp")]
    assert leftovers
    stage_dir = next(p for p in store_dir.iterdir() if p.is_dir())
    in_flight = stage_dir / f".{writer_tag()}-x1y2.tmp"  # as if this live process were writing
    in_flight.write_bytes(b"half a payload")
    store = chkpt.open_store(store_dir)
    # the killed writers' temps go at once; a live writer's stays, within the grace period
    assert store.gc(grace=3600) >= len(leftovers)
    assert in_flight.exists()
    assert store.gc(grace=0) >= 1 and not in_flight.exists()
    names = [f for _, _, files in os.walk(store_dir) for f in files]
    assert not [f for f in names if f.endswith(".tmp") or f.endswith(".lock")]
    rc, report = run_child(store_dir, "json")
    assert_right(report)


def test_durable_mode_fsyncs_file_and_directory(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    store = chkpt.open_store(tmp_path / "s", durable=True)
    store.save("s", "ab" * 16, {"x": 1})
    assert len(synced) == 4  # payload file + dir, metadata file + dir
    assert store.load(store.lookup("s", "ab" * 16)) == {"x": 1}
