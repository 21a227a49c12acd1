"""The pipeline graph as text: node labels, DOT source, Graphviz SVG and a static HTML view.

Pure functions, tested on their own. Nodes have a fixed size and always three label lines, so
the layout depends only on the graph's structure (stage names and edges): the widget renders
the SVG again only when that changes, and state changes re-colour and re-label the nodes in
place (in the browser, and with :func:`patch_svg` for the static copy).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "INSTALL_GRAPHVIZ",
    "LEGEND",
    "STATES",
    "STATE_COLOURS",
    "build_dot",
    "format_seconds",
    "format_size",
    "layout_direction",
    "node_label",
    "patch_svg",
    "render_svg",
    "state_of",
    "static_html",
    "structure",
    "time_saved",
    "totals",
]

logger = logging.getLogger("chkpt.ipython.widget")

STATES = ("cached", "ondisk", "stale", "missing", "running", "failed")

#: Fill colour of a node, by the state of its stage (light theme; the CSS has the dark ones).
STATE_COLOURS: dict[str, str] = {
    "cached": "#b2f2bb",
    "ondisk": "#e6fcf5",
    "stale": "#ffd8a8",
    "missing": "#e9ecef",
    "running": "#a5d8ff",
    "failed": "#ffa8a8",
}

STATE_WORDS = {"ondisk": "on disk"}

_STATE_TEXT = {
    "cached": "cached: a valid checkpoint exists, the next run loads it",
    "ondisk": "cached on disk, not loaded yet: the cell has not run in this kernel",
    "stale": "stale: the next run recomputes it (the node says why)",
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
    {"key": s, "label": STATE_WORDS.get(s, s), "fill": STATE_COLOURS[s],
     "border": _DEFAULT_BORDER["color"], "style": "solid", "title": _STATE_TEXT[s]}
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

#: Characters per label line: nodes have a fixed width, longer text is cut (full text on hover).
LINE_CHARS = 38
NBSP = "\u00a0"


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


def _cut(text: str, n: int = LINE_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


# --------------------------------------------------------------------------- labels


def state_of(record: Mapping) -> str:
    """The record's state, ``missing`` for anything unknown."""
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


def why(record: Mapping) -> str:
    """The words that explain a node's state (the failure, the reason it recomputes)."""
    state = state_of(record)
    if state == "failed":
        return str(record.get("error") or "")
    if state in ("stale", "missing"):  # missing: e.g. "not cacheable: input 'conn' (lock) ..."
        return str(record.get("reason") or "")
    if state == "ondisk":
        return "not loaded yet"
    return ""


def node_label(record: Mapping, options: Mapping | None = None) -> list[str]:
    """The three lines of a stage's node: name; state, size and time a hit saves; why or flags.

    Only a cached stage claims the time a hit saves: a stale one recomputes.

    >>> node_label({"stage": "fit", "state": "cached", "size": 2048, "time_saved": 12.0,
    ...             "this_session": "loaded"}, {"load": True, "store": False})
    ['fit', 'cached · 2.0 KB · saves 12.0 s', 'loaded this session · store off']
    >>> node_label({"stage": "raw", "state": "missing"})
    ['raw', 'missing', '\\xa0']
    >>> node_label({"stage": "feat", "state": "stale", "size": 10, "time_saved": 0.5,
    ...             "reason": "WINDOW 7 -> 14"})
    ['feat', 'stale · 10 B', 'WINDOW 7 -> 14']
    """
    state = state_of(record)
    facts = [STATE_WORDS.get(state, state)]
    if record.get("size"):
        facts.append(format_size(record["size"]))
    if state in ("cached", "ondisk") and time_saved(record) >= 0.001:
        facts.append(f"saves {format_seconds(time_saved(record))}")
    detail = [why(record)] if why(record) else []
    if not detail and record.get("this_session") in SESSION_BORDERS:
        detail.append(f"{record['this_session']} this session")
    options = options or {}
    off = [f"{name} off" for name in ("load", "store") if options.get(name) is False]
    if off:
        detail.append(", ".join(off))
    return [
        _cut(record.get("stage", "?")),
        _cut(" · ".join(facts)),
        _cut(" · ".join(detail)) if detail else NBSP,
    ]


# --------------------------------------------------------------------------- the graph


def _names(records: Sequence[Mapping]) -> list[str]:
    return [str(r.get("stage")) for r in records]


