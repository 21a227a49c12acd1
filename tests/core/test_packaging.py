"""The built distributions, as a user installs them: wheel and sdist contents, metadata, twine's
check, the wheel alone in a fresh virtualenv (no dependencies at all), and with the ``ipython`` extra.

``.ci/run`` builds ``dist/`` once and points ``CHKPT_DIST`` at it, so these tests check the very
files a release would upload; without it they build into a temporary directory.
"""

from __future__ import annotations

import email
import os
import pathlib
import subprocess
import sys
import tarfile
import textwrap
import tomllib
import zipfile

import pytest

import chkpt

ROOT = pathlib.Path(__file__).parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def run(*cmd: str | os.PathLike[str], cwd: os.PathLike[str] | None = None, timeout: float = 600):
    out = subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, cwd=cwd, timeout=timeout,
        env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CHKPT_DIR")},
    )  # fmt: skip
    assert out.returncode == 0, f"{cmd}\n{out.stdout}\n{out.stderr}"
    return out


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> pathlib.Path:
    """The wheel and sdist: ``$CHKPT_DIST`` if CI built them, else built now (sdist, then wheel from it)."""
    given = os.environ.get("CHKPT_DIST")
    if given:
        return pathlib.Path(given).resolve()
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out, ROOT)
    return out


def only(folder: pathlib.Path, pattern: str) -> pathlib.Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {folder}: {found}"
    return found[0]


