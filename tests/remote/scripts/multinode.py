"""A driver script on a multi-node Dask cluster: stages defined in its __main__ block; a big value
stays with the workers and the shared store: only keys, digests and small results come back.

    python multinode.py SCHEDULER_FILE DIR MB
Prints one JSON line: per run, the actions; the most bytes sent to or received from the cluster
for one task; the driver's peak memory growth.
"""

import json
import os
import resource
import sys
from concurrent.futures import Executor

import chkpt
from chkpt import Stage


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Measuring(Executor):
    """Forwards to the cluster; records the size of everything each task sends and returns."""

    def __init__(self, inner):
        self.inner, self.sent, self.received = inner, [], []

    def submit(self, fn, /, *args, **kwargs):
        self.sent.append(sum(len(a) for a in args if isinstance(a, bytes)))
        future = self.inner.submit(fn, *args, **kwargs)
        future.add_done_callback(lambda f: self.received.append(len(f.result()[1])))
        return future


if __name__ == "__main__":
    import distributed
    import numpy as np

    sched, path, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])

    @Stage.wrap()
    def big():
        return np.full(mb * 2**20 // 8, 1.0)  # float64: MB megabytes

    @Stage.wrap()
    def summary(x, scale=1):
        return {"sum": float(x.sum()) * scale, "pid": os.getpid()}

    with distributed.Client(scheduler_file=sched, timeout=30) as client:
        ex = Measuring(client.get_executor())
        before = peak_mb()
        runs = {}
        p = big >> summary
        first = p.run(chkpt.Config(dir=path, executor=ex))
        runs["first"] = first.actions()
        runs["hit"] = p.run(chkpt.Config(dir=path, executor=ex, load=True)).actions()
        # the consumer changes: it recomputes on a worker, which loads `big` from the store
        changed = (big >> summary.bind(scale=2)).run(chkpt.Config(dir=path, executor=ex, load=True))
        runs["consumer_changed"] = changed.actions()
        print(json.dumps({
            "runs": runs, "values": [first.value, changed.value], "driver": os.getpid(),
            "max_sent": max(ex.sent), "max_received": max(ex.received), "tasks": len(ex.sent),
            "peak_growth_mb": peak_mb() - before,
        }))  # fmt: skip
