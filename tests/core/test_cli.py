"""`python -m chkpt ls | info | clear | gc` and the `chkpt` console script."""

from __future__ import annotations

import json
import os
import pathlib
import pty
import select
import shutil
import subprocess
import sys
import time

import pytest

import chkpt
from chkpt import Config, Stage


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chkpt", *args], capture_output=True, text=True, env=env
    )


@pytest.fixture
def filled(tmp_path):
    a = Stage(lambda: [1, 2, 3], name="download")
    b = Stage(lambda x: sum(x), name="total")
    (a >> b)(Config(dir=tmp_path))
    return tmp_path


def test_ls_lists_stages_with_sizes(filled):
    out = cli("--dir", str(filled), "ls")
    assert out.returncode == 0
    assert "download" in out.stdout and "total" in out.stdout and " B" in out.stdout


def test_info_shows_entries_and_json(filled):
    out = cli("--dir", str(filled), "info", "total")
    assert out.returncode == 0 and "key" in out.stdout and "input" in out.stdout
    data = json.loads(cli("--dir", str(filled), "info", "total", "--json").stdout)
    assert data[0]["stage"] == "total" and data[0]["serializer"] == "json"
    missing = cli("--dir", str(filled), "info", "nope")
    assert missing.returncode == 1 and "no checkpoints for stage 'nope'" in missing.stderr


def test_clear_one_stage_then_all(filled):
    assert "removed 1 checkpoint of 'total'" in cli("--dir", str(filled), "clear", "total").stdout
    assert chkpt.open_store(filled).stages() == ["download"]
    assert "removed 1 checkpoint" in cli("--dir", str(filled), "clear", "--yes").stdout
    assert chkpt.open_store(filled).entries() == []


def test_gc_keeps_newest(tmp_path):
    store = chkpt.open_store(tmp_path, keep=0)
    for i in range(3):
        store.save("s", f"{i:032x}", i)
    out = cli("--dir", str(tmp_path), "gc", "--keep", "1")
    assert out.returncode == 0 and "removed 2 entries (4 files," in out.stdout
    assert [e.key for e in store.entries("s")] == [f"{2:032x}"]


def test_dir_defaults_to_chkpt_dir_env(filled):
    env = {**os.environ, "CHKPT_DIR": str(filled)}
    assert "download" in cli("ls", env=env).stdout


def test_console_script_is_installed(filled):
    exe = shutil.which("chkpt", path=os.path.dirname(sys.executable))
    assert exe, "the `chkpt` console script is installed with the package"
    out = subprocess.run([exe, "--dir", str(filled), "ls"], capture_output=True, text=True)
    assert "download" in out.stdout


def test_version_matches_the_package():
    out = cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"chkpt {chkpt.__version__}"


def test_dir_is_accepted_after_the_subcommand(filled):
    before, after = cli("--dir", str(filled), "ls"), cli("ls", "--dir", str(filled))
    assert after.returncode == 0 and after.stdout == before.stdout and "download" in after.stdout
    assert "removed 1 checkpoint of 'total'" in cli("clear", "total", "--dir", str(filled)).stdout


@pytest.fixture
def notebooks(tmp_path):
    """A notebook folder's `.chkpt/` holding one store per notebook, as chkpt_ipython lays it out."""
    root = tmp_path / ".chkpt"
    for notebook, n in (("analysis", 3), ("explore", 1)):
        s = Stage(lambda n: list(range(n)), name="rows")
        for i in range(n):
            (() >> s.bind(n=100 * (i + 1)))(Config(dir=root / notebook))
    return tmp_path


def test_ls_discovers_per_notebook_stores(notebooks):
    out = subprocess.run(
        [sys.executable, "-m", "chkpt", "ls"], capture_output=True, text=True, cwd=notebooks
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[1].split()[:2] == ["analysis/rows", "3"]
    assert lines[2].split()[:2] == ["explore/rows", "1"]


def test_ls_json(notebooks):
    rows = json.loads(cli("--dir", str(notebooks / ".chkpt"), "ls", "--json").stdout)
    assert [(r["store"], r["stage"], r["entries"]) for r in rows] == [
        ("analysis", "rows", 3),
        ("explore", "rows", 1),
    ]
    assert all(r["bytes"] > 0 and r["newest"] > 0 for r in rows)
    assert json.loads(cli("--dir", str(notebooks / "none"), "ls", "--json").stdout) == []


def test_info_shows_bound_parameters(tmp_path):
    scale = Stage(lambda x, factor=1, label="": x * factor, name="scale")
    (Stage(lambda: 2, name="two") >> scale.bind(factor=3, label="big"))(Config(dir=tmp_path))
    out = cli("--dir", str(tmp_path), "info", "scale").stdout
    assert "params    factor=3, label='big'" in out, out


def sizes(directory) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())


