# The README's two commands: `make demo` and `make test`. Each installs what it needs into .venv.
# Deploying (docs/deploy.md): `make bootstrap`, `make synth`, `make diff`, `make deploy`, `make destroy`
# install only what synth needs into .venv-deploy (from the hashed infra/locks/deploy.txt) and run the
# CDK CLI pinned in package.json with that environment's python3 first on PATH (cdk.json runs
# `python3 infra/app.py`). Pass context and CLI options through:
#   make deploy CONTEXT='-c alarmEmail=oncall@example.com' ARGS='--require-approval never'
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCKS := infra/locks/runtime.txt infra/locks/deploy.txt
DEPLOY_VENV ?= .venv-deploy
DEPLOY_STAMP := $(DEPLOY_VENV)/.installed
CONTEXT ?=
ARGS ?=
STACK ?= Callscribe
CDK := PATH="$(abspath $(DEPLOY_VENV))/bin:$$PATH" ./node_modules/.bin/cdk

.PHONY: install test lint types unit demo bench lock lock-upgrade deploy-env synth diff bootstrap deploy \
	destroy outputs clean browser

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

## install: the test environment (.venv) and the browser tests' Chromium. Chromium is checked first: when
## it is missing and cannot be installed (not root, or apt-get fails), this stops at once saying how.
install: browser $(STAMP)

## browser: find the system's Chromium for tests/browser (installs Debian's package as root if missing).
browser:
	@scripts/ensure_chromium.sh

lint: $(STAMP)
	$(BIN)/ruff check .

types: $(STAMP)
	$(BIN)/mypy

## test: lint, type-check and run every suite (unit, integration, infra, e2e, browser). CI runs exactly this.
test: browser lint types
	$(BIN)/pytest -n 2 --dist loadscope

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

$(DEPLOY_STAMP): infra/locks/deploy.txt
	$(require_python_311)
	@test -x $(DEPLOY_VENV)/bin/python || $(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
		--no-deps --only-binary=:all: -r infra/locks/deploy.txt
	@touch $@

deploy-env: $(DEPLOY_STAMP) node_modules/.installed

## synth: synthesise the CDK app (no docker, no AWS credentials; PyPI for the Lambda bundles).
synth: deploy-env
	$(CDK) synth --quiet $(CONTEXT) $(ARGS)

diff: deploy-env
	$(CDK) diff $(CONTEXT) $(ARGS)

## bootstrap: once per account and region (AWS credentials, AWS_REGION).
bootstrap: deploy-env
	$(CDK) bootstrap $(CONTEXT) $(ARGS)

## deploy: builds the streamer image (docker with buildx), uploads the assets, deploys the stack.
deploy: deploy-env
	$(CDK) deploy $(CONTEXT) $(ARGS)

destroy: deploy-env
	$(CDK) destroy $(CONTEXT) $(ARGS)

## outputs: the deployed stack's outputs (STACK=<stackName> if you changed it).
outputs:
	aws cloudformation describe-stacks --stack-name $(STACK) --query 'Stacks[0].Outputs' --output table

clean:
	rm -rf $(VENV) $(DEPLOY_VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache
