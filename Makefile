# The README's two commands: `make demo` and `make test`. Each installs what it needs into .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCKS := infra/locks/runtime.txt infra/locks/deploy.txt

.PHONY: install test lint types unit demo bench lock lock-upgrade synth clean

define require_python_311
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "$(PYTHON) is older than Python 3.11: set PYTHON=python3.11 (or newer)"; exit 1; }
endef

# The tests' environment takes the runtime and deploy locks as constraints: the tests run the library
# versions the Lambdas, the streamer and the synth run.
$(STAMP): pyproject.toml $(LOCKS)
	$(require_python_311)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python scripts/lock.py --constraints > $(VENV)/constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c $(VENV)/constraints.txt \
		-e '.[dev,infra,local]'
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

types: $(STAMP)
	$(BIN)/mypy

## test: lint, type-check and run every suite (unit, integration, infra, e2e). CI runs exactly this.
test: lint types
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

## demo: the whole call pipeline offline on local stand-ins; prints the finished call record.
demo: $(STAMP)
	$(BIN)/python -m callscribe_local.demo

bench: $(STAMP)
	$(BIN)/python bench/webhooks.py
	$(BIN)/python bench/streamer_load.py

## lock: recompile the hashed locks (infra/locks/, streamer/requirements.lock) after a dependency or
## range changes in pyproject.toml, streamer/requirements.txt or infra/dependencies.py; keeps the
## versions already locked where the ranges allow. lock-upgrade moves everything to the newest allowed.
lock: $(STAMP)
	$(BIN)/python scripts/lock.py

lock-upgrade: $(STAMP)
	$(BIN)/python scripts/lock.py --upgrade

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

## synth: synthesise the CDK app offline (no docker, no AWS credentials needed).
synth: $(STAMP) node_modules/.installed
	PATH="$(abspath $(BIN)):$$PATH" npx cdk synth --quiet

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache
