"""Never stale, as a user sees it: real scripts run as subprocesses (bytecode caching on, a new
hash seed each run), edited between runs with same-size edits, and each answer compared with the
same functions called without chkpt. A second run with nothing changed must load."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

DRIVER = """
import os as _os, chkpt as _c
if _os.environ.get("PLAIN"):
    print("RESULT", repr(b.func(a.func())))
else:
    _r = (a >> b).run(_c.Config(load=True, dir=_os.environ["STORE"]))
    print("RESULT", repr(_r.value))
    print("ACTION", _r["b"].action)
"""


def _run(d: Path, plain: bool = False) -> tuple[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(d)])
    env["STORE"] = str(d / "store")
    env["PYTHONHASHSEED"] = str(random.randint(1, 2**31))
    env.pop("PLAIN", None)
    if plain:
        env["PLAIN"] = "1"
    p = subprocess.run(
        [sys.executable, "run.py"], cwd=d, env=env, capture_output=True, text=True, timeout=120
    )
    assert p.returncode == 0, p.stderr
    out = dict(line.split(" ", 1) for line in p.stdout.splitlines() if " " in line)
    return out["RESULT"], out.get("ACTION", "")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text and len(old) == len(new)
    path.write_text(text.replace(old, new, 1))


def _scenario(tmp_path: Path, files: dict[str, str], edits: list[tuple[str, str, str]]) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    (tmp_path / "run.py").write_text((tmp_path / "run.py").read_text() + DRIVER)
    first, _ = _run(tmp_path)
    again, action = _run(tmp_path)
    assert (again, action) == (first, "loaded")  # nothing changed: nothing recomputed
    for name, old, new in edits:
        _edit(tmp_path / name, old, new)
        got, _ = _run(tmp_path)
        assert got == _run(tmp_path, plain=True)[0], f"stale after {name}: {old} -> {new}"
        assert _run(tmp_path) == (got, "loaded")


HEAD = """
import chkpt

@chkpt.Stage.wrap()
def a():
    return 10
"""


def test_enum_member_values_and_methods_in_a_module_are_keyed(tmp_path: Path) -> None:
    cfg = """
    import enum

    class Mode(enum.IntEnum):
        A = 1

    class F(enum.Flag):
        X = 1
        Y = 2

    class S(enum.Enum):
        A = "a"

        def f(self):
            return self.value * 2

    MODE = S.A
    """
    run = HEAD + textwrap.dedent("""
    from cfg import Mode, F, MODE

    @chkpt.Stage.wrap()
    def b(x):
        return (x + Mode.A, (F.X | F.Y).value, MODE.f())
    """)
    _scenario(
        tmp_path,
        {"cfg.py": cfg, "run.py": run},
        [("cfg.py", "A = 1", "A = 2"), ("cfg.py", "Y = 2", "Y = 4"), ("cfg.py", "* 2", "* 3")],
    )


def test_an_enum_global_keys_its_value(tmp_path: Path) -> None:
    run = HEAD + textwrap.dedent("""
    import enum

    class Mode(enum.Enum):
        A = 1
        B = 2

    M = Mode.A

    @chkpt.Stage.wrap()
    def b(x):
        return x + M.value
    """)
    _scenario(tmp_path, {"run.py": run}, [("run.py", "A = 1", "A = 7")])


@pytest.mark.parametrize(
    "body",
    [
        "random.seed(SEED)\n    return x + random.randint(0, 100)",
        "rng = random.Random(SEED)\n    return x + rng.randint(0, 100)",
    ],
)
def test_a_seeded_stdlib_random_hits_in_a_new_process(tmp_path: Path, body: str) -> None:
    """``random.seed`` is a method of the module's hidden instance, whose state is new in every
    process: keyed by it, the stage recomputed on every run."""
    run = HEAD + textwrap.dedent("""
    import random

    SEED = 1

    @chkpt.Stage.wrap()
    def b(x):
        BODY
    """).replace("BODY", body)
    _scenario(tmp_path, {"run.py": run}, [("run.py", "SEED = 1", "SEED = 2")])


@pytest.mark.parametrize(
    "body",
    [
        'return getattr(m, "h")(x)',
        'return getattr(m, "h", None)(x)',
        'return importlib.import_module("m").h(x)',
        'return x + (1 if hasattr(m, "FLAG") else 0) + m.h(0)',
    ],
)
def test_a_module_attribute_read_by_constant_name_is_keyed(tmp_path: Path, body: str) -> None:
    """``getattr(m, "h")`` with a constant name is ``m.h``; ``import_module("m")`` is ``import m``."""
    run = HEAD + textwrap.dedent("""
    import importlib
    import m

    @chkpt.Stage.wrap()
    def b(x):
        BODY
    """).replace("BODY", body)
    helper = "FLAG = 1\n\ndef h(x):\n    return x + 1\n"
    edits = [("m.py", "x + 1", "x + 2"), ("m.py", "FLAG = 1", "FLAX = 1")]
    _scenario(tmp_path, {"m.py": helper, "run.py": run}, edits)


def test_a_module_getattr_that_makes_an_attribute_is_keyed(tmp_path: Path) -> None:
    """PEP 562: ``m.K`` is made by ``m.__getattr__``, whose code is then what the stage reads."""
    helper = """
    def __getattr__(name):
        if name == "K":
            return 1
        raise AttributeError(name)
    """
    run = HEAD + textwrap.dedent("""
    import m

    @chkpt.Stage.wrap()
    def b(x):
        return x + m.K
    """)
    _scenario(tmp_path, {"m.py": helper, "run.py": run}, [("m.py", "return 1", "return 2")])
