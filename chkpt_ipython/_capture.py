"""Record what a cell shows while it runs, and show it again later.

Recording is a tee: the user still sees prints and plots live while a slow cell runs. Streams
(stdout, stderr) and rich displays (anything published through IPython's display publisher, such
as matplotlib figures) are kept in order as plain data, so they can be stored with the checkpoint
and replayed after a kernel restart.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

__all__ = ["Capture", "ReplayedResult", "flush_figures", "format_result", "replay"]

# Widget views refer to live comm models that do not survive a restart: replay their text only.
_DROP_MIMETYPES = frozenset({"application/vnd.jupyter.widget-view+json"})

Record = list  # ["stdout" | "stderr", text] or ["display", data, metadata, display id]


class _Tee:
    """A text stream that writes through to ``target`` and appends what it wrote to ``records``."""

    def __init__(
        self, target: Any, name: str, records: list[Record], before: Callable[[], bool]
    ) -> None:
        self._target = target
        self._name = name
        self._records = records
        self._before = before

    def write(self, text: str) -> int:
        if text and self._before():
            last = self._records[-1] if self._records else None
            if last is not None and last[0] == self._name:
                last[1] += text
            else:
                self._records.append([self._name, text])
        return self._target.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._target, attr)


class Capture:
    """Context manager teeing ``sys.stdout``/``sys.stderr`` and the shell's display publisher.

    ``records`` is what remains visible: ``clear_output()`` empties it, and
    ``clear_output(wait=True)`` empties it when the next output comes (as front ends do), so a
    progress loop replays as its last line only.
    """

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.records: list[Record] = []
        self._saved: tuple[Any, Any, Any, Any] | None = None
        self._clear_pending = False
        self._clearing_now = False

    def __enter__(self) -> Capture:
        pub = self.shell.display_pub
        self._saved = (
            sys.stdout,
            sys.stderr,
            pub.__dict__.get("publish"),
            pub.__dict__.get("clear_output"),
        )
        sys.stdout = _Tee(sys.stdout, "stdout", self.records, self._before_output)
        sys.stderr = _Tee(sys.stderr, "stderr", self.records, self._before_output)
        pub.publish = self._recording(pub.publish)
        pub.clear_output = self._clearing(pub.clear_output)
        return self

    def _before_output(self) -> bool:
        """Apply a pending ``clear_output(wait=True)``; False while clearing (a terminal's
        clearing escape codes are not output)."""
        if self._clearing_now:
            return False
        if self._clear_pending:
            self._clear_pending = False
            self.records.clear()
        return True

    def _clearing(self, clear_output: Callable[..., Any]) -> Callable[..., Any]:
        def recording_clear_output(wait: bool = False, *args: Any, **kw: Any) -> Any:
            if wait:
                self._clear_pending = True
            else:
                self._clear_pending = False
                self.records.clear()
            self._clearing_now = True
            try:
                return clear_output(wait, *args, **kw)
            finally:
                self._clearing_now = False

        return recording_clear_output

    def __exit__(self, *exc: object) -> None:
        self.stop_streams()
        self.stop_displays()

    def stop_streams(self) -> None:
        """Stop recording prints (the display hook's ``Out[n]`` text must not be recorded)."""
        if self._saved is not None and isinstance(sys.stdout, _Tee):
            sys.stdout, sys.stderr = self._saved[0], self._saved[1]

    def stop_displays(self) -> None:
        """Stop recording displays; safe to call twice."""
        if self._saved is None:
            return
        pub = self.shell.display_pub
        for attr, saved in (("publish", self._saved[2]), ("clear_output", self._saved[3])):
            if saved is None:
                pub.__dict__.pop(attr, None)
            else:
                setattr(pub, attr, saved)
        self._saved = None

    def _recording(self, publish: Callable[..., Any]) -> Callable[..., Any]:
        records = self.records

        def recording_publish(data: dict, metadata: dict | None = None, *args: Any, **kw: Any):
            if not kw.get("update"):
                self._before_output()
            _record_display(records, data, metadata, kw.get("transient"), kw.get("update"))
            return publish(data, metadata, *args, **kw)

        return recording_publish


def _record_display(
    records: list[Record], data: dict, metadata: dict | None, transient: Any, update: Any
) -> None:
    """Append a display; an update of a display id replaces what that display showed."""
    kept = {k: v for k, v in data.items() if k not in _DROP_MIMETYPES}
    display_id = (transient or {}).get("display_id")
    if update and display_id is not None:
        for record in records:
            if record[0] == "display" and len(record) > 3 and record[3] == display_id:
                record[1:3] = [kept, dict(metadata or {})]
        return
    if kept:
        records.append(["display", kept, dict(metadata or {}), display_id])


def flush_figures(shell: Any) -> None:
    """Show pending inline matplotlib figures now, so the capture records them.

    The inline backend normally draws figures in a ``post_execute`` hook, after the cell's magic
    has returned; calling it here is what the hook would do a moment later.
    """
    backend = sys.modules.get("matplotlib_inline.backend_inline")
    if backend is None:
        return
    flush = getattr(backend, "flush_figures", None)
    if flush is not None and flush in shell.events.callbacks.get("post_execute", []):
        flush()


def format_result(shell: Any, value: Any) -> dict | None:
    """The rich representation of a cell's last value, as the display hook would show it."""
    if value is None:
        return None
    data, metadata = shell.display_formatter.format(value)
    data = {k: v for k, v in data.items() if k not in _DROP_MIMETYPES}
    return {"data": data, "metadata": metadata} if data else None


def replay(shell: Any, records: list[Record]) -> None:
    """Show recorded streams and displays again, in their original order."""
    for record in records:
        kind = record[0]
        if kind in ("stdout", "stderr"):
            stream = sys.stdout if kind == "stdout" else sys.stderr
            stream.write(record[1])
            stream.flush()
        elif kind == "display":
            sys.stdout.flush()
            sys.stderr.flush()
            shell.display_pub.publish(data=record[1], metadata=record[2])


class ReplayedResult:
    """Stands in for a cell's last value on a hit: displays exactly as the original did."""

    def __init__(self, data: dict, metadata: dict) -> None:
        self._data = data
        self._metadata = metadata

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
        return self._data, self._metadata

    def __repr__(self) -> str:
        return str(self._data.get("text/plain", "<replayed result>"))
