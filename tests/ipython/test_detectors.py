"""The detectors behind "never stale in real notebooks", each on its own, on real objects.

In-place changes (``_mutation``), global random generators (``_rng``), files read and written
(``_files``), library objects' fingerprints (``_library_values``), timing magics in the analysis
and ``clear_output`` in the capture.
"""

from __future__ import annotations

import os
import random

import numpy as np
import pandas as pd
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from chkpt_ipython import _files, _rng
from chkpt_ipython._analysis import analyze
from chkpt_ipython._library_values import library_fingerprint
from chkpt_ipython._mutation import IMMUTABLE, content_fingerprint


def transformed(cell: str) -> str:
    return TransformerManager().transform_cell(cell)


# -- in-place changes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, change",
    [
        (lambda: pd.DataFrame({"a": [1.0, 2.0], "b": [3, 4]}), lambda d: d.__setitem__("c", 1)),
        (lambda: pd.DataFrame({"a": [1.0, 2.0]}), lambda d: d.__setitem__("a", d["a"] > 1)),
        (lambda: pd.DataFrame({"a": [1.0, None]}), lambda d: d.dropna(inplace=True)),
        (lambda: pd.DataFrame({"a": [1, 2]}), lambda d: setattr(d, "index", [5, 6])),
        (
            lambda: pd.DataFrame({"a": [1, 2]}, index=pd.to_datetime(["2024-01-01", "2024-01-02"])),
            lambda d: d.__setitem__("a", [1, 3]),
        ),
        (
            lambda: pd.Series([1, 2], index=pd.date_range("2024", periods=2, tz="UTC")),
            lambda s: s.__setitem__(s.index[0], 5),
        ),
        (lambda: pd.DataFrame({"a": [1, 2], "Y": [0, 0]}), lambda d: d.__delitem__("Y")),
        (lambda: pd.DataFrame({"s": ["x", "y"]}), lambda d: d.loc.__setitem__((0, "s"), "z")),
        (lambda: pd.Series([1.0, 2.0]), lambda s: s.__setitem__(0, 9.0)),
        (lambda: np.arange(6.0).reshape(2, 3), lambda a: a.__itruediv__(16)),
        (lambda: np.arange(6.0).reshape(2, 3).T, lambda a: a.__setitem__((0, 0), 7)),
        (lambda: [], lambda xs: xs.append(("north", 1.5))),
        (lambda: {"k": [1]}, lambda d: d["k"].append(2)),
    ],
)
def test_an_in_place_change_changes_the_content_fingerprint(make, change):
    obj = make()
    before = content_fingerprint(obj)
    assert before not in (None, IMMUTABLE)
    assert content_fingerprint(make()) == before  # deterministic
    change(obj)
    assert content_fingerprint(obj) != before


def test_immutable_values_cost_nothing():
    for value in (1, 2.5, "s", b"b", None, (1, ("a", frozenset({2}))), range(3)):
        assert content_fingerprint(value) == IMMUTABLE
    assert content_fingerprint((1, [2])) not in (None, IMMUTABLE)


def test_an_estimator_fitted_in_place_is_seen():
    from sklearn.linear_model import LogisticRegression

    X, y = np.random.default_rng(0).random((30, 2)), np.arange(30) % 2
    model = LogisticRegression()
    before = content_fingerprint(model)
    model.fit(X, y)
    after = content_fingerprint(model)
    assert after != before
    model.fit(X[:20], y[:20])
    assert content_fingerprint(model) != after


def test_an_object_that_cannot_be_told_is_none():
    import threading

    assert content_fingerprint(threading.Lock()) is None


# -- library objects ------------------------------------------------------------------------------


def test_frozen_distribution_fingerprint_is_stable_across_draws_and_follows_parameters():
    from scipy import stats

    t = stats.t(df=5)
    fp = library_fingerprint(t)
    np.random.normal(size=10)  # the global generator it holds moves
    assert library_fingerprint(t) == fp == library_fingerprint(stats.t(df=5))
    assert library_fingerprint(stats.t(df=6)) != fp
    assert library_fingerprint(stats.norm(loc=1)) != library_fingerprint(stats.norm(loc=2))


def test_estimator_fingerprint_follows_parameters_and_fitted_attributes():
    from sklearn.linear_model import LogisticRegression

    a, b = LogisticRegression(C=1.0), LogisticRegression(C=1.0)
    assert library_fingerprint(a) == library_fingerprint(b)
    assert library_fingerprint(LogisticRegression(C=0.5)) != library_fingerprint(a)
    a.fit(np.eye(4), [0, 1, 0, 1])
    assert library_fingerprint(a) != library_fingerprint(b)
    assert library_fingerprint(object()) is None