def metadata(wheel: pathlib.Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(zf.read(name))


def venv(path: pathlib.Path) -> pathlib.Path:
    """A fresh virtualenv without pip (the test's pip installs into it: faster, and nothing extra)."""
    run(sys.executable, "-m", "venv", "--without-pip", path)
    return path / "bin" / "python"


def pip_into(python: pathlib.Path, *args: str | os.PathLike[str]):
    return run(sys.executable, "-m", "pip", "--python", python, "install", "-q", *args)


def installed(python: pathlib.Path) -> list[str]:
    code = "import importlib.metadata as m; print('\\n'.join(sorted(d.metadata['Name'] for d in m.distributions())))"
    return run(python, "-c", code).stdout.split()


def test_wheel_ships_license_types_and_both_packages(dist):
    wheel = only(dist, "chkpt-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    assert f"{info}/licenses/LICENSE" in names
    assert {"chkpt/py.typed", "chkpt_ipython/py.typed", "chkpt/__init__.py"} <= names
    assert {"chkpt_ipython/widget.js", "chkpt_ipython/widget.css"} <= names
    assert not [n for n in names if n.startswith(("tests/", "bench/", "notebooks/"))]
    license_text = zipfile.ZipFile(wheel).read(f"{info}/licenses/LICENSE").decode()
    assert license_text.startswith("MIT License") and "WITHOUT WARRANTY" in license_text


def test_metadata_license_version_and_extras(dist):
    meta = metadata(only(dist, "chkpt-*.whl"))
    assert meta["Metadata-Version"] >= "2.4"  # PEP 639
    assert meta["License-Expression"] == "MIT" and meta["License-File"] == "LICENSE"
    assert meta["Version"] == chkpt.__version__  # one source: chkpt/_version.py
    assert meta["Requires-Python"] == ">=3.11"
    assert "Typing :: Typed" in meta.get_all("Classifier")
    assert set(meta.get_all("Provides-Extra")) == {
        "fast",
        "ipython",
        "run",
        "dask",
        "remote",
        "all",
    }
    requires = [r.replace("'", '"') for r in meta.get_all("Requires-Dist")]
    assert not [r for r in requires if "extra" not in r], "the core has no dependencies"
    # the notebook extension alone does not pull a kernel and its client: those are `run`'s
    ipython = [r.split(";")[0].strip() for r in requires if 'extra == "ipython"' in r]
    assert {r.split(">")[0] for r in ipython} == {"ipython", "ipywidgets", "anywidget", "graphviz"}
    assert any(r.startswith("nbclient") and 'extra == "run"' in r for r in requires)
    assert "dev" not in PYPROJECT["project"]["optional-dependencies"]
    assert "pytest>=8" in PYPROJECT["dependency-groups"]["core-tests"]
    assert {"include-group": "core-tests"} in PYPROJECT["dependency-groups"]["dev"]


def test_classifiers_claim_the_pythons_ci_tests():
    """Each `Programming Language :: Python :: 3.X` classifier is tested by .ci/run."""
    claimed = {
        c.rsplit(" ", 1)[-1]
        for c in PYPROJECT["project"]["classifiers"]
        if c.startswith("Programming Language :: Python :: 3.")
    }
    ci = (ROOT / ".ci" / "run").read_text()
    assert claimed and all(f"python{v}" in ci for v in claimed - {"3.11"}), claimed


def test_sdist_has_sources_tests_license_and_changelog(dist):
    sdist = only(dist, "chkpt-*.tar.gz")
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert {"LICENSE", "CHANGELOG.md", "CONTRIBUTING.md", "README.md", "pyproject.toml"} <= names
    assert {"chkpt/py.typed", "tests/conftest.py", "chkpt_ipython/widget.js"} <= names
    assert not [n for n in names if ".chkpt/" in n or n.endswith(".executed.ipynb")]


def test_twine_check_passes(dist):
    out = run(sys.executable, "-m", "twine", "check", "--strict", *sorted(dist.glob("chkpt-*")))
    assert out.stdout.count("PASSED") == 2


SMOKE = textwrap.dedent(
    """
    import chkpt, sys

    @chkpt.Stage.wrap()
    def load():
        return list(range(5))

    @chkpt.Stage.wrap()
    def total(xs):
        return sum(xs)

    p = load >> total
    assert p() == 10
    result = p.run(chkpt.Config(load=True))
    assert result.value == 10, result
    print(result.actions()["total"])
    print(sorted(m for m in sys.modules if m.split(".")[0] in ("numpy", "pandas", "IPython")))
    """
)


def test_wheel_alone_in_a_fresh_venv_runs_a_pipeline(dist, tmp_path):
    python = venv(tmp_path / "venv")
    # --no-index: the install must need nothing from any index (the core has zero dependencies)
    pip_into(python, "--no-index", only(dist, "chkpt-*.whl"))
    assert installed(python) == ["chkpt"]
    (tmp_path / "smoke.py").write_text(SMOKE)
    out = run(python, tmp_path / "smoke.py", cwd=tmp_path)
    assert out.stdout.split("\n")[:2] == ["loaded", "[]"], out.stdout
    cli = tmp_path / "venv" / "bin" / "chkpt"
    assert run(cli, "--version").stdout.strip() == f"chkpt {chkpt.__version__}"
    assert "total" in run(cli, "ls", cwd=tmp_path).stdout
    # the notebook extension ships in the same wheel and says which extra it needs
    hint = subprocess.run(
        [python, "-c", "import chkpt_ipython; chkpt_ipython.status()"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert hint.returncode == 1
    assert "ModuleNotFoundError" in hint.stderr and "pip install 'chkpt[ipython]'" in hint.stderr


def test_wheel_with_the_ipython_extra_has_no_kernel_client(dist, tmp_path):
    python = venv(tmp_path / "venv")
    pip_into(python, f"chkpt[ipython] @ {only(dist, 'chkpt-*.whl').as_uri()}")
    names = {n.lower().replace("_", "-") for n in installed(python)}
    assert {"chkpt", "ipython", "ipywidgets", "anywidget", "graphviz"} <= names
    assert not names & {"nbclient", "nbformat", "ipykernel", "jupyter-client"}, names
    code = textwrap.dedent(
        """
        import chkpt_ipython, chkpt_ipython._headless as h
        try:
            chkpt_ipython.status()
        except RuntimeError as exc:  # the extension imports; it only lacks a running shell
            print("status:", exc)
        try:
            h.run_notebook("x.ipynb")
        except ModuleNotFoundError as exc:
            print("run:", exc)
        """
    )
    out = run(python, "-c", code, cwd=tmp_path).stdout
    assert "status: chkpt_ipython needs a running IPython shell" in out
    assert "run: running a notebook headless needs the package" in out
    assert "pip install 'chkpt[run]'" in out
    print(f"chkpt[ipython]: {len(names)} distributions")


def test_pre_commit_runs_ruff_and_mypy_from_the_dev_group():
    config = ROOT / ".pre-commit-config.yaml"
    run(sys.executable, "-m", "pre_commit", "validate-config", config)
    text = config.read_text()
    assert "python -m ruff check" in text and "python -m ruff format" in text
    assert "python -m mypy" in text and "language: system" in text  # nothing fetched at commit time
