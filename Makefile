# Two commands: `make demo` (install what is missing, run the demo) and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Node clients of the tests (tus-js-client); npm ci only when missing or the lock changed.
JS_STAMP := tests/js/node_modules/.package-lock.json

.PHONY: demo test install system-deps lint typecheck docs docs-check unit clean

demo: install
	$(BIN)/clipfeed demo

test: install lint typecheck docs-check
	@start=$$(date +%s); $(BIN)/pytest -q; status=$$?; \
	echo "make test: pytest took $$(( $$(date +%s) - start )) s"; exit $$status

install: system-deps $(STAMP) $(JS_STAMP)

system-deps:
	@scripts/install-system-deps

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) is required"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c requirements.lock -e '.[test]'
	touch $(STAMP)

$(JS_STAMP): tests/js/package.json tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund
	touch $(JS_STAMP)

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
	rm -rf $(VENV) var site .pytest_cache .mypy_cache .ruff_cache
