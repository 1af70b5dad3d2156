# The two commands of the README: `make demo` runs the main job on embedded defaults,
# `make test` runs the test suite. Both create the virtualenv on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

LOCK := requirements.lock
# The tool that writes the lock, pinned so that `make lock` gives the same file everywhere.
UV_VERSION := 0.13.8
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check

.PHONY: demo test test-unit test-integration test-prefect test-postgres test-browser lint format \
	clean sandbox lock test-live

# The versions CI tested: every dependency (runtime and dev) from the lock, each checked against
# its sha256; then payflows itself, editable, adding nothing.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(PIP) install --upgrade pip
	@$(PIP) install --require-hashes -r $(LOCK)
	@$(PIP) install --no-deps -e .
	@touch $(STAMP)

# Re-resolve pyproject.toml's dependencies (with the dev extra) into the lock, with hashes, for
# every platform and Python >= 3.11. Run after changing a dependency; commit the result.
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(PIP) install "uv==$(UV_VERSION)"
	@$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --no-header --quiet --output-file $(LOCK)
	@echo "wrote $(LOCK): $$(grep -c '^[a-z]' $(LOCK)) pinned packages"

demo: $(STAMP)
	@$(BIN)/payflows demo

test: $(STAMP)
	@bash scripts/install-test-browser.sh || echo "make test: chromium unavailable, the browser test will be skipped" >&2
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

# The tiers of `make test` (README "Tests"; tests/support/tiers.py marks every test).
test-unit: $(STAMP)  ## in-process, no server: seconds to a minute
	@$(BIN)/python -m pytest -m "unit and not mypy" $(PYTEST_ARGS)

test-integration: $(STAMP)  ## sandbox and web app over loopback, the installed package
	@$(BIN)/python -m pytest -m integration $(PYTEST_ARGS)

test-prefect: $(STAMP)  ## flows, pipelines and deployments on a real Prefect server
	@$(BIN)/python -m pytest -m "prefect and not postgres and not browser" $(PYTEST_ARGS)

test-postgres: $(STAMP)  ## the PostgreSQL variants (skipped unless 127.0.0.1:5432 answers)
	@$(BIN)/python -m pytest -m postgres $(PYTEST_ARGS)

test-browser: $(STAMP)  ## headless Chromium through checkout and 3-D Secure
	@bash scripts/install-test-browser.sh || echo "make test-browser: chromium unavailable, skipped" >&2
	@$(BIN)/python -m pytest -m browser $(PYTEST_ARGS)

# The integration suite against the gateway PRECIUM_* names, with its real test-mode keys:
# `PAYFLOWS_LIVE=1 make test-live`. Without PAYFLOWS_LIVE=1 it is skipped (docs/production.md).
test-live: $(STAMP)
	@if [ "$$PAYFLOWS_LIVE" != "1" ]; then echo "make test-live: skipped (set PAYFLOWS_LIVE=1 and the PRECIUM_* keys)"; \
	else $(BIN)/python -m pytest tests/integration -rs $(PYTEST_ARGS); fi

lint: $(STAMP)
	@$(BIN)/ruff check payflows tasks flows deployments apps tests bench scripts
	@$(BIN)/ruff format --check payflows tasks flows deployments apps tests bench scripts
	@$(BIN)/lint-imports --no-cache
	@$(BIN)/mypy
	@$(BIN)/python scripts/module_sizes.py

format: $(STAMP)
	@$(BIN)/ruff check --fix payflows tasks flows deployments apps tests bench scripts
	@$(BIN)/ruff format payflows tasks flows deployments apps tests bench scripts

sandbox: $(STAMP)
	@$(BIN)/payflows sandbox

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache data/*.db data/out
