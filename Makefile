# Two commands for a newcomer: `make run` (demo server on SQLite) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 5000
BIN := $(VENV)/bin

.PHONY: run serve test check lint format clean system-packages

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: $(BIN)/.installed
	DEMO_MODE=1 $(BIN)/flask --app wsgi db upgrade
	DEMO_MODE=1 $(BIN)/flask --app wsgi demo --url http://$(HOST):$(PORT)
	DEMO_MODE=1 OAUTH_ISSUER=$${OAUTH_ISSUER:-http://$(HOST):$(PORT)} $(BIN)/flask --app wsgi run --host $(HOST) --port $(PORT)

# Production: Granian (serve.py) on the PostgreSQL and Redis of the environment
# (DATABASE_URL, REDIS_URL, SECRET_KEY, OAUTH_ISSUER; migrations first: docs/deploy.md).
serve: $(BIN)/.installed
	@test -n "$$DATABASE_URL" || { echo "make serve: DATABASE_URL (PostgreSQL) is not set" >&2; exit 2; }
	@test -n "$$REDIS_URL" || { echo "make serve: REDIS_URL is not set" >&2; exit 2; }
	$(BIN)/python serve.py --host $(HOST) --port $(PORT)

test: $(BIN)/.installed system-packages
	$(BIN)/pytest $(PYTEST_ARGS)

# Debian's packages the tests drive: chromium (the browser tests) and nginx (the many-nodes run).
system-packages:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "== installing$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "make: the tests need$$missing: apt-get install -y$$missing (as root)" >&2; exit 1; \
		fi; \
	fi

# The developer's loop: lint and the fast tests (no browser, no server processes, no long runs),
# in two processes on the embedded default (each its own SQLite file and in-process stores);
# in one against PostgreSQL and Redis, whose one database every test empties. Byte-code is
# cached even where the environment says not to: without it every worker compiles, and pytest
# rewrites, every module again (seconds each run).
CHECK_WORKERS ?= $(if $(DATABASE_URL)$(REDIS_URL),0,2)
check: lint
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -q -x -n $(CHECK_WORKERS) -m "not slow and not browser and not live and not fuzz" $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
