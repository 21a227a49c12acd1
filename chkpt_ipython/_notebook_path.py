"""Which notebook is this kernel running, and where do its checkpoints live?

Front ends tell the kernel the notebook's path in different ways: the Jupyter server sets
``JPY_SESSION_NAME`` (ipykernel copies it to ``__session__``), VS Code sets ``__vsc_ipynb_file__``.
Headless runners (nbclient, ``jupyter nbconvert --execute``, papermill) start the kernel in the
notebook's directory but say nothing more; there the notebook is the one ``.ipynb`` in the working
directory whose code cells contain the cell being executed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["Resolved", "find_notebook", "resolve_dir"]

log = logging.getLogger("chkpt.ipython")

FALLBACK_NAME = "_notebook"
# .ipynb, and the text notebooks Jupytext opens in JupyterLab; a console's session has no suffix
NOTEBOOK_SUFFIXES = (".ipynb", ".py", ".md", ".qmd", ".Rmd")


@dataclasses.dataclass(frozen=True)
class Resolved:
    """A checkpoint directory and how it was chosen (``source`` is shown to the user)."""

    path: Path
    source: str
    notebook: Path | None = None


def resolve_dir(
    explicit: str | os.PathLike | None,
    user_ns: Mapping[str, Any],
    cell_source: str | None,
    cwd: Path | None = None,
) -> Resolved:
    """Pick the checkpoint directory: explicit, then ``CHKPT_DIR``, then per notebook, then cwd."""
    cwd = Path(cwd or os.getcwd())
    if explicit:
        return Resolved(Path(explicit).expanduser().resolve(), "set with %chkpt_dir")
    env = os.environ.get("CHKPT_DIR")
    if env:
        return Resolved(Path(env).expanduser().resolve(), "CHKPT_DIR")
    notebook, how = find_notebook(user_ns, cell_source, cwd)
    if notebook is not None:
        return Resolved(notebook.parent / ".chkpt" / notebook.stem, how, notebook)
    return Resolved(cwd / ".chkpt" / FALLBACK_NAME, how)


def find_notebook(
    user_ns: Mapping[str, Any], cell_source: str | None, cwd: Path
) -> tuple[Path | None, str]:
    """The running notebook's path and how it was found, or None and why it could not be."""
    session = os.environ.get("JPY_SESSION_NAME") or user_ns.get("__session__")
    if isinstance(session, str) and session.endswith(NOTEBOOK_SUFFIXES):
        return _session_path(session, cwd), "Jupyter session name"
    vscode = user_ns.get("__vsc_ipynb_file__")
    if isinstance(vscode, str) and vscode:
        return Path(vscode).resolve(), "VS Code notebook file"
    if not cell_source or not cell_source.strip():
        return None, "the kernel does not say which notebook it runs"
    matches = _notebooks_containing(cell_source, cwd)
    if len(matches) == 1:
        return matches[0], f"the only notebook in {cwd} with this cell"
    used = [m for m in matches if (m.parent / ".chkpt" / m.stem).is_dir()]
    if len(used) == 1:  # e.g. `nbconvert --execute nb.ipynb --output copy.ipynb`, run again
        return used[0], f"the only notebook in {cwd} with this cell and checkpoints"
    if matches:
        names = ", ".join(m.name for m in matches)
        return None, f"several notebooks in {cwd} contain this cell ({names})"
    return (
        None,
        f"the kernel does not say which notebook it runs, and no notebook in {cwd} has this cell",
    )


def _session_path(session: str, cwd: Path) -> Path:
    """Jupyter server ≥ 2 gives an absolute path; older ones a path relative to the server root."""
    path = Path(session)
    if path.is_absolute():
        return path
    for candidate in (cwd / path, cwd / path.name):
        if candidate.exists():
            return candidate.resolve()
    return (cwd / path.name).resolve()


def _notebooks_containing(cell_source: str, cwd: Path) -> list[Path]:
    wanted = cell_source.strip()
    found = [
        p.resolve()
        for p in sorted(cwd.glob("*.ipynb"))
        if any(wanted in cell for cell in _code_cells(p))
    ]
    return _drop_derived(found)


def _code_cells(path: Path) -> list[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            nb = json.load(fh)
    except (OSError, ValueError) as exc:
        log.debug("cannot read %s: %s", path, exc)
        return []
    cells = nb.get("cells", []) if isinstance(nb, dict) else []
    return [_text(c.get("source", "")).strip() for c in cells if c.get("cell_type") == "code"]


def _text(source: Any) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


def _drop_derived(paths: list[Path]) -> list[Path]:
    """Drop copies written by runners: papermill's, ``python -m chkpt_ipython run``'s (both
    record their input in the metadata) and nbconvert's ``NAME.nbconvert.ipynb``."""
    names = {p.name for p in paths}
    kept = []
    for path in paths:
        if any(
            path.name.endswith(sfx) and path.name[: -len(sfx)] + ".ipynb" in names
            for sfx in (".nbconvert.ipynb", ".executed.ipynb")
        ):
            continue
        source = _recorded_input(path)
        if source is not None and source != path and source in paths:
            continue
        kept.append(path)
    return kept


def _recorded_input(path: Path) -> Path | None:
    try:
        with open(path, encoding="utf-8") as fh:
            meta = json.load(fh).get("metadata", {})
    except (OSError, ValueError, AttributeError):
        return None
    input_path = (meta.get("papermill") or meta.get("chkpt_ipython") or {}).get("input_path")
    if not input_path:
        return None
    return (path.parent / input_path).resolve()
