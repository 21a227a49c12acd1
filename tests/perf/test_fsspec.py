"""Remote stores: ``dir`` is an fsspec URL: ``memory://`` and a real S3-compatible server on
loopback (moto's server mode, s3fs), with keys, hits and values as on a local directory."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest

import chkpt
from chkpt import Stage

from . import _stages as s

fsspec = pytest.importorskip("fsspec")
pytestmark = pytest.mark.timeout(120)


def diamond() -> chkpt.Pipeline:
    src = Stage(s.source, version=1)
    return ((src >> Stage(s.scale)), (src >> Stage(s.shift))) >> Stage(s.total)


def check_remote_matches_local(url: str, local, **options) -> None:
    expected = diamond().run(chkpt.Config(dir=local))
    first = diamond().run(chkpt.Config(dir=url, **options))
    assert first.value == expected.value
    assert [r.key for r in first.stages] == [r.key for r in expected.stages]
    again = diamond().run(chkpt.Config(dir=url, load=True, **options))
    assert again.value == expected.value
    assert [r.action for r in again.stages] == ["skipped"] * 3 + ["loaded"]
    store = chkpt.open_store(url, storage_options=options.get("storage_options"))
    assert {e.stage for e in store.entries()} == {"source", "scale", "shift", "total"}
    (src,) = store.entries("source")
    np.testing.assert_array_equal(store.load(src), s.source())


def test_memory_url(tmp_path):
    url = f"memory://chkpt-test-{time.monotonic_ns()}"
    try:
        check_remote_matches_local(url, tmp_path)
    finally:
        fsspec.filesystem("memory").rm(url.removeprefix("memory://"), recursive=True)


def test_memory_url_corrupt_payload_is_recomputed(tmp_path):
    url = f"memory://chkpt-corrupt-{time.monotonic_ns()}"
    p = Stage(s.source, version=1) >> Stage(s.shift)
    p(chkpt.Config(dir=url))
    store = chkpt.open_store(url)
    (entry,) = store.entries("shift")
    fs = fsspec.filesystem("memory")
    data = bytearray(fs.cat_file(entry.path))
    data[-1] ^= 0xFF  # same size, different bytes
    fs.pipe_file(entry.path, bytes(data))
    with pytest.warns(chkpt.StoreWarning):
        value = p(chkpt.Config(dir=url, load=True))
    np.testing.assert_array_equal(value, s.source() + 1.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def s3_server(monkeypatch):
    pytest.importorskip("s3fs")
    server_mod = pytest.importorskip("moto.server")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    port = free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_s3_on_a_loopback_server(tmp_path, s3_server):
    options = {
        "endpoint_url": s3_server,
        "key": "testing",
        "secret": "testing",
        "skip_instance_cache": True,
        "config_kwargs": {"connect_timeout": 5, "read_timeout": 10, "retries": {"max_attempts": 1}},
    }
    fs = fsspec.filesystem("s3", **options)
    fs.mkdir("chkpt-bucket")
    check_remote_matches_local("s3://chkpt-bucket/run", tmp_path, storage_options=options)
    assert any(p.endswith(".meta.json") for p in fs.find("chkpt-bucket/run"))
