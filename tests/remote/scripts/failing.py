"""Tasks that cannot be shipped, loaded on the worker, or whose result or exception cannot come
back; a worker that dies; a branch that fails beside a slow one. Each run must fail fast, naming
the stage. Prints one JSON line: the error, its message, its cause, and the seconds it took.

    python failing.py CASE (fork|spawn|SCHEDULER_FILE) DIR [MODULE_DIR]
"""

import json
import os
import sys
import threading
import time

import chkpt
from chkpt import Stage


def explode():
    raise RuntimeError("this object cannot be unpickled")


class Bomb:
    """Pickles fine; unpickling it raises."""

    def __reduce__(self):
        return (explode, ())


class NeedsTwo(Exception):
    """Pickles, but cannot be unpickled (its __init__ takes two arguments)."""

    def __init__(self, a, b):
        super().__init__(f"{a} and {b}")


def executor(kind):
    if kind in ("fork", "spawn"):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(kind))
    import distributed

    return distributed.Client(scheduler_file=kind, timeout=30).get_executor()


def pipeline(case, module_dir):
    one = Stage(lambda: 1, name="one", version=1)
    if case == "unpicklable_stage":
        lock = threading.Lock()
        return one >> Stage(lambda x: lock and x, name="holds_a_lock")
    if case == "missing_module":  # importable in the driver only (added to sys.path at run time)
        sys.path.insert(0, module_dir)
        import driver_only

        return one >> Stage(driver_only.plus_one)
    if case == "unloadable_param":
        return one >> Stage(lambda x, bomb: x, name="bomb_param").bind(bomb=Bomb())
    if case == "unpicklable_result":
        return one >> Stage(lambda x: threading.Lock(), name="returns_a_lock")
    if case == "unloadable_result":
        return one >> Stage(lambda x: Bomb(), name="returns_a_bomb")
    if case == "unloadable_exception":

        def raise_it(x):
            raise NeedsTwo("a", "b")

        return one >> Stage(raise_it, name="raises_needs_two")
    if case == "worker_dies":
        return one >> Stage(lambda x: os._exit(3), name="exits")
    if case == "branch_fails":

        def slow(x):
            time.sleep(float(os.environ.get("SLOW", "30")))
            return x

        def boom(x):
            time.sleep(0.5)
            raise ValueError("bad input")

        return ((one >> Stage(slow)), (one >> Stage(boom))) >> Stage(lambda a, b: a, name="join")
    raise ValueError(case)


if __name__ == "__main__":
    case, kind, path = sys.argv[1:4]
    p = pipeline(case, sys.argv[4] if len(sys.argv) > 4 else "")
    store = case not in ("unpicklable_result", "unloadable_result")  # else they'd travel by ref
    ex = executor(kind)
    start = time.monotonic()
    try:
        p.run(chkpt.Config(dir=path, executor=ex, store=store))
        out = {"error": None}
    except Exception as exc:
        out = {
            "error": type(exc).__name__,
            "message": str(exc),
            "notes": getattr(exc, "__notes__", []),
            "cause": type(exc.__cause__).__name__ if exc.__cause__ else None,
            "cause_text": str(exc.__cause__),
        }
    out["seconds"] = time.monotonic() - start
    out["stored"] = sorted({e.stage for e in chkpt.open_store(path).entries()})
    print(json.dumps(out), flush=True)
    # do not wait for a slow sibling still running in a worker: stop the workers, then exit
    for proc in (getattr(ex, "_processes", None) or {}).values():
        proc.kill()
    os._exit(0)
