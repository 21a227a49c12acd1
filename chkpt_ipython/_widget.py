"""The pipeline widget: the graph of stage cells, their cache state, and cache toggles.

The widget holds view state only. It reads the notebook session's ``status()`` and
``options()``, redraws when the session notifies it, and sends every toggle back through the
session's own methods (``set_options``, ``clear``), so the same control works from code and
magics. It only reads the checkpoint store's index (what is on disk before a cell runs, what a
"clear" would delete), through :mod:`._preview`.

Refreshes are coalesced: during a Run All the session notifies after every cell; the widget
refreshes ``THROTTLE`` seconds after a change (at most one refresh per ``THROTTLE``, and at most
1/``DUTY`` of the time), at once when the notebook's last stage cell is done, and Graphviz runs
only when the graph's structure changes. A stage that starts running is shown at
once (from the ``start`` event, without reading the whole status).

Displayed, it is two outputs: a static HTML copy (graph and table; what HTML exports and
reopened notebooks show, kept current) and the live widget, which hides the copy while it runs.
"""

from __future__ import annotations

import contextlib
import logging
import pathlib
import time
import types
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from . import _preview
from ._graph import (
    INSTALL_GRAPHVIZ,
    LEGEND,
    LINE_CHARS,
    STATE_COLOURS,
    STATES,
    build_dot,
    format_seconds,
    format_size,
    layout_direction,
    node_label,
    patch_svg,
    render_svg,
    static_html,
    structure,
    time_saved,
    totals,
)
from ._graph import state_of as _state

__all__ = [
    "INSTALL_GRAPHVIZ",
    "LEGEND",
    "LINE_CHARS",
    "STATES",
    "STATE_COLOURS",
    "PipelineWidget",
    "build_dot",
    "format_seconds",
    "format_size",
    "node_label",
    "render_svg",
    "static_html",
    "time_saved",
    "totals",
    "widget",
]

logger = logging.getLogger("chkpt.ipython.widget")

_HERE = pathlib.Path(__file__).parent

#: Seconds between two full refreshes while the session keeps notifying (a Run All).
THROTTLE = 1.0
#: A refresh that took t seconds waits DUTY * t before the next (big pipelines: <= 1/DUTY of the
#: time goes to the widget during a Run All).
DUTY = 20
#: Seconds between two updates of the static copy by coalesced refreshes.
STATIC_EVERY = 5.0

# Hides the output after the static copy (the live widget's) when no live widget is there: a
# reopened notebook shows the copy, not "Error displaying widget: model not found".
_STATIC_STYLE = (
    "<style>.jp-OutputArea:not(:has(.chkpt-widget)) > .jp-OutputArea-child:has(.chkpt-static-copy)"
    " + .jp-OutputArea-child{display:none}</style>"
)


class Session(Protocol):
    """What the widget needs from a notebook session (``chkpt_ipython._session``)."""

    def status(self) -> Sequence[Mapping[str, Any]]: ...
    def options(self, stage: str) -> Mapping[str, Any]: ...
    def set_options(self, stage: str, load: bool | None = None, store: bool | None = None): ...
    def clear(self, stage: str | None = None): ...
    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]: ...


def _running_loop() -> Any:
    import asyncio

    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


# --------------------------------------------------------------------------- the widget

try:
    import anywidget
    import traitlets
except ImportError:  # pragma: no cover - the ipython extra installs both
    anywidget = None


