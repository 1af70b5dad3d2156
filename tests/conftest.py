"""Fixtures shared by every suite. Heavy ones start only for the tests that ask for them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import chromium_missing, launched_chromium
from tests.support.prefect_server import PrefectServer, running_prefect_server
from tests.support.tiers import TierError, tiers_of

ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with its tiers (tests/support/tiers.py): ``make test-unit`` and friends."""
    for item in items:
        parts = Path(item.path).resolve().relative_to(ROOT).parts
        marks = {mark.name for mark in item.iter_markers()}
        try:
            tiers = tiers_of(parts, item.fixturenames, marks)
        except TierError as exc:
            raise pytest.UsageError(f"{item.nodeid}: {exc}") from None
        for tier in sorted(tiers - marks):
            item.add_marker(tier)
        if "chromium" in item.fixturenames and chromium_missing():
            item.add_marker(pytest.mark.skip(reason=chromium_missing()))  # before its servers start


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """One real local Prefect server for the whole session, with its own home and storage.

    ``PREFECT_API_URL`` (environment and Prefect settings) points at it while the session runs,
    so flows called in-process are recorded there as they would be in production.
    """
    with running_prefect_server(tmp_path_factory.mktemp("prefect")) as server:
        yield server


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    """A headless Chromium (Playwright's ``Browser``); a test taking it is in the ``browser``
    tier (tests/support/tiers.py) and is skipped where Chromium is not installed (above)."""
    async with launched_chromium() as browser:
        yield browser
