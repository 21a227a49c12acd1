"""The example scripts run as a user runs them, and the second run reuses the first's work."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

EXAMPLES = pathlib.Path(__file__).parents[2] / "examples"


def run_example(name: str, tmp_path, **env: str) -> str:
    environ = {**os.environ, "CHKPT_DIR": str(tmp_path / "ckpt"), **env}
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_demo_skips_the_slow_download_on_the_second_run(tmp_path):
    out = run_example("demo.py", tmp_path, DEMO_SECONDS="0.2")
    first, second = out.split("run 1:")[1].split("run 2:")
    assert "big_download2              computed" in first
    assert "big_download2              loaded" in second
    assert "{'n': 10, 'mean_price': 100.375}" in second


def test_features_example_reruns_only_what_a_parameter_change_touches(tmp_path):
    first = run_example("features.py", tmp_path)
    assert "fit:" in first and "download  computed" in first
    second = run_example("features.py", tmp_path)
    assert "download  skipped" in second and "fit       loaded" in second
    third = run_example("features.py", tmp_path, WINDOW="7")
    assert (
        "smooth    computed" in third
        and "returns   loaded" in third
        and "fit       computed" in third
        and "download  loaded" in third
    )
