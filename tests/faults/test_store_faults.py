"""Never lossy under faults: a full disk during metadata, forked helpers and locks, concurrent runs,
fast clocks, what ``keep`` means, and same-named stages of one pipeline."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
import time
import warnings

import pytest

import chkpt
from chkpt import Config, Stage, _cli, _fs

from ._kit import CHILD, assert_right

KEY = "ab" * 16
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def python(code: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": REPO, **env},
    )


@pytest.mark.timeout(120)
def test_a_full_disk_while_writing_metadata_keeps_the_good_checkpoint(tmp_path):
    """RLIMIT_FSIZE: the new payload fits, its metadata does not. Before: the cut-off metadata
    was renamed over the good one and the checkpoint reported corrupt."""
    good = chkpt.open_store(tmp_path).save("s", KEY, {"good": 1})
    before = sorted(os.listdir(tmp_path / "s"))
    proc = python(
        f"""
        import resource, signal, chkpt
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        try:
            chkpt.open_store({str(tmp_path)!r}).save("s", {KEY!r}, {{"new": 2}},
                                                      extra={{"note": "x" * 20000}})
        except OSError as exc:
            print("cannot write:", exc)
        """
    )
    assert "cannot write:" in proc.stdout and "'s'" in proc.stdout, proc.stdout + proc.stderr
    assert "corrupt" not in proc.stdout + proc.stderr
    store = chkpt.open_store(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "corrupt checkpoint" either
        entry = store.lookup("s", KEY)
    assert entry == good and store.load(entry) == {"good": 1}
    after = sorted(os.listdir(tmp_path / "s"))
    assert [f for f in after if f.endswith(".tmp")] == []  # the failed temp files are gone
    assert set(before) <= set(after)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


@pytest.mark.timeout(120)
def test_a_helper_process_forked_in_a_stage_does_not_keep_its_lock(tmp_path, monkeypatch):
    """A stage starts a helper process (fork) and fails; the retry in the same session must not
    wait for the helper (flock is shared across fork). Before: it waited the full lock timeout."""
    monkeypatch.setenv("CHKPT_LOCK_TIMEOUT", "60")
    helpers = []
    attempts = []

    def flaky():
        helper = multiprocessing.get_context("fork").Process(target=_sleep, args=(60,))
        helper.start()
        helpers.append(helper)
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails")
        return 42

    pipe = () >> Stage(flaky, name="flaky", version=1)
    try:
        with pytest.raises(RuntimeError):
            pipe(Config(dir=tmp_path, load=True))
        start = time.monotonic()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert pipe(Config(dir=tmp_path, load=True)) == 42
        assert time.monotonic() - start < 20
        assert not [w for w in caught if "waited" in str(w.message)]
        key = chkpt.open_store(tmp_path).entries("flaky")[0].key
        proc = python(  # another process takes the same lock at once while both helpers live
            f"""
            import time, chkpt
            start = time.monotonic()
            with chkpt.Store({str(tmp_path)!r}, lock_timeout=30).lock("flaky", {key!r}) as held:
                print(held, time.monotonic() - start)
            """
        )
        held, seconds = proc.stdout.split()
        assert held == "True" and float(seconds) < 5, proc.stderr
        assert all(h.is_alive() for h in helpers)
    finally:
        for helper in helpers:
            helper.kill()
            helper.join()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ["json", "pickle"])
def test_concurrent_runs_print_no_false_warnings(tmp_path, kind):
    """Six processes at a time, three rounds, keys shared by pairs and changing between rounds,
    so entries are written, replaced, evicted and read at once: right results and no warning
    (before: false "corrupt checkpoint" and "writable by other users")."""
    store_dir = tmp_path / "store"
    for round_ in range(3):
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(CHILD),
                    str(store_dir),
                    kind,
                    "1",
                    str((round_ * 6 + i) // 2),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(6)
        ]
        for p in procs:
            out, err = p.communicate(timeout=240)
            assert p.returncode == 0, err[-2000:]
            report = json.loads(out.strip().splitlines()[-1])
            assert_right(report)
            assert not report["warnings"], report["warnings"]
    middles = chkpt.open_store(store_dir).entries("middle")
    assert 5 <= len(middles) < 9  # keep=5 per lineage evicted older ones while others read


def test_a_writer_whose_clock_runs_ahead_cannot_evict_fresh_entries(tmp_path):
    """A process whose clock is a day ahead writes two entries; then an ordinary run writes two.
    ``keep=2`` must keep the two written last (ordered by this host's file times, not by the
    ``created`` the writers recorded). Before: the fresh entries were deleted at once."""
    proc = python(
        f"""
        import time, chkpt
        real = time.time
        time.time = lambda: real() + 86400  # this writer's clock runs a day ahead
        for i in range(2):
            chkpt.open_store({str(tmp_path)!r}, keep=2).save("s", f"{{i:032x}}", i)
        """
    )
    assert proc.returncode == 0, proc.stderr
    time.sleep(0.05)
    for i in (2, 3):
        chkpt.open_store(tmp_path, keep=2).save("s", f"{i:032x}", i)
    entries = chkpt.open_store(tmp_path).entries("s")
    assert sorted(int(e.key, 16) for e in entries) == [2, 3]


def test_keep_0_keeps_every_entry_in_config_and_in_gc(tmp_path):
    """``Config(keep=0)`` and ``chkpt gc --keep 0`` mean the same: no limit."""
    for n in range(8):
        (() >> Stage(lambda n: n, name="v", version=1).bind(n=n))(Config(dir=tmp_path, keep=0))
        (() >> Stage(lambda n=n: n, name="w", version=n))(Config(dir=tmp_path, keep=0))
    store = chkpt.open_store(tmp_path)
    assert len(store.entries("v")) == 8 and len(store.entries("w")) == 8
    assert _cli.main(["--dir", str(tmp_path), "gc", "--keep", "0", "--grace", "0"]) == 0
    assert len(store.entries("v")) == 8 and len(store.entries("w")) == 8
    assert store.gc(keep=0) == 0 and len(store.entries()) == 16
    assert _cli.main(["--dir", str(tmp_path), "gc", "--keep", "1"]) == 0
    # "v": eight lineages (one per bound n), one entry each; "w": one lineage (code versions)
    assert len(store.entries("v")) == 8 and len(store.entries("w")) == 1


def _factory(k: int) -> Stage:
    def scale(x):
        return x * k

    return Stage(scale)  # every stage of the factory has the default name "scale"


def test_same_named_stages_of_one_factory_never_evict_each_other(tmp_path, calls):
    """Seven stages sharing a default name with keep=5. Before: each run evicted some of them
    and recomputed them, forever, reported as "code changed"."""

    def source():
        calls("source")
        return 2

    def total(*xs):
        return sum(xs)

    src = Stage(source, name="source", version=1)
    pipe = tuple(src >> _factory(k) for k in range(1, 8)) >> Stage(total, name="total")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # same-name warnings are another issue's
        first = pipe.run(Config(dir=tmp_path, load=True))
        for _ in range(3):
            again = pipe.run(Config(dir=tmp_path, load=True))
            assert again.value == first.value == 2 * sum(range(1, 8))
            assert set(again.actions().values()) <= {"loaded", "skipped"}, again.actions()
    assert len(chkpt.open_store(tmp_path).entries("scale")) == 7


def test_gc_never_probes_pids_on_windows(monkeypatch):
    """``os.kill(pid, 0)`` sends Ctrl+C on Windows: there, a temp file waits for its grace period."""
    import socket

    probed = []
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(os, "kill", lambda *a: probed.append(a))
    assert not _fs.abandoned(f".999999@{socket.gethostname()}-abc123.tmp")
    assert probed == []


@pytest.mark.timeout(120)
def test_listing_while_another_process_prunes_gives_no_false_corrupt_warning(tmp_path):
    """A run explaining a miss lists a stage's entries (``latest``) while another run's retention
    removes old ones (metadata first, then payload). Before: dozens of false "corrupt checkpoint"
    warnings in 4 s of this; an entry removed meanwhile is simply gone, not damaged."""
    writer = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(
            f"""
            import time, chkpt
            end, i = time.monotonic() + 4, 0
            while time.monotonic() < end:
                chkpt.open_store({str(tmp_path)!r}, keep=1).save("s", f"{{i:032x}}", {{"v": i}})
                i += 1
            print(i)
            """
        )],
        env={**os.environ, "PYTHONPATH": REPO},
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    scans = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        while writer.poll() is None:
            store = chkpt.open_store(tmp_path)
            store.entries("s")
            store.latest("s")
            scans += 1
    saves = int(writer.communicate()[0])
    assert saves > 50 and scans > 50, (saves, scans)
    assert [str(w.message) for w in caught] == []
