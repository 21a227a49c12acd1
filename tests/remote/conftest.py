"""Shared fixtures: one real Dask cluster (scheduler and 2 workers as separate OS processes on
loopback) for the whole directory, and a way to run a user's driver script as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ._cluster import Cluster, child_env

SCRIPTS = Path(__file__).with_name("scripts")
collect_ignore = ["scripts"]  # users' scripts, run as subprocesses (never imported by pytest)


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory):
    """``dask scheduler`` + 2 ``dask worker`` processes; ``cluster.modules`` is on the workers'
    path (tests write user modules there)."""
    pytest.importorskip("distributed")
    root = tmp_path_factory.mktemp("cluster")
    (root / "modules").mkdir()
    cluster = Cluster(root, root / "modules", workers=2)
    try:
        import distributed

        with distributed.Client(cluster.address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield cluster
    finally:
        cluster.close()


def run_script(
    name: str, *args: Any, paths: tuple[Path, ...] = (), timeout: float = 90, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``scripts/<name>`` as a user would (``python script.py ...``), bounded in time."""
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / name), *map(str, args)],
        env=child_env(*paths), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    if check:
        assert proc.returncode == 0, f"{name} failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    return proc


def last_json(proc: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(proc.stdout.strip().splitlines()[-1])
