# The README's two commands: `make demo` and `make test`. Each installs what it needs into .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint types unit demo bench synth clean browser

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,infra,local]'
	@touch $(STAMP)

install: $(STAMP) browser

## browser: find the system's Chromium for tests/browser (installs Debian's package as root if missing).
browser:
	@scripts/ensure_chromium.sh

lint: $(STAMP)
	$(BIN)/ruff check .

types: $(STAMP)
	$(BIN)/mypy

## test: lint, type-check and run every suite (unit, integration, infra, e2e, browser). CI runs exactly this.
test: lint types browser
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

## demo: the whole call pipeline offline on local stand-ins; prints the finished call record.
demo: $(STAMP)
	$(BIN)/python -m callscribe_local.demo

bench: $(STAMP)
	$(BIN)/python bench/webhooks.py
	$(BIN)/python bench/streamer_load.py

node_modules/.installed: package.json
	npm install --no-audit --no-fund
	@touch $@

## synth: synthesise the CDK app offline (no docker, no AWS credentials needed).
synth: $(STAMP) node_modules/.installed
	PATH="$(abspath $(BIN)):$$PATH" npx cdk synth --quiet

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache
