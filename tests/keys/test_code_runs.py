"""Class 1: the key describes the code that runs, not the file on disk.

Python runs a stale ``.pyc`` after a same-size edit saved within the same second, and a process
keeps running the code it imported after the file changes. Keys from source text then store the
old code's result under the new code's key, and every later run loads it.
"""

from __future__ import annotations

MAIN = """
import chkpt, chkpt_harness
from helpers import compute

@chkpt.Stage.wrap()
def source():
    return 10

@chkpt.Stage.wrap()
def result(x):
    return compute(x)

chkpt_harness.check(source >> result)
"""


def test_same_size_edit_in_the_same_second_runs_stale_bytecode_and_is_keyed_by_it(project):
    project.write("helpers.py", "def compute(x):\n    return x + 1\n")
    project.write("main.py", MAIN)
    first = project.run().assert_right()
    assert first.report["value"] == "11"
    project.edit("helpers.py", "x + 1", "x + 2", same_second=True)  # Python keeps the .pyc
    stale = project.run().assert_right()  # runs x + 1 still: keyed as x + 1, so a hit is right
    assert stale.report["value"] == "11"
    project.edit("helpers.py", "x + 2", "x + 2")  # a later save: Python recompiles
    fresh = project.run().assert_right()
    assert fresh.report["value"] == "12" and fresh.reason("result") == "code changed"
    assert project.run().assert_right().hit("result")


def test_same_size_edits_in_a_row(project):
    project.write("helpers.py", "def compute(x):\n    return x * 3\n")
    project.write("main.py", MAIN)
    project.run().assert_right()
    for old, new in [("x * 3", "x * 4"), ("x * 4", "x - 4"), ("x - 4", "x * 3")]:
        project.edit("helpers.py", old, new, same_second=True)
        project.run().assert_right()
        project.edit("helpers.py", new, new)
        project.run().assert_right()


def test_stage_edited_in_the_script_itself(project):
    project.write("helpers.py", "def compute(x):\n    return x\n")
    project.write("main.py", MAIN.replace("return 10", "return 11"))
    project.run().assert_right()
    project.edit("main.py", "return 11", "return 12", same_second=True)
    run = project.run().assert_right()
    assert run.report["value"] == "12" and run.reason("source") == "code changed"


def test_stages_defined_under_main_guard(project):
    project.write(
        "main.py",
        """
        import chkpt, chkpt_harness

        if __name__ == "__main__":
            def scale(x):
                return x * 5

            @chkpt.Stage.wrap()
            def source():
                return 2

            @chkpt.Stage.wrap()
            def result(x):
                return scale(x)

            chkpt_harness.check(source >> result)
        """,
    )
    assert project.run().assert_right().report["value"] == "10"
    project.edit("main.py", "x * 5", "x * 6", same_second=True)
    assert project.run().assert_right().report["value"] == "12"
    assert project.run().assert_right().hit("result")


RELOAD = """
import importlib, pathlib, chkpt, chkpt_harness
import helpers

@chkpt.Stage.wrap()
def source():
    return 10

@chkpt.Stage.wrap()
def result(x):
    return helpers.compute(x)

p = source >> result
chkpt_harness.check(p, "first")
path = pathlib.Path("helpers.py")
path.write_text(path.read_text().replace("x + 1", "x + 70"))  # edited while we run
chkpt_harness.check(p, "old code still runs")
importlib.reload(helpers)
chkpt_harness.check(p, "reloaded")
"""


def test_module_edited_while_the_process_runs_old_code_then_reloads(project):
    project.write("helpers.py", "def compute(x):\n    return x + 1\n")
    project.write("main.py", RELOAD)
    run = project.run().assert_right()
    values = [r["value"] for r in run.reports]
    assert values == ["11", "11", "80"]
    assert run.hit("result", 1) and run.reason("result", 2) == "code changed"
    # a new process runs the edited file: it may load only what the new code stored
    project.write(
        "main.py", RELOAD.split("p = source")[0] + "chkpt_harness.check(source >> result)\n"
    )
    later = project.run().assert_right()
    assert later.report["value"] == "80" and later.hit("result")


LINGER = """
import pathlib, chkpt, chkpt_harness
from helpers import compute

@chkpt.Stage.wrap()
def source():
    return 10

@chkpt.Stage.wrap()
def result(x):
    return compute(x)

p = source >> result
chkpt_harness.check(p, "first")
path = pathlib.Path("helpers.py")
path.write_text(path.read_text().replace("x + 1", "x + 50"))  # no reload: old code keeps running
chkpt_harness.check(p, "again")
"""


def test_edit_without_reload_never_stores_the_old_result_under_the_new_code(project):
    project.write("helpers.py", "def compute(x):\n    return x + 1\n")
    project.write("main.py", LINGER.replace('"first")', '"first", force=["result"])'))
    run = project.run().assert_right()
    assert [r["value"] for r in run.reports] == ["11", "11"]
    project.write("main.py", MAIN)
    assert project.run().assert_right().report["value"] == "60"


