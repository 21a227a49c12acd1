"""Classes 2 and 3: everything a stage can reach is in its key: every wrapper layer, helpers
decorated with functools.wraps, singledispatch registries, Stages used as helpers, user classes
(methods, bases, class attributes), callable instances and bound methods."""

from __future__ import annotations

import pytest

WRAPPED = """
import functools, chkpt, chkpt_harness

def times(n):
    def deco(f):
        @functools.wraps(f)
        def inner(*a):
            return f(*a) * n
        return inner
    return deco

@chkpt.Stage.wrap()
@times(2)
def result():
    return 5

chkpt_harness.check(() >> result)
"""


@pytest.mark.parametrize(
    "old, new, value",
    [
        ("@times(2)", "@times(3)", "15"),  # the decorator's argument (a closure cell)
        ("f(*a) * n", "f(*a) + n", "7"),  # the wrapper's own body
        ("return 5", "return 6", "12"),  # the wrapped function
    ],
)
def test_every_layer_of_a_decorator(project, old, new, value):
    project.write("main.py", WRAPPED)
    assert project.run().assert_right().report["value"] == "10"
    project.edit("main.py", old, new, same_second=len(old) == len(new))
    run = project.run().assert_right()
    assert run.report["value"] == value and run.reason("result") == "code changed"
    assert project.run().assert_right().hit("result")


def test_helper_decorated_with_wraps_in_another_module(project):
    project.write(
        "helpers.py",
        """
        import functools

        def logged(f):
            @functools.wraps(f)
            def wrapper(*args):
                return f(*args)
            return wrapper

        @logged
        def compute(x):
            return x + 1
        """,
    )
    project.write(
        "main.py",
        """
        import chkpt, chkpt_harness
        from helpers import compute

        @chkpt.Stage.wrap()
        def result():
            return compute(1)

        chkpt_harness.check(() >> result)
        """,
    )
    assert project.run().assert_right().report["value"] == "2"
    project.edit("helpers.py", "x + 1", "x + 2", same_second=True)
    project.edit("helpers.py", "x + 2", "x + 2")
    assert project.run().assert_right().report["value"] == "3"


def test_lru_cache_helper(project):
    project.write(
        "main.py",
        """
        import functools, chkpt, chkpt_harness

        @functools.lru_cache(maxsize=None)
        def compute(x):
            return x * 2

        @chkpt.Stage.wrap()
        def result():
            return compute(21)

        chkpt_harness.check(() >> result)
        """,
    )
    assert project.run().assert_right().report["value"] == "42"
    project.edit("main.py", "x * 2", "x * 3", same_second=True)
    assert project.run().assert_right().report["value"] == "63"


def test_singledispatch_registered_implementation(project):
    project.write(
        "main.py",
        """
        import functools, chkpt, chkpt_harness

        @functools.singledispatch
        def describe(x):
            return "thing"

        @describe.register
        def _(x: int):
            return "int " + str(x)

        @chkpt.Stage.wrap()
        def result():
            return describe(3)

        chkpt_harness.check(() >> result)
        """,
    )
    assert project.run().assert_right().report["value"] == "'int 3'"
    project.edit("main.py", '"int "', '"INT "', same_second=True)
    assert project.run().assert_right().report["value"] == "'INT 3'"
    assert project.run().assert_right().hit("result")


def test_stage_called_as_a_helper_with_bound_params(project):
    project.write(
        "main.py",
        """
        import chkpt, chkpt_harness

        @chkpt.Stage.wrap()
        def scale(x, k=1):
            return x * k

        helper = scale.bind(k=2)

        @chkpt.Stage.wrap()
        def result():
            return helper(10)

        chkpt_harness.check(() >> result)
        """,
    )
    assert project.run().assert_right().report["value"] == "20"
    project.edit("main.py", "k=2", "k=3", same_second=True)
    assert project.run().assert_right().report["value"] == "30"
    project.edit("main.py", "x * k", "x + k", same_second=True)
    assert project.run().assert_right().report["value"] == "13"


CLASSES = """
import chkpt, chkpt_harness
from models import Model

RATE = 2

class Mine(Model):
    def predict(self, x):
        return self.base(x) * RATE

@chkpt.Stage.wrap()
def result():
    return Mine().predict(10)

chkpt_harness.check(() >> result)
"""


