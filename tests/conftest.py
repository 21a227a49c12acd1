"""Shared fixtures: every test runs in its own working directory with its own checkpoint dir."""

from __future__ import annotations

import logging
import os

import pytest


def _fail_skips_in_ci(report, item=None) -> None:
    """In CI every test must run: a skip there (a missing browser, Graphviz, package) fails.

    Only a test marked ``kernel_permitting`` may skip: what it needs (mounting a filesystem) is
    the machine's to grant, and no install step can provide it.
    """
    if item is not None and item.get_closest_marker("kernel_permitting"):
        return
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = (
            f"skipped in CI, where everything it needs is installed: {report.longrepr}"
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    _fail_skips_in_ci((yield).get_result(), item)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    _fail_skips_in_ci((yield).get_result())  # a module-level importorskip


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path, monkeypatch):
    """Tests never write into the repository, and CHKPT_DIR from the caller never leaks in."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("CHKPT_DIR", raising=False)
    logging.getLogger("chkpt").setLevel(logging.INFO)
    yield work


class Calls:
    """Counts calls per stage. An object (not plain data), so it is not part of any fingerprint."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def __call__(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1

    def __getitem__(self, name: str) -> int:
        return self.counts.get(name, 0)

    def reset(self) -> None:
        self.counts.clear()


@pytest.fixture
def calls() -> Calls:
    return Calls()