def test_helper_module_imported_as_package_chain(project):
    project.write("pkg/__init__.py", "")
    project.write("pkg/sub.py", "def f(x):\n    return x + 100\n")
    project.write(
        "main.py",
        """
        import chkpt, chkpt_harness
        import pkg.sub

        @chkpt.Stage.wrap()
        def result():
            return pkg.sub.f(1)

        chkpt_harness.check(() >> result)
        """,
    )
    assert project.run().assert_right().report["value"] == "101"
    project.edit("pkg/sub.py", "x + 100", "x + 200", same_second=True)
    project.edit("pkg/sub.py", "x + 200", "x + 200")
    run = project.run().assert_right()
    assert run.report["value"] == "201" and run.reason("result") == "code changed"


def test_import_inside_the_stage_body(project):
    project.write("helpers.py", "def compute(x):\n    return x + 1\n\nK = 3\n")
    project.write(
        "main.py",
        """
        import chkpt, chkpt_harness

        @chkpt.Stage.wrap()
        def result():
            import helpers
            from helpers import K
            return helpers.compute(K)

        chkpt_harness.check(() >> result)
        """,
    )
    assert project.run().assert_right().report["value"] == "4"
    project.edit("helpers.py", "K = 3", "K = 4")
    assert project.run().assert_right().report["value"] == "5"
    project.edit("helpers.py", "x + 1", "x + 2")
    assert project.run().assert_right().report["value"] == "6"
    assert project.run().assert_right().hit("result")


def test_a_user_module_named_like_chkpt_is_user_code(project):
    project.write("chkpt_utils.py", "def compute(x):\n    return x + 1\n")
    project.write("main.py", MAIN.replace("from helpers", "from chkpt_utils"))
    assert project.run().assert_right().report["value"] == "11"
    project.edit("chkpt_utils.py", "x + 1", "x + 9")
    assert project.run().assert_right().report["value"] == "19"


def test_comments_docstrings_and_layout_do_not_recompute(project):
    project.write("helpers.py", "def compute(x):\n    return x + 1\n")
    project.write("main.py", MAIN)
    project.run().assert_right()
    project.write(
        "helpers.py",
        '''
        # a comment


        def compute(x):
            """Now documented."""
            # and commented
            return (x
                    + 1)
        ''',
    )
    assert project.run().assert_right().hit("result")


def test_default_argument_of_a_helper(project):
    project.write("helpers.py", "def compute(x, k=2):\n    return x * k\n")
    project.write("main.py", MAIN)
    assert project.run().assert_right().report["value"] == "20"
    project.edit("helpers.py", "k=2", "k=3", same_second=True)
    project.edit("helpers.py", "k=3", "k=3")
    assert project.run().assert_right().report["value"] == "30"


def test_nested_lambda_and_comprehension_bodies(project):
    project.write(
        "main.py",
        """
        import chkpt, chkpt_harness

        @chkpt.Stage.wrap()
        def result():
            sq = lambda v: v * v
            return [sq(i) + 1 for i in range(3)]

        chkpt_harness.check(() >> result)
        """,
    )
    assert project.run().assert_right().report["value"] == "[1, 2, 5]"
    project.edit("main.py", "v * v", "v + v", same_second=True)
    assert project.run().assert_right().report["value"] == "[1, 3, 5]"
    project.edit("main.py", "sq(i) + 1", "sq(i) + 2")
    assert project.run().assert_right().report["value"] == "[2, 4, 6]"


def test_two_lambdas_on_one_line(project):
    project.write(
        "main.py",
        """
        import chkpt, chkpt_harness
        a, b = chkpt.Stage(lambda: 1, name="a"), chkpt.Stage(lambda x: x + 10, name="b")
        chkpt_harness.check(a >> b)
        """,
    )
    assert project.run().assert_right().report["value"] == "11"
    project.edit("main.py", "x + 10", "x + 20")
    run = project.run().assert_right()
    assert run.report["value"] == "21" and run.hit("a") and run.reason("b") == "code changed"


def test_an_attribute_named_like_an_unrelated_helper_does_not_link_it(project):
    project.write(
        "main.py",
        """
        import types, chkpt, chkpt_harness

        def scale(x):
            return x * 1

        CONFIG = types.SimpleNamespace(scale=4)

        @chkpt.Stage.wrap()
        def result():
            return CONFIG.scale

        chkpt_harness.check(() >> result)
        """,
    )
    project.run().assert_right()
    project.edit("main.py", "x * 1", "x * 2")  # `scale` the function is not what runs
    assert project.run().assert_right().hit("result")
    project.edit("main.py", "scale=4", "scale=5")
    assert project.run().assert_right().report["value"] == "5"
