# Newswire developer commands. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help

.PHONY: help install lock run test test-fast test-deploy lint format bench bench-compose compose-check clean browser-deps bench-console

help: ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements-dev.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP) ## Create .venv with the pinned dependencies (hash-checked)

lock: ## Re-resolve both locks from pyproject.toml (universal: Python 3.11.0 to 3.13, hashes)
	$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --user uv
	$(PYTHON) -m uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
		--strip-extras --extra dev --custom-compile-command "make lock" -o requirements-dev.lock -q
	$(PYTHON) -m uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
		--strip-extras --custom-compile-command "make lock" -o requirements.lock -q

run: $(STAMP) ## Ingest the bundled samples on the embedded default (SQLite, no broker) and show them
	env -u NEWSWIRE_BROKER_URL $(BIN)/newswire ingest samples/
	env -u NEWSWIRE_BROKER_URL $(BIN)/newswire articles

test: $(STAMP) ## Run every test but the Docker ones (needs PostgreSQL and Redis on 127.0.0.1)
	env -u NEWSWIRE_BROKER_URL -u NEWSWIRE_DATABASE_URL $(BIN)/python -m pytest -m "not deploy" $(PYTEST_ARGS)

test-fast: $(STAMP) ## Tests without the end-to-end and fault suites
	env -u NEWSWIRE_BROKER_URL -u NEWSWIRE_DATABASE_URL $(BIN)/python -m pytest -m "not e2e and not faults and not deploy" $(PYTEST_ARGS)

test-deploy: $(STAMP) ## docker-compose.yml on a real Docker engine (builds the image; see README)
	$(BIN)/python -m pytest tests/deploy -m deploy $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check, ruff format --check, mypy, import contracts (.importlinter), hadolint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared services
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile

format: $(STAMP) ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP) ## Run the benchmarks (print figures; needs PostgreSQL and Redis)
	$(BIN)/python bench/enrich_speed.py
	$(BIN)/python bench/enrich_quality.py --data ../shared/eval
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/store.py
	$(BIN)/python bench/pipeline.py

bench-compose: $(STAMP) ## Same load through the compose stack (Docker) and local processes
	$(BIN)/python bench/compose_pipeline.py

browser-deps: ## Install Debian's chromium for the console browser tests (when missing)
	tests/console/browser-deps.sh

bench-console: $(STAMP) ## Console page load times with 100,000 articles (PostgreSQL, Redis)
	$(BIN)/python bench/console_load.py

compose-check: ## Validate docker-compose.yml with the example environment (no engine needed)
	docker-compose --env-file .env.example -f docker-compose.yml config -q

clean: ## Remove the virtualenv, caches and the embedded database
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache newswire.db newswire.db-wal newswire.db-shm
