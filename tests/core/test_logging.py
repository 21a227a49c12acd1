"""Logging conventions: one line per stage in a terminal by default, yet the application's logging
configuration always wins; chkpt never sets its logger's level or adds handlers to it."""

from __future__ import annotations

import os
import pathlib
import pty
import select
import subprocess
import sys
import textwrap
import time

ROOT = pathlib.Path(__file__).parents[2]

APP = textwrap.dedent(
    """
    import logging, sys
    import chkpt

    p = chkpt.Stage(lambda: 1, name="first") >> chkpt.Stage(lambda x: x + 1, name="second")
    p(chkpt.Config())
    print("== basicConfig(level=WARNING)", file=sys.stderr, flush=True)
    logging.basicConfig(level=logging.WARNING)
    p(chkpt.Config())
    print("== verbose=True", file=sys.stderr, flush=True)
    p(chkpt.Config(verbose=True))
    print("== root at INFO", file=sys.stderr, flush=True)
    logging.getLogger().setLevel(logging.INFO)
    p(chkpt.Config())
    lg = logging.getLogger("chkpt")
    print("== chkpt logger", lg.level, lg.handlers, lg.propagate, file=sys.stderr, flush=True)
    """
)


def in_a_terminal(code: str, cwd: pathlib.Path) -> str:
    """Run ``code`` with a real pseudo-terminal as stdout and stderr; what the terminal showed."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.DEVNULL, stdout=follower, stderr=follower,
        cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            ready = select.select([leader], [], [], 1)[0]
            chunk = os.read(leader, 4096) if ready else b""
        except OSError:  # the child closed the terminal
            break
        if not chunk and proc.poll() is not None:
            break
        seen += chunk
    os.close(leader)
    proc.wait(timeout=60)
    return seen.decode().replace("\r\n", "\n")


def test_terminal_lines_respect_the_apps_logging_configuration(tmp_path):
    screen = in_a_terminal(APP, tmp_path)
    default, warning, verbose, info, state = screen.split("== ")
    # nothing configured, a terminal: the seed's one line per stage
    assert [line.split()[:2] for line in default.splitlines()] == [
        ["chkpt:", "first"],
        ["chkpt:", "second"],
    ], screen
    # the app asked for warnings only: no stage lines, and never a line twice
    assert warning.splitlines()[1:] == [], screen
    # Config(verbose=True) asks for them explicitly, once each
    assert [line.split()[:2] for line in verbose.splitlines()[1:]] == [
        ["chkpt:", "first"],
        ["chkpt:", "second"],
    ], screen
    # the app logs INFO: the lines go through its handler and format, once each
    lines = info.splitlines()[1:]
    assert len(lines) == 2 and all(line.startswith("INFO:chkpt:") for line in lines), screen
    # chkpt left its logger as logging made it
    assert state.strip() == "chkpt logger 0 [] True", screen
