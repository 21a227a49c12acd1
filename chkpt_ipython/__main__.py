"""``python -m chkpt_ipython run NOTEBOOK [-o OUTPUT]``: re-execute a notebook headless."""

from __future__ import annotations

import argparse
import sys

from ._headless import run_notebook

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m chkpt_ipython")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="execute a notebook, reusing its checkpoints")
    run.add_argument("notebook", help="the .ipynb file to execute")
    run.add_argument(
        "-o", "--output", help="where to write the executed notebook (default: NAME.executed.ipynb)"
    )
    run.add_argument("--inplace", action="store_true", help="overwrite NOTEBOOK with the result")
    run.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    run.add_argument("--kernel", default="python3", help="kernel name (default: python3)")
    args = parser.parse_args(argv)

    output = args.notebook if args.inplace else args.output
    result = run_notebook(args.notebook, output, timeout=args.timeout, kernel_name=args.kernel)
    print(result.table() if result.stages else "no %%chkpt_stage cells ran")
    computed = sum(s["outcome"] == "computed" for s in result.stages)
    loaded = sum(s["outcome"] == "loaded" for s in result.stages)
    print(f"{computed} computed, {loaded} loaded; executed notebook: {result.output}")
    if result.error:
        print(f"error: {result.error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
