"""A user's script: stages defined every way users define them, run on a process pool or Dask.

python anywhere.py (fork|spawn|SCHEDULER_FILE) DIR   -> one JSON line: values and actions
"""

import functools
import json
import os
import sys

import chkpt
from chkpt import Stage


@Stage.wrap()
def top_level() -> int:  # a script's top level: `__main__` (`__mp_main__` in spawn workers)
    return os.getpid()


def make_closure(k: int) -> Stage:
    @Stage.wrap(name="closure")
    def add_k(x: int) -> int:
        return x + k

    return add_k


def executor(kind: str):
    if kind in ("fork", "spawn"):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(kind))
    import distributed

    return distributed.Client(scheduler_file=kind, timeout=30).get_executor()


if __name__ == "__main__":
    kind, path = sys.argv[1], sys.argv[2]

    class Doubler:  # a class from the __main__ block, in a bound parameter
        def __call__(self, x: int) -> int:
            return 2 * x

    @Stage.wrap()
    def in_main_block() -> int:
        return os.getpid()

    @Stage.wrap()
    def factorial(n: int = 5) -> int:  # recursive: refers to its own stage
        return 1 if n <= 1 else n * factorial(n - 1)

    def scale(x: int, by: int) -> int:
        return x * by

    def gather(a: int, b: int, c: int, d: int, e: int, f: int, how=None) -> dict:
        return {"pids": [a, b], "closure": c, "lambda": d, "partial": e, "fact": f,
                "how": how(3), "pid": os.getpid()}  # fmt: skip

    pipeline = (
        top_level,
        in_main_block,
        Stage(lambda: 10, name="ten") >> make_closure(5),
        Stage(lambda: 7, name="seven"),
        Stage(functools.partial(scale, by=3), name="partial") << Stage(lambda: 2, name="two"),
        factorial,
    ) >> Stage(gather).bind(how=Doubler())

    with executor(kind) as ex:
        first = pipeline.run(chkpt.Config(dir=path, executor=ex))
        again = pipeline.run(chkpt.Config(dir=path, executor=ex, load=True))
    print(json.dumps({"value": first.value, "driver": os.getpid(),
                      "first": first.actions(), "again": again.actions()}))  # fmt: skip
