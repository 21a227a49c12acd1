"""The one line per stage a terminal shows, without touching the application's logging setup.

Each line is an INFO record of the ``chkpt`` logger. Where the application configured logging
(a handler on ``chkpt`` or any logger above it, as ``logging.basicConfig`` adds), its handlers and
levels alone decide: after ``basicConfig(level=WARNING)`` no stage line shows, after
``level=INFO`` each shows once, in the application's format. Where nothing is configured, as in
a plain script, the record goes to a private stderr handler when stderr is a terminal (or
``Config(verbose=True)`` asks), the way ``logging.lastResort`` shows warnings nobody handles.
chkpt never sets its logger's level and never adds a handler to it.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["stage_feedback"]

_logger = logging.getLogger("chkpt")


class _Stderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (a test or notebook may replace it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self, logging.INFO)
        self.setFormatter(logging.Formatter("chkpt: %(message)s"))

    @property
    def stream(self) -> object:
        return sys.stderr


_console = _Stderr()


def stage_feedback(message: str, *args: object, verbose: bool | None = None) -> None:
    """Show one stage line: through the application's logging if it has any, else on a terminal.

    ``verbose=True`` shows it even where the application's levels would drop it; ``False`` never
    writes to the terminal (configured handlers still get the record).
    """
    if _logger.hasHandlers():
        if _logger.isEnabledFor(logging.INFO):
            _logger.info(message, *args)
            return
        if not verbose:
            return
    elif not (verbose or (verbose is None and _isatty())):
        return
    record = _logger.makeRecord(_logger.name, logging.INFO, __file__, 0, message, args, None)
    _console.handle(record)


def _isatty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced by an object without it, or closed
        return False
