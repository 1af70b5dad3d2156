"""mypy --strict stays clean on the typed core (``[tool.mypy]`` in pyproject.toml says which).

Marked ``mypy`` (about half a minute on a cold cache): ``pytest -m "not mypy"`` skips it, and
``make test-unit`` does; ``make test`` and ``make lint`` run it.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.mypy


def _config() -> dict:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)["tool"]["mypy"]


def test_the_typed_core_is_strict_and_covers_domain_gateway_and_ledger():
    config = _config()
    assert config["strict"] is True
    files = set(config["files"])
    assert {"payflows/domain", "payflows/gateway", "payflows/ledger", "payflows/payments"} <= files
    # No module of those is exempt: an override that ignores errors would hide them.
    for override in config.get("overrides", []):
        if override.get("ignore_errors"):
            modules = override["module"]
            modules = [modules] if isinstance(modules, str) else modules
            typed = ("payflows.domain", "payflows.gateway", "payflows.ledger", "payflows.payments")
            assert not [m for m in modules if m.startswith(typed)], modules
    for listed in files:
        assert (ROOT / listed).exists(), f"[tool.mypy] files: {listed} does not exist"


def test_mypy_strict_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
