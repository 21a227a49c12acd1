"""The public surface: curated exports, stdlib-only import, graph export, terminal feedback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

import chkpt
from chkpt import Stage


def test_exports_are_curated():
    assert sorted(chkpt.__all__) == sorted(
        [
            "ChkptError", "ChkptWarning", "Config", "ConfigWarning", "CorruptCheckpointError", "Entry",
            "Event", "InputCountError", "KeyWarning", "PluginWarning",
            "Pipeline", "Plan", "PlanStep", "RemoteStageError", "Result", "SerializationError",
            "Serializer", "Stage", "StaleWorkerError",
            "StageReport", "Store", "StoreWarning", "UnsafeStoreError", "__version__", "default_dir",
            "events", "fingerprint_code", "fingerprint_source", "fingerprint_value", "get_serializer",
            "make_key", "open_store", "register_fingerprint", "register_serializer",
            # the checkpoint policy, its vocabulary and presentation (one engine)
            "Action", "Checkpoints", "EventKind", "Identity", "MISSING", "Persisted", "PlanAction",
            "ReasonKind", "State", "cell_line", "format_seconds", "format_size", "human_reason",
            "reason_kind", "stage_line", "table",
            # the hashers, for extensions that fingerprint values the same way
            "hash_bytes", "new_hasher",
            # files a stage reads: recorded the same way for notebook cells
            "record_reads",
            # warnings at the user's line, for extensions (the notebook's own warnings)
            "warn",
        ]
    )  # fmt: skip
    for name in chkpt.__all__:
        assert hasattr(chkpt, name)


BLOCKED = [
    "numpy",
    "pandas",
    "pyarrow",
    "orjson",
    "xxhash",
    "fsspec",
    "dask",
    "distributed",
    "graphviz",
    "IPython",
]


def test_core_imports_and_runs_with_only_the_stdlib(tmp_path):
    code = f"""
import sys
for name in {BLOCKED!r}:
    sys.modules[name] = None  # importing any of these now fails
import chkpt
p = chkpt.Stage(lambda: (1, 2), name="a") >> chkpt.Stage(lambda x: list(x), name="b")
assert p(chkpt.Config(dir={str(tmp_path)!r})) == [1, 2]
assert p(chkpt.Config(dir={str(tmp_path)!r}, load=True)) == [1, 2]
print(sorted(m for m in {BLOCKED!r} if sys.modules.get(m) is not None))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_import_chkpt_imports_no_optional_library():
    code = f"import sys, chkpt; print(sorted(m for m in {BLOCKED!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.fixture
def diamond():
    a = Stage(lambda: 1, name="a")
    b = Stage(lambda x: x, name="b")
    c = Stage(lambda x: x, name="c")
    d = Stage(lambda x, y: x + y, name="d")
    return (a >> b, a >> c) >> d


def test_to_json_and_to_dot(diamond):
    graph = diamond.to_json()
    assert [n["stage"] for n in graph["nodes"]] == ["a", "b", "c", "d"]
    assert graph["nodes"][3]["inputs"] == [1, 2] and graph["output"] == 3
    dot = diamond.to_dot(states={"a": "palegreen"})
    assert dot.startswith("digraph") and dot.count("->") == 4
    assert 'n0 [label="a", fillcolor="palegreen"]' in dot


@pytest.mark.skipif(
    not shutil.which("dot"), reason="needs the Graphviz dot program (make test installs it)"
)
def test_notebook_rendering_is_svg(diamond):
    bundle = diamond._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"] and ">d<" in bundle["image/svg+xml"]
    assert diamond._repr_svg_() == bundle["image/svg+xml"]


def test_rendering_without_dot_falls_back_to_html(diamond, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    bundle = diamond._repr_mimebundle_()
    assert "image/svg+xml" not in bundle and "<ol" in bundle["text/html"]
    assert diamond._repr_svg_() is None


def test_terminal_gets_one_line_per_stage(tmp_path):
    """In a real terminal (a pty), a run prints one concise line per stage by default."""
    import pty

    code = (
        "import chkpt; s = chkpt.Stage(lambda: 1, name='alpha') >> chkpt.Stage(lambda x: x, name='beta');"
        f"s(chkpt.Config(dir={str(tmp_path)!r})); s(chkpt.Config(dir={str(tmp_path)!r}, load=True))"
    )
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, "-c", code])
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.waitpid(pid, 0)
    lines = [line for line in b"".join(chunks).decode().splitlines() if line.startswith("chkpt:")]
    assert len(lines) == 4, lines
    assert "alpha" in lines[0] and "computed" in lines[0]
    second = " | ".join(lines[2:])
    assert "beta" in second and "loaded" in second and "alpha" in second and "skipped" in second


def test_no_output_when_not_a_terminal(tmp_path):
    code = f"import chkpt; (chkpt.Stage(lambda: 1, name='a') >> chkpt.Stage(lambda x: x, name='b'))(chkpt.Config(dir={str(tmp_path)!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "" and out.stderr == ""


def test_exports_are_lazy_and_complete():
    assert set(chkpt._WHERE) | {"events", "__version__"} == set(chkpt.__all__)
    code = "import sys, chkpt; print(sorted(m for m in sys.modules if m.startswith('chkpt')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['chkpt', 'chkpt._version']"  # the rest loads on first use
    assert "Stage" in dir(chkpt)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        chkpt.nope  # noqa: B018
