# Two commands for a newcomer: `make run` and `make test`. Everything else is set up on demand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= data
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest postgres-binaries clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/registry demo --reuse --data-dir $(DATA_DIR)

# Debian's PostgreSQL server for the throw-away test cluster; installed when missing.
postgres-binaries:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  { echo "installing Debian's postgresql package"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy domain ledger

pytest: $(STAMP) postgres-binaries
	$(BIN)/pytest -q

test: lint typecheck pytest

# In-process benchmarks; the peers of the matching benchmark come from the 'bench' extra.
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m loadtests.bench_matching
	$(BIN)/python -m loadtests.bench_ledger
	$(BIN)/python -m loadtests.bench_replay
	$(BIN)/python -m loadtests.bench_exchange

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
