"""More ways a user changes what a stage computes without touching the stage, found by attacking
the fingerprint: each must recompute with the right result, and nothing else may recompute."""

from __future__ import annotations

import pytest

HELPERS = """
import dataclasses

def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)

def even(n):
    return n == 0 or odd(n - 1)

def odd(n):
    return n != 0 and even(n - 1)

class Shape:
    SIDES = 4

    @staticmethod
    def unit():
        return 1

    @classmethod
    def sides(cls):
        return cls.SIDES

    @property
    def area(self):
        return self.unit() * 2

@dataclasses.dataclass
class Options:
    tags: list = dataclasses.field(default_factory=lambda: ["a"])
    level: int = 1

class Twice:
    def __init__(self, f):
        self.f = f

    def __call__(self, *args):
        return self.f(*args) * 2

@Twice
def seven():
    return 7

def tagged(x):
    return x + tagged.bonus

tagged.bonus = 1
"""

MAIN = """
import chkpt, chkpt_harness
from helpers import *

@chkpt.Stage.wrap()
def result():
    return (fact(4), even(4), Shape.sides(), Shape().area, Options().tags, Options().level,
            seven(), tagged(1))

chkpt_harness.check(() >> result)
"""


@pytest.mark.parametrize(
    "old, new",
    [
        ("n * fact(n - 1)", "n + fact(n - 1)"),  # a recursive helper
        ("n != 0 and even(n - 1)", "n == 0 and even(n - 1)"),  # mutual recursion, reached late
        ("SIDES = 4", "SIDES = 5"),  # a class attribute read through cls
        ("return 1\n", "return 2\n"),  # a staticmethod
        ("self.unit() * 2", "self.unit() * 3"),  # a property
        ('lambda: ["a"]', 'lambda: ["b"]'),  # a dataclass default_factory
        ("level: int = 1", "level: int = 2"),  # a dataclass default
        ("* 2\n\n@Twice", "* 3\n\n@Twice"),  # a class used as a decorator
        ("tagged.bonus = 1", "tagged.bonus = 2"),  # a function attribute
    ],
)
def test_helpers_reached_in_every_way(project, old, new):
    project.write("helpers.py", HELPERS)
    project.write("main.py", MAIN)
    first = project.run().assert_right()
    assert project.run().assert_right().hit("result")
    project.edit("helpers.py", old, new)
    run = project.run().assert_right()
    assert run.report["value"] != first.report["value"]
    assert run.reason("result") == "code changed"


def test_stages_defined_in_an_imported_module(project):
    project.write(
        "stages.py",
        """
        import chkpt

        @chkpt.Stage.wrap()
        def source():
            return 4

        @chkpt.Stage.wrap()
        def square(x):
            return x * x
        """,
    )
    project.write(
        "main.py",
        "import chkpt_harness, stages\nchkpt_harness.check(stages.source >> stages.square)\n",
    )
    assert project.run().assert_right().report["value"] == "16"
    project.edit("stages.py", "x * x", "x + x", same_second=True)  # stale .pyc: still x * x
    assert project.run().assert_right().hit("square")
    project.edit("stages.py", "x + x", "x + x")
    run = project.run().assert_right()
    assert run.report["value"] == "8" and run.hit("source")


def test_user_mutates_a_global_array_in_place_between_runs(project):
    project.write(
        "main.py",
        """
        import numpy as np, chkpt, chkpt_harness
        WEIGHTS = np.ones(3)

        @chkpt.Stage.wrap()
        def total():
            return float(WEIGHTS.sum())

        p = () >> total
        chkpt_harness.check(p, "first")
        WEIGHTS[0] = 5.0  # the user, between runs (a notebook cell)
        chkpt_harness.check(p, "mutated")
        chkpt_harness.check(p, "again")
        """,
    )
    run = project.run().assert_right()
    assert [r["value"] for r in run.reports] == ["3.0", "7.0", "7.0"]
    assert [run.hit("total", i) for i in range(3)] == [False, False, True]


def test_long_lived_process_pool_runs_the_code_the_parent_keyed(project):
    project.write("helpers.py", "def compute(x):\n    return x + 1\n")
    project.write(
        "main.py",
        """
        import pathlib, concurrent.futures as cf, chkpt, chkpt_harness
        from helpers import compute

        @chkpt.Stage.wrap()
        def source():
            return 10

        @chkpt.Stage.wrap()
        def result(x):
            return compute(x)

        if __name__ == "__main__":
            with cf.ProcessPoolExecutor(1) as pool:
                p = source >> result
                chkpt_harness.check(p, "first", executor=pool, force=["result"])
                path = pathlib.Path("helpers.py")
                path.write_text(path.read_text().replace("x + 1", "x + 30"))
                chkpt_harness.check(p, "edited, not reloaded", executor=pool, force=["result"])
        """,
    )
    run = project.run().assert_right()
    assert [r["value"] for r in run.reports] == ["11", "11"]
    later = project.run().assert_right()  # the edited file now runs everywhere
    assert later.reports[0]["value"] == "40"


def test_exec_defined_function_and_notebook_like_main(project):
    project.write(
        "main.py",
        """
        import chkpt, chkpt_harness
        ns = {}
        exec("def body(x):\\n    return x * 11\\n", ns)  # no source file: bytecode only

        @chkpt.Stage.wrap()
        def result():
            return ns["body"](2)

        chkpt_harness.check(() >> result)
        """,
    )
    assert project.run().assert_right().report["value"] == "22"
    assert project.run().assert_right().hit("result")
    project.edit("main.py", "x * 11", "x * 12")
    assert project.run().assert_right().report["value"] == "24"


def test_a_helper_renamed_and_swapped(project):
    project.write(
        "main.py",
        """
        import chkpt, chkpt_harness

        def a(x):
            return x + 1

        def b(x):
            return x + 2

        @chkpt.Stage.wrap()
        def result():
            return a(1)

        chkpt_harness.check(() >> result)
        """,
    )
    assert project.run().assert_right().report["value"] == "2"
    # swap the two bodies: every name and size is the same, the behaviour is not
    project.edit("main.py", "x + 1", "x + 9")
    project.edit("main.py", "x + 2", "x + 1")
    project.edit("main.py", "x + 9", "x + 2")
    assert project.run().assert_right().report["value"] == "3"
