"""A store in a directory other users can write (``dir='/tmp'``), attacked by a real second user.

The victim is this (root) process; the attacker is ``chkpt-mallory``, an unprivileged user the
fixture creates, whose code runs in a forked child with her uid. Each attack ends in the right
value, or the right value with a warning naming the stage, within seconds; never her data.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import chkpt
from chkpt import ChkptError, Config, Stage, _cli

from ._users import as_user

pytestmark = pytest.mark.timeout(120)


def source():
    return {"rows": [1, 2, 3]}  # JSON


def frame(src):
    import pandas as pd

    return pd.DataFrame({"a": src["rows"]})  # Parquet (named below)


def arr(fr):
    return np.arange(1000.0) * len(fr)  # .npy


def obj(a):
    return {"set": {1, 2}, "sum": float(a.sum())}  # pickle


STAGES = ("source", "frame", "arr", "obj")
RIGHT = {"set": {1, 2}, "sum": 3 * 499500.0}


def pipeline(safe_formats_only: bool = False):
    first = (
        Stage(source, name="source", version=1)
        >> Stage(frame, name="frame", version=1, serializer="parquet")
        >> Stage(arr, name="arr", version=1)
    )
    return first if safe_formats_only else first >> Stage(obj, name="obj", version=1)


def run(directory, **config):
    """(value, actions, warning messages) of one run of the victim's pipeline (under
    ``safe=True``, of its stages whose values JSON and .npy can hold)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pipe = pipeline(safe_formats_only=config.get("safe", False))
        result = pipe.run(Config(dir=directory, load=True, **config))
    return result.value, result.actions(), [str(w.message) for w in caught]


def genuine_entries(tmp_path) -> dict[str, chkpt.Entry]:
    """The victim's keys, learnt by a run in a private dir (the strongest attacker knows them)."""
    run(tmp_path / "learn")
    return {e.stage: e for e in chkpt.open_store(tmp_path / "learn").entries()}


def evil_values():
    return {
        "source": {"rows": [9, 9, 9, 9, 9]},
        "frame": __import__("pandas").DataFrame({"a": [6, 6, 6, 6]}),
        "arr": np.full(1000, 666.0),
        "obj": {"set": {666}, "sum": -1.0},
    }


def forge(where: str, keys: dict[str, str]) -> None:
    """As the attacker: complete, self-consistent entries (right checksums) for the victim's keys,
    in every format, written with chkpt's own store into folder ``where``."""
    store = chkpt.open_store(where)
    for stage, value in evil_values().items():
        store.save(stage, keys[stage], value)
    for d in os.listdir(store.root):  # readable by the victim, as a real attacker would make them
        os.chmod(os.path.join(store.root, d), 0o755)
        for f in os.listdir(os.path.join(store.root, d)):
            os.chmod(os.path.join(store.root, d, f), 0o644)


def test_the_store_lives_in_a_private_root_the_other_user_cannot_enter(shared_dir, mallory):
    value, actions, warned = run(shared_dir)
    assert value == RIGHT and not warned
    root = shared_dir / f"chkpt-{os.getuid()}"
    assert sorted(os.listdir(shared_dir)) == [root.name]
    st = root.stat()
    assert st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) == 0o700
    assert chkpt.open_store(shared_dir).root == str(root)

    def peek():
        try:
            os.listdir(root)
        except PermissionError:
            return "denied"
        return "listed"

    assert as_user(mallory, peek) == "denied"
    value, actions, warned = run(shared_dir)
    assert value == RIGHT and set(actions.values()) <= {"loaded", "skipped"} and not warned


@pytest.mark.parametrize("when", ["before the first run", "between runs"])
def test_planted_and_swapped_entries_of_every_format_are_never_served(
    tmp_path, shared_dir, mallory, when
):
    keys = {s: e.key for s, e in genuine_entries(tmp_path).items()}
    if when == "between runs":
        assert run(shared_dir)[0] == RIGHT

    def attack():
        forge(str(shared_dir / "forged"), keys)  # her own store, then spread into every place
        outcome = {}
        for stage in STAGES:
            src = shared_dir / "forged" / stage
            for target in (shared_dir / stage, shared_dir / f"chkpt-{0}" / stage):
                try:
                    target.mkdir(parents=True, exist_ok=True)
                    for f in src.iterdir():
                        (target / f.name).write_bytes(f.read_bytes())
                    outcome[str(target)] = "planted"
                except PermissionError:
                    outcome[str(target)] = "denied"
        return outcome

    outcome = as_user(mallory, attack)
    if when == "between runs":  # the victim's private root exists: she cannot get in
        assert {k: v for k, v in outcome.items() if "chkpt-0" in k} == {
            str(shared_dir / "chkpt-0" / s): "denied" for s in STAGES
        }
    if when == "between runs":  # her copies are ignored: the victim loads her own entries
        for config in ({}, {"safe": True, "strict": True}):
            value, actions, warned = run(shared_dir, **config)
            right = np.arange(1000.0) * 3 if config else RIGHT
            assert np.array_equal(value, right) if config else value == right
            assert not warned, (config, warned)
            assert set(actions.values()) <= {"loaded", "skipped"}
        store = chkpt.open_store(shared_dir)
        assert np.array_equal(store.load(store.lookup("arr", keys["arr"])), np.arange(1000.0) * 3)
    else:  # she made chkpt-0 herself: refused, named, recomputed
        value, actions, warned = run(shared_dir)
        assert value == RIGHT and set(actions.values()) == {"computed"}
        assert any("someone else made it" in w for w in warned), warned
        assert all(any(f"'{s}'" in w for w in warned) for s in STAGES), warned
        with pytest.raises(ChkptError, match="'source'.*someone else made it"):
            pipeline(True).run(Config(dir=shared_dir, load=True, safe=True, strict=True))


