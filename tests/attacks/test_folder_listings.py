"""Folders a stage lists are inputs: a file added to or removed from ``data/`` recomputes the
stages that globbed, listed or walked it (found by the script attack: chkpt served 13 where a
plain run gave 16). Real scripts in subprocesses, bytecode caching on, compared with plain runs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import glob, os, sys
import chkpt

@chkpt.Stage.wrap()
def a():
    return 10

@chkpt.Stage.wrap()
def b(x):
    import json, decimal  # imports list sys.path folders: those listings are not inputs
    return x + {how}

if __name__ == "__main__":
    if os.environ.get("PLAIN"):
        print("RESULT", b.func(a.func()))
    else:
        r = (a >> b).run(chkpt.Config(load=True, dir=os.environ["STORE"]))
        print("RESULT", r.value)
        print("ACTION", r["b"].action, r["b"].reason)
"""

HOW = {
    "glob": 'sum(int(open(p).read()) for p in sorted(glob.glob("data/*.txt")))',
    "listdir": 'len(os.listdir("data"))',
    "scandir": 'len(list(os.scandir("data")))',
    "walk": "sum(len(files) for _, _, files in os.walk('data'))",
}


def _run(d: Path, plain: bool = False) -> tuple[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PLAIN")}
    env.update(PYTHONPATH=str(ROOT), STORE=str(d / "store"))
    if plain:
        env["PLAIN"] = "1"
    p = subprocess.run(
        [sys.executable, "main.py"], cwd=d, env=env, capture_output=True, text=True, timeout=120
    )
    assert p.returncode == 0, p.stderr
    out = dict(line.split(" ", 1) for line in p.stdout.splitlines() if " " in line)
    return out["RESULT"], out.get("ACTION", "")


@pytest.mark.parametrize("how", sorted(HOW))
def test_a_file_added_or_removed_in_a_listed_folder_recomputes(tmp_path: Path, how: str) -> None:
    (tmp_path / "main.py").write_text(textwrap.dedent(SCRIPT.format(how=HOW[how])))
    (tmp_path / "data").mkdir()
    for name, n in (("1.txt", "1"), ("2.txt", "2")):
        (tmp_path / "data" / name).write_text(n)
    first, _ = _run(tmp_path)
    again, action = _run(tmp_path)
    assert again == first and action.startswith("loaded")  # nothing changed: a hit
    (tmp_path / "data" / "3.txt").write_text("3")  # added
    got, action = _run(tmp_path)
    assert got == _run(tmp_path, plain=True)[0] != first
    assert "folder changed: data" in action or "file changed" in action, action
    assert _run(tmp_path)[1].startswith("loaded")
    (tmp_path / "data" / "1.txt").unlink()  # removed
    got, action = _run(tmp_path)
    assert got == _run(tmp_path, plain=True)[0]
    assert "changed" in action, action
