"""Disk full and read-only directories: warn, return the result, damage nothing stored."""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

from chkpt import Config, Stage, StoreWarning

from ._kit import assert_right, run_child

NOBODY = 65534


def snapshot(root: Path) -> dict[str, str]:
    return {
        os.path.relpath(os.path.join(d, f), root): hashlib.sha256(
            Path(d, f).read_bytes()
        ).hexdigest()
        for d, _, files in os.walk(root)
        for f in files
        if not f.endswith(".lock")
    }


def test_file_size_limit_warns_and_keeps_what_was_stored(store_dir):
    """RLIMIT_FSIZE makes every write past 8 MB fail with EFBIG, as a full disk would."""
    rc, report = run_child(store_dir, "npy", mb=1)
    assert_right(report)
    before = snapshot(store_dir)
    rc, report = run_child(store_dir, "npy", mb=40, CHKPT_TEST_FSIZE=str(8 << 20))
    assert_right(report)  # the run returned the right result anyway
    failed = [w for w in report["warnings"] if "cannot write its checkpoint" in w]
    assert failed and all(str(store_dir) in w for w in failed), report["warnings"]
    assert any("'source'" in w for w in failed) and any("'middle'" in w for w in failed)
    after = snapshot(store_dir)
    assert {k: after[k] for k in before} == before  # nothing stored was touched
    assert not [f for f in after if f.endswith(".tmp")]  # failed writes cleaned up
    rc, report = run_child(store_dir, "npy", mb=1)
    assert_right(report)
    assert set(report["actions"].values()) <= {"loaded", "skipped"}


@pytest.mark.kernel_permitting  # RLIMIT_FSIZE above covers a full disk wherever this cannot run
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"), reason="needs root to mount")
def test_real_enospc_on_a_tiny_tmpfs(tmp_path):
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)]).returncode:
        pytest.skip("mount not permitted here")
    try:
        rc, report = run_child(mnt / "store", "json")
        assert_right(report)
        before = snapshot(mnt / "store")
        rc, report = run_child(mnt / "store", "npy", mb=4)
        assert_right(report)
        assert any("No space left" in w and "'source'" in w for w in report["warnings"])
        after = snapshot(mnt / "store")
        assert {k: after[k] for k in before} == before
        assert not [f for f in after if f.endswith(".tmp")]
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


def as_unprivileged(fn):
    """Run ``fn`` in a forked child without root (root ignores permission bits); return its result."""
    if os.geteuid() != 0:
        return fn()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            data = pickle.dumps(("ok", fn()))
        except BaseException as exc:  # noqa: BLE001
            data = pickle.dumps(("err", f"{type(exc).__name__}: {exc}"))
        with os.fdopen(w, "wb") as f:
            f.write(data)
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        status, value = pickle.loads(f.read())
    os.waitpid(pid, 0)
    assert status == "ok", value
    return value


def make_pipeline(factor: int):
    def source():
        return np.arange(1000)

    def scale(x, factor):
        return x * factor

    return Stage(source, name="source", version=1) >> Stage(scale, name="scale", version=1).bind(
        factor=factor
    )


def run_recording(root: str, factor: int, load=True):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = make_pipeline(factor).run(Config(dir=root, load=load))
    return value.value.tolist(), value.actions(), [str(w.message) for w in caught]


def test_read_only_store_warns_and_returns_the_result(tmp_path):
    run_recording(str(tmp_path / "warm"), 2)  # lazy imports now: the child cannot read them
    base = tempfile.mkdtemp(prefix="chkpt-ro-")
    try:
        os.chmod(base, 0o755)
        root = os.path.join(base, "store")
        if os.geteuid() == 0:
            os.chown(base, NOBODY, NOBODY)
        value, _, warned = as_unprivileged(lambda: run_recording(root, 2))
        assert value == list(range(0, 2000, 2)) and not warned
        for d, _, files in os.walk(root):  # make the whole store read-only
            for f in files:
                os.chmod(os.path.join(d, f), 0o400)
            os.chmod(d, 0o500)
        before = snapshot(Path(root))
        value, actions, warned = as_unprivileged(lambda: run_recording(root, 3))
        assert value == list(range(0, 3000, 3))
        assert actions == {"source": "loaded", "scale": "computed"}
        failed = [w for w in warned if "cannot write its checkpoint" in w]
        assert failed and "'scale'" in failed[0] and root in failed[0], warned
        assert snapshot(Path(root)) == before
        value, actions, warned = as_unprivileged(lambda: run_recording(root, 2))
        assert value == list(range(0, 2000, 2)) and actions["scale"] == "loaded"
    finally:
        for d, _, _ in os.walk(base):
            os.chmod(d, 0o700)
        shutil.rmtree(base)


def test_store_cannot_be_created_at_all(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.warns(StoreWarning) as record:
        assert make_pipeline(2)(Config(dir=blocker / "store"))[1] == 2
    messages = [str(w.message) for w in record]
    assert all("cannot write its checkpoint" in m for m in messages)
    assert {"'source'", "'scale'"} <= {m.split("stage ")[1].split(":")[0] for m in messages}
