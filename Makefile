# rongpay: `make demo` and `make test` set everything up themselves on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help demo test check bench fmt clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-7s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP) ## create .venv, install, seed demo data on SQLite, serve on http://127.0.0.1:8000
	$(BIN)/rongpay demo

test: $(STAMP) ## create .venv if needed and run the whole test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: $(STAMP) ## ruff (lint + format), mypy, import-linter: what CI checks
	$(BIN)/ruff check rongpay tests
	$(BIN)/ruff format --check rongpay tests
	$(BIN)/mypy rongpay
	$(BIN)/lint-imports

fmt: $(STAMP) ## format and auto-fix
	$(BIN)/ruff format rongpay tests
	$(BIN)/ruff check --fix rongpay tests

bench: $(STAMP) ## run every benchmark beside its baseline (a few minutes)
	$(BIN)/rongpay bench ledger
	$(BIN)/rongpay bench ledger --hot 0.9
	$(BIN)/rongpay bench risk
	$(BIN)/rongpay bench screen
	$(BIN)/rongpay bench aml

clean: ## remove the virtualenv and local databases
	rm -rf $(VENV) rongpay.db rongpay.db-wal rongpay.db-shm
