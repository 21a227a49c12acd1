"""A long-lived process pool or Dask cluster while a stage's module is edited between runs.

    python stale.py (fork|spawn) DIR MODULE_DIR MODULE   # one process: run, edit + reload, run
    python stale.py SCHEDULER_FILE DIR MODULE_DIR MODULE [warm|local|restart]   # one Dask run
Prints one JSON line per run: the value or the error, and the key the run used.
"""

import importlib
import json
import os
import sys

import chkpt


def edit(module_dir, module):
    """The user edits the stage's module or its helper (and saves: new size, new mtime)."""
    for name in os.listdir(module_dir):
        if name.startswith(module) and name.endswith(".py"):
            path = os.path.join(module_dir, name)
            with open(path) as f:
                source = f.read()
            with open(path, "w") as f:
                f.write(source.replace('"old"', '"new code"'))
            stat = os.stat(path)
            os.utime(path, (stat.st_atime, stat.st_mtime + 5))


def run(mod, path, executor, **cfg):
    p = () >> mod.value
    try:
        result = p.run(chkpt.Config(dir=path, executor=executor, **cfg))
        out = {"value": result.value, "action": result.actions()["value"]}
    except chkpt.ChkptError as exc:
        out = {"error": type(exc).__name__, "message": str(exc)}
    out["key"] = p.plan(chkpt.Config(dir=path)).stages[-1].key
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    kind, path, module_dir, module = sys.argv[1:5]
    sys.path.insert(0, module_dir)
    mod = importlib.import_module(module)
    if kind in ("fork", "spawn"):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(kind)) as pool:
            run(mod, path, pool)  # the worker imports the module as it is now
            edit(module_dir, module)
            mod = importlib.reload(mod)  # this process now keys the new code...
            for helper in getattr(mod, "HELPERS", ()):
                importlib.reload(importlib.import_module(helper))
            mod = importlib.reload(mod)
            run(mod, path, pool, load=True)  # ...while the worker still has the old one
        run(mod, path, None, load=True)  # a local run afterwards
    else:
        how = sys.argv[5] if len(sys.argv) > 5 else ""
        if how == "local":
            run(mod, path, None, load=True)
        else:
            import distributed

            with distributed.Client(scheduler_file=kind, timeout=30) as client:
                force = ()
                if how == "warm":  # every worker imports it now, as earlier work would have
                    client.run(importlib.import_module, module)
                if how == "restart":
                    client.restart()
                    force = ("value",)  # computed by the restarted workers, not loaded
                run(mod, path, client.get_executor(), load=True, force=force)
