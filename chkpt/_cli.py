"""``chkpt ls | info | clear | gc`` over a checkpoint directory.

The directory may hold one store or, as notebooks lay them out, one store per notebook
(``.chkpt/<notebook>/<stage>/``): every command sees all of them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ._config import default_dir
from ._layout import META_SUFFIX
from ._store import Entry, Store, open_store
from ._version import __version__

__all__ = ["main"]


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def _is_store(path: str) -> bool:
    """A local folder holding stage folders with metadata files (not scanned deeper than that)."""
    try:
        with os.scandir(path) as stages:
            for stage in stages:
                if stage.is_dir(follow_symlinks=False) and not stage.name.startswith("."):
                    with os.scandir(stage.path) as files:
                        if any(f.name.endswith(META_SUFFIX) for f in files):
                            return True
    except OSError:
        return False
    return False


def _mine(entry: os.DirEntry[str]) -> bool:
    """Another user's folder in a shared dir is never taken for one of our stores."""
    try:
        return not hasattr(os, "getuid") or entry.stat(follow_symlinks=False).st_uid == os.getuid()
    except OSError:
        return False


def stores(root: str) -> list[tuple[str, Store]]:
    """``root``'s store, then the per-notebook stores one level below it, as ``(label, store)``."""
    found = [("", open_store(root))]
    if "://" in root or not os.path.isdir(root):
        return found
    own = os.path.realpath(found[0][1].root)  # <dir>/chkpt-<uid> when others can write dir
    try:
        with os.scandir(root) as scan:
            children = sorted(scan, key=lambda c: c.name)
    except OSError:  # a folder this user may not read (another user's private root)
        return found
    for child in children:
        if (
            child.is_dir(follow_symlinks=False)
            and not child.name.startswith(".")
            and os.path.realpath(child.path) != own
            and _mine(child)
            and _is_store(child.path)
        ):
            found.append((child.name, open_store(child.path)))
    return found


def _listed(args: argparse.Namespace) -> list[tuple[str, Store, list[Entry]]]:
    listed = []
    for label, store in stores(args.dir):
        entries = store.entries(args.stage)
        if entries:
            listed.append((label, store, entries))
    return listed


