"""Pausing Python's cyclic garbage collector while chkpt walks a big graph.

The runner's bookkeeping allocates a few acyclic objects per stage. On big graphs they trigger
full collections that rescan the user's whole heap: three of them took 250 ms of a cached
20,000-stage run, and their cost grows with the heap, so run time stopped being linear. Runs
therefore pause the collector while they walk the graph, and give it back, as the user left it,
to the user's own stage code. Concurrent runs in several threads share one pause: the last to
finish restores the collector as it was before the first began.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

__all__ = ["paused", "as_user_left_it"]

_lock = threading.Lock()
_depth = 0  # runs walking a graph
_user = 0  # stage calls running with the collector on, inside a pause
_was_enabled = True


def _apply() -> None:
    """Inside a pause, the collector runs only while some stage's code does."""
    if _depth:
        (gc.enable if _user else gc.disable)()


@contextlib.contextmanager
def paused() -> Iterator[bool]:
    """Pause the collector for a block; yields whether it was enabled before (the user's choice)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
        _depth += 1
        was = _was_enabled
        _apply()
    try:
        yield was
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                (gc.enable if _was_enabled else gc.disable)()
            else:
                _apply()


@contextlib.contextmanager
def as_user_left_it(enabled: bool) -> Iterator[None]:
    """Run a stage's code with the collector as the user had it, even inside a pause."""
    global _user
    if not enabled:
        yield
        return
    with _lock:
        _user += 1
        _apply()
    try:
        yield
    finally:
        with _lock:
            _user -= 1
            _apply()
