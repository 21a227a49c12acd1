"""`python -m chkpt ls | info | clear | gc` and the `chkpt` console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

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
    assert "removed 1 checkpoint" in cli("--dir", str(filled), "clear").stdout
    assert chkpt.open_store(filled).entries() == []


def test_gc_keeps_newest(tmp_path):
    store = chkpt.open_store(tmp_path, keep=0)
    for i in range(3):
        store.save("s", f"{i:032x}", i)
    out = cli("--dir", str(tmp_path), "gc", "--keep", "1")
    assert out.returncode == 0 and "removed 2 files" in out.stdout
    assert [e.key for e in store.entries("s")] == [f"{2:032x}"]


def test_dir_defaults_to_chkpt_dir_env(filled):
    env = {**os.environ, "CHKPT_DIR": str(filled)}
    assert "download" in cli("ls", env=env).stdout


def test_console_script_is_installed(filled):
    exe = shutil.which("chkpt", path=os.path.dirname(sys.executable))
    assert exe, "the `chkpt` console script is installed with the package"
    out = subprocess.run([exe, "--dir", str(filled), "ls"], capture_output=True, text=True)
    assert "download" in out.stdout
