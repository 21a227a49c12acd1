"""The pipeline widget: the graph of stage cells, their cache state, and cache toggles.

The widget holds view state only. It reads the notebook session's ``status()`` and
``options()``, redraws when the session notifies it, and sends every toggle back through the
session's own methods (``set_options``, ``clear``), so the same control works from code and
magics. It never touches the checkpoint store.

The graph, DOT source, SVG and HTML table are built by pure functions below, tested on their own.
"""

from __future__ import annotations

import html
import logging
import pathlib
import re
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

__all__ = [
    "INSTALL_GRAPHVIZ",
    "LEGEND",
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

STATES = ("cached", "stale", "missing", "running", "failed")

#: Fill colour of a node, by the state of its stage.
STATE_COLOURS: dict[str, str] = {
    "cached": "#b2f2bb",
    "stale": "#ffd8a8",
    "missing": "#e9ecef",
    "running": "#a5d8ff",
    "failed": "#ffa8a8",
}

_STATE_TEXT = {
    "cached": "cached: a valid checkpoint exists, the next run loads it",
    "stale": "stale: code, inputs or parameters changed since it was stored",
    "missing": "missing: not stored yet",
    "running": "running now",
    "failed": "failed: the last run raised",
}

#: Border of a node, by what happened to its stage in this kernel session.
SESSION_BORDERS: dict[str, dict[str, str]] = {
    "computed": {"color": "#1864ab", "style": "solid", "penwidth": "2.5"},
    "loaded": {"color": "#2b8a3e", "style": "dashed", "penwidth": "2.5"},
}
_DEFAULT_BORDER = {"color": "#868e96", "style": "solid", "penwidth": "1"}

#: What the widget's legend shows: one entry per state, then the two session borders.
LEGEND: list[dict[str, str]] = [
    {"key": s, "label": s, "fill": STATE_COLOURS[s], "border": _DEFAULT_BORDER["color"],
     "style": "solid", "title": _STATE_TEXT[s]}
    for s in STATES
] + [
    {"key": "computed", "label": "computed this session", "fill": "#ffffff",
     "border": SESSION_BORDERS["computed"]["color"], "style": "solid",
     "title": "ran in this kernel session"},
    {"key": "loaded", "label": "loaded this session", "fill": "#ffffff",
     "border": SESSION_BORDERS["loaded"]["color"], "style": "dashed",
     "title": "restored from its checkpoint in this kernel session"},
]  # fmt: skip

INSTALL_GRAPHVIZ = (
    "Graphviz's dot program was not found, so the graph is not drawn: install Graphviz "
    "(apt install graphviz, brew install graphviz or conda install graphviz) and re-run this cell."
)


class Session(Protocol):
    """What the widget needs from a notebook session (``chkpt_ipython._session``)."""

    def status(self) -> Sequence[Mapping[str, Any]]: ...
    def options(self, stage: str) -> Mapping[str, Any]: ...
    def set_options(self, stage: str, load: bool | None = None, store: bool | None = None): ...
    def clear(self, stage: str | None = None): ...
    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]: ...


# --------------------------------------------------------------------------- formatting


def format_size(n: float | None) -> str:
    """Bytes as a short human-readable size.

    >>> format_size(0), format_size(1536), format_size(3 * 1024**3)
    ('0 B', '1.5 KB', '3.0 GB')
    >>> format_size(None)
    '-'
    """
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(size) < 1024 or unit == "GB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def format_seconds(s: float | None) -> str:
    """Seconds as a short duration.

    >>> format_seconds(0.0042), format_seconds(2.5), format_seconds(75), format_seconds(7260)
    ('4 ms', '2.5 s', '1 min 15 s', '2 h 1 min')
    >>> format_seconds(None)
    '-'
    """
    if s is None:
        return "-"
    s = float(s)
    if abs(s) < 1:
        return f"{s * 1000:.0f} ms"
    if abs(s) < 60:
        return f"{s:.1f} s"
    if abs(s) < 3600:
        return f"{int(s // 60)} min {int(s % 60)} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60)} min"


# --------------------------------------------------------------------------- the graph


def _state(record: Mapping) -> str:
    state = record.get("state") or "missing"
    return state if state in STATE_COLOURS else "missing"


def time_saved(record: Mapping) -> float:
    """Seconds a checkpoint hit saves: the session's figure, else compute minus load time.

    >>> time_saved({"time_saved": 4.0}), time_saved({"compute_seconds": 5.0, "load_seconds": 0.5})
    (4.0, 4.5)
    >>> time_saved({"state": "missing"})
    0.0
    """
    if record.get("time_saved"):
        return float(record["time_saved"])
    compute = float(record.get("compute_seconds") or 0)
    return max(compute - float(record.get("load_seconds") or 0), 0.0)


