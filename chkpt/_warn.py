"""Warnings at the user's line, from any entry point.

A hand-counted ``stacklevel=4`` is right for one call path only: ``p(cfg)``, ``p.run(cfg)``,
``stage()``, a notebook cell and a worker thread reach the same ``warnings.warn`` through different
depths. ``warn`` walks out of chkpt instead (as pandas' ``find_stack_level`` does), also out of
``chkpt_ipython`` and IPython's cell-magic machinery, so a warning points at the script line or
the notebook cell that ran the pipeline. Every chkpt warning goes through here.

>>> import warnings
>>> from chkpt import StoreWarning
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     warn("cannot write its checkpoint", StoreWarning, stage="fit")
>>> str(caught[0].message)
"chkpt: stage 'fit': cannot write its checkpoint"
"""

from __future__ import annotations

import os
import sys
import warnings

from ._errors import ChkptWarning

__all__ = ["warn", "user_stacklevel"]

# Packages whose frames are "inside" the library. IPython's own frames sit between a notebook cell
# (`get_ipython().run_cell_magic(...)` is compiled as the cell's code) and chkpt_ipython.
_INTERNAL = ("chkpt", "chkpt_ipython", "IPython")


def _prefixes() -> tuple[str, ...]:
    found = []
    for name in _INTERNAL:
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None)
        if path:
            found.append(os.path.dirname(os.path.abspath(path)) + os.sep)
    return tuple(found)


def user_stacklevel(skip: int = 0) -> int:
    """``stacklevel`` for a ``warnings.warn`` call ``skip`` frames below the caller: the first frame
    outside chkpt (and its notebook extension). Falls back to the outermost frame."""
    prefixes = _prefixes()
    frame = sys._getframe(1 + skip)
    level = 1
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(
        prefixes
    ):
        frame = frame.f_back
        level += 1
    return level


def warn(
    message: str,
    category: type[ChkptWarning] = ChkptWarning,
    *,
    stage: str | None = None,
) -> None:
    """Emit a chkpt warning at the user's line; ``stage`` is named in the message if not already.

    Every ``StoreWarning`` passes ``stage``: the user has to know which result was not stored
    (a test checks each call site).
    """
    if stage is not None and repr(stage) not in message:
        message = f"stage {stage!r}: {message}"
    if not message.startswith("chkpt: "):
        message = f"chkpt: {message}"
    warnings.warn(message, category, stacklevel=user_stacklevel(skip=1) + 1)
