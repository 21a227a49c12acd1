"""Class 6: state is not input. What a stage writes (a call log, a counter, a memo) does not change
its key between two runs in one process; a global rebound to a new value does. And the seed's own
pattern, a pipeline run twice in one process, hits the second time."""

from __future__ import annotations

import pytest

STATE = """
import chkpt, chkpt_harness
LOG = []
MEMO = {{}}
n = 0

class Tracker:
    def __init__(self):
        self.calls = 0
        self.seen = []

    def record(self, x):
        self.calls += 1
        self.seen.append(x)

TRACK = Tracker()

class Counter:
    count = 0

def make_counter():
    k = 0
    def bump():
        nonlocal k
        k += 1
        return k
    return bump

BUMP = make_counter()

def note(x):
    LOG.append(x)

@chkpt.Stage.wrap()
def source():
    return 3

@chkpt.Stage.wrap()
def work(x):
    {body}
    return x * 2

p = source >> work
chkpt_harness.check(p, "first")
chkpt_harness.check(p, "second")
"""


@pytest.mark.parametrize(
    "body",
    [
        "LOG.append(x)",
        "note(x)",  # a helper appends
        "global n\n    n += 1",
        "MEMO[x] = x * 2",
        "MEMO[str(x)] = MEMO.get(str(x), 0) + 1",
        "MEMO.setdefault('k', []).append(x)",
        "TRACK.record(x)",
        "TRACK.calls += 1",
        "Counter.count += 1",
        "BUMP()",
        "LOG.extend([x, x]); MEMO.update({x: 1}); MEMO.pop(x)",
    ],
)
def test_what_a_stage_writes_is_not_its_input(project, body):
    project.write("main.py", STATE.format(body=body))
    run = project.run().assert_right()
    assert run.action("work", 0) == "computed"
    assert run.hit("work", 1), run.reports[1]
    assert project.run().assert_right().hit("work")  # a new process: the same key


def test_a_global_rebound_to_a_new_value_rekeys_in_the_same_process(project):
    project.write(
        "main.py",
        """
        import chkpt, chkpt_harness
        FACTOR = 2
        CONFIG = {"offset": 1}

        @chkpt.Stage.wrap()
        def work():
            return FACTOR * 10 + CONFIG["offset"]

        p = () >> work
        chkpt_harness.check(p, "first")
        FACTOR = 3
        chkpt_harness.check(p, "rebound")
        CONFIG["offset"] = 5  # mutated by the user, not by the stage: an input
        chkpt_harness.check(p, "mutated")
        CONFIG = {"offset": 1}
        FACTOR = 2
        chkpt_harness.check(p, "back")
        """,
    )
    run = project.run().assert_right()
    assert [r["value"] for r in run.reports] == ["21", "31", "35", "21"]
    assert [run.hit("work", i) for i in range(4)] == [False, False, False, True]


def test_state_keyed_by_its_value_when_the_process_starts(project):
    project.write(
        "main.py",
        """
        import chkpt, chkpt_harness
        SEEN = {"scale": 2}

        @chkpt.Stage.wrap()
        def work():
            SEEN["runs"] = SEEN.get("runs", 0) + 1
            return SEEN["scale"] * 10

        chkpt_harness.check(() >> work)
        """,
    )
    assert project.run().assert_right().report["value"] == "20"
    project.edit("main.py", '{"scale": 2}', '{"scale": 3}')  # edited in the file: a new value
    assert project.run().assert_right().report["value"] == "30"


def test_seed_pattern_run_twice_in_one_process(project):
    project.write(
        "main.py",
        """
        import chkpt, chkpt_harness
        calls = []

        @chkpt.Stage.wrap()
        def stage1():
            calls.append("stage1")
            return "123"

        @chkpt.Stage.wrap()
        def stage2(stage1_input):
            calls.append("stage2")
            return [stage1_input, "456"]

        pipeline = stage1 >> stage2
        chkpt_harness.check(pipeline)
        chkpt_harness.check(pipeline)
        assert calls == ["stage1", "stage2"] * 3, calls  # run, plain, (hit), plain
        """,
    )
    run = project.run().assert_right()
    assert run.hit("stage2", 1) and run.hit("stage1", 1)


def test_two_different_stages_with_one_name_warn(project):
    project.write(
        "main.py",
        """
        import chkpt, chkpt_harness

        def make(k):
            return chkpt.Stage(lambda x: x * k, name="scale")

        source = chkpt.Stage(lambda: 2, name="source")
        chkpt_harness.check((source >> make(2), source >> make(3)) >> chkpt.Stage(lambda a, b: (a, b), name="pair"))
        """,
    )
    run = project.run().assert_right()
    assert run.report["value"] == "(4, 6)"
    assert "two different stages of this pipeline are named 'scale'" in run.stderr
