"""Which ``chkpt[...]`` extra provides which optional package, and a clear error when one is missing.

``pip install chkpt`` installs the core alone; ``chkpt_ipython`` ships in the same wheel, so its
imports can fail. A bare ``No module named 'ipywidgets'`` does not say what to install; this does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["EXTRAS", "needs"]

EXTRAS: dict[str, str] = {
    "IPython": "ipython",
    "ipywidgets": "ipython",
    "anywidget": "ipython",
    "traitlets": "ipython",
    "graphviz": "ipython",
    "nbclient": "run",
    "nbformat": "run",
    "ipykernel": "run",
    "jupyter_client": "run",
}


@contextlib.contextmanager
def needs(what: str) -> Iterator[None]:
    """Re-raise a missing optional package as a ModuleNotFoundError that says which extra to install.

    >>> with needs("the widget"):
    ...     raise ModuleNotFoundError("No module named 'ipywidgets'", name="ipywidgets")
    Traceback (most recent call last):
    ModuleNotFoundError: the widget needs the package 'ipywidgets', which is not installed: pip install 'chkpt[ipython]'
    """
    try:
        yield
    except ModuleNotFoundError as exc:
        top = (exc.name or "").partition(".")[0]
        extra = EXTRAS.get(top)
        if extra is None:
            raise
        raise ModuleNotFoundError(
            f"{what} needs the package {top!r}, which is not installed: "
            f"pip install 'chkpt[{extra}]'",
            name=exc.name,
        ) from exc
