# Whole Child. `make demo` and `make test` each do all their own set-up on a fresh machine with Python 3.11.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
INSTALLED := $(VENV)/.installed
MANIFEST := dbt_project/target/manifest.json
DBT_SOURCES := $(shell find dbt_project -path dbt_project/target -prune -o \( -name '*.sql' -o -name '*.yml' \) -print)

export WHOLECHILD_HOME ?= $(CURDIR)/data
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := false

DEMO_SCALE ?= 0.05
DEMO_SEED ?= 42

.PHONY: help install dfe-validators spark manifest demo region region-spark test lint dev clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

# The environment is rebuilt only when the pins change. uv installs in seconds where pip takes a minute;
# --compile-bytecode matters because PYTHONDONTWRITEBYTECODE may be set (docs/adr/0001).
$(INSTALLED): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@$(BIN)/uv pip sync --quiet --python $(BIN)/python --compile-bytecode requirements.lock
	@$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode --no-deps -e .
	@touch $@
	@echo "environment ready: $(VENV)"

install: $(INSTALLED)  ## create or update .venv from requirements.lock

# The DfE validators pin pandas below 2: they get an environment of their own, run by subprocess.
DFE_VENV := .venv-dfe
DFE_LOCK := orchestration/returns/validators/requirements.lock
DFE_INSTALLED := $(DFE_VENV)/.installed
$(DFE_INSTALLED): $(DFE_LOCK) $(INSTALLED)
	@test -x $(DFE_VENV)/bin/python || $(PYTHON) -m venv $(DFE_VENV)
	@$(BIN)/uv pip sync --quiet --python $(DFE_VENV)/bin/python --compile-bytecode $(DFE_LOCK)
	@touch $@
	@echo "DfE validators ready: $(DFE_VENV)"

dfe-validators: $(DFE_INSTALLED)  ## create or update .venv-dfe (csc-validator-be-903/-cin) from its lock

# The region's dbt models on Spark: dbt-spark (session) and PySpark in an environment of their own. Spark
# runs on the Java that Debian's openjdk-17 gives; none here means installing it first.
SPARK_VENV := .venv-spark
SPARK_LOCK := orchestration/region/requirements-spark.lock
SPARK_INSTALLED := $(SPARK_VENV)/.installed
$(SPARK_INSTALLED): $(SPARK_LOCK) $(INSTALLED)
	@command -v java >/dev/null || { echo "Spark needs Java: apt-get install openjdk-17-jre-headless" >&2; exit 1; }
	@test -x $(SPARK_VENV)/bin/python || $(PYTHON) -m venv $(SPARK_VENV)
	@$(BIN)/uv pip sync --quiet --python $(SPARK_VENV)/bin/python $(SPARK_LOCK)
	@touch $@
	@echo "Spark ready: $(SPARK_VENV)"

spark: $(SPARK_INSTALLED)  ## create or update .venv-spark (dbt-spark, PySpark) from its lock

# dagster-dbt reads dbt's manifest when the code location loads; it is built here, never committed.
$(MANIFEST): $(INSTALLED) $(DBT_SOURCES)
	@cd dbt_project && ../$(BIN)/dbt parse --quiet
	@touch $@

manifest: $(MANIFEST)  ## prepare the dbt manifest

demo: $(INSTALLED) $(DFE_INSTALLED) $(MANIFEST)  ## generate a small synthetic authority and run everything on it
	$(BIN)/wholechild generate --scale $(DEMO_SCALE) --seed $(DEMO_SEED)
	$(BIN)/wholechild run --demo

region: $(INSTALLED) $(DFE_INSTALLED) $(MANIFEST)  ## five synthetic authorities, their pipelines, and the region's marts built from what they send
	$(BIN)/wholechild region --demo

region-spark: $(INSTALLED) $(DFE_INSTALLED) $(MANIFEST) $(SPARK_INSTALLED)  ## the same, the region's marts built on Spark
	$(BIN)/wholechild region --demo --engine spark

lint: $(INSTALLED)  ## ruff on the Python, sqlfluff on the dbt models
	$(BIN)/ruff check orchestration tests
	$(BIN)/ruff format --check orchestration tests
	$(BIN)/sqlfluff lint dbt_project/models dbt_project/region/models --disable-progress-bar --nocolor

# The suite runs in two processes (pytest-xdist), each test file whole in one: a file's tests share its
# fixtures and some run in order. Much of a test is one core's work (dbt, the returns), so two at a time keep
# both cores busy: 1,210 s on this 2-core machine (2026-12-01), where one at a time took 1,438 to 1,771 s
# the same day (before two cuts of about 150 s to the pipeline tests). TEST_WORKERS=0: one at a time.
TEST_WORKERS ?= 2
test: $(INSTALLED) $(DFE_INSTALLED) $(SPARK_INSTALLED) $(MANIFEST) lint  ## lint, then the whole test suite
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

DOCS_PORT ?= 8580
# the UI on the demo's own home is the synthetic demo (throwaway keys); on any other home, set the keys
DEV_DEMO := $(if $(filter $(CURDIR)/data,$(WHOLECHILD_HOME)),1,)

dev: $(INSTALLED) $(MANIFEST)  ## the Dagster UI on http://127.0.0.1:3000 and the dbt docs on :8580
	@mkdir -p $(WHOLECHILD_HOME)/dagster $(WHOLECHILD_HOME)/dbt_docs && cp orchestration/dagster.yaml $(WHOLECHILD_HOME)/dagster/dagster.yaml
	@test -f $(WHOLECHILD_HOME)/dbt_docs/index.html || (cd dbt_project && WHOLECHILD_ANALYTICS_DB=$(WHOLECHILD_HOME)/warehouse/analytics.duckdb \
		../$(BIN)/dbt docs generate --quiet --target-path $(WHOLECHILD_HOME)/dbt_docs) || true
	@echo "dbt docs: http://127.0.0.1:$(DOCS_PORT) (rebuilt by every dbt build)"
	@$(BIN)/python -m http.server $(DOCS_PORT) --bind 127.0.0.1 --directory $(WHOLECHILD_HOME)/dbt_docs >/dev/null 2>&1 & \
	docs=$$!; trap "kill $$docs 2>/dev/null || true" EXIT INT TERM; \
	PATH="$(CURDIR)/$(BIN):$$PATH" DAGSTER_HOME=$(WHOLECHILD_HOME)/dagster WHOLECHILD_DEMO=$${WHOLECHILD_DEMO:-$(DEV_DEMO)} \
		$(BIN)/dagster dev -m orchestration.definitions -h 127.0.0.1 -p 3000

clean:  ## remove generated data and build output (keeps .venv)
	rm -rf data dbt_project/target dbt_project/logs .pytest_cache .ruff_cache
