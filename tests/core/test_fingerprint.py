"""Code fingerprints: what invalidates a stage and what does not."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import chkpt
from chkpt import fingerprint_code, fingerprint_source, fingerprint_value


def compile_func(source: str, name: str = "f", env: dict | None = None):
    namespace = dict(env or {})
    exec(compile(textwrap.dedent(source), f"<test-{hash(source)}>", "exec"), namespace)
    return namespace[name]


def test_comments_docstrings_and_formatting_do_not_count():
    base = fingerprint_source("def f(x):\n    return x + 1\n")
    assert (
        fingerprint_source('def f(x):\n    """Doc."""\n    # comment\n    return (x+1)\n') == base
    )
    assert fingerprint_source("@deco\ndef f(x):\n    return x + 1\n") == base
    assert fingerprint_source("def f(x):\n    return x + 2\n") != base


def test_defaults_are_part_of_the_fingerprint():
    def f(x=1):
        return x

    fp1 = fingerprint_code(f)
    f.__defaults__ = (2,)
    assert fingerprint_code(f) != fp1


HELPER_FACTOR = 2


def _helper(x):
    return x * HELPER_FACTOR


def uses_helper(x):
    return _helper(x)


def test_helpers_and_constants_it_reads_count():
    global HELPER_FACTOR
    before = fingerprint_code(uses_helper)
    HELPER_FACTOR = 3
    try:
        assert fingerprint_code(uses_helper) != before
    finally:
        HELPER_FACTOR = 2
    assert fingerprint_code(uses_helper) == before


def test_library_functions_and_objects_do_not_count():
    import json

    state = {"calls": object()}

    def f(x):
        return json.dumps(x), state

    assert fingerprint_code(f) == fingerprint_code(f)


def test_values_are_type_tagged():
    values = [1, 1.0, True, "1", b"1", (1,), [1], {1}, frozenset({1}), {"1": 1}, None, -0.0, 0.0]
    digests = [fingerprint_value(v) for v in values]
    assert len(set(digests)) == len(values)
    assert fingerprint_value(float("nan")) == fingerprint_value(float("nan"))


def test_numpy_and_pandas_values():
    import numpy as np
    import pandas as pd

    a = np.arange(10)
    assert fingerprint_value(a) == fingerprint_value(np.arange(10))
    assert fingerprint_value(a) != fingerprint_value(a.astype("int32"))
    assert fingerprint_value(a) != fingerprint_value(a.reshape(2, 5))
    df = pd.DataFrame({"x": [1, 2]})
    assert fingerprint_value(df) == fingerprint_value(pd.DataFrame({"x": [1, 2]}))
    assert fingerprint_value(df) != fingerprint_value(pd.DataFrame({"x": [1, 3]}))


MODULE_V1 = '''
import chkpt

SCALE = {scale}

def helper(x):
    # a comment that changes: {comment}
    return x * SCALE

@chkpt.Stage.wrap()
def source():
    """Docstring {comment}."""
    return 21

@chkpt.Stage.wrap()
def doubled(x):
    return helper(x)

pipeline = source >> doubled
'''

RUNNER = """
import sys, json
sys.path.insert(0, sys.argv[1])
import mod, chkpt
run = mod.pipeline.run(chkpt.Config(load=True, dir=sys.argv[2]))
print(json.dumps({"value": run.value, "actions": run.actions(), "reasons": {r.stage: r.reason for r in run}}))
"""


def _run_module(tmp_path, scale, comment):
    import json

    (tmp_path / "pkg").mkdir(exist_ok=True)
    (tmp_path / "pkg" / "mod.py").write_text(MODULE_V1.format(scale=scale, comment=comment))
    out = subprocess.run(
        [sys.executable, "-c", RUNNER, str(tmp_path / "pkg"), str(tmp_path / "ckpt")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def test_code_edits_across_separate_processes(tmp_path):
    first = _run_module(tmp_path, scale=2, comment="a")
    assert first["value"] == 42 and set(first["actions"].values()) == {"computed"}
    cosmetic = _run_module(tmp_path, scale=2, comment="b")  # comments/docstrings changed only
    assert cosmetic["actions"] == {"source": "skipped", "doubled": "loaded"}
    edited = _run_module(tmp_path, scale=3, comment="b")  # a constant the helper reads changed
    assert edited["value"] == 63
    assert edited["actions"] == {"source": "loaded", "doubled": "computed"}
    assert edited["reasons"]["doubled"] == "code changed"
    back = _run_module(tmp_path, scale=2, comment="c")  # switching back hits the kept entry
    assert back["actions"] == {"source": "skipped", "doubled": "loaded"} and back["value"] == 42


def test_make_key_is_order_sensitive():
    assert chkpt.make_key("a", "b") != chkpt.make_key("b", "a")


def test_calling_another_stage_function_counts_its_code():
    env: dict = {"chkpt": chkpt}
    exec("import chkpt\n@chkpt.Stage.wrap()\ndef inner(x):\n    return x + 1\n", env)
    outer_src = "def outer(x):\n    return inner.func(x)\n"
    exec(outer_src, env)
    before = fingerprint_code(env["outer"])
    exec("@chkpt.Stage.wrap()\ndef inner(x):\n    return x + 2\n", env)
    assert fingerprint_code(env["outer"]) != before


def test_a_class_without_source_is_hashed_by_its_members():
    def define(body: str):
        env: dict = {"__name__": "__main__"}  # as in a notebook: no source file
        exec(f"class Model:\n    RATE = 2\n    def predict(self, x):\n        return {body}\n", env)
        exec("def use(x):\n    return Model().predict(x)\n", env)
        return env["use"]

    assert fingerprint_code(define("x * self.RATE")) == fingerprint_code(define("x * self.RATE"))
    assert fingerprint_code(define("x * self.RATE")) != fingerprint_code(define("x + self.RATE"))


def test_user_getattr_is_never_triggered():
    touched = []

    class Spy:
        def __init__(self):
            self.k = 1

        def __getattr__(self, name):
            touched.append(name)
            raise KeyError(name)  # as `class AttrDict(dict): __getattr__ = dict.__getitem__`

    spy = Spy()

    def f():
        return spy.k

    assert fingerprint_code(f) == fingerprint_code(f)
    assert touched == []


def test_optional_libraries_are_not_imported_to_fingerprint_plain_values():
    code = (
        "import sys, chkpt\n"
        "chkpt.fingerprint_value({'a': [1, 2.0, {3}], 'b': (None, b'x')})\n"
        "print(sorted(m for m in ('numpy', 'pandas', 'xxhash') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_registered_fingerprint_by_type_name():
    import fractions

    from chkpt import register_fingerprint

    seen = []

    def plain(f):
        seen.append(f)
        return (f.numerator, f.denominator)

    register_fingerprint("fractions.Fraction", plain)
    assert fingerprint_value(fractions.Fraction(1, 3)) != fingerprint_value(
        fractions.Fraction(1, 4)
    )
    assert seen


def test_code_constants_and_values_do_not_depend_on_the_hash_seed():
    code = (
        "import chkpt\n"
        "def f(x, tags=frozenset({'p', 'q', 'r', 's'})):\n"
        "    return x in {'alpha', 'beta', 'gamma', 'delta'}, WORDS\n"
        "WORDS = {'u', 'v', 'w', ('x', frozenset({'y', 'z'}))}\n"
        "print(chkpt.fingerprint_code(f))"
    )
    prints = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(prints) == 1


def test_a_bound_helper_reading_the_environment_is_warned_about_naming_the_stage():
    import os
    import warnings

    import chkpt

    def lookup():
        return os.getenv("CHKPT_TEST_UNDECLARED", "a")

    def use(helper):
        return helper()

    stage = chkpt.Stage(use, name="uses_env_helper").bind(helper=lookup)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stage.param_fingerprints()
    texts = [str(w.message) for w in caught if issubclass(w.category, chkpt.KeyWarning)]
    assert any("uses_env_helper" in t and "environment" in t for t in texts), texts