def structure(records: Sequence[Mapping]) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...]]:
    """What the layout depends on: the stage names in order and the edges between them.

    >>> structure([{"stage": "a"}, {"stage": "b", "inputs": ["a", "param"]}])
    (('a', 'b'), ((0, 1),))
    """
    names = _names(records)
    index = {name: i for i, name in enumerate(names)}
    edges = []
    for j, record in enumerate(records):
        for upstream in record.get("inputs") or ():
            i = index.get(str(upstream))
            if i is not None and i != j:
                edges.append((i, j))
    return tuple(names), tuple(edges)


def layout_direction(records: Sequence[Mapping]) -> str:
    """``LR`` for short pipelines; ``TB`` (top to bottom) when the longest chain is long.

    >>> layout_direction([{"stage": "a"}, {"stage": "b", "inputs": ["a"]}])
    'LR'
    >>> layout_direction([{"stage": str(i), "inputs": [str(i - 1)]} for i in range(8)])
    'TB'
    """
    names, edges = structure(records)
    depth = [0] * len(names)
    for _ in range(len(names)):  # longest path by relaxation; graphs are small
        changed = False
        for i, j in edges:
            if depth[j] < depth[i] + 1:
                depth[j], changed = depth[i] + 1, True
        if not changed:
            break
    longest = max(depth, default=0) + 1
    return "TB" if longest > 5 or len(names) > 16 else "LR"


