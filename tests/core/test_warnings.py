"""Warnings: one ChkptWarning base, attributed to the user's line whatever the entry point, and
the common slip of calling a stage with a Config is an error."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

import chkpt

ROOT = pathlib.Path(__file__).parents[2]


def test_one_warning_base():
    assert issubclass(chkpt.StoreWarning, chkpt.ChkptWarning)
    assert issubclass(chkpt.ConfigWarning, chkpt.ChkptWarning)
    assert issubclass(chkpt.KeyWarning, chkpt.ChkptWarning)
    assert issubclass(chkpt.PluginWarning, chkpt.ChkptWarning)
    assert issubclass(chkpt.ChkptWarning, UserWarning)  # shown by default, as before


def test_calling_a_stage_with_a_config_is_a_type_error(calls):
    @chkpt.Stage.wrap()
    def download():
        calls("download")
        return 1

    with pytest.raises(
        TypeError, match=r"stage 'download' was called with a chkpt.Config.*Pipeline"
    ):
        download(chkpt.Config())
    assert calls["download"] == 0
    assert chkpt.Pipeline(download)(chkpt.Config()) == 1  # what the message suggests works


SCRIPT = textwrap.dedent(
    """
    import os, sys, threading, warnings
    import chkpt

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{category.__name__} {os.path.basename(filename)}:{lineno} {message}")

    warnings.showwarning = show
    warnings.simplefilter("always")
    source = chkpt.Stage(lambda: 3, name="source")
    gen = chkpt.Stage(lambda n: (i for i in range(n)), name="gen")  # a generator cannot be stored
    p = source >> gen
    cfg = chkpt.Config(load=["sourc"])
    p(cfg)  # CALL
    p.run(cfg)  # RUN
    p.plan(cfg)  # PLAN
    thread = threading.Thread(target=lambda: p(cfg))  # THREAD
    thread.start(); thread.join()
    """
)


def _line(marker: str, text: str = SCRIPT) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.endswith(f"# {marker}"))


def test_warnings_point_at_the_users_line_from_every_entry_point(tmp_path):
    (tmp_path / "user_script.py").write_text(SCRIPT)
    out = subprocess.run(
        [sys.executable, "user_script.py"], capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    seen = [line.split(" ", 2) for line in out.stdout.splitlines()]
    where = {(kind, place) for kind, place, _ in seen}
    for marker in ("CALL", "RUN", "THREAD"):
        at = f"user_script.py:{_line(marker)}"
        assert ("ConfigWarning", at) in where and ("StoreWarning", at) in where, (marker, seen)
    assert ("ConfigWarning", f"user_script.py:{_line('PLAN')}") in where, seen
    assert all(place.startswith("user_script.py:") for _, place, _ in seen), seen
    stores = [message for kind, _, message in seen if kind == "StoreWarning"]
    assert stores and all("stage 'gen'" in message for message in stores), stores


def test_warnings_point_at_the_notebook_cell(tmp_path):
    """In IPython, a plain cell and a %%chkpt_stage cell that run a pipeline both get the warning."""
    code = textwrap.dedent(
        """
        import os, warnings
        from IPython.testing.globalipapp import get_ipython

        shell = get_ipython()
        shell.run_line_magic("load_ext", "chkpt_ipython")
        shell.run_cell("import chkpt; p = chkpt.Pipeline(chkpt.Stage(lambda: 1, name='one'))")
        for cell in (
            "p(chkpt.Config(load=['onee']))",
            "%%chkpt_stage cellstage\\nx = p(chkpt.Config(store=['onee']))",
        ):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                shell.run_cell(cell)
            print("WARNED", [(w.category.__name__, w.filename) for w in caught if "onee" in str(w.message)])
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "CHKPT_DIR": str(tmp_path / "ck")},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = [
        line[len("WARNED ") :] for line in out.stdout.splitlines() if line.startswith("WARNED ")
    ]
    assert len(lines) == 2, out.stdout
    for line in lines:
        ((kind, filename),) = eval(line)
        assert kind == "ConfigWarning"
        assert "ipython-input" in filename or "ipykernel" in filename, line


def test_every_warning_goes_through_the_attributing_helper():
    """No hand-counted stacklevel anywhere; every StoreWarning names its stage."""
    for path in [*ROOT.glob("chkpt/*.py"), *ROOT.glob("chkpt_ipython/*.py")]:
        text = path.read_text()
        if path.name == "_warn.py":
            continue
        assert "stacklevel=" not in text, f"{path.name}: use chkpt._warn.warn"
        for call in re.findall(r"\bwarn\((.*?)\n\s*\)", text, flags=re.S):
            if "StoreWarning" in call:
                assert "stage=" in call, f"{path.name}: a StoreWarning names its stage: {call}"
