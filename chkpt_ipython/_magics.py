"""The magics: each parses its arguments and delegates to the notebook session."""

from __future__ import annotations

import argparse
import ast
import html
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import (
    Magics,
    cell_magic,
    line_magic,
    magics_class,
    output_can_be_silenced,
)
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ._session import session

__all__ = ["ChkptMagics", "Message", "StatusTable"]


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _switch(text: str) -> bool:
    """``on``/``off`` (and the usual synonyms); anything else is a usage error that says so.

    >>> _switch("ON"), _switch("off")
    (True, False)
    """
    value = text.strip().lower()
    if value in ("on", "true", "yes", "1"):
        return True
    if value in ("off", "false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected on/off, got {text!r}")


def known_stages(sess: Any) -> list[str]:
    """Stage names the notebook knows: run in this kernel, in the saved notebook, or on disk."""
    from . import _preview

    names = [str(r.get("stage")) for r in sess.status()]
    notebook = getattr(getattr(sess, "resolved", None), "notebook", None)
    if notebook is not None:
        names += [c["stage"] for c in _preview.saved_stage_cells(notebook)]
    try:
        names += list(sess.store.stages())
    except Exception:
        pass
    return list(dict.fromkeys(names))


def _check_syntax(shell: Any, cell: str, name: str | None) -> None:
    """A stage cell that does not parse fails with the error alone, not chkpt's call stack."""
    try:
        source = shell.transform_cell(cell)
        ast.parse(source)
    except SyntaxError as exc:
        where = f"stage cell {name!r}" if name else "stage cell"
        line = (exc.lineno or 0) + 1  # the cell's first line is %%chkpt_stage
        text = (exc.text or "").rstrip("\n")
        caret = ""
        if text and exc.offset:
            stripped = text.lstrip()
            caret = "\n    " + " " * max(exc.offset - 1 - (len(text) - len(stripped)), 0) + "^"
            text = stripped
        shown = f"\n    {text}{caret}" if text else ""
        raise UsageError(
            f"SyntaxError in {where}, line {line}: {exc.msg}{shown}\n"
            "Nothing ran and no checkpoint was touched; fix the cell and run it again."
        ) from None


class Message(str):
    """A one-line answer of a line magic, shown as plain text."""

    def __repr__(self) -> str:
        return str(self)


class StatusTable(list):
    """``%chkpt_status``'s answer: the status records, shown as a table."""

    COLUMNS = ("stage", "state", "this_session", "inputs", "params", "size", "time_saved")

    def __init__(self, rows: Any = (), modules: Any = ()) -> None:
        super().__init__(rows)
        self.modules = frozenset(modules)  # names bound to modules: never shown as parameters

    def _cells(self, row: dict[str, Any]) -> list[str]:
        out = []
        for col in self.COLUMNS:
            value = row.get(col)
            if col == "params" and isinstance(value, list):
                value = [p for p in value if p not in self.modules]
            if isinstance(value, list):
                value = ", ".join(value)
            elif col == "time_saved":
                value = f"{value:.2f}s" if value else ""
            elif col == "size" and value is not None:
                value = f"{value:,} B"
            out.append("" if value is None else str(value))
        return out

    def __repr__(self) -> str:
        if not self:
            return "no stage cells have run yet"
        rows = [list(self.COLUMNS), *(self._cells(r) for r in self)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self.COLUMNS))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{c}</th>" for c in self.COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in self._cells(r)) + "</tr>"
            for r in self
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@magics_class
class ChkptMagics(Magics):
    """``%%chkpt_stage`` and the ``%chkpt_*`` line magics."""

    @magic_arguments()
    @argument("name", nargs="?", default=None, help="stage name (default: the first output)")
    @argument("--force", action="store_true", help="recompute even if a checkpoint is valid")
    @argument("--no-store", action="store_true", help="do not write a checkpoint")
    @argument("--inputs", type=_names, default=None, help="comma-separated input names")
    @argument("--outputs", type=_names, default=None, help="comma-separated output names")
    @argument("--serializer", default=None, help="serializer id (default: automatic)")
    @output_can_be_silenced
    @cell_magic
    def chkpt_stage(self, line: str, cell: str) -> Any:
        """Make this cell a checkpointed stage: a valid checkpoint is restored instead of rerun."""
        __tracebackhide__ = True
        args = parse_argstring(self.chkpt_stage, line)
        _check_syntax(self.shell, cell, args.name)
        return session(self.shell).run_cell(
            cell,
            name=args.name,
            force=args.force,
            no_store=args.no_store,
            inputs=args.inputs,
            outputs=args.outputs,
            serializer=args.serializer,
        )

    @magic_arguments()
    @argument("path", nargs="?", default=None, help="new checkpoint directory")
    @argument("--auto", action="store_true", help="go back to the per-notebook directory")
    @line_magic
    def chkpt_dir(self, line: str) -> Message:
        """Show this notebook's checkpoint directory, or set it."""
        args = parse_argstring(self.chkpt_dir, line)
        sess = session(self.shell)
        if args.path or args.auto:
            sess.set_dir(None if args.auto else args.path)
        resolved = sess.resolved
        return Message(f"{resolved.path} ({resolved.source})")

    @line_magic
    def chkpt_status(self, line: str) -> StatusTable:
        """List the stage cells with their state (cached, stale, missing, running, failed)."""
        import types

        ns = self.shell.user_ns
        rows = session(self.shell).status()
        names = {p for r in rows for p in r.get("params") or ()}
        return StatusTable(rows, [n for n in names if isinstance(ns.get(n), types.ModuleType)])

    @magic_arguments()
    @argument("stage", nargs="?", default=None, help="stage to clear (default: all)")
    @line_magic
    def chkpt_clear(self, line: str) -> Message:
        """Delete the checkpoints of one stage, or of all stages of this notebook."""
        args = parse_argstring(self.chkpt_clear, line)
        if args.stage is not None:
            known = known_stages(session(self.shell))
            if args.stage not in known:
                listed = ", ".join(known) if known else "none yet"
                raise UsageError(
                    f"%chkpt_clear: no stage named {args.stage!r}; known stages: {listed}"
                )
        removed = session(self.shell).clear(args.stage)
        what = f"stage {args.stage!r}" if args.stage else "all stages"
        return Message(f"removed {removed} checkpoint(s) of {what}")

    @magic_arguments()
    @argument("stage", help="stage name")
    @argument("--load", type=_switch, default=None, help="on/off: use a valid checkpoint")
    @argument("--store", type=_switch, default=None, help="on/off: write checkpoints")
    @line_magic
    def chkpt_set(self, line: str) -> Message:
        """Switch loading or storing of one stage; applies when its cell next runs."""
        args = parse_argstring(self.chkpt_set, line)
        sess = session(self.shell)
        known = known_stages(sess)
        if args.stage not in known:
            listed = ", ".join(known) if known else "none yet (run a %%chkpt_stage cell first)"
            raise UsageError(f"%chkpt_set: no stage named {args.stage!r}; known stages: {listed}")
        sess.set_options(args.stage, load=args.load, store=args.store)
        opts = sess.options(args.stage)
        return Message(
            f"{args.stage}: load {'on' if opts['load'] else 'off'}, "
            f"store {'on' if opts['store'] else 'off'}"
        )

    @line_magic
    def chkpt_widget(self, line: str) -> Any:
        """Show the pipeline widget of this notebook."""
        from . import widget

        return widget()
