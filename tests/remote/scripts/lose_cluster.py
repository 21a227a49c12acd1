"""A run whose Dask cluster goes away under it: the run must fail, not wait forever.

    python lose_cluster.py SCHEDULER_FILE DIR MARKER
The stage touches MARKER when it starts (the test then kills the worker or the scheduler).
"""

import json
import sys
import time

import chkpt
from chkpt import Stage

if __name__ == "__main__":
    import distributed

    sched, path, marker = sys.argv[1:4]

    def long_stage():
        open(marker, "w").close()
        time.sleep(60)
        return 1

    client = distributed.Client(scheduler_file=sched, timeout=10)
    start = time.monotonic()
    try:
        (() >> Stage(long_stage)).run(chkpt.Config(dir=path, executor=client.get_executor()))
        out = {"error": None}
    except chkpt.ChkptError as exc:
        out = {"error": type(exc).__name__, "message": str(exc)}
    out["seconds"] = time.monotonic() - start
    print(json.dumps(out), flush=True)
