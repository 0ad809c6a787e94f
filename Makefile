# The two commands a newcomer needs: `make serve` and `make test`.
# Everything installs into ./.venv from PyPI; nothing else is required.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install serve test lint bench bench-inprocess bench-memory soak clean

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
	$(VENV)/bin/mypy gateway tests bench

test: lint
	$(VENV)/bin/spawngate policy check
	$(VENV)/bin/spawngate policy test
	$(PY) -m pytest

# The fault suite at length: more rounds of Redis kills and freezes, gateway
# kill -9 and upstream faults, plus a mixed run (about 5 minutes on 2 cores).
soak: install
	SPAWNGATE_SOAK=1 $(PY) -m pytest tests/faults --timeout 1800

# The gateway against a bare endpoint under wrk (an external load generator,
# `apt-get install wrk`), alternating rounds; options: `$(PY) -m bench.bench_load -h`.
bench: install
	$(PY) -m bench.bench_load

# In-process cost per decision as tenants and agents grow (flatness, not client latency).
bench-inprocess: install
	$(PY) bench/bench_admission.py

# RSS over danger-corpus passes and embedded Rego decisions, both native load orders.
bench-memory: install
	$(PY) bench/bench_memory.py

clean:
	rm -rf $(VENV) .spawngate .pytest_cache .mypy_cache .ruff_cache
