# Two commands for a newcomer: `make run` and `make test`. Everything else is set up on demand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= data
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest postgres-binaries chromium clean bench i18n
.PHONY: loadtest loadtest-postgres bench-http faults

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,load]'
	touch $(STAMP)

# The console's front-end packages (Swagger UI, ReDoc, axe-core for the browser tests), fetched
# from the npm registry at pinned versions and digests and served by the service itself: no
# CDN, so /docs, /redoc and the console work offline (api/console/vendor.py).
VENDOR_STAMP := api/console/static/vendor/.installed
$(VENDOR_STAMP): $(STAMP) api/console/vendor.py
	$(BIN)/python -m api.console.vendor
	touch $(VENDOR_STAMP)

# Seed the demo world into an empty data folder (else print its summary), print the console's
# and the API docs' URLs and one bearer token per role, then serve them until interrupted.
run: $(STAMP) $(VENDOR_STAMP)
	$(BIN)/registry demo --reuse --data-dir $(DATA_DIR)
	$(BIN)/registry token demo --data-dir $(DATA_DIR) --url http://$(HOST):$(PORT)
	$(BIN)/registry serve --data-dir $(DATA_DIR) --host $(HOST) --port $(PORT)

# Debian's PostgreSQL server for the throw-away test cluster; installed when missing.
postgres-binaries:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  { echo "installing Debian's postgresql package"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

# Debian's Chromium for the console's browser tests (driven by Playwright from PyPI, never a
# browser build of Playwright's own) and a CJK font for its screenshots; installed when missing.
chromium:
	@{ test -x /usr/bin/chromium && test -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc; } || \
	  { echo "installing Debian's chromium and fonts-wqy-microhei packages"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      chromium fonts-wqy-microhei >/dev/null; }

# Re-extract the console's msgids (templates, api/console/*.py) and merge them into the
# catalogues; new msgids then need their translation (a test fails until they have one).
i18n: $(STAMP)
	$(BIN)/pybabel extract -F api/console/babel.cfg -k N_ --no-location --omit-header \
	  --sort-output -o api/console/locale/messages.pot api/console
	$(BIN)/pybabel update -i api/console/locale/messages.pot -d api/console/locale \
	  --no-fuzzy-matching --ignore-obsolete --width 100

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy domain ledger

pytest: $(STAMP) $(VENDOR_STAMP) postgres-binaries chromium
	$(BIN)/pytest -q

test: lint typecheck pytest

# Every BENCHMARKS.md figure: the in-process benchmarks (the matching peers come from the
# 'bench' extra), the durable order path on SQLite and PostgreSQL, and the runs of bench-http,
# each writing its figures as JSON into one folder, emptied first so that a run that did not
# happen shows as "not run"; then the report block at the top of BENCHMARKS.md is rendered from
# that folder alone. A failing step does not stop the others (the report shows what they
# measured), but the target fails at the end, naming it.
BENCH_RESULTS := loadtests/results/bench
BENCH_FAILED = || echo $(1) >> $(BENCH_RESULTS)/failed
bench: $(STAMP) postgres-binaries
	$(BIN)/pip install --quiet -e '.[dev,bench,load]'
	rm -rf $(BENCH_RESULTS) && mkdir -p $(BENCH_RESULTS)
	$(BIN)/python -m loadtests.bench_matching --json $(BENCH_RESULTS)/matching.json \
	  $(call BENCH_FAILED,matching)
	$(BIN)/python -m loadtests.bench_ledger --json $(BENCH_RESULTS)/ledger.json \
	  $(call BENCH_FAILED,ledger)
	$(BIN)/python -m loadtests.bench_replay --json $(BENCH_RESULTS)/replay.json \
	  $(call BENCH_FAILED,replay)
	$(BIN)/python -m loadtests.bench_exchange --store sqlite \
	  --json $(BENCH_RESULTS)/exchange-sqlite.json $(call BENCH_FAILED,exchange-sqlite)
	$(BIN)/python -m loadtests.bench_exchange --store postgres \
	  --json $(BENCH_RESULTS)/exchange-postgres.json $(call BENCH_FAILED,exchange-postgres)
	$(BIN)/python -m loadtests.run_load --compare --seconds $(LOADTEST_SECONDS) \
	  --users $(LOADTEST_USERS) --results $(BENCH_RESULTS)/http-sqlite \
	  $(call BENCH_FAILED,http-sqlite)
	$(BIN)/python -m loadtests.run_load --compare --store postgres --workers 2 \
	  --seconds $(LOADTEST_SECONDS) --users $(LOADTEST_USERS) \
	  --results $(BENCH_RESULTS)/http-postgres $(call BENCH_FAILED,http-postgres)
	$(BIN)/python -m loadtests.bench_bulk --json $(BENCH_RESULTS)/bulk.json \
	  $(call BENCH_FAILED,bulk)
	$(BIN)/python -m loadtests.bench_report --results $(BENCH_RESULTS)
	@if [ -e $(BENCH_RESULTS)/failed ]; then \
	  echo "failed: $$(tr '\n' ' ' < $(BENCH_RESULTS)/failed)"; exit 1; fi

# Load runs of the HTTP API under Locust: start the service on a free loopback port with a fresh
# data folder, seed it, run headless for LOADTEST_SECONDS, enforce thresholds, stop it by its
# pid, check nothing was lost. Reports (HTML, JSON, CSV) in loadtests/results/ (git-ignored).
LOADTEST_SECONDS ?= 60
LOADTEST_USERS ?= 50
loadtest: $(STAMP)
	$(BIN)/python -m loadtests.run_load --seconds $(LOADTEST_SECONDS) --users $(LOADTEST_USERS)

loadtest-postgres: $(STAMP) postgres-binaries
	$(BIN)/python -m loadtests.run_load --store postgres --workers 2 \
	  --seconds $(LOADTEST_SECONDS) --users $(LOADTEST_USERS)

# The BENCHMARKS.md figures: each load run, then order submission and /bench/echo saturated back
# to back with the same settings, on SQLite and on PostgreSQL.
bench-http: $(STAMP) postgres-binaries
	$(BIN)/python -m loadtests.run_load --compare --seconds $(LOADTEST_SECONDS) \
	  --users $(LOADTEST_USERS)
	$(BIN)/python -m loadtests.run_load --compare --store postgres --workers 2 \
	  --seconds $(LOADTEST_SECONDS) --users $(LOADTEST_USERS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The fault suite (loadtests/faults.py): recording clients drive orders, cancels, deposits and
# transfers over HTTP against `registry serve` through kill -9 (SQLite), a killed worker and a
# killed-and-restarted PostgreSQL (two workers), a full disk (a tmpfs, root only) and the CLI
# beside the service, checking the store and the ledger after every round; progress on the
# terminal, figures into BENCHMARKS.md. At most FAULTS_BUDGET_SECONDS (default 900) of rounds;
# FAULTS_ROUNDS (N, or KIND=N,...), FAULTS_KINDS, FAULTS_TRAFFIC_SECONDS choose what runs;
# FAULTS_BENCHMARKS the file whose fault block gets the figures (a scratch copy for a trial run).
FAULTS_BENCHMARKS ?= BENCHMARKS.md
faults: $(STAMP) postgres-binaries
	$(BIN)/python -m loadtests.faults --benchmarks $(FAULTS_BENCHMARKS)
