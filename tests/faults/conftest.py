"""Fixtures of the fault-injection suite."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture(scope="session")
def mallory():
    """A real unprivileged second user (created by the fixture; the suite runs as root in CI)."""
    import os

    from ._users import ensure_user

    if os.geteuid() != 0:
        pytest.skip("creating a second user and running as her needs root (CI runs as root)")
    return ensure_user()


@pytest.fixture
def shared_dir():
    """A sticky world-writable directory like /tmp, that the other user can reach."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="chkpt-shared-", dir="/tmp"))
    path.chmod(0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)
