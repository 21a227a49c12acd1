"""Shared fixtures: every test runs in its own working directory with its own checkpoint dir."""

from __future__ import annotations

import logging

import pytest


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