def node_label(record: Mapping, options: Mapping | None = None) -> list[str]:
    """The lines of a stage's node label: name; state, size and time a hit saves; flags.

    >>> node_label({"stage": "fit", "state": "cached", "size": 2048, "time_saved": 12.0,
    ...             "this_session": "loaded"}, {"load": True, "store": False})
    ['fit', 'cached · 2.0 KB · saves 12.0 s', 'loaded this session', 'store off']
    >>> node_label({"stage": "raw", "state": "missing"})
    ['raw', 'missing']
    >>> node_label({"stage": "feat", "state": "stale", "reason": "parameters changed: N"})
    ['feat', 'stale', 'parameters changed: N']
    """
    state = _state(record)
    facts = [state]
    if record.get("size"):
        facts.append(format_size(record["size"]))
    if time_saved(record) and state in ("cached", "stale"):
        facts.append(f"saves {format_seconds(time_saved(record))}")
    lines = [str(record.get("stage", "?")), " · ".join(facts)]
    why = (
        record.get("error")
        if state == "failed"
        else record.get("reason")
        if state == "stale"
        else ""
    )
    if why:
        why = " ".join(str(why).split())
        lines.append(why if len(why) <= 40 else why[:39] + "…")
    if record.get("this_session") in SESSION_BORDERS:
        lines.append(f"{record['this_session']} this session")
    options = options or {}
    off = [name for name in ("load", "store") if options.get(name) is False]
    if off:
        lines.append(", ".join(f"{name} off" for name in off))
    return lines


def _dot_quote(text: str) -> str:
    r"""A DOT double-quoted string; ``\n`` in ``text`` stays a DOT line break.

    >>> _dot_quote('say "hi"')
    '"say \\"hi\\""'
    """
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def build_dot(records: Sequence[Mapping], options: Mapping[str, Mapping] | None = None) -> str:
    """DOT source for the graph of stage cells, one node per record, edges from ``inputs``.

    Each node's SVG group gets the classes ``chkpt-stage``, ``chkpt-state-<state>``,
    ``chkpt-session-<computed|loaded>`` (when it ran this session) and ``chkpt-index-<i>``
    (its position in ``records``), which is how the browser side finds stages in the SVG.

    >>> dot = build_dot([{"stage": "a", "state": "cached"},
    ...                  {"stage": "b", "state": "stale", "inputs": ["a"]}])
    >>> '"a" -> "b"' in dot and "chkpt-state-stale" in dot
    True
    """
    options = options or {}
    names = {str(r.get("stage")) for r in records}
    out = [
        "digraph chkpt {",
        '  graph [rankdir=LR bgcolor="transparent" nodesep=0.3 ranksep=0.45 margin=0];',
        '  node [shape=box style="rounded,filled" fontname="Helvetica,Arial,sans-serif"'
        ' fontsize=11 margin="0.15,0.06"];',
        '  edge [color="#868e96" arrowsize=0.7];',
    ]
    for i, record in enumerate(records):
        name = str(record.get("stage"))
        state = _state(record)
        this = record.get("this_session")
        border = SESSION_BORDERS.get(this, _DEFAULT_BORDER)
        classes = f"chkpt-stage chkpt-state-{state} chkpt-index-{i}"
        if this in SESSION_BORDERS:
            classes += f" chkpt-session-{this}"
        label = "\\n".join(
            line.replace("\\", "\\\\").replace('"', '\\"')
            for line in node_label(record, options.get(name))
        )
        style = "rounded,filled" + (",dashed" if border["style"] == "dashed" else "")
        out.append(
            f'  {_dot_quote(name)} [label="{label}" class="{classes}" fillcolor="{STATE_COLOURS[state]}"'
            f' color="{border["color"]}" penwidth={border["penwidth"]} style="{style}"];'
        )
    for record in records:
        for upstream in record.get("inputs") or ():
            if str(upstream) in names:
                out.append(
                    f"  {_dot_quote(str(upstream))} -> {_dot_quote(str(record.get('stage')))};"
                )
    out.append("}")
    return "\n".join(out) + "\n"


