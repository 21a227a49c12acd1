"""One engine: a ``%%chkpt_stage`` cell and a script's stage go through the same checkpoint
policy (``chkpt.Checkpoints``), so the same fault gives the same reason, the same events and the
same warning class in both. The script side runs in a real subprocess, the cell side in IPython.

If the cell runner kept a recipe of its own (its own lookup, explanation or store-failure
handling), these comparisons would fail: the reasons, event sequences and warnings would differ.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import chkpt

SCRIPT = r"""
import json, os, sys, warnings
import chkpt

warnings.simplefilter("always")
directory, n, kind, strict = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"

def total(N):
    return N * 2

def lazy(N):
    return (i for i in range(N))

stage = chkpt.Stage(total if kind == "value" else lazy, name="total", version=1).bind(N=n)
events = []
unsubscribe = chkpt.events.subscribe(lambda e: events.append([e.kind, e.reason]))
error = None
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    try:
        chkpt.Pipeline(stage)(chkpt.Config(dir=directory, load=True, strict=strict))
    except Exception as exc:
        error = type(exc).__name__
print(json.dumps({
    "events": events,
    "warnings": [w.category.__name__ for w in seen if issubclass(w.category, chkpt.ChkptWarning)],
    "error": error,
}))
"""


def run_script(directory: Path, n: int, kind: str = "value", strict: bool = False) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(directory), str(n), kind, "1" if strict else "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def run_cell(ip, n: int, kind: str = "value", strict: bool = False) -> dict:
    body = "total = N * 2" if kind == "value" else "total = (i for i in range(N))"
    ip.run(f"N = {n}")
    ip.session().strict = strict
    events: list[list[str]] = []
    unsubscribe = chkpt.events.subscribe(
        lambda e: events.append([e.kind, e.reason]) if e.stage == "total" else None
    )
    error = None
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            try:
                ip.run(f"%%chkpt_stage total\n{body}")
            except Exception as exc:
                error = type(exc).__name__
    finally:
        unsubscribe()
    return {
        "events": events,
        "warnings": [
            w.category.__name__ for w in seen if issubclass(w.category, chkpt.ChkptWarning)
        ],
        "error": error,
    }


def metadata_files(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*.meta.json"))


def loop_metadata(directory: Path) -> None:
    """Every metadata file becomes a symlink to itself: reading it fails with ELOOP."""
    for meta in metadata_files(directory):
        meta.unlink()
        os.symlink(meta, meta)


def damage_payload(directory: Path) -> None:
    """Flip the bytes of every payload (metadata intact): the checksum no longer matches."""
    for meta in metadata_files(directory):
        for payload in meta.parent.glob(meta.name.replace(".meta.json", ".*")):
            if payload != meta:
                data = bytearray(payload.read_bytes())
                data[len(data) // 2] ^= 0xFF
                payload.write_bytes(bytes(data))


@pytest.fixture
def both(ip, tmp_path):
    """(script store dir, cell store dir), each holding a checkpoint of ``total`` for N=3."""
    script_dir = tmp_path / "script"
    cell_dir = Path(os.environ["CHKPT_DIR"])
    assert run_script(script_dir, 3)["error"] is None
    assert run_cell(ip, 3)["error"] is None
    ip.restart()
    return script_dir, cell_dir


def same(script: dict, cell: dict) -> None:
    assert script == cell, f"script {script} != cell {cell}"


def test_a_symlink_looped_metadata_path_warns_and_recomputes_in_both(ip, both):
    script_dir, cell_dir = both
    loop_metadata(script_dir)
    loop_metadata(cell_dir)
    script, cell = run_script(script_dir, 3), run_cell(ip, 3)
    same(script, cell)
    assert cell["error"] is None and "StoreWarning" in cell["warnings"]
    assert ["computed", "no checkpoint"] in cell["events"]


def test_a_damaged_checkpoint_warns_and_recomputes_in_both(ip, both):
    script_dir, cell_dir = both
    damage_payload(script_dir)
    damage_payload(cell_dir)
    script, cell = run_script(script_dir, 3), run_cell(ip, 3)
    same(script, cell)
    assert cell["warnings"] == ["StoreWarning"]
    assert ["computed", "checkpoint unreadable"] in cell["events"]


def test_a_parameter_change_has_the_same_reason_in_both(ip, both):
    script_dir, _ = both
    script, cell = run_script(script_dir, 4), run_cell(ip, 4)
    same(script, cell)
    assert cell["events"] == [
        ["start", "parameters changed: N 3 -> 4"],
        ["stored", "parameters changed: N 3 -> 4"],
        ["computed", "parameters changed: N 3 -> 4"],
    ]
    hit_script, hit_cell = run_script(script_dir, 4), run_cell(ip, 4)
    same(hit_script, hit_cell)
    assert hit_cell["events"] == [
        ["cached", "checkpoint matches"],
        ["loaded", "checkpoint matches"],
    ]


def test_a_value_that_cannot_be_stored_is_kept_with_the_same_warning_in_both(ip, tmp_path):
    script, cell = run_script(tmp_path / "s", 3, "lazy"), run_cell(ip, 3, "lazy")
    same(script, cell)
    assert cell["warnings"] == ["StoreWarning"] and cell["error"] is None
    assert cell["events"] == [["start", "no checkpoint"], ["computed", "no checkpoint"]]
    assert "total" in ip.ns


def test_strict_mode_raises_in_both(ip, tmp_path):
    script = run_script(tmp_path / "s", 3, "lazy", strict=True)
    cell = run_cell(ip, 3, "lazy", strict=True)
    assert script["error"] == cell["error"] == "SerializationError"


def test_the_cell_runner_has_no_checkpoint_recipe_of_its_own():
    """Keys, lookups, loads, stores and explanations of a cell all go through chkpt.Checkpoints."""
    import ast

    import chkpt_ipython

    package = Path(chkpt_ipython.__file__).parent
    forbidden = {"lookup", "load", "save", "latest", "make_key", "digest_only"}
    for name in ("_stage_cell.py", "_pipeline.py", "_inputs.py", "_payload.py"):
        tree = ast.parse((package / name).read_text())
        calls = {
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
        }
        uses = calls & forbidden
        if name == "_stage_cell.py":
            uses.discard("load")  # self.policy.load(...): checked below
        assert not uses, f"{name} calls {uses} itself instead of through chkpt.Checkpoints"
    source = (package / "_stage_cell.py").read_text()
    assert "self.policy.load(" in source and "store.load(" not in source