def test_a_frozen_distribution_fingerprint_is_the_same_in_a_new_process(tmp_path):
    import subprocess
    import sys

    code = (
        "import chkpt, chkpt_ipython._guard; from scipy import stats;"
        " from chkpt_ipython._library_values import library_fingerprint as f;"
        " t = stats.t(df=5); print(f(t), chkpt.fingerprint_value(t))"  # registered with the core
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    }
    assert len(outs) == 1 and "None" not in outs.pop()


# -- global generators ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("noise = np.random.normal(size=3)", {"numpy"}),
        ("x = random.random()", {"random"}),
        ("from numpy.random import standard_normal\nx = standard_normal(2)", {"numpy"}),
        ("from random import gauss\nx = gauss(0, 1)", {"random"}),
        ("import numpy\nx = numpy.random.rand(2)", {"numpy"}),
        ("rng = np.random.default_rng(0)\nx = rng.normal()", set()),
        ("x = np.random.RandomState(0).rand()", set()),
        ("x = normal(1)", {"numpy"}),  # a bound method of the global generator
        ("x = draw()", {"numpy", "random"}),  # a notebook helper whose code mentions random
        ("x = np.mean([1, 2])", set()),
    ],
)
def test_static_uses_of_the_global_generators(cell, expected):
    def draw():
        return np.random.rand()

    draw.__module__ = "__main__"
    ns = {"np": np, "random": random, "normal": np.random.normal, "draw": draw}
    assert _rng.static_uses(cell, ns) == expected


@pytest.mark.parametrize("generator", _rng.GENERATORS)
def test_generator_state_digest_snapshot_and_restore(generator):
    draw = random.random if generator == "random" else np.random.random
    start = _rng.snapshot()
    digest = _rng.digest(generator)
    first = draw()
    assert _rng.changed(start, _rng.snapshot()) == {generator}
    assert _rng.digest(generator) != digest
    _rng.set_state(generator, start[generator])
    assert _rng.digest(generator) == digest and draw() == first


# -- files -------------------------------------------------------------------------------------


def test_tracker_sees_writes_but_not_reads_appends_or_libraries(tmp_path):
    data, out, log = tmp_path / "data.csv", tmp_path / "out.csv", tmp_path / "log.txt"
    pd.DataFrame({"a": [1, 2]}).to_csv(data, index=False)
    with _files.Tracker(ignore=[str(tmp_path / "ignored")]) as tracker:
        df = pd.read_csv(data)
        df.to_csv(out)
        df.to_csv(tmp_path / "ignored.csv")
        (tmp_path / "ignored").mkdir()
        df.to_csv(tmp_path / "ignored" / "x.csv")
        with open(log, "a") as fh:
            fh.write("ran\n")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        fig.savefig(tmp_path / "fig.png")
        plt.close(fig)
    written = tracker.files_written()
    assert set(written) == {str(out), str(tmp_path / "ignored.csv"), str(tmp_path / "fig.png")}
    assert written[str(out)] == out.read_bytes()


def test_written_files_are_restored_when_missing_or_changed_and_reported_when_too_big(tmp_path):
    out = tmp_path / "sub" / "out.csv"
    restored, missing = _files.restore_written({str(out): b"a,b\n"})
    assert restored == [str(out)] and not missing and out.read_bytes() == b"a,b\n"
    assert _files.restore_written({str(out): b"a,b\n"}) == ([], [])  # already right
    out.write_bytes(b"changed")
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 10)
    digest = _files.digest_file(big)
    os.remove(big)
    restored, missing = _files.restore_written({str(out): b"a,b\n", str(big): digest})
    assert restored == [str(out)] and missing == [str(big)]


# -- timing magics and clear_output ----------------------------------------------------------------


@pytest.mark.parametrize(
    "cell, inputs, outputs",
    [
        ("%time y = f(x)", ("f", "x"), ("y",)),
        ("w = %time h(q)", ("h", "q"), ("w",)),
        ("%%time\na = b + 1\nprint(a)", ("b",), ("a",)),
        ("%timeit -n 3 -r 1 g(z)\nk = 1", ("g", "z"), ("k",)),
        ("%%timeit -n 2 s = setup(u)\nk = s + v", ("setup", "u", "v"), ()),
        ("%time clf.fit(X, y)\n%time score = clf.score(X, y)", ("clf", "X", "y"), ("score",)),
    ],
)
def test_code_under_timing_magics_is_analysed(cell, inputs, outputs):
    analysis = analyze(transformed(cell))
    assert analysis.inputs == inputs
    assert analysis.outputs == outputs


def test_clear_output_keeps_only_what_remains_visible(ip):
    from IPython.display import clear_output

    from chkpt_ipython._capture import Capture

    with Capture(ip.shell) as capture:
        for step in range(5):
            clear_output(wait=True)
            print(f"step {step}")
        clear_output(wait=True)  # nothing follows: what was shown stays
    assert capture.records == [["stdout", "step 4\n"]]
    with Capture(ip.shell) as capture:
        print("gone")
        clear_output()
        print("kept")
    assert capture.records == [["stdout", "kept\n"]]