def render_svg(dot_source: str, *, engine: str = "dot") -> str | None:
    """The SVG markup of ``dot_source`` drawn by Graphviz, or None when Graphviz cannot draw it.

    None means the ``dot`` program (or the ``graphviz`` package) is missing or failed; the
    reason is logged. The XML prolog is stripped so the markup can be inlined into HTML.
    """
    try:
        import graphviz

        svg = graphviz.pipe(engine, "svg", dot_source.encode("utf-8"), quiet=True)
    except ImportError:
        logger.info("the graphviz package is not installed; showing the table only")
        return None
    except Exception as exc:  # ExecutableNotFound, CalledProcessError, OSError, ...
        logger.info("graphviz could not render the pipeline graph: %s", exc)
        return None
    text = svg.decode("utf-8", errors="replace")
    start = text.find("<svg")
    if start < 0:
        return None
    # Drop comments (Graphviz writes one per node/edge) and undo its escaping of "-", so class
    # names such as chkpt-state-cached read plainly in the markup.
    return _COMMENT.sub("", text[start:]).replace("&#45;", "-")


_COMMENT = re.compile(r"<!--.*?-->\n?", re.DOTALL)


def totals(records: Iterable[Mapping]) -> dict[str, Any]:
    """Totals line numbers: stage count, bytes on disk, seconds a Run All saves by loading.

    >>> t = totals([{"state": "cached", "size": 1024, "time_saved": 3.0},
    ...             {"state": "stale", "size": 1024, "time_saved": 9.0}])
    >>> t["stages"], t["disk_bytes"], t["time_saved_seconds"], t["text"]
    (2, 2048, 3.0, '2 stages · 2.0 KB on disk · 3.0 s saved by cached stages')
    """
    records = list(records)
    disk = sum(int(r.get("size") or 0) for r in records)
    saved = sum(time_saved(r) for r in records if _state(r) == "cached")
    n = len(records)
    return {
        "stages": n,
        "disk_bytes": disk,
        "time_saved_seconds": saved,
        "text": f"{n} stage{'s' if n != 1 else ''} · {format_size(disk)} on disk"
        f" · {format_seconds(saved)} saved by cached stages",
    }


def _table_row(record: Mapping, options: Mapping) -> str:
    state = _state(record)
    cells = [
        html.escape(str(record.get("stage"))),
        f'<span style="background:{STATE_COLOURS[state]};padding:0 4px;border-radius:3px">{state}</span>',
        html.escape(str(record.get("this_session") or "-")),
        html.escape(", ".join(map(str, record.get("inputs") or ())) or "-"),
        html.escape(", ".join(map(str, record.get("params") or ())) or "-"),
        format_size(record.get("size")) if record.get("size") else "-",
        format_seconds(time_saved(record)) if time_saved(record) else "-",
        "on" if options.get("load", True) else "off",
        "on" if options.get("store", True) else "off",
    ]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def static_html(
    records: Sequence[Mapping],
    options: Mapping[str, Mapping] | None = None,
    svg: str | None = None,
    message: str = "",
) -> str:
    """A self-contained HTML view (graph or message, legend, table) for static front ends."""
    options = options or {}
    head = [
        "stage",
        "state",
        "this session",
        "inputs",
        "params",
        "size",
        "hit saves",
        "load",
        "store",
    ]
    rows = "".join(_table_row(r, options.get(str(r.get("stage")), {})) for r in records)
    legend = " ".join(
        f'<span title="{html.escape(e["title"])}" style="display:inline-block;margin-right:8px">'
        f'<span style="display:inline-block;width:12px;height:12px;background:{e["fill"]};'
        f'border:2px {e["style"]} {e["border"]};vertical-align:middle"></span> {html.escape(e["label"])}</span>'
        for e in LEGEND
    )
    parts = [
        f"<div class='chkpt-static'><div><b>chkpt pipeline</b> · {html.escape(totals(records)['text'])}</div>"
    ]
    if svg:
        parts.append(svg)
    if message:
        parts.append(f"<p class='chkpt-message'>{html.escape(message)}</p>")
    parts.append(f"<div>{legend}</div>")
    parts.append(
        "<table class='chkpt-table'><thead><tr>"
        + "".join(f"<th>{h}</th>" for h in head)
        + f"</tr></thead><tbody>{rows}</tbody></table></div>"
    )
    return "".join(parts)


# --------------------------------------------------------------------------- the widget

try:
    import anywidget
    import traitlets
except ImportError:  # pragma: no cover - the ipython extra installs both
    anywidget = None  # type: ignore[assignment]