if anywidget is not None:

    class PipelineWidget(anywidget.AnyWidget):
        """Live view of a notebook session's stage cells, with per-stage cache toggles."""

        _esm = _HERE / "widget.js"
        _css = _HERE / "widget.css"

        stages = traitlets.List(traitlets.Dict()).tag(sync=True)
        svg = traitlets.Unicode("").tag(sync=True)
        message = traitlets.Unicode("").tag(sync=True)
        notice = traitlets.Unicode("").tag(sync=True)
        legend = traitlets.List(traitlets.Dict(), default_value=LEGEND).tag(sync=True)
        totals = traitlets.Dict().tag(sync=True)
        selected = traitlets.Unicode("").tag(sync=True)
        confirm = traitlets.Dict().tag(sync=True)
        rankdir = traitlets.Unicode("LR").tag(sync=True)
        static_id = traitlets.Unicode("").tag(sync=True)  # the static copy the live view hides

        def __init__(self, session: Session, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._session = session
            self._structure: Any = None
            self._last_svg: str | None = None
            self._options_by_stage: dict[str, dict[str, bool]] = {}
            self._last_refresh = 0.0
            self._pending: Any = None
            self._static_id = f"chkpt-static-{uuid.uuid4().hex}"
            self.static_id = self._static_id
            self._static_shown = False
            self._static_html = ""
            self._last_stage = ""  # the notebook's last stage cell: when it ends, refresh at once
            self._last_done = False
            self._acting = False
            self._last_cost = 0.0
            self._warnings: list[str] = []
            self._notebook: pathlib.Path | bool | None = None  # False: not known
            self._static_at = 0.0
            self.refresh_count = 0  # how often it re-read the session (for tests and benchmarks)
            self.render_count = 0  # how often Graphviz ran
            self.refresh_seconds = 0.0
            self.on_msg(self._on_front_end_message)
            self.refresh()
            ref = weakref.ref(self)
            self._unsubscribe = session.subscribe(lambda: _changed_ref(ref))
            self._unsubscribe_events = _subscribe_events(ref)

        # -- reading the session

        def _records(self) -> list[dict]:
            self._warnings = []
            live = [dict(r) for r in self._session.status()]
            notebook, store = self._saved_notebook(), _store_of(self._session)
            if notebook is None:
                return live
            cells = _preview.saved_stage_cells(notebook)
            names = [str(c["stage"]) for c in cells]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                self._warnings.append(
                    f"{len(twice)} name(s) used by more than one stage cell ({', '.join(twice)}): "
                    "each shows as one node and the cells overwrite each other's checkpoints; "
                    "give each cell its own name (%%chkpt_stage NAME)."
                )
            known = {str(r.get("stage")) for r in live}
            records = _preview.merge(live, _preview.preview_records(cells, store, known))
            if cells:  # run in this kernel, but not in the saved notebook: a deleted cell?
                for record in records:
                    record["not_saved"] = str(record.get("stage")) not in names
            return records

        def _saved_notebook(self) -> pathlib.Path | None:
            """The notebook file (also when ``CHKPT_DIR`` or ``%chkpt_dir`` chose the directory)."""
            if self._notebook is None:
                resolved = getattr(self._session, "resolved", None)
                notebook = getattr(resolved, "notebook", None) if resolved is not None else None
                shell = getattr(self._session, "shell", None)
                if notebook is None and shell is not None:
                    from ._notebook_path import find_notebook

                    cell = getattr(self._session, "current_cell", None)
                    notebook, _ = find_notebook(shell.user_ns, cell, pathlib.Path.cwd())
                self._notebook = pathlib.Path(notebook) if notebook else False
            notebook = self._notebook
            return notebook if isinstance(notebook, pathlib.Path) and notebook.is_file() else None

        def changed(self) -> None:
            """The session changed: refresh now, or soon when refreshes come thick and fast."""
            if self._acting:
                return  # the widget's own action refreshes once when it is done
            now = time.monotonic()
            loop = _running_loop()
            last, self._last_done = self._last_done, False
            # coalesce: refresh THROTTLE seconds after a change (later for a slow status, so
            # the widget never takes more than 1/DUTY of the time), at once when the notebook's
            # last stage cell is done, or without an event loop to wait in
            if loop is None or last or not THROTTLE:
                self.refresh(static=last or loop is None)
            elif self._pending is None:
                interval = max(THROTTLE, DUTY * self._last_cost)
                delay = max(THROTTLE, self._last_refresh + interval - now)
                ref = weakref.ref(self)
                self._pending = loop.call_later(delay, lambda: _trailing(ref))

        def refresh(self, *, static: bool = True) -> None:
            """Re-read the session's status and options and update the synced state.

            ``static=False`` leaves the static copy (hidden while the widget is live) alone
            unless it is ``STATIC_EVERY`` seconds old: a Run All updates it at its end.
            """
            start = time.perf_counter()
            try:
                self._refresh(static)
            finally:
                self._last_cost = time.perf_counter() - start
                self.refresh_seconds += self._last_cost

        def _refresh(self, static: bool = True) -> None:
            if self._pending is not None:
                self._pending.cancel()
                self._pending = None
            self._last_refresh = time.monotonic()
            self.refresh_count += 1
            try:
                records = self._records()
                options = {str(r.get("stage")): self._options(str(r.get("stage"))) for r in records}
            except Exception as exc:
                logger.exception("could not read the notebook session's status")
                self.message = f"chkpt: could not read the pipeline's status: {exc}"
                return
            namespace = getattr(getattr(self._session, "shell", None), "user_ns", None)
            records = [_clean(r, namespace) for r in records]
            rankdir = layout_direction(records)
            shape = (structure(records), rankdir)
            if shape != self._structure:
                self._last_svg = render_svg(build_dot(records, options, rankdir)) if records else ""
                self._structure = shape
                self.render_count += bool(records)
            self._options_by_stage = options
            self._last_stage = str(records[-1].get("stage")) if records else ""
            stages = []
            for r in records:
                name = str(r.get("stage"))
                r["label"] = node_label(r, options[name])
                stages.append({**_jsonable(r), "state": _state(r), "time_saved": time_saved(r),
                               **options[name]})  # fmt: skip
            with self.hold_sync():
                self.stages = stages
                self.totals = totals(records)
                self.rankdir = rankdir
                self.svg = self._last_svg or ""
                missing_dot = [] if (self._last_svg or not records) else [INSTALL_GRAPHVIZ]
                self.message = " ".join([*self._warnings, *missing_dot])
                if self.selected and self.selected not in options:
                    self.selected = ""
            if static or time.monotonic() - self._static_at >= STATIC_EVERY:
                self._update_static(records, options)

        def _options(self, stage: str) -> dict[str, bool]:
            opts = self._session.options(stage) or {}
            return {"load": bool(opts.get("load", True)), "store": bool(opts.get("store", True))}

        def state_of(self, stage: str) -> dict | None:
            """The widget's record for ``stage`` (state, options, label, ...), or None."""
            return next((s for s in self.stages if s.get("stage") == stage), None)

        def _started(self, stage: str) -> None:
            """A stage started running: show it at once, without reading the whole status."""
            stages = [dict(s) for s in self.stages]
            for s in stages:
                if s.get("stage") == stage:
                    s["state"] = "running"
                    s["label"] = node_label(s, self._options_by_stage.get(stage))
                    self.stages = stages
                    return
            self.changed()  # a stage the widget does not list yet

        # -- toggles: each goes through the session, like the magics and code do

        def select(self, stage: str) -> None:
            """Select ``stage`` (what clicking its node does)."""
            self.selected = stage

        def set_load(self, stage: str, on: bool) -> None:
            """Allow or forbid loading ``stage`` from its checkpoint on its next run."""
            with self._action():
                self._session.set_options(stage, load=bool(on))

        def set_store(self, stage: str, on: bool) -> None:
            """Allow or forbid storing ``stage``'s result on its next run."""
            with self._action():
                self._session.set_options(stage, store=bool(on))

        @contextlib.contextmanager
        def _action(self) -> Iterator[None]:
            """Session calls of the widget's own: one refresh when done, not one per notice."""
            self._acting = True
            try:
                yield
            finally:
                self._acting = False
                self.refresh()

        def forget(self, stage: str) -> None:
            """Drop a deleted stage cell from the pipeline (its checkpoints stay on disk)."""
            with self._action():
                self._session.forget(stage)  # type: ignore[attr-defined]

        def listed(self) -> list[str]:
            """The stages the widget shows (what "clear all" may delete, and nothing else)."""
            return [str(s.get("stage")) for s in self.stages]

        def ask_clear(self, stage: str | None = None) -> dict:
            """What clearing ``stage`` (all listed stages when None) would delete, for the
            confirmation the front end shows before it deletes anything."""
            stages = self.listed() if stage is None else [stage]
            store = _store_of(self._session)
            found = _preview.inventory(store, stages) if store is not None else None
            if found is None:
                n, size, compute = None, sum(int(s.get("size") or 0) for s in self.stages), None
            else:
                n, size, compute = found["entries"], found["bytes"], found["compute_seconds"]
            what = f"stage {stage}" if stage is not None else f"the {len(stages)} stages listed"
            if n == 0:
                text = f"Nothing is stored for {what}."
            else:
                count = "the checkpoints" if n is None else f"{n} checkpoint{'s' if n != 1 else ''}"
                cost = f", {format_seconds(compute)} of compute to redo" if compute else ""
                text = f"Delete {count} of {what} ({format_size(size)} on disk{cost})? This cannot be undone."
            self.confirm = {"stage": stage or "", "all": stage is None, "stages": stages,
                            "entries": n, "bytes": size, "compute_seconds": compute,
                            "text": text}  # fmt: skip
            return dict(self.confirm)

        def clear(self, stage: str | None = None) -> int:
            """Delete the checkpoints of ``stage`` (of every listed stage when None)."""
            if stage is None:
                return self.clear_all()
            with self._action():
                removed = self._session.clear(stage)
            self._cleared(removed, f"stage {stage}")
            return int(removed or 0)

        def clear_all(self) -> int:
            """Delete the checkpoints of every stage the widget lists, one stage at a time."""
            stages = self.listed()
            with self._action():
                removed = sum(int(self._session.clear(s) or 0) for s in stages)
            self._cleared(removed, f"{len(stages)} stages")
            return removed

        def _cleared(self, removed: Any, what: str) -> None:
            self.confirm = {}
            self.notice = f"deleted {int(removed or 0)} checkpoint(s) of {what}"

        def _on_front_end_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
            try:
                action = content.get("action") if isinstance(content, dict) else None
                stage = content.get("stage") if isinstance(content, dict) else None
                if action == "set_load" and stage is not None:
                    self.set_load(stage, content["value"])
                elif action == "set_store" and stage is not None:
                    self.set_store(stage, content["value"])
                elif action == "ask_clear":
                    self.ask_clear(stage)
                elif action == "cancel_clear":
                    self.confirm = {}
                elif action == "clear":
                    self.clear(stage)
                elif action == "clear_all":
                    self.clear_all()
                elif action == "forget" and stage is not None:
                    self.forget(stage)
                elif action == "refresh":
                    self.refresh()
                else:
                    logger.warning("unknown message from the widget's front end: %r", content)
            except Exception as exc:
                logger.exception("widget action %r failed", content)
                self.message = f"chkpt: {exc}"

        # -- life cycle and display

        def close(self) -> None:
            """Stop listening to the session and close the widget's views."""
            for name in ("_unsubscribe", "_unsubscribe_events"):
                unsubscribe = getattr(self, name, None)
                setattr(self, name, None)
                if unsubscribe is not None:
                    try:
                        unsubscribe()
                    except Exception:
                        logger.debug("unsubscribe failed", exc_info=True)
            if getattr(self, "_pending", None) is not None:
                self._pending.cancel()
                self._pending = None
            _WIDGETS.pop(id(self._session), None)
            super().close()

        def static_copy(self) -> str:
            """The static HTML view of the current state (graph, legend, table)."""
            records = [dict(s) for s in self.stages]
            return self._static_html or static_html(
                records, self._options_by_stage, self.svg, self.message
            )

        def _update_static(self, records: list[dict], options: dict) -> None:
            self._static_at = time.monotonic()
            svg = patch_svg(self._last_svg, records, options) if self._last_svg else None
            page = static_html(records, options, svg, self.message)
            if page == self._static_html:
                return
            self._static_html = page
            if self._static_shown:
                try:
                    from IPython.display import update_display

                    update_display(self._static_bundle(), raw=True, display_id=self._static_id)
                except Exception:
                    logger.debug("could not update the static copy", exc_info=True)

        def _static_bundle(self) -> dict[str, str]:
            return {
                "text/html": f"<div class='chkpt-static-copy' data-chkpt-id='{self._static_id}'>"
                f"{_STATIC_STYLE}{self.static_copy()}</div>",
                "text/plain": f"chkpt pipeline: {self.totals.get('text', '')}",
            }

        def _repr_mimebundle_(self, **kwargs: Any):
            bundle = super()._repr_mimebundle_(**kwargs)
            if bundle is None:
                return None
            data, metadata = bundle
            data["text/html"] = self.static_copy()
            return data, metadata

        def _ipython_display_(self) -> None:
            """Two outputs: the static copy (exports, reopened notebooks), then the widget."""
            from IPython.display import display

            self.refresh()  # what is shown (and exported) is current, not a coalesced past
            display(self._static_bundle(), raw=True, display_id=self._static_id)
            self._static_shown = True
            bundle = super()._repr_mimebundle_()
            if bundle is None:
                return
            data, metadata = bundle
            data["text/plain"] = "chkpt pipeline widget (live in Jupyter; a static copy is above)"
            display(data, raw=True, metadata=metadata)

else:  # pragma: no cover

    class PipelineWidget:  # type: ignore[no-redef]
        def __init__(self, *_a: Any, **_k: Any) -> None:
            raise ImportError("the chkpt widget needs anywidget: pip install 'chkpt[ipython]'")


def _store_of(session: Any) -> Any:
    """The session's checkpoint store, read only for its index (None when it has none)."""
    try:
        return getattr(session, "store", None)
    except Exception:
        logger.debug("the session has no readable store", exc_info=True)
        return None


def _changed_ref(ref: weakref.ref) -> None:
    w = ref()
    if w is None:
        return
    try:
        w.changed()
    except Exception:  # a session callback must never raise into the user's cell
        logger.exception("widget refresh failed")


def _trailing(ref: weakref.ref) -> None:
    w = ref()
    if w is None:
        return
    w._pending = None
    try:
        w.refresh(static=False)
    except Exception:
        logger.exception("widget refresh failed")


def _subscribe_events(ref: weakref.ref) -> Callable[[], None] | None:
    """Show a stage as running as soon as it starts (the core's ``start`` event)."""
    try:
        import chkpt

        events = chkpt.events  # the public event stream
    except ImportError:
        return None

    def on_event(event: Any) -> None:
        w = ref()
        kind = getattr(event, "kind", "")
        if w is None:
            return
        if kind == "start":
            w._started(str(event.stage))
        elif kind != "cleared" and str(event.stage) == w._last_stage:
            # the last stage cell of a Run All is done: its state must not wait for a
            # coalesced refresh (a headless run ends here, and exports show this state)
            w._last_done = True

    return events.subscribe(on_event)


def _clean(record: dict, namespace: Any = None) -> dict:
    """A status record as the widget shows it: modules (``np``, ``pd``) are never parameters."""
    params = record.get("params")
    if params and isinstance(namespace, dict):
        record["params"] = [
            p for p in params if not isinstance(namespace.get(str(p)), types.ModuleType)
        ]
    return record


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


_WIDGETS: dict[int, tuple[Any, PipelineWidget]] = {}


def widget(session: Session | None = None) -> PipelineWidget:
    """The pipeline widget of ``session`` (the notebook's session by default): one per session.

    Display it (last expression of a cell, or ``display(widget())``); it updates itself as cells
    run, so there is no need to display it again.
    """
    if session is None:
        from ._session import session as current_session

        session = current_session()
    entry = _WIDGETS.get(id(session))
    if entry is not None and entry[0] is session:
        return entry[1]
    w = PipelineWidget(session)
    _WIDGETS[id(session)] = (session, w)
    return w
