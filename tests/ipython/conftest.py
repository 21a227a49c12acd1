"""An in-process IPython shell with the extension loaded, and a way to 'restart' it."""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("IPython")


def _is_status_line(output) -> bool:
    return bool((output.metadata or {}).get("chkpt_ipython", {}).get("status_line"))


class Shell:
    """Drives IPython's test shell: ``run(cell)`` returns its result, ``restart()`` forgets all."""

    def __init__(self, shell) -> None:
        self.shell = shell

    def run(self, cell: str, *, raise_error: bool = True):
        from IPython.utils.capture import capture_output

        with capture_output() as captured:
            result = self.shell.run_cell(cell, store_history=True)
        lines = captured.stdout.splitlines(keepends=True)
        self.stdout = "".join(line for line in lines if not line.startswith("Out["))  # displayhook
        self.stderr = captured.stderr
        # the one-line status chkpt shows under a stage cell is kept apart from the cell's own
        self.lines = [o.data["text/plain"] for o in captured.outputs if _is_status_line(o)]
        self.displays = [o for o in captured.outputs if not _is_status_line(o)]
        if raise_error and not result.success:
            raise result.error_in_exec or result.error_before_exec
        return result.result

    @property
    def ns(self) -> dict:
        return self.shell.user_ns

    def session(self):
        from chkpt_ipython._session import session

        return session(self.shell)

    def restart(self) -> None:
        """Like a kernel restart: a fresh namespace and a fresh extension session."""
        self.shell.run_line_magic("unload_ext", "chkpt_ipython")
        self.shell.reset(new_session=False)
        self.shell.run_line_magic("load_ext", "chkpt_ipython")


@pytest.fixture
def ip(tmp_path, monkeypatch):
    from IPython.testing.globalipapp import get_ipython

    shell = get_ipython()
    monkeypatch.setenv("CHKPT_DIR", str(tmp_path / "checkpoints"))
    shell.reset(new_session=False)
    # as in ipykernel, the user namespace is __main__ (so notebook classes pickle by reference)
    monkeypatch.setitem(sys.modules, "__main__", shell.user_module)
    shell.run_line_magic("load_ext", "chkpt_ipython")
    yield Shell(shell)
    shell.run_line_magic("unload_ext", "chkpt_ipython")
    shell.reset(new_session=False)
