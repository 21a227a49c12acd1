"""A real second, unprivileged user for the shared-directory attacks, and running code as her.

The suite runs as root in CI (``.ci/run``): the fixture creates the user itself when missing
(``useradd``), so a fresh machine needs nothing prepared. Her code runs in a forked child that
drops to her uid and gid (``os.setgid``/``os.setuid``): the interpreter itself may live where she
cannot execute it (a pyenv under ``/root``), so no separate program is started as her.
"""

from __future__ import annotations

import os
import pickle
import pwd
import subprocess
import traceback
from collections.abc import Callable
from typing import Any

NAME = "chkpt-mallory"


def ensure_user() -> pwd.struct_passwd:
    """The attacker's account (created, without a home or login shell, if missing)."""
    try:
        return pwd.getpwnam(NAME)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", NAME],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(NAME)


def as_user(user: pwd.struct_passwd, fn: Callable[[], Any], timeout: float = 60) -> Any:
    """Run ``fn`` in a forked child as ``user``; return its (picklable) result or re-raise."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        status = 0
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            try:
                out = ("ok", fn())
            except BaseException as exc:
                out = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
            with os.fdopen(w, "wb") as f:
                pickle.dump(out, f)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    kind, value = pickle.loads(data)
    if kind == "error":
        raise AssertionError(f"the attacker's code failed: {value}")
    return value
