"""The README's Python snippets run as written (notebook-only snippets aside)."""

from __future__ import annotations

import pathlib
import re

README = pathlib.Path(__file__).parents[2] / "README.md"


def test_readme_python_snippets_run_in_order():
    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    runnable = [b for b in blocks if not re.search(r"^\s*%", b, flags=re.M)]
    assert len(runnable) >= 2
    namespace: dict = {}
    for block in runnable:
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["result"] == ["123", "456"]
    assert namespace["run"].value == ["123", "456"]
