# Every target creates the virtual environment first if it is missing or out of date.
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
STAMP := $(VENV)/.installed

.PHONY: run test install migrate services lint format clean
.PHONY: bench bench-quick wrk

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the app with its test tools

migrate: install  ## apply the database migrations (DATABASE_URL, default SQLite under instance/)
	$(BIN)/alembic upgrade head

run: migrate  ## start gunicorn on http://127.0.0.1:8000 and the e-mail worker (Procfile); Ctrl-C stops both
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho start -f Procfile

services:  ## make sure PostgreSQL and Redis are running (the tests need both)
	bash scripts/ensure-services.sh

test: install services  ## the whole suite, on SQLite and PostgreSQL
	$(BIN)/python -m pytest

wrk:  ## make sure the wrk load generator is installed (Debian package)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }

bench: install services wrk  ## the full benchmark against bare Flask (~12 min); writes docs/performance.md
	$(BIN)/python -m bench.run

bench-quick: install services wrk  ## a ~3-minute sanity run of the benchmark; writes instance/bench/quick.md
	BENCH_QUICK=1 $(BIN)/python -m bench.run

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

.PHONY: browser screenshots
browser:  ## make sure Debian's Chromium is there for the browser tests (installs it when root)
	@bash scripts/ensure-chromium.sh

test: browser

screenshots: install browser  ## pictures of each page, 375 and 1280 px wide, into docs/screenshots/
	$(BIN)/python scripts/screenshots.py
