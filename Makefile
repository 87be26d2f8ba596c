# Two commands on a fresh machine: `make demo` and `make test`. Both bootstrap .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench install system-deps clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[all,dev]'
	touch $(STAMP)

install: $(STAMP)

system-deps:
	bash scripts/system-deps.sh

demo: install system-deps
	$(VENV)/bin/smileynet demo --out demo-out

test: install system-deps  # both tiers: the fast one (plain `pytest`) and the end-to-end one
	$(PY) -m pytest -m "not heavy"

lint: install
	$(VENV)/bin/ruff check src tests benchmarks hubconf.py
	$(VENV)/bin/ruff format --check src tests benchmarks hubconf.py
	$(VENV)/bin/mypy

bench: install system-deps
	bash benchmarks/run_all.sh

clean:
	rm -rf $(VENV) demo-out .pytest_cache