def test_gc_dry_run_reports_entries_files_and_bytes_and_removes_nothing(tmp_path):
    store = chkpt.open_store(tmp_path, keep=0)
    for i in range(4):
        store.save("s", f"{i:032x}", "x" * 1000)
    before = sizes(tmp_path)
    out = cli("--dir", str(tmp_path), "gc", "--keep", "1", "--dry-run").stdout
    assert out.startswith("would remove 3 entries (6 files, ")
    assert sizes(tmp_path) == before and len(store.entries("s")) == 4
    out = cli("--dir", str(tmp_path), "gc", "--keep", "1").stdout
    freed = before - sizes(tmp_path)
    assert out.startswith(f"removed 3 entries (6 files, {freed / 1024:.1f} KiB)"), (out, freed)
    assert [e.key for e in store.entries("s")] == [f"{3:032x}"]


def backdate(entry: chkpt.Entry, created: float, used: float) -> None:
    """Make ``entry`` look created at ``created`` and last read at ``used`` (payload atime)."""
    meta = pathlib.Path(entry.path.rsplit(".", 2)[0] + ".meta.json")
    meta.write_text(json.dumps(dict(json.loads(meta.read_text()), created=created)))
    os.utime(entry.path, (used, created))


def test_gc_max_size_evicts_least_recently_used(tmp_path):
    store = chkpt.open_store(tmp_path, keep=0)
    for i in range(4):
        store.save("s", f"{i:032x}", "x" * 10_000)
    day = 86400
    now = time.time()
    for e in store.entries("s"):  # created 4..1 days ago; entry 0, the oldest, was read an hour ago
        age = (4 - int(e.key, 16)) * day
        backdate(e, now - age, now - 3600 if int(e.key, 16) == 0 else now - age)
    out = cli("--dir", str(tmp_path), "gc", "--keep", "0", "--max-size", "25K").stdout
    assert out.startswith("removed 2 entries (4 files,"), out
    assert sorted(e.key for e in store.entries("s")) == [f"{0:032x}", f"{3:032x}"]
    bad = cli("--dir", str(tmp_path), "gc", "--max-size", "lots")
    assert bad.returncode == 2 and "not a size: 'lots'" in bad.stderr


def test_gc_older_than_evicts_entries_unused_for_that_long(tmp_path):
    store = chkpt.open_store(tmp_path, keep=0)
    for i in range(3):
        store.save(f"s{i}", f"{i:032x}", i)
    month_ago = time.time() - 40 * 86400
    backdate(store.entries("s0")[0], month_ago, month_ago)
    backdate(store.entries("s1")[0], month_ago, time.time() - 86400)  # old, but read yesterday
    out = cli("--dir", str(tmp_path), "gc", "--older-than", "30d")
    assert out.stdout.startswith("removed 1 entry (2 files,"), out.stdout + out.stderr
    assert store.stages() == ["s1", "s2"]


def test_clear_all_needs_yes_when_not_a_terminal(filled):
    out = subprocess.run(
        [sys.executable, "-m", "chkpt", "--dir", str(filled), "clear"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert out.returncode == 2 and "without --yes" in out.stderr
    assert chkpt.open_store(filled).stages() == ["download", "total"]


def _in_a_terminal(args: list[str], answer: bytes) -> tuple[int, str]:
    """Run the CLI with a real pseudo-terminal as stdin/stdout, answering its prompt."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "chkpt", *args], stdin=follower, stdout=follower, stderr=follower
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 60
    while b"[y/N]" not in seen and time.monotonic() < deadline:
        if select.select([leader], [], [], 1)[0]:
            seen += os.read(leader, 4096)
    os.write(leader, answer)
    while True:
        try:
            ready = select.select([leader], [], [], 1)[0]
            chunk = os.read(leader, 4096) if ready else b""
        except OSError:  # the child closed the terminal
            break
        if not chunk and proc.poll() is not None:
            break
        seen += chunk
    os.close(leader)
    return proc.wait(timeout=60), seen.decode()


def test_clear_all_asks_in_a_terminal(filled):
    code, screen = _in_a_terminal(["--dir", str(filled), "clear"], b"n\n")
    assert code == 1 and "Remove all 2 checkpoints in" in screen and "nothing removed" in screen
    assert chkpt.open_store(filled).stages() == ["download", "total"]
    code, screen = _in_a_terminal(["--dir", str(filled), "clear"], b"y\n")
    assert code == 0 and "removed 2 checkpoints" in screen, screen
    assert chkpt.open_store(filled).entries() == []


def test_quiet_when_the_reader_goes_away(tmp_path):
    """`chkpt ls | head -1`: no BrokenPipeError traceback."""
    store = chkpt.open_store(tmp_path, keep=0)
    for i in range(300):
        store.save(f"stage_{i:04d}", f"{i:032x}", i)
    shell = f"{sys.executable} -m chkpt --dir {tmp_path} ls | head -1"
    out = subprocess.run(["bash", "-c", shell], capture_output=True, text=True)
    assert out.stdout.startswith("stage") and out.stderr == ""
    proc = subprocess.Popen(
        [sys.executable, "-m", "chkpt", "--dir", str(tmp_path), "ls"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    proc.stdout.close()  # the reader is gone before chkpt writes a line
    assert proc.wait(timeout=60) == 141 and proc.stderr.read() == b""