def cmd_ls(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    for label, _store, entries in _listed(args):
        by_stage: dict[str, list[Entry]] = {}
        for entry in entries:
            by_stage.setdefault(entry.stage, []).append(entry)
        for stage, group in sorted(by_stage.items()):
            rows.append(
                {
                    "store": label,
                    "stage": stage,
                    "entries": len(group),
                    "bytes": sum(e.size for e in group),
                    "newest": max(e.created for e in group),
                }
            )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no checkpoints in {args.dir}")
        return 0
    names = [f"{r['store']}/{r['stage']}" if r["store"] else r["stage"] for r in rows]
    width = max(28, *map(len, names))
    print(f"{'stage':<{width}} {'entries':>7} {'size':>10}  newest")
    for name, r in zip(names, rows):
        print(f"{name:<{width}} {r['entries']:>7} {_size(r['bytes']):>10}  {_when(r['newest'])}")
    return 0


def _params(entry: Entry) -> str:
    """Bound parameters as the run recorded them (``n=10, scale=0.5``), else their hash."""
    bound = entry.extra.get("bound")
    if isinstance(bound, dict) and bound:
        return ", ".join(f"{k}={v}" for k, v in bound.items())
    digest = entry.extra.get("params")
    return f"(hash {digest})" if digest else ""


def cmd_info(args: argparse.Namespace) -> int:
    found = [(label, e) for label, _s, entries in _listed(args) for e in entries]
    found.sort(key=lambda le: le[1].created, reverse=True)
    if not found:
        print(f"no checkpoints for stage {args.stage!r} in {args.dir}", file=sys.stderr)
        return 1
    if args.json:
        data = [{**e.to_json(), "path": e.path, "store": label} for label, e in found]
        print(json.dumps(data, indent=2))
        return 0
    for label, e in found:
        print(f"{label + '/' if label else ''}{e.stage}  key {e.key}")
        print(f"  created   {_when(e.created)}   computed in {e.compute_seconds:.3f}s")
        print(f"  stored    {_size(e.size)} as {e.serializer} at {e.path}")
        if _params(e):
            print(f"  params    {_params(e)}")
        print(f"  checksum  {e.checksum}")
        for name, digest in e.inputs.items():
            print(f"  input     {name}: {digest}")
    return 0


def _confirm(question: str) -> bool:
    print(f"{question} [y/N] ", end="", flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def cmd_clear(args: argparse.Namespace) -> int:
    listed = _listed(args)
    count = sum(len(entries) for _l, _s, entries in listed)
    if args.stage is None and count and not args.yes:
        where = f"{args.dir}" + (f" ({len(listed)} stores)" if len(listed) > 1 else "")
        if not sys.stdin.isatty():
            print(
                f"chkpt clear: refusing to remove all {_plural(count, 'checkpoint')} in {where} "
                f"without --yes (stdin is not a terminal)",
                file=sys.stderr,
            )
            return 2
        if not _confirm(f"Remove all {_plural(count, 'checkpoint')} in {where}?"):
            print("nothing removed")
            return 1
    removed = sum(store.clear(args.stage) for _label, store, _entries in listed)
    of = f" of {args.stage!r}" if args.stage else ""
    print(f"removed {_plural(removed, 'checkpoint')}{of}")
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    from ._evict import Freed, collect, parse_age, parse_size

    try:
        max_size = parse_size(args.max_size) if args.max_size else None
        older_than = parse_age(args.older_than) if args.older_than else None
    except ValueError as exc:
        print(f"chkpt gc: {exc}", file=sys.stderr)
        return 2
    total = Freed()
    for _label, store in stores(args.dir):
        freed = collect(
            store,
            keep=args.keep,
            older_than=older_than,
            max_size=max_size,
            grace=args.grace,
            dry_run=args.dry_run,
        )
        for field in ("entries", "files", "bytes", "other_files"):
            setattr(total, field, getattr(total, field) + getattr(freed, field))
    verb = "would remove" if args.dry_run else "removed"
    line = (
        f"{verb} {_plural(total.entries, 'entry', 'entries')} "
        f"({_plural(total.files, 'file')}, {_size(total.bytes)})"
    )
    if not args.dry_run:
        line += f" and {_plural(total.other_files, 'temp or orphaned file')}"
    print(line)
    return 0


def _command(
    sub: Any, name: str, func: Callable[[argparse.Namespace], int], help: str
) -> argparse.ArgumentParser:
    cmd: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help)
    # also accepted after the subcommand; SUPPRESS keeps a --dir given before it
    cmd.add_argument("--dir", default=argparse.SUPPRESS, help="checkpoint directory or URL")
    cmd.set_defaults(func=func)
    return cmd


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="chkpt",
        description="Inspect and tidy a chkpt checkpoint directory "
        "(and the per-notebook stores inside it).",
    )
    p.add_argument("--version", action="version", version=f"chkpt {__version__}")
    p.add_argument(
        "--dir", default=None, help="checkpoint directory or URL (default: $CHKPT_DIR or ./.chkpt)"
    )
    sub = p.add_subparsers(dest="command", required=True)
    ls = _command(sub, "ls", cmd_ls, "stages with their entry count, size and newest entry")
    ls.add_argument("stage", nargs="?")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    info = _command(sub, "info", cmd_info, "every entry of one stage: key, params, inputs, size")
    info.add_argument("stage")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    clear = _command(sub, "clear", cmd_clear, "remove the checkpoints of one stage, or all")
    clear.add_argument("stage", nargs="?")
    clear.add_argument("-y", "--yes", action="store_true", help="remove all without asking")
    gc = _command(
        sub, "gc", cmd_gc, "evict old entries (by count, age, size); remove temp and orphan files"
    )
    gc.add_argument(
        "--keep", type=int, default=5, help="entries to keep per stage (default 5; 0: no limit)"
    )
    gc.add_argument(
        "--max-size", help="evict least recently used entries until the store fits (10G)"
    )
    gc.add_argument("--older-than", help="evict entries not used for this long (30d, 12h, 2w)")
    gc.add_argument("-n", "--dry-run", action="store_true", help="report, remove nothing")
    gc.add_argument(
        "--grace",
        type=float,
        default=3600.0,
        help="seconds a temp or orphan file must be old before removal",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.dir = os.fspath(args.dir or default_dir())
    try:
        code = int(args.func(args))
        sys.stdout.flush()
    except BrokenPipeError:  # `chkpt ls | head -1`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # as a process killed by SIGPIPE
    return code
