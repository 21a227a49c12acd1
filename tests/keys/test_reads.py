"""Reads a fingerprint cannot see: files a stage opens while it runs are recorded with its
checkpoint (a changed file is a changed input), environment variables are declared or warned about."""

from __future__ import annotations

import os

READER = """
import json, pathlib, chkpt, chkpt_harness

@chkpt.Stage.wrap()
def load():
    with open("data.csv") as f:
        return f.read().splitlines()

@chkpt.Stage.wrap()
def settings():
    return json.loads(pathlib.Path("conf/settings.json").read_text())

@chkpt.Stage.wrap()
def total(rows, conf):
    return sum(int(r) for r in rows) * conf["scale"]

chkpt_harness.check((load, settings) >> total)
"""


def test_a_changed_file_is_a_changed_input(project):
    project.write("data.csv", "1\n2\n3\n")
    project.write("conf/settings.json", '{"scale": 2}')
    project.write("main.py", READER)
    assert project.run().assert_right().report["value"] == "12"
    assert project.run().assert_right().hit("total")
    project.edit("data.csv", "3", "4", same_second=True)  # same size, same mtime
    run = project.run().assert_right()
    assert run.report["value"] == "14" and run.reason("load") == "file changed: data.csv"
    assert run.reason("total") == "input changed: load" and run.hit("settings")
    project.edit("conf/settings.json", '"scale": 2', '"scale": 3')
    run = project.run().assert_right()
    assert run.report["value"] == "21"
    assert run.reason("settings") == f"file changed: {os.path.join('conf', 'settings.json')}"
    assert run.hit("load")
    assert project.run().assert_right().hit("total")


def test_touching_a_file_without_changing_it_still_hits(project):
    project.write("data.csv", "5\n")
    project.write("conf/settings.json", '{"scale": 1}')
    project.write("main.py", READER)
    project.run().assert_right()
    project.edit("data.csv", "5", "5")  # a new mtime, the same content
    assert project.run().assert_right().hit("total")


def test_a_deleted_input_file_recomputes_and_fails_like_the_plain_call(project):
    project.write("data.csv", "5\n")
    project.write("conf/settings.json", '{"scale": 1}')
    project.write("main.py", READER)
    project.run().assert_right()
    (project.path / "data.csv").unlink()
    try:
        project.run()
    except AssertionError as exc:
        assert "FileNotFoundError" in str(exc) and "data.csv" in str(exc)
    else:
        raise AssertionError("a checkpoint was served for a file that is gone")


def test_files_read_through_numpy_and_pandas(project):
    project.write("table.csv", "a,b\n1,2\n3,4\n")
    project.write("nums.txt", "1 2\n")
    project.write(
        "main.py",
        """
        import numpy as np, pandas as pd, chkpt, chkpt_harness

        @chkpt.Stage.wrap()
        def frame():
            return int(pd.read_csv("table.csv")["b"].sum() + np.loadtxt("nums.txt").sum())

        chkpt_harness.check(() >> frame)
        """,
    )
    assert project.run().assert_right().report["value"] == "9"
    project.edit("table.csv", "3,4", "3,5", same_second=True)
    run = project.run().assert_right()
    assert run.report["value"] == "10" and run.reason("frame") == "file changed: table.csv"
    project.edit("nums.txt", "1 2", "1 3")
    run = project.run().assert_right()
    assert run.report["value"] == "11" and run.reason("frame") == "file changed: nums.txt"


ENV = """
import os, chkpt, chkpt_harness

@chkpt.Stage.wrap({declare})
def scaled():
    return int(os.environ.get("SCALE", "1")) * 10

chkpt_harness.check(() >> scaled)
"""


def test_environment_read_undeclared_warns(project):
    project.write("main.py", ENV.format(declare=""))
    run = project.run(SCALE="2").assert_right()
    assert "KeyWarning" in run.stderr and "'scaled'" in run.stderr and "os.environ" in run.stderr
    assert 'env=["NAME"' in run.stderr


def test_environment_declared_is_part_of_the_key(project):
    project.write("main.py", ENV.format(declare='env=["SCALE"]'))
    first = project.run(SCALE="2").assert_right()
    assert first.report["value"] == "20" and "KeyWarning" not in first.stderr
    assert project.run(SCALE="2").assert_right().hit("scaled")
    run = project.run(SCALE="3").assert_right()
    assert run.report["value"] == "30" and run.reason("scaled") == "environment changed: SCALE"