@pytest.mark.parametrize("squat", ["folder", "symlink", "file"])
def test_a_squatted_private_root_is_refused_with_a_clear_warning(
    tmp_path, shared_dir, mallory, squat
):
    keys = {s: e.key for s, e in genuine_entries(tmp_path).items()}

    def attack():
        forge(str(shared_dir / "forged"), keys)
        target = shared_dir / "chkpt-0"
        if squat == "folder":
            os.rename(shared_dir / "forged", target)
            target.chmod(0o755)
        elif squat == "symlink":
            target.symlink_to(shared_dir / "forged")
        else:
            target.write_text("mine")

    as_user(mallory, attack)
    start = time.monotonic()
    value, actions, warned = run(shared_dir)
    assert value == RIGHT and set(actions.values()) == {"computed"}
    assert time.monotonic() - start < 30
    assert any("cannot write its checkpoint" in w and "chkpt-0" in w for w in warned), warned


def test_racing_folder_swaps_never_serve_her_data_or_run_her_pickle(tmp_path, mallory):
    """A world-writable dir WITHOUT the sticky bit: she can rename the victim's private root away
    and put her own folders or symlinks there, over and over, while the victim runs."""
    import shutil
    import tempfile

    shared = Path(tempfile.mkdtemp(prefix="chkpt-open-", dir="/tmp"))
    shared.chmod(0o777)
    marker = shared / "pwned"
    try:
        keys = {s: e.key for s, e in genuine_entries(tmp_path).items()}
        assert run(shared)[0] == RIGHT
        ready = shared / "ready"

        def attack():
            forged, root = shared / "forged", shared / "chkpt-0"
            for _ in range(2):  # one set for the stage folders, one for the private root
                forge(str(forged), keys)
                evil = chkpt.open_store(str(forged))  # her pickle, with consistent metadata
                evil.save("obj", keys["obj"], _Marker(str(marker)))
                if not (shared / "evil-obj").exists():
                    for stage in STAGES:  # stage folders right in the shared dir (older layout)
                        os.rename(forged / stage, shared / f"evil-{stage}")
            ready.write_text("")
            deadline = time.monotonic() + 6
            swaps = 0
            while time.monotonic() < deadline:  # each step may lose a race with the victim
                for stage in STAGES:
                    parked = shared / f"parked-{stage}-{time.monotonic_ns()}"
                    with contextlib.suppress(OSError):
                        os.rename(shared / stage, parked)
                    with contextlib.suppress(OSError):
                        os.rename(shared / f"evil-{stage}", shared / stage)
                        swaps += 1
                        time.sleep(0.0005)
                        os.rename(shared / stage, shared / f"evil-{stage}")
                    with contextlib.suppress(OSError):
                        os.rename(parked, shared / stage)
                parked = shared / f"parked-{swaps}-{time.monotonic_ns()}"
                with contextlib.suppress(OSError):
                    os.rename(root, parked)  # the victim's root out of the way
                with contextlib.suppress(OSError):
                    os.rename(forged, root)  # her folder in its place
                    swaps += 1
                    time.sleep(0.0005)
                    os.rename(root, forged)
                with contextlib.suppress(OSError):
                    os.symlink(forged, root)  # or a symlink to it
                    swaps += 1
                    time.sleep(0.0005)
                    os.unlink(root)
                with contextlib.suppress(OSError):
                    os.rename(parked, root)  # the victim's root back, if it is still free
            return swaps

        result = {}
        thread = threading.Thread(target=lambda: result.update(swaps=as_user(mallory, attack)))
        thread.start()
        while not ready.exists() and thread.is_alive():
            time.sleep(0.01)
        runs = 0
        while thread.is_alive():
            value, actions, warned = run(shared)
            assert value == RIGHT, value
            runs += 1
        thread.join()
        assert result["swaps"] > 10 and runs > 3, (result, runs)
        print(f"swaps {result['swaps']}, victim runs {runs}")
        assert not marker.exists()
        assert run(shared)[0] == RIGHT  # whatever she left in place
    finally:
        shutil.rmtree(shared, ignore_errors=True)


