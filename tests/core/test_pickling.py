"""Decorated stages pickle by reference, so process pools work with the seed's own spelling."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap

import chkpt

MODULE = """
import os
import chkpt

@chkpt.Stage.wrap()
def where():
    return os.getpid()

@chkpt.Stage.wrap()
def pair(a, b, scale=1):
    return [a, b, os.getpid(), scale]
"""

MAIN = """
import os, pickle, sys
from concurrent.futures import ProcessPoolExecutor
sys.path.insert(0, sys.argv[1])
import chkpt, stages_mod as m

assert pickle.loads(pickle.dumps(m.where)) is m.where           # the module attribute itself
bound = pickle.loads(pickle.dumps(m.pair.bind(scale=3)))        # a copy: reference + settings
assert bound.params == {"scale": 3} and bound.func is m.pair.func and bound.name == "pair"
p = (m.where, m.where) >> m.pair.bind(scale=3)
with ProcessPoolExecutor(2) as pool:
    value = p(chkpt.Config(dir=sys.argv[2], executor=pool))
print([pid != os.getpid() for pid in value[:3]], value[3])
print(p.run(chkpt.Config(dir=sys.argv[2], load=True)).actions())
"""


def test_decorated_stages_run_in_a_process_pool(tmp_path):
    (tmp_path / "stages_mod.py").write_text(textwrap.dedent(MODULE))
    out = subprocess.run(
        [sys.executable, "-c", MAIN, str(tmp_path), str(tmp_path / "ckpt")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "[True, True, True] 3"  # every stage ran in a worker process
    assert lines[1] == "{'where': 'skipped', 'pair': 'loaded'}"


def test_stages_without_a_module_name_pickle_by_value_of_their_function():
    stage = chkpt.Stage(len, name="length").bind()
    copy = pickle.loads(pickle.dumps(stage))
    assert copy.func is len and copy.name == "length"
