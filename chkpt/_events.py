"""A tiny event stream: the runner publishes what each stage does; widgets and tools subscribe."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._vocab import EVENT_KINDS

if TYPE_CHECKING:
    from ._vocab import EventKind

__all__ = ["Event", "subscribe", "emit"]

log = logging.getLogger("chkpt")

KINDS = EVENT_KINDS  # the one vocabulary: ``chkpt.EventKind``


@dataclasses.dataclass(frozen=True)
class Event:
    """What happened to one stage. ``kind`` is one of ``KINDS`` (``chkpt.EventKind``)."""

    kind: EventKind
    stage: str
    key: str = ""
    seconds: float = 0.0
    reason: str = ""
    size: int = 0
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


_subscribers: list[Callable[[Event], None]] = []
_lock = threading.Lock()


def subscribe(callback: Callable[[Event], None]) -> Callable[[], None]:
    """Call ``callback(event)`` for every event; returns a function that unsubscribes."""
    with _lock:
        _subscribers.append(callback)

    def unsubscribe() -> None:
        with _lock:
            if callback in _subscribers:
                _subscribers.remove(callback)

    return unsubscribe


def listening() -> bool:
    """True if anyone subscribed: lets hot paths skip building events nobody reads."""
    return bool(_subscribers)


def emit(event: Event, extra: Callable[[Event], None] | None = None) -> None:
    """Publish an event; a failing subscriber is logged, never breaks the run."""
    with _lock:
        targets = list(_subscribers)
    if extra is not None:
        targets.append(extra)
    for callback in targets:
        try:
            callback(event)
        except Exception:
            log.exception("chkpt event subscriber %r failed", callback)