class _Marker:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize(
    "plant",
    ["fifo payload", "fifo metadata", "payload -> /dev/zero", "metadata -> /dev/zero",
     "sparse payload", "huge payload", "directory payload"],
)  # fmt: skip
def test_planted_special_files_never_hang_or_exhaust_a_run(shared_dir, plant):
    """Whatever sits where a payload or metadata file should be: a warning and a recompute."""
    import resource

    assert run(shared_dir)[0] == RIGHT
    store = chkpt.open_store(shared_dir)
    for entry in store.entries():
        path = Path(entry.path)
        meta = path.with_name(entry.key + ".meta.json")
        target = meta if "metadata" in plant else path
        target.unlink()
        if plant.startswith("fifo"):
            os.mkfifo(target)
        elif "/dev/zero" in plant:
            target.symlink_to("/dev/zero")
        elif plant == "sparse payload":
            with open(target, "wb") as f:
                f.truncate(8 << 30)  # 8 GiB that occupy nothing on disk
        elif plant == "huge payload":
            with open(target, "wb") as f:
                f.seek(entry.size + (1 << 30))
                f.write(b"x")
        else:
            target.mkdir()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    value, actions, warned = run(shared_dir)
    assert value == RIGHT
    assert time.monotonic() - start < 30
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 << 10  # KiB
    assert set(actions.values()) == {"computed"}
    for stage in STAGES:
        assert any(f"'{stage}'" in w for w in warned), (plant, warned)
    for command in (["ls"], ["info", "source"], ["gc"]):  # info: 1 if nothing could be stored
        assert _cli.main(["--dir", str(shared_dir), *command]) in (0, 1)


def test_symlinked_stage_folders_and_locks_never_reach_outside(tmp_path, shared_dir):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("precious")
    assert run(shared_dir)[0] == RIGHT
    store = chkpt.open_store(shared_dir)
    root = Path(store.root)
    for entry in store.entries("source"):
        lock = root / "source" / f".{entry.key}.lock"
        lock.unlink(missing_ok=True)
        lock.symlink_to(outside / "lockfile")
    os.rename(root / "arr", tmp_path / "arr-moved")
    (root / "arr").symlink_to(outside)  # a stage folder that leads outside
    value, actions, warned = run(shared_dir)
    assert value == RIGHT and actions["arr"] == "computed"
    assert any("'arr'" in w and "cannot write" in w for w in warned), warned
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
    assert store.clear() >= 0 and store.gc(grace=0) >= 0
    assert _cli.main(["--dir", str(shared_dir), "gc", "--keep", "1", "--grace", "0"]) == 0
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
    assert (outside / "keep.txt").read_text() == "precious"


def test_clear_and_gc_remove_only_what_chkpt_made(tmp_path):
    """A dir shared with other programs' files: lock and temp files, folders, empty folders."""
    root = tmp_path / "tree"
    root.mkdir(mode=0o700)
    others = [
        root / ".editor.lock", root / ".X11.tmp", root / "notes.meta.json",
        root / "build" / "readme.txt", root / "source" / ".other.lock",
        root / "source" / ".download.tmp", root / "source" / "data.json",
    ]  # fmt: skip
    for f in others:
        f.parent.mkdir(exist_ok=True)
        f.write_text("someone else's")
    (root / "empty").mkdir()
    old = time.time() - 7200
    for f in others:
        os.utime(f, (old, old))
    assert run(root)[0] == RIGHT
    store = chkpt.open_store(root)
    assert store.clear() == len(STAGES)
    assert store.gc(keep=1, grace=0) == 0
    assert _cli.main(["--dir", str(root), "gc", "--grace", "0"]) == 0
    assert _cli.main(["--dir", str(root), "clear", "--yes"]) == 0
    assert all(f.read_text() == "someone else's" for f in others)
    assert (root / "empty").is_dir()


def test_the_cli_as_another_user_on_a_shared_dir(shared_dir, mallory):
    """As her (a forked child with her uid: the interpreter may live where she cannot run it)."""
    import contextlib
    import io

    assert run(shared_dir)[0] == RIGHT  # the victim's private root is there, closed to her

    def cli(*args):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = _cli.main(list(args))
        return rc, out.getvalue(), err.getvalue()

    for command in (["ls"], ["ls", "--json"], ["info", "source"], ["gc", "--keep", "0"]):
        rc, out, err = as_user(mallory, lambda c=command: cli("--dir", str(shared_dir), *c))
        assert rc in (0, 1) and "Traceback" not in err, (command, rc, out, err)
    rc, out, err = as_user(mallory, lambda: cli("--dir", str(shared_dir), "ls"))
    assert rc == 0 and "no checkpoints" in out, (out, err)
    rc, out, err = as_user(mallory, lambda: cli("--dir", "/tmp", "ls"))  # the seed's own dir
    assert rc == 0 and "Traceback" not in err, (out, err)
    rc, out, err = as_user(mallory, lambda: cli("--dir", str(shared_dir / "chkpt-0"), "ls"))
    assert rc == 0, (out, err)
    value, actions, warned = run(shared_dir)
    assert value == RIGHT and set(actions.values()) <= {"loaded", "skipped"} and not warned
