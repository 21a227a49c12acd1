"""Type checkers see chkpt as typed: mypy, run on user code as an IDE would, infers a stage's
signature and result, a pipeline's result, and the fields of the notebook status rows."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import textwrap

import chkpt

ROOT = pathlib.Path(__file__).parents[2]

USER_CODE = textwrap.dedent(
    """
    import chkpt
    import chkpt_ipython

    @chkpt.Stage.wrap()
    def load(n: int, scale: float = 1.0) -> list[float]:
        return [i * scale for i in range(n)]

    @chkpt.Stage.wrap(version=2)
    def total(xs: list[float]) -> float:
        return sum(xs)

    reveal_type(load)
    reveal_type(load(3))
    reveal_type(load.func)
    reveal_type(load >> total)
    reveal_type((load.bind(n=3) >> total)())
    reveal_type(chkpt.Pipeline(total).run().value)
    load("three")
    reveal_type(chkpt_ipython.status()[0]["state"])
    reveal_type(chkpt_ipython.status()[0]["size"])
    reveal_type(chkpt_ipython.options("load")["store"])
    """
)


def test_mypy_sees_signatures_results_and_status_fields(tmp_path):
    (tmp_path / "user.py").write_text(USER_CODE)
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", str(tmp_path / ".mypy"),
         "--python-version", "3.11", "user.py"],
        capture_output=True, text=True, cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    notes = [line.split(": ", 2)[-1] for line in out.stdout.splitlines() if ": note: " in line]
    errors = [line for line in out.stdout.splitlines() if ": error: " in line]
    assert notes == [
        'Revealed type is "chkpt._stage.Stage[[n: int, scale: float =], list[float]]"',
        'Revealed type is "list[float]"',
        'Revealed type is "def (n: int, scale: float =) -> list[float]"',
        'Revealed type is "chkpt._pipeline.Pipeline[float]"',
        'Revealed type is "float"',
        'Revealed type is "Any"',
        "Revealed type is \"Literal['cached'] | Literal['stale'] | Literal['missing'] | "
        "Literal['running'] | Literal['failed']\"",
        'Revealed type is "int | None"',
        'Revealed type is "bool"',
    ], out.stdout
    # a wrong argument is caught where the stage is called, as for the plain function
    assert len(errors) == 1 and 'Argument 1 to "__call__" of "Stage"' in errors[0], errors
    assert '"str"; expected "int"' in errors[0]


def test_packages_ship_py_typed():
    for package in ("chkpt", "chkpt_ipython"):
        assert (ROOT / package / "py.typed").is_file()
    assert chkpt.Stage[..., int] is chkpt.Stage  # subscriptable at run time, without `typing`
