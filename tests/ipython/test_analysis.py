"""Static analysis of stage cells: inputs, outputs, definitions."""

from __future__ import annotations

import pytest

from chkpt_ipython._analysis import analyze
from chkpt_ipython._stage_cell import default_name


@pytest.mark.parametrize(
    ("source", "inputs", "outputs", "defined"),
    [
        ("y = x + 1", ("x",), ("y",), ()),
        ("x = x + 1", ("x",), ("x",), ()),  # read before bound: an input and an output
        ("total += n", ("total", "n"), ("total",), ()),
        ("print(len(data))", ("data",), (), ()),  # builtins are not inputs
        ("for i in range(n):\n    acc = i", ("n",), ("i", "acc"), ()),
        ("y = [v * k for v in data if v > t]", ("data", "k", "t"), ("y",), ()),
        ("[(w := i) for i in r]", ("r",), ("w",), ()),  # the walrus binds at module level
        ("f = lambda a: a + k\nk = 2", (), ("f", "k"), ()),  # called later: k is the cell's own
        ("def f():\n    return z + y\ny = 1", ("z",), ("y",), ("f",)),
        ("import numpy as np\nfrom os import path as p", (), (), ("np", "p")),
        ("import os.path", (), (), ("os",)),
        ("class K(Base):\n    attr = q", ("Base", "q"), (), ("K",)),
        ("@deco(opt)\ndef g():\n    pass", ("deco", "opt"), (), ("g",)),
        ("def h(a=default):\n    return a", ("default",), (), ("h",)),
        ("try:\n    import foo\nexcept ImportError:\n    foo = None", (), ("foo",), ()),
        ("with open(p) as fh:\n    text = fh.read()", ("p",), ("fh", "text"), ()),
        ("a = 1\ndel a\nb = 2", (), ("b",), ()),
        ("obj.attr = 1\nd[k] = v", ("obj", "d", "k", "v"), (), ()),
        ("match cmd:\n    case [x, *rest]:\n        y = x", ("cmd",), ("x", "rest", "y"), ()),
    ],
)
def test_inputs_outputs_definitions(source, inputs, outputs, defined):
    analysis = analyze(source)
    assert sorted(analysis.inputs) == sorted(inputs)
    assert analysis.outputs == outputs
    assert analysis.defined == defined


def test_shadowed_builtins_stay_in_reads_for_the_key_to_decide():
    assert "len" in analyze("n = len(x)").reads
    assert "len" not in analyze("n = len(x)").inputs


def test_last_expression():
    assert analyze("x = 1\nx").last_expression is not None
    assert analyze("x = 1").last_expression is None


def test_default_names():
    assert default_name(analyze("import math\nraw = load()"), "") == "raw"
    assert default_name(analyze("def f(): pass"), "def f(): pass") == "f"
    transform = "df = clean(df)"
    assert default_name(analyze(transform), transform) == default_name(
        analyze(transform), transform
    )
    assert default_name(analyze(transform), transform).startswith("df_")
    assert default_name(analyze("print(1)"), "print(1)").startswith("cell_")


def test_syntax_errors_surface():
    with pytest.raises(SyntaxError):
        analyze("x = (")
