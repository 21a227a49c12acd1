"""The magics: each parses its arguments and delegates to the notebook session."""

from __future__ import annotations

import html
from typing import Any

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
    value = text.strip().lower()
    if value in ("on", "true", "yes", "1"):
        return True
    if value in ("off", "false", "no", "0"):
        return False
    raise ValueError(f"expected on or off, got {text!r}")


class Message(str):
    """A one-line answer of a line magic, shown as plain text."""

    def __repr__(self) -> str:
        return str(self)


class StatusTable(list):
    """``%chkpt_status``'s answer: the status records, shown as a table."""

    COLUMNS = ("stage", "state", "this_session", "inputs", "params", "size", "time_saved")

    def _cells(self, row: dict[str, Any]) -> list[str]:
        out = []
        for col in self.COLUMNS:
            value = row.get(col)
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
        return StatusTable(session(self.shell).status())

    @magic_arguments()
    @argument("stage", nargs="?", default=None, help="stage to clear (default: all)")
    @line_magic
    def chkpt_clear(self, line: str) -> Message:
        """Delete the checkpoints of one stage, or of all stages of this notebook."""
        args = parse_argstring(self.chkpt_clear, line)
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
