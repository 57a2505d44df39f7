# Every target creates the virtual environment first if it is missing or out of date.
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
STAMP := $(VENV)/.installed
# `PORT=8100 make run` serves a second checkout beside the first.
PORT ?= 8000

.PHONY: run test install migrate services lint format clean
.PHONY: bench bench-quick wrk

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) catalog-compile  ## create .venv, install the app with its test tools, compile the translations

# Translations (docs/translations.md). The .pot and .po files are in git; the .mo files the
# app reads are built from them here, by `make install`, and never committed.
CATALOG_KEYWORDS := -k _l -k _n:1,2
.PHONY: catalog-extract catalog-update catalog-compile
catalog-extract: $(STAMP)  ## collect every marked string into translations/messages.pot
	$(BIN)/pybabel extract --no-location --sort-output --omit-header -F babel.cfg $(CATALOG_KEYWORDS) -o translations/messages.pot .

catalog-update: catalog-extract  ## merge translations/messages.pot into each language's .po (new strings arrive untranslated)
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete -i translations/messages.pot -d translations

catalog-compile: $(STAMP)  ## build the .mo files the app reads from the .po files
	$(BIN)/pybabel compile --statistics -d translations

migrate: install  ## apply the database migrations (DATABASE_URL, default SQLite under instance/)
	@$(BIN)/python scripts/preflight.py
	$(BIN)/alembic upgrade head

run: install  ## migrate, then serve http://127.0.0.1:$(PORT) (default 8000) and run the e-mail worker (Procfile); Ctrl-C stops both
	@$(BIN)/python scripts/preflight.py --bind 127.0.0.1:$(PORT)
	$(BIN)/alembic upgrade head
	GUNICORN_BIND=127.0.0.1:$(PORT) PROMETHEUS_MULTIPROC_DIR=$(abspath instance)/metrics-$(PORT) PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho start -f Procfile

services:  ## make sure PostgreSQL and Redis are running (the tests need both)
	bash scripts/ensure-services.sh

# The OpenID provider the staff sign-in tests run (tests/support/oidc: oidc-provider from
# npm, exactly as package-lock.json pins it). Remade when the lock file changes.
OIDC_MODULES := tests/support/oidc/node_modules/.package-lock.json
$(OIDC_MODULES): tests/support/oidc/package-lock.json
	npm ci --prefix tests/support/oidc --no-audit --no-fund
	touch $(OIDC_MODULES)

.PHONY: oidc-provider
oidc-provider: $(OIDC_MODULES)  ## install the test OpenID provider (Node.js 20.19+, npm)

test: install services oidc-provider  ## the whole suite, on SQLite and PostgreSQL
	$(BIN)/python -m pytest

wrk:  ## make sure the wrk load generator is installed (Debian package)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }

bench: install services wrk  ## the full benchmark against bare Flask (~12 min); writes docs/performance.md
	$(BIN)/python -m bench.run

bench-quick: install services wrk  ## a ~3-minute sanity run of the benchmark; writes instance/bench/quick.md
	BENCH_QUICK=1 $(BIN)/python -m bench.run

lint: install  ## ruff: the lint rules and the formatting (CI fails on either)
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

screenshots: install browser services  ## pictures of each page, 375 and 1280 px wide, into docs/screenshots/ (the browser tests' own pictures too)
	$(BIN)/python scripts/screenshots.py
	DOCS_SCREENSHOTS=1 $(BIN)/python -m pytest -q -m browser tests/browser

.PHONY: nginx cluster bench-cluster
nginx:  ## make sure Debian's nginx is there for the cluster (installs nginx-light when root)
	@bash scripts/ensure-nginx.sh

cluster: install services nginx  ## nginx + two app hosts on this machine (deploy/); Ctrl-C stops all
	$(BIN)/python -m deploy.cluster

bench-cluster: install services wrk nginx  ## the information page through nginx against a static file, and the cluster against one host
	$(BIN)/python -m bench.cluster

test: nginx

.PHONY: clamav
clamav:  ## make sure Debian's clamd is there for the records tests (installs clamav-daemon when root)
	@bash scripts/ensure-clamav.sh

test: clamav
.PHONY: monitoring pgbackrest drill
monitoring:  ## make sure Debian's prometheus (with promtool) and its nginx and node exporters are there for the monitoring tests
	@bash scripts/ensure-prometheus.sh

pgbackrest:  ## make sure Debian's pgbackrest is there for the backup drill
	@bash scripts/ensure-pgbackrest.sh

test: monitoring pgbackrest

drill: install services pgbackrest  ## the backup drill: PostgreSQL under load, base backup, restore to a point in time; SQLite's .backup while serving (~1 min)
	$(BIN)/python -m deploy.drill
