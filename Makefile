# The two commands a newcomer needs: `make serve` and `make test`.
# Everything installs into ./.venv from PyPI; nothing else is required.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install serve test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

serve: install
	$(VENV)/bin/spawngate serve

lint: install
	$(VENV)/bin/ruff check gateway tests bench
	$(VENV)/bin/ruff format --check gateway tests bench
	$(VENV)/bin/mypy gateway

test: lint
	$(VENV)/bin/spawngate policy check
	$(VENV)/bin/spawngate policy test
	$(PY) -m pytest

bench: install
	$(PY) bench/bench_admission.py

clean:
	rm -rf $(VENV) .spawngate .pytest_cache .mypy_cache .ruff_cache
