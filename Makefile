# The two commands of the README: `make demo` runs the main job on embedded defaults,
# `make test` runs the test suite. Both create the virtualenv on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-live lint format clean sandbox

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	@$(BIN)/payflows demo

test: $(STAMP)
	@bash scripts/install-test-browser.sh || echo "make test: chromium unavailable, the browser test will be skipped" >&2
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

# The integration suite against the gateway PRECIUM_* names, with its real test-mode keys:
# `PAYFLOWS_LIVE=1 make test-live`. Without PAYFLOWS_LIVE=1 it is skipped (docs/production.md).
test-live: $(STAMP)
	@if [ "$$PAYFLOWS_LIVE" != "1" ]; then echo "make test-live: skipped (set PAYFLOWS_LIVE=1 and the PRECIUM_* keys)"; \
	else $(BIN)/python -m pytest tests/integration -rs $(PYTEST_ARGS); fi

lint: $(STAMP)
	@$(BIN)/ruff check payflows tasks flows deployments apps tests bench
	@$(BIN)/ruff format --check payflows tasks flows deployments apps tests bench

format: $(STAMP)
	@$(BIN)/ruff check --fix payflows tasks flows deployments apps tests bench
	@$(BIN)/ruff format payflows tasks flows deployments apps tests bench

sandbox: $(STAMP)
	@$(BIN)/payflows sandbox

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache data/*.db data/out