if anywidget is not None:

    class PipelineWidget(anywidget.AnyWidget):
        """Live view of a notebook session's stage cells, with per-stage cache toggles."""

        _esm = _HERE / "widget.js"
        _css = _HERE / "widget.css"

        stages = traitlets.List(traitlets.Dict()).tag(sync=True)
        svg = traitlets.Unicode("").tag(sync=True)
        message = traitlets.Unicode("").tag(sync=True)
        legend = traitlets.List(traitlets.Dict(), default_value=LEGEND).tag(sync=True)
        totals = traitlets.Dict().tag(sync=True)
        selected = traitlets.Unicode("").tag(sync=True)

        def __init__(self, session: Session, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._session = session
            self._last_dot: str | None = None
            self._last_svg: str | None = None
            self.on_msg(self._on_front_end_message)
            self.refresh()
            ref = weakref.ref(self)
            self._unsubscribe = session.subscribe(lambda: _refresh_ref(ref))

        # -- reading the session

        def refresh(self) -> None:
            """Re-read the session's status and options and update the synced state."""
            try:
                records = [dict(r) for r in self._session.status()]
                options = {str(r.get("stage")): self._options(str(r.get("stage"))) for r in records}
            except Exception as exc:
                logger.exception("could not read the notebook session's status")
                self.message = f"chkpt: could not read the pipeline's status: {exc}"
                return
            dot = build_dot(records, options)
            if dot != self._last_dot:
                self._last_svg = render_svg(dot)
                self._last_dot = dot
            stages = []
            for r in records:
                name = str(r.get("stage"))
                stages.append({**_jsonable(r), "state": _state(r), "time_saved": time_saved(r), **options[name],
                               "label": node_label(r, options[name])})  # fmt: skip
            with self.hold_sync():
                self.stages = stages
                self.totals = totals(records)
                self.svg = self._last_svg or ""
                self.message = "" if self._last_svg else INSTALL_GRAPHVIZ
                if self.selected and self.selected not in options:
                    self.selected = ""

        def _options(self, stage: str) -> dict[str, bool]:
            opts = self._session.options(stage) or {}
            return {"load": bool(opts.get("load", True)), "store": bool(opts.get("store", True))}

        def state_of(self, stage: str) -> dict | None:
            """The widget's record for ``stage`` (state, options, label, ...), or None."""
            return next((s for s in self.stages if s.get("stage") == stage), None)

        # -- toggles: each goes through the session, like the magics and code do

        def select(self, stage: str) -> None:
            """Select ``stage`` (what clicking its node does)."""
            self.selected = stage

        def set_load(self, stage: str, on: bool) -> None:
            """Allow or forbid loading ``stage`` from its checkpoint on its next run."""
            self._session.set_options(stage, load=bool(on))
            self.refresh()

        def set_store(self, stage: str, on: bool) -> None:
            """Allow or forbid storing ``stage``'s result on its next run."""
            self._session.set_options(stage, store=bool(on))
            self.refresh()

        def clear(self, stage: str | None = None) -> None:
            """Delete the checkpoints of ``stage`` (all stages when None)."""
            self._session.clear(stage)
            self.refresh()

        def clear_all(self) -> None:
            """Delete the checkpoints of every stage."""
            self.clear(None)

        def _on_front_end_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
            try:
                action = content.get("action") if isinstance(content, dict) else None
                stage = content.get("stage") if isinstance(content, dict) else None
                if action == "set_load":
                    self.set_load(stage, content["value"])
                elif action == "set_store":
                    self.set_store(stage, content["value"])
                elif action == "clear":
                    self.clear(stage)
                elif action == "clear_all":
                    self.clear_all()
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
            unsubscribe, self._unsubscribe = getattr(self, "_unsubscribe", None), None
            if unsubscribe is not None:
                try:
                    unsubscribe()
                except Exception:
                    logger.debug("unsubscribe failed", exc_info=True)
            _WIDGETS.pop(id(self._session), None)
            super().close()

        def _repr_mimebundle_(self, **kwargs: Any):
            bundle = super()._repr_mimebundle_(**kwargs)
            if bundle is None:
                return None
            data, metadata = bundle
            records = [s for s in self.stages]
            options = {s["stage"]: {"load": s["load"], "store": s["store"]} for s in records}
            data["text/html"] = static_html(records, options, self.svg, self.message)
            return data, metadata

else:  # pragma: no cover

    class PipelineWidget:  # type: ignore[no-redef]
        def __init__(self, *_a: Any, **_k: Any) -> None:
            raise ImportError("the chkpt widget needs anywidget: pip install 'chkpt[ipython]'")


def _refresh_ref(ref: weakref.ref) -> None:
    w = ref()
    if w is None:
        return
    try:
        w.refresh()
    except Exception:  # a session callback must never raise into the user's cell
        logger.exception("widget refresh failed")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
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
