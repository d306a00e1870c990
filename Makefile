# Two commands: `make demo` (install what is missing, run the demo) and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Other fediverse software the federation tests talk to (bovine, fediverse-pasture), in a venv
# of its own: its pins (cryptography<46) differ from ours.
PEERS_VENV  := .venv-peers
PEERS_STAMP := $(PEERS_VENV)/.installed
# Node clients of the tests (tus-js-client); npm ci only when missing or the lock changed.
JS_STAMP := tests/js/node_modules/.package-lock.json
# The web app (web/README.md): npm ci when the lock changed, a build when its sources or the
# server's API (the app's types are generated from its OpenAPI document) changed.
WEB_STAMP := web/node_modules/.package-lock.json
WEB_BUILD := src/clipfeed/webapp/dist/index.html
WEB_SOURCES := $(shell find web/src web/public web/scripts -type f 2>/dev/null) web/index.html web/vite.config.ts \
               web/tsconfig.json web/svelte.config.js
API_SOURCES := $(shell find src/clipfeed -name '*.py' -not -path '*/webapp/dist/*' 2>/dev/null)

.PHONY: demo test install system-deps lint typecheck docs docs-check unit clean web web-unit

demo: install
	$(BIN)/clipfeed demo

# Two pytest-xdist workers taking whole modules (and whole folders that share a stack: see
# tests/conftest.py), then the tests that bound a latency (marked alone), by themselves.
test: install lint typecheck docs-check web-unit
	@start=$$(date +%s); $(BIN)/pytest -q -n 2 --dist loadfile -m 'not alone'; status=$$?; \
	$(BIN)/pytest -q -m alone || status=$$?; \
	echo "make test: pytest took $$(( $$(date +%s) - start )) s"; exit $$status

install: system-deps $(STAMP) $(PEERS_STAMP) $(JS_STAMP) web

system-deps:
	@scripts/install-system-deps

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) is required"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c requirements.lock -e '.[test]'
	touch $(STAMP)

$(PEERS_STAMP): tests/federation/peers.lock
	test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/pip install -q --disable-pip-version-check -r tests/federation/peers.lock
	touch $(PEERS_STAMP)

$(JS_STAMP): tests/js/package.json tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund
	touch $(JS_STAMP)

web: $(WEB_BUILD)

$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $(WEB_STAMP)

# Generates the API types with the venv's clipfeed, type-checks (svelte-check), then builds
# into the Python package.
$(WEB_BUILD): $(STAMP) $(WEB_STAMP) $(WEB_SOURCES) $(API_SOURCES)
	cd web && CLIPFEED_PYTHON=$(abspath $(BIN)/python) npm run build

web-unit: $(WEB_STAMP)
	cd web && npx vitest run

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

# The manual (docs/, mkdocs.yml). Offline: no fonts or scripts from a CDN.
docs-check: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8001

clean:
	rm -rf $(VENV) $(PEERS_VENV) var site .pytest_cache .mypy_cache .ruff_cache web/node_modules src/clipfeed/webapp/dist
