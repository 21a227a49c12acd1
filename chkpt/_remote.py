"""Running a stage in another process (process pools, Dask workers): how it is shipped, how the
worker checks it holds the same code, and how every way that can fail becomes an error naming the
stage instead of a hang.

The executor only ever moves bytes: the client pickles each task itself (stage, inputs, store,
config) before submitting, so an unpicklable stage or input fails at once, named, and nothing is
sent; the worker unpickles it inside ``run_packed`` and hands back its outcome or its exception
as bytes too. So a worker that cannot load a task, a result that cannot be pickled, and an
exception that cannot be loaded in the client all become a ``RemoteStageError`` naming the stage,
where they would otherwise break the executor's own transport (Dask then waits forever).

Before running, the worker recomputes the stage's code fingerprint from the function it actually
loaded: a long-lived worker that imported an older version of a module refuses with
``StaleWorkerError`` rather than store an old result under the new code's key.
"""

from __future__ import annotations

import os
import pickle
import socket
import traceback
from collections.abc import Callable
from typing import Any

from ._errors import ChkptError, RemoteStageError, StaleWorkerError

__all__ = ["pack", "run_packed", "unpack", "explain", "Watch"]


def _here() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _dumps(obj: Any) -> bytes:
    """cloudpickle when installed (it ships ``__main__`` classes and functions by value)."""
    try:
        import cloudpickle
    except ImportError:
        return pickle.dumps(obj, protocol=5)
    return cloudpickle.dumps(obj, protocol=5)


def pack(name: str, compute: Callable[..., Any], stage: Any, *args: Any) -> bytes:
    """The task ``compute(stage, *args)`` as bytes, or RemoteStageError naming the stage (raised
    in the client, before anything is submitted)."""
    try:
        return _dumps((compute, stage, args))
    except Exception as exc:
        raise RemoteStageError(
            f"stage {name!r} cannot be sent to the executor's workers ({type(exc).__name__}: {exc})"
        ) from exc


def run_packed(name: str, where: str, blob: bytes) -> tuple[bool, bytes, str]:
    """Worker side: load the task, check the stage's code is the client's, run it.

    Returns ``(True, outcome)`` or ``(False, exception, its traceback as text)``, pickled: the
    executor never (de)serializes anything of the user's.
    """
    try:
        try:
            compute, stage, args = pickle.loads(blob)
        except Exception as exc:
            raise RemoteStageError(
                f"stage {name!r} cannot be loaded on worker {_here()} ({type(exc).__name__}: "
                f"{exc}); a worker needs the same Python, packages and importable modules as "
                "the client (and cloudpickle for stages from __main__, a notebook or a closure)"
            ) from exc
        _check_code(name, stage, args[4]["fingerprint"])
        outcome = compute(stage, *args)
    except BaseException as exc:  # the stage's own error (or chkpt's): sent back as it is
        if not isinstance(exc, ChkptError) and hasattr(exc, "add_note"):
            exc.add_note(f"chkpt: raised by stage {name!r} ({where}) on worker {_here()}")
        text = "".join(traceback.format_exception(exc))
        try:
            return False, _dumps(exc), text
        except Exception:
            return False, b"", text
    try:
        return True, _dumps(outcome), ""
    except Exception as exc:
        error = RemoteStageError(
            f"stage {name!r}: its result cannot be sent back from worker {_here()} "
            f"({type(exc).__name__}: {exc}); store it (a checkpoint travels as a reference) "
            "or return a picklable value"
        )
        return False, _dumps(error), "".join(traceback.format_exception(exc))


def _check_code(name: str, stage: Any, expected: str) -> None:
    """Raise StaleWorkerError unless the stage's code here is what the client keyed it with."""
    if stage.version is not None:  # an explicit version is the user's word for the code
        return
    from ._fingerprint import code_fingerprint

    try:
        fp = code_fingerprint(stage.func)
    except Exception as exc:
        raise RemoteStageError(
            f"stage {name!r}: cannot fingerprint its code on worker {_here()} "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    if fp.problems or fp.env:
        # it reads what cannot be hashed (its key is new at every run, never hit), or it reads
        # the environment, which the fingerprint takes from each process and differs on workers
        return
    if fp.digest != expected:
        raise StaleWorkerError(
            f"worker ran different code for stage {name!r}: worker {_here()} holds another "
            "version of its code (or of code it calls) than this process, e.g. a module edited "
            "since the worker imported it. Nothing was computed or stored there. Restart the "
            "workers (Dask: client.restart(); a process pool: a new pool)"
        )


class WorkerTraceback(Exception):
    """Where an exception was raised on a worker (its traceback as text)."""

    def __str__(self) -> str:
        return f"\n{self.args[0]}"


def unpack(name: str, reply: tuple[bool, bytes, str]) -> Any:
    """Client side: the outcome of ``run_packed``, or raise the stage's exception."""
    ok, data, text = reply
    try:
        value = pickle.loads(data) if data else None
    except Exception as exc:
        what = "result" if ok else "exception"
        raise RemoteStageError(
            f"stage {name!r}: its {what} cannot be loaded in this process "
            f"({type(exc).__name__}: {exc})" + (f"; on the worker:\n{text}" if text else "")
        ) from exc
    if ok:
        return value
    if isinstance(value, BaseException):
        if value.__cause__ is None and text:
            value.__cause__ = WorkerTraceback(text)  # as concurrent.futures shows a worker's
        raise value
    raise RemoteStageError(f"stage {name!r} failed on the worker:\n{text}")


def explain(name: str, exc: BaseException) -> RemoteStageError:
    """The error for a task the executor itself failed (the stage's own errors come back through
    ``unpack``): a RemoteStageError naming the stage, with the executor's error as ``__cause__``."""
    kind = type(exc).__name__
    if kind in ("BrokenProcessPool", "BrokenExecutor"):
        what = "its worker process died (killed, out of memory, or it could not start)"
    elif kind == "KilledWorker":
        what = "Dask workers died while running it"
    elif kind in ("CancelledError", "FutureCancelledError"):
        what = "its task was cancelled (the executor shut down or lost its scheduler)"
    else:
        what = "the executor failed to run it"
    error = RemoteStageError(f"stage {name!r}: {what} ({kind}: {exc})")
    error.__cause__ = exc
    return error


class Watch:
    """Notices an executor that can no longer finish any task (a Dask client that lost its
    scheduler, a cluster without workers), so the run fails instead of waiting forever.

    Process pools need no watch: the standard library fails every future of a broken pool.
    """

    def __init__(self, executor: Any) -> None:
        self.client = getattr(executor, "_client", None)  # distributed's ClientExecutor
        self.timeout = float(os.environ.get("CHKPT_NO_WORKERS_TIMEOUT", "60"))
        self.since: float | None = None

    def check(self, now: float) -> str:
        """'' while the executor can make progress, else why it cannot."""
        client = self.client
        if client is None:
            return ""
        status = getattr(client, "status", "running")
        if status in ("closing", "closed", "failed"):
            return f"the Dask client is {status} (its scheduler is gone)"
        try:
            info = client.scheduler_info(n_workers=1)  # a small RPC: the count, one worker
            workers = info.get("n_workers", len(info.get("workers", {})))
        except Exception:  # only a watch: never fail a run for it
            return ""
        if workers:
            self.since = None
        elif self.since is None:
            self.since = now
        elif now - self.since > self.timeout:
            return (
                f"the Dask cluster has had no workers for {self.timeout:.0f} s "
                "(CHKPT_NO_WORKERS_TIMEOUT)"
            )
        return ""
