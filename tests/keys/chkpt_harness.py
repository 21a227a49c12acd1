"""Imported by scenario scripts (run as ``python script.py``): run a pipeline with checkpoints and
print, as one JSON line, its value, the value of the same pipeline called plainly (each stage's
function called directly, no chkpt), and what each stage did and why."""

from __future__ import annotations

import json
import os
import sys
import warnings

if os.environ.get("CHKPT_TEST_BLOCK_XXHASH"):
    sys.modules["xxhash"] = None  # type: ignore[assignment]  # as on a machine without chkpt[fast]

import chkpt  # noqa: E402

warnings.simplefilter("always")  # every KeyWarning reaches stderr, where tests read it


def plain(pipeline: chkpt.Pipeline) -> object:
    """The pipeline's value without chkpt: each stage's function called on its inputs' values."""
    memo: dict[int, object] = {}

    def value(p: chkpt.Pipeline) -> object:
        if id(p) not in memo:
            memo[id(p)] = p.stage(*(value(q) for q in p.inputs))
        return memo[id(p)]

    return value(pipeline)


def check(pipeline: chkpt.Pipeline, tag: str = "", **config: object) -> object:
    """Run with checkpoints (load everything), then plainly; print both and the stage reports."""
    result = pipeline.run(chkpt.Config(load=True, **config))  # type: ignore[arg-type]
    expected = plain(pipeline)
    report = {
        "tag": tag,
        "value": repr(result.value),
        "plain": repr(expected),
        "stages": {r.stage: [r.action, r.reason, r.key] for r in result.stages},
    }
    print("CHKPT-REPORT " + json.dumps(report), flush=True)
    return result.value
