"""A real multi-process Dask cluster on loopback: `dask scheduler` and `dask worker` started as
separate OS processes (as on separate nodes), found through a scheduler file, always torn down."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

BIN = Path(sys.executable).parent


def child_env(*paths: Path) -> dict[str, str]:
    """The environment for child processes: our code (and ``paths``) importable, bytecode caching
    ON as users have it (so stale ``.pyc`` files are part of what is tested)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "CHKPT_DIR")}
    env["PYTHONPATH"] = os.pathsep.join(
        [*map(str, paths), *filter(None, [os.environ.get("PYTHONPATH", "")])]
    )
    return env


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies (even killed), so no cluster process
    outlives a test run (Linux; elsewhere the fixture's teardown is all there is)."""
    os.setsid()
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


class Cluster:
    def __init__(self, root: Path, modules: Path, workers: int = 2, timeout: float = 60) -> None:
        self.root, self.modules = root, modules
        self.scheduler_file = root / "scheduler.json"
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = child_env(modules)
        self.timeout = timeout
        self._start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", "0",
                    "--no-dashboard", "--scheduler-file", str(self.scheduler_file))  # fmt: skip
        deadline = time.monotonic() + timeout
        while not self.scheduler_file.exists():
            self._check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError("dask scheduler did not start")
            time.sleep(0.1)
        for i in range(workers):
            self.start_worker(f"worker{i}")

    def _start(self, name: str, *args: str) -> None:
        log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        self.procs[name] = subprocess.Popen(
            [str(BIN / "dask"), *args], stdout=log, stderr=subprocess.STDOUT,
            env=self.env, cwd=self.root, preexec_fn=_die_with_parent,
        )  # fmt: skip

    def start_worker(self, name: str, nanny: bool = True) -> None:
        self._start(name, "worker", "--scheduler-file", str(self.scheduler_file),
                    "--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard",
                    "--memory-limit", "1GiB", "--local-directory", str(self.root / name),
                    "--name", name, *([] if nanny else ["--no-nanny"]))  # fmt: skip

    def stop(self, name: str) -> None:
        _stop(self.procs.pop(name))

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited: {(self.root / f'{name}.log').read_text()}")

    @property
    def address(self) -> str:
        return json.loads(self.scheduler_file.read_text())["address"]

    def close(self) -> None:
        for name in list(self.procs):
            self.stop(name)


@contextlib.contextmanager
def cluster(root: Path, modules: Path, workers: int = 2) -> Iterator[Cluster]:
    c = Cluster(root, modules, workers)
    try:
        yield c
    finally:
        c.close()