def _dot_quote(text: str) -> str:
    r"""A DOT double-quoted string.

    >>> _dot_quote('say "hi"')
    '"say \\"hi\\""'
    """
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def build_dot(
    records: Sequence[Mapping],
    options: Mapping[str, Mapping] | None = None,
    rankdir: str | None = None,
) -> str:
    """DOT source for the graph of stage cells, one node per record, edges from ``inputs``.

    Each node's SVG group gets the classes ``chkpt-stage``, ``chkpt-state-<state>``,
    ``chkpt-session-<computed|loaded>`` (when it ran this session) and ``chkpt-index-<i>``
    (its position in ``records``); each edge ``chkpt-edge chkpt-from-<i> chkpt-to-<j>``.
    That is how the browser side finds stages and edges in the SVG.

    >>> dot = build_dot([{"stage": "a", "state": "cached"},
    ...                  {"stage": "b", "state": "stale", "inputs": ["a"]}])
    >>> '"a" -> "b"' in dot and "chkpt-state-stale" in dot
    True
    """
    options = options or {}
    names, edges = structure(records)
    rankdir = rankdir or layout_direction(records)
    out = [
        "digraph chkpt {",
        f'  graph [rankdir={rankdir} bgcolor="transparent" nodesep=0.25 ranksep=0.4 margin=0];',
        '  node [shape=box style="rounded,filled" fontname="Helvetica,Arial,sans-serif"'
        " fontsize=11 fixedsize=true width=2.9 height=0.62];",
        '  edge [color="#868e96" arrowsize=0.7];',
    ]
    for i, record in enumerate(records):
        state = state_of(record)
        this = record.get("this_session")
        border = SESSION_BORDERS.get(str(this), _DEFAULT_BORDER)
        classes = f"chkpt-stage chkpt-state-{state} chkpt-index-{i}"
        if this in SESSION_BORDERS:
            classes += f" chkpt-session-{this}"
        label = "\\n".join(
            line.replace("\\", "\\\\").replace('"', '\\"')
            for line in node_label(record, options.get(names[i]))
        )
        style = "rounded,filled" + (",dashed" if border["style"] == "dashed" else "")
        out.append(
            f'  {_dot_quote(names[i])} [label="{label}" class="{classes}"'
            f' fillcolor="{STATE_COLOURS[state]}" color="{border["color"]}"'
            f' penwidth={border["penwidth"]} style="{style}"];'
        )
    for i, j in edges:
        out.append(
            f"  {_dot_quote(names[i])} -> {_dot_quote(names[j])}"
            f' [class="chkpt-edge chkpt-from-{i} chkpt-to-{j}"];'
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
_NODE = re.compile(
    r'(<g id="[^"]*" class=")node chkpt-stage [^"]*chkpt-index-(\d+)[^"]*(">.*?</g>)', re.DOTALL
)
_PATH = re.compile(r"<path [^>]*?/>", re.DOTALL)
_TEXT = re.compile(r"(<text [^>]*>)(.*?)(</text>)", re.DOTALL)


def patch_svg(
    svg: str, records: Sequence[Mapping], options: Mapping[str, Mapping] | None = None
) -> str:
    """``svg`` (drawn for the same structure) with each node's state, border and label updated.

    This is how the static copy follows state changes without running Graphviz again.
    """
    options = options or {}

    def node(match: re.Match) -> str:
        i = int(match.group(2))
        if i >= len(records):
            return match.group(0)
        record = records[i]
        state, this = state_of(record), record.get("this_session")
        border = SESSION_BORDERS.get(str(this), _DEFAULT_BORDER)
        classes = f"node chkpt-stage chkpt-state-{state} chkpt-index-{i}"
        if this in SESSION_BORDERS:
            classes += f" chkpt-session-{this}"
        body = match.group(3)
        dash = ' stroke-dasharray="5,2"' if border["style"] == "dashed" else ""
        shape = (
            f'<path fill="{STATE_COLOURS[state]}" stroke="{border["color"]}"'
            f' stroke-width="{border["penwidth"]}"{dash} d="'
        )
        body = _PATH.sub(lambda m: shape + _attr(m.group(0), "d") + '"/>', body, count=1)
        lines = iter(
            record.get("label") or node_label(record, options.get(str(record.get("stage"))))
        )
        body = _TEXT.sub(lambda m: m.group(1) + html.escape(next(lines, NBSP)) + m.group(3), body)
        return match.group(1) + classes + body

    return _NODE.sub(node, svg)


def _attr(tag: str, name: str) -> str:
    found = re.search(rf'\s{name}="([^"]*)"', tag)
    return found.group(1) if found else ""


# --------------------------------------------------------------------------- totals and HTML


def totals(records: Iterable[Mapping]) -> dict[str, Any]:
    """Totals line numbers: stage count, bytes on disk, seconds a Run All saves by loading.

    >>> t = totals([{"state": "cached", "size": 1024, "time_saved": 3.0},
    ...             {"state": "stale", "size": 1024, "time_saved": 9.0}])
    >>> t["stages"], t["disk_bytes"], t["time_saved_seconds"], t["text"]
    (2, 2048, 3.0, '2 stages · 2.0 KB on disk · 3.0 s saved by cached stages')
    """
    records = list(records)
    disk = sum(int(r.get("size") or 0) for r in records)
    saved = sum(time_saved(r) for r in records if state_of(r) in ("cached", "ondisk"))
    n = len(records)
    counts = {s: sum(state_of(r) == s for r in records) for s in STATES}
    return {
        "stages": n,
        "disk_bytes": disk,
        "time_saved_seconds": saved,
        "counts": counts,
        "text": f"{n} stage{'s' if n != 1 else ''} · {format_size(disk)} on disk"
        f" · {format_seconds(saved)} saved by cached stages",
    }


def _table_row(record: Mapping, options: Mapping) -> str:
    state = state_of(record)
    cells = [
        html.escape(str(record.get("stage"))),
        f'<span style="background:{STATE_COLOURS[state]};color:#212529;padding:0 4px;'
        f'border-radius:3px">{STATE_WORDS.get(state, state)}</span>',
        html.escape(why(record) or "-"),
        html.escape(str(record.get("this_session") or "-")),
        html.escape(", ".join(map(str, record.get("inputs") or ())) or "-"),
        html.escape(", ".join(map(str, record.get("params") or ())) or "-"),
        format_size(record.get("size")) if record.get("size") else "-",
        format_seconds(time_saved(record))
        if time_saved(record) and state in ("cached", "ondisk")
        else "-",
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
    head = ["stage", "state", "why", "this session", "inputs", "params", "size", "hit saves",
            "load", "store"]  # fmt: skip
    rows = "".join(_table_row(r, options.get(str(r.get("stage")), {})) for r in records)
    legend = " ".join(
        f'<span title="{html.escape(e["title"])}" style="display:inline-block;margin-right:8px">'
        f'<span style="display:inline-block;width:12px;height:12px;background:{e["fill"]};'
        f'border:2px {e["style"]} {e["border"]};vertical-align:middle"></span> '
        f"{html.escape(e['label'])}</span>"
        for e in LEGEND
    )
    parts = [
        "<div class='chkpt-static'><div><b>chkpt pipeline</b> · "
        f"{html.escape(totals(records)['text'])}</div>"
    ]
    if svg:
        parts.append(f"<div class='chkpt-static-graph' style='overflow:auto'>{svg}</div>")
    if message:
        parts.append(f"<p class='chkpt-message'>{html.escape(message)}</p>")
    parts.append(f"<div>{legend}</div>")
    parts.append(
        "<div style='overflow-x:auto'><table class='chkpt-table'><thead><tr>"
        + "".join(f"<th>{h}</th>" for h in head)
        + f"</tr></thead><tbody>{rows}</tbody></table></div></div>"
    )
    return "".join(parts)