@pytest.mark.parametrize(
    "file, old, new, value",
    [
        ("main.py", "RATE = 2", "RATE = 3", "33"),  # a constant a method reads
        ("models.py", "x + 1", "x + 2", "24"),  # an inherited method of a user base class
        ("models.py", "OFFSET = 0", "OFFSET = 5", "32"),  # a base class attribute
        ("main.py", "* RATE", "- RATE", "9"),  # the method itself
    ],
)
def test_classes_methods_bases_and_their_reads(project, file, old, new, value):
    project.write(
        "models.py",
        """
        class Model:
            OFFSET = 0

            def base(self, x):
                return x + 1 + self.OFFSET
        """,
    )
    project.write("main.py", CLASSES)
    assert project.run().assert_right().report["value"] == "22"
    project.edit(file, old, new, same_second=len(old) == len(new))
    if file == "models.py":
        project.edit(file, new, new)  # Python recompiles the imported module
    run = project.run().assert_right()
    assert run.report["value"] == value and run.reason("result") == "code changed"
    assert project.run().assert_right().hit("result")


def test_class_attribute_set_at_run_time(project):
    project.write(
        "main.py",
        """
        import chkpt, chkpt_harness

        class Model:
            def predict(self, x):
                return x * self.RATE

        Model.RATE = 2

        @chkpt.Stage.wrap()
        def result():
            return Model().predict(10)

        chkpt_harness.check(() >> result)
        """,
    )
    assert project.run().assert_right().report["value"] == "20"
    project.edit("main.py", "Model.RATE = 2", "Model.RATE = 4")
    assert project.run().assert_right().report["value"] == "40"


CALLABLE = """
import chkpt, chkpt_harness

class Scaler:
    def __init__(self, k):
        self.k = k

    def __call__(self, x):
        return x * self.k

    def apply(self, x):
        return x + self.k

source = chkpt.Stage(lambda: 10, name="source")
scaled = chkpt.Stage(Scaler(2), name="scaled")
applied = chkpt.Stage(Scaler(2).apply, name="applied")
chkpt_harness.check((source >> scaled, source >> applied) >> chkpt.Stage(lambda a, b: (a, b), name="both"))
"""


def test_callable_instances_and_bound_methods_as_stages(project):
    project.write("main.py", CALLABLE)
    assert project.run().assert_right().report["value"] == "(20, 12)"
    again = project.run().assert_right()  # a new process: no address in any key
    assert again.hit("scaled") and again.hit("applied")
    project.edit("main.py", 'Scaler(2), name="scaled"', 'Scaler(3), name="scaled"')
    run = project.run().assert_right()
    assert run.report["value"] == "(30, 12)" and run.hit("applied")
    project.edit("main.py", "x + self.k", "x - self.k")
    run = project.run().assert_right()
    assert run.report["value"] == "(30, 8)"  # (a class is keyed as a whole: both recompute)
    project.edit("main.py", "x * self.k", "x ** self.k")
    assert project.run().assert_right().report["value"] == "(1000, 8)"


def test_containers_of_functions(project):
    project.write(
        "main.py",
        """
        import chkpt, chkpt_harness

        def double(x):
            return x * 2

        def square(x):
            return x * x

        OPS = {"double": double, "square": square}
        PIPE = [double, square]

        @chkpt.Stage.wrap()
        def result():
            return OPS["square"](3), [f(2) for f in PIPE]

        chkpt_harness.check(() >> result)
        """,
    )
    assert project.run().assert_right().report["value"] == "(9, [4, 4])"
    project.edit("main.py", "x * x", "x + x", same_second=True)
    assert project.run().assert_right().report["value"] == "(6, [4, 4])"
    project.edit(
        "main.py",
        'OPS = {"double": double, "square": square}',
        'OPS = {"double": double, "square": double}',
    )
    assert project.run().assert_right().report["value"] == "(6, [4, 4])"


def test_partial_and_vectorize(project):
    project.write(
        "main.py",
        """
        import functools, numpy as np, chkpt, chkpt_harness

        def power(x, k):
            return x ** k

        CUBE = functools.partial(power, k=3)
        VEC = np.vectorize(lambda v: v + 1)

        @chkpt.Stage.wrap()
        def result():
            return CUBE(2), VEC(np.arange(3)).tolist()

        chkpt_harness.check(() >> result)
        """,
    )
    assert project.run().assert_right().report["value"] == "(8, [1, 2, 3])"
    assert project.run().assert_right().hit("result")  # partial: no address in the key
    project.edit("main.py", "k=3", "k=4", same_second=True)
    assert project.run().assert_right().report["value"] == "(16, [1, 2, 3])"
    project.edit("main.py", "v + 1", "v + 2", same_second=True)
    assert project.run().assert_right().report["value"] == "(16, [2, 3, 4])"
    project.edit("main.py", "x ** k", "x *  k", same_second=True)
    assert project.run().assert_right().report["value"] == "(8, [2, 3, 4])"
