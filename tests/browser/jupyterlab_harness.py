"""A JupyterLab server on localhost and a headless Chromium page driving it (Playwright, sync API).

Everything is bounded in time and cleaned up: the server runs in its own process group, which
is ended (with its kernels) when the context manager exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def missing_requirements() -> str | None:
    """Why the browser test cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"Debian chromium not installed at {CHROMIUM}"
    try:
        import jupyterlab  # noqa: F401
        import notebook  # noqa: F401  (Notebook 7)
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"missing {exc.name}"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    def __init__(
        self, root: Path, port: int, token: str, proc: subprocess.Popen, log: Path, app: str = "lab"
    ):
        self.root, self.port, self.token, self.proc, self.log = root, port, token, proc, log
        self.app = app  # "lab" (JupyterLab) or "notebook" (Notebook 7)

    def notebook_url(self, name: str, query: str = "") -> str:
        """Where the front end opens notebook ``name``."""
        if self.app == "notebook":
            return self.url(f"notebooks/{name}", query)
        return self.url(f"lab/tree/{name}", query or "reset")

    def url(self, path: str, query: str = "") -> str:
        query = f"{query}&" if query else ""
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}?{query}token={self.token}"

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


@contextlib.contextmanager
def jupyterlab(
    root: Path, scratch: Path, *, timeout: float = 60, path: str | None = None, app: str = "lab"
) -> Iterator[LabServer]:
    """Run ``jupyter lab`` (or Notebook 7, ``app="notebook"``) serving ``root``.

    The current Python's kernels and extensions are used. ``path`` replaces the server's (and
    so its kernels') PATH.
    """
    port, token = free_port(), secrets.token_hex(16)
    settings = scratch / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "CHKPT_"))}
    env.update(
        JUPYTER_CONFIG_DIR=str(scratch / "config"),
        JUPYTER_DATA_DIR=str(scratch / "data"),
        JUPYTER_RUNTIME_DIR=str(scratch / "runtime"),
        IPYTHONDIR=str(scratch / "ipython"),
        PATH=path
        if path is not None
        else os.path.dirname(sys.executable) + os.pathsep + env["PATH"],
    )
    cls = "LabApp" if app == "lab" else "JupyterNotebookApp"
    cmd = [
        sys.executable, "-m", "jupyter", app, "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--allow-root",
        "--ServerApp.port_retries=0", f"--{cls}.expose_app_in_browser=True",
        f"--{cls}.user_settings_dir={scratch / 'lab-settings'}",
        f"--{cls}.workspaces_dir={scratch / 'lab-workspaces'}",
    ]  # fmt: skip
    if app == "lab":
        cmd.append("--LabApp.extension_manager=readonly")
    log = scratch / "jupyterlab.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = LabServer(root, port, token, proc, log, app)
    try:
        _wait_until_up(server, timeout)
        yield server
    finally:
        _stop(proc)


def _wait_until_up(server: LabServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited early:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url("api/status"), timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"jupyter lab did not answer within {timeout}s:\n{server.log_tail()}")


def _stop(proc: subprocess.Popen) -> None:
    """End the server and its kernels: they share the process group the server leads."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # kernels left behind by a clean server exit


@contextlib.contextmanager
def chromium_page(*, width: int = 1280, height: int = 900, default_timeout_ms: int = 30_000):
    """A Playwright page in Debian's headless Chromium (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(default_timeout_ms)
            yield page
        finally:
            browser.close()


# ----------------------------------------------------------------- driving a notebook in the page

_NOTEBOOK = "window.jupyterapp.shell.currentWidget"


def open_notebook(page, server: LabServer, name: str, timeout_ms: int = 60_000) -> str:
    """Open ``name`` alone (a fresh workspace), wait until its kernel is idle; its panel's CSS id."""
    page.goto(server.notebook_url(name))
    page.wait_for_function(
        f"""() => {{
            const nb = window.jupyterapp && {_NOTEBOOK};
            return nb && nb.context && nb.context.isReady && nb.sessionContext
                && nb.sessionContext.session && nb.sessionContext.session.kernel
                && nb.sessionContext.session.kernel.status === 'idle';
        }}""",
        timeout=timeout_ms,
    )
    return "#" + page.evaluate(f"() => {_NOTEBOOK}.id")


def wait_idle(page, timeout_ms: int = 60_000) -> None:
    page.wait_for_function(
        f"() => {_NOTEBOOK}.sessionContext.session.kernel.status === 'idle'", timeout=timeout_ms
    )


def run_all(page, timeout_ms: int = 90_000) -> None:
    """Run every cell and wait until the last one has finished."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        f"""() => {_NOTEBOOK}.content.widgets
              .filter(c => c.model.type === 'code')
              .every(c => c.model.executionCount !== null && !c.node.classList.contains('jp-mod-pending'))""",
        timeout=timeout_ms,
    )
    wait_idle(page, timeout_ms)


def restart_kernel(page, timeout_ms: int = 60_000) -> None:
    page.evaluate(f"async () => {{ await {_NOTEBOOK}.sessionContext.session.kernel.restart(); }}")
    wait_idle(page, timeout_ms)


def cell_index(page, prefix: str) -> int:
    """Index of the first cell whose source starts with ``prefix``."""
    index = page.evaluate(
        f"(p) => {_NOTEBOOK}.content.widgets.findIndex(c => c.model.sharedModel.getSource().startsWith(p))",
        prefix,
    )
    if index < 0:
        raise LookupError(f"no cell starts with {prefix!r}")
    return index


def set_cell_source(page, index: int, source: str) -> None:
    """Replace a cell's text, as typing would."""
    page.evaluate(
        f"([i, src]) => {_NOTEBOOK}.content.widgets[i].model.sharedModel.setSource(src)",
        [index, source],
    )


def run_cell(page, index: int, timeout_ms: int = 60_000) -> None:
    """Run one cell (as Shift+Enter would, without moving on) and wait for it to finish."""
    before = page.evaluate(f"(i) => {_NOTEBOOK}.content.widgets[i].model.executionCount", index)
    page.evaluate(
        f"""async (i) => {{
            {_NOTEBOOK}.content.activeCellIndex = i;
            await window.jupyterapp.commands.execute('notebook:run-cell');
        }}""",
        index,
    )
    page.wait_for_function(
        f"""([i, before]) => {{
            const n = {_NOTEBOOK}.content.widgets[i].model.executionCount;
            return n !== null && n !== before;
        }}""",
        arg=[index, before],
        timeout=timeout_ms,
    )
    wait_idle(page, timeout_ms)


def cell_text(page, index: int) -> str:
    """The text of a cell's outputs (streams, plain-text results, errors)."""
    return page.evaluate(
        f"""(i) => {_NOTEBOOK}.content.widgets[i].model.outputs.toJSON().map(o =>
              [].concat(o.text || (o.data && o.data['text/plain']) || o.traceback || []).join('')
           ).join('\\n')""",
        index,
    )


def copy_file(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst
