"""``chkpt ls | info | clear | gc`` over a checkpoint directory."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Sequence

from ._config import default_dir
from ._store import Entry, open_store

__all__ = ["main"]


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def cmd_ls(args: argparse.Namespace) -> int:
    store = open_store(args.dir)
    by_stage: dict[str, list[Entry]] = {}
    for entry in store.entries(args.stage):
        by_stage.setdefault(entry.stage, []).append(entry)
    if not by_stage:
        print(f"no checkpoints in {store.url}")
        return 0
    print(f"{'stage':<28} {'entries':>7} {'size':>10}  newest")
    for stage, entries in sorted(by_stage.items()):
        newest = max(e.created for e in entries)
        print(
            f"{stage:<28} {len(entries):>7} {_size(sum(e.size for e in entries)):>10}  {_when(newest)}"
        )
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    store = open_store(args.dir)
    entries = sorted(store.entries(args.stage), key=lambda e: e.created, reverse=True)
    if not entries:
        print(f"no checkpoints for stage {args.stage!r} in {store.url}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([{**e.to_json(), "path": e.path} for e in entries], indent=2))
        return 0
    for e in entries:
        print(f"{e.stage}  key {e.key}")
        print(f"  created   {_when(e.created)}   computed in {e.compute_seconds:.3f}s")
        print(f"  stored    {_size(e.size)} as {e.serializer} at {e.path}")
        print(f"  checksum  {e.checksum}")
        for name, digest in e.inputs.items():
            print(f"  input     {name}: {digest}")
    return 0


def cmd_clear(args: argparse.Namespace) -> int:
    store = open_store(args.dir)
    n = store.clear(args.stage)
    print(f"removed {n} checkpoint{'s' * (n != 1)}" + (f" of {args.stage!r}" if args.stage else ""))
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    store = open_store(args.dir)
    n = store.gc(keep=args.keep, grace=args.grace)
    print(
        f"removed {n} file{'s' * (n != 1)} (keeping {args.keep} entr{'ies' if args.keep != 1 else 'y'} per stage)"
    )
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="chkpt", description="Inspect and tidy a chkpt checkpoint directory."
    )
    p.add_argument(
        "--dir", default=None, help="checkpoint directory or URL (default: $CHKPT_DIR or ./.chkpt)"
    )
    sub = p.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("ls", help="stages with their entry count, size and newest entry")
    ls.add_argument("stage", nargs="?")
    ls.set_defaults(func=cmd_ls)
    info = sub.add_parser("info", help="every entry of one stage: key, inputs, size, times")
    info.add_argument("stage")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(func=cmd_info)
    clear = sub.add_parser("clear", help="remove the checkpoints of one stage, or all")
    clear.add_argument("stage", nargs="?")
    clear.set_defaults(func=cmd_clear)
    gc = sub.add_parser(
        "gc", help="keep the newest entries per stage; remove temp and orphan files"
    )
    gc.add_argument("--keep", type=int, default=5, help="entries to keep per stage (default 5)")
    gc.add_argument(
        "--grace",
        type=float,
        default=3600.0,
        help="seconds an orphan file must be old before removal",
    )
    gc.set_defaults(func=cmd_gc)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.dir = args.dir or default_dir()
    return int(args.func(args))
