# Two commands do all set-up on a fresh machine:  `make demo`  and  `make test`.
PY := .venv/bin/python

.venv/.installed: pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	touch .venv/.installed

.PHONY: demo test lint bench soak
demo: .venv/.installed
	$(PY) examples/demo.py

test: .venv/.installed
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: .venv/.installed
	$(PY) -m ruff check . && $(PY) -m ruff format --check .
	$(PY) -m mypy  # strict on the public API, normal elsewhere (pyproject's [tool.mypy])

bench: .venv/.installed
	$(PY) bench/run_all.py
