"""How chkpt shows what happened, in one place: the terminal line per stage, the one-line cell
status, tables, sizes and durations. Scripts, notebooks and tools all format through here.

>>> stage_line("computed", "features", "code changed", 1.5)
'features                 stale -> recomputed (code changed)           1.50s'
>>> cell_line("loaded", "", size=6_000, seconds=0.01, saved=3.0)
'loaded from checkpoint · 5.9 KB · saved 3.0 s'
>>> cell_line("computed", "parameters changed: WINDOW 7 -> 14")
'computed: WINDOW 7 -> 14'
>>> cell_line("computed", "input changed: features")
'computed: upstream features changed'
>>> print(table([("stage", "action"), ("raw", "loaded")]))
stage  action
raw    loaded
"""

from __future__ import annotations

from collections.abc import Sequence

from ._vocab import STALE_REASONS, reason_kind

__all__ = [
    "cell_line",
    "format_seconds",
    "format_size",
    "human_reason",
    "skipped_line",
    "stage_line",
    "table",
]


def format_size(n: int | None) -> str:
    """Bytes for people: ``512 B``, ``5.9 KB``, ``1.2 GB``.

    >>> format_size(512), format_size(1536), format_size(None)
    ('512 B', '1.5 KB', '')
    """
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def format_seconds(s: float | None) -> str:
    """Durations for people: ``12 ms``, ``3.0 s``, ``2 min 5 s``.

    >>> format_seconds(0.012), format_seconds(3), format_seconds(125)
    ('12 ms', '3.0 s', '2 min 5 s')
    """
    if s is None:
        return ""
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 60:
        return f"{s:.1f} s"
    minutes, seconds = divmod(round(s), 60)
    return f"{minutes} min {seconds} s"


def outcome_words(kind: str, reason: str) -> str:
    """``computed`` / ``stale -> recomputed (code changed)`` / ``computed (forced)`` / ``loaded``."""
    if kind != "computed" or not reason:
        return kind
    if reason_kind(reason) in STALE_REASONS:
        return f"stale -> recomputed ({reason})"
    return f"computed ({reason})"


def stage_line(kind: str, stage: str, reason: str, seconds: float) -> str:
    """The terminal line of one stage of a run (logged as ``chkpt: <line>``)."""
    return f"{stage:<24} {outcome_words(kind, reason):<40} {seconds:8.2f}s"


def skipped_line(stage: str) -> str:
    """The terminal line of a stage whose valid checkpoint nobody needed."""
    return f"{stage:<24} {'skipped (checkpoint valid, not needed)':<40} {'':>8}"


def cell_line(
    kind: str,
    reason: str = "",
    *,
    size: int | None = None,
    seconds: float | None = None,
    saved: float | None = None,
) -> str:
    """The one-line status a notebook shows under a stage cell."""
    if kind == "loaded":
        parts = ["loaded from checkpoint", format_size(size)]
        if saved:
            parts.append(f"saved {format_seconds(saved)}")
        return " · ".join(p for p in parts if p)
    words = human_reason(reason)
    return f"{kind}: {words}" if words else kind


def human_reason(reason: str) -> str:
    """A reason in the words a person uses: what changed, not the category.

    >>> human_reason("parameters changed: WINDOW 7 -> 14")
    'WINDOW 7 -> 14'
    >>> human_reason("input changed: features")
    'upstream features changed'
    >>> human_reason("code changed")
    'code changed'
    """
    kind, _, detail = reason.partition(": ")
    if not detail:
        return reason
    if kind == "parameters changed":
        return detail
    if kind in ("input changed", "upstream recomputed"):
        return f"upstream {detail} changed"
    return reason


def table(rows: Sequence[tuple[str, ...]]) -> str:
    """Left-aligned columns, the first row a header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)
