"""Without cloudpickle: a closure stage cannot be shipped; the run says so before submitting."""

import json
import os
import pickle
import sys

sys.modules["cloudpickle"] = None  # as if not installed: `import cloudpickle` raises ImportError

import chkpt  # noqa: E402
from chkpt import Stage  # noqa: E402


@Stage.wrap()
def top_level() -> int:
    return os.getpid()


def make(k: int) -> Stage:
    return Stage(lambda: k, name="closure")


if __name__ == "__main__":
    from concurrent.futures import ProcessPoolExecutor

    by_reference = b"_rebuild_by_value" not in pickle.dumps(top_level)
    with ProcessPoolExecutor(1) as pool:
        try:
            (top_level, make(3)) >> Stage(max)
            (() >> make(3)).run(chkpt.Config(dir=sys.argv[1], executor=pool))
        except chkpt.ChkptError as exc:
            print(json.dumps({
                "error": type(exc).__name__, "message": str(exc),
                "cause": type(exc.__cause__).__name__,
                "workers_started": len(pool._processes or {}),
                "top_level_by_reference": by_reference,
            }))  # fmt: skip
