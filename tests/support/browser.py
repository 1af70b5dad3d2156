"""Headless Chromium for the browser tier: the one place a test gets a browser from.

A test that drives Chromium takes the ``chromium`` fixture (tests/conftest.py), which launches
it through :func:`launched_chromium` and skips when it is not installed; the fixture puts the
test in the ``browser`` tier (tests/support/tiers.py), so ``make test-browser`` selects it and
the other tiers leave it out. Debian's Chromium (``/usr/bin/chromium``, installed by
``scripts/install-test-browser.sh``), driven by Playwright.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

__all__ = ["ARGS", "CHROMIUM", "chromium_missing", "launched_chromium"]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_missing() -> str | None:
    """Why no browser test can run here, or None when Chromium is installed."""
    if os.access(CHROMIUM, os.X_OK):
        return None
    return f"{CHROMIUM} is not installed (scripts/install-test-browser.sh installs it)"


@asynccontextmanager
async def launched_chromium() -> AsyncIterator[Any]:
    """A headless Chromium (Playwright's ``Browser``), closed on exit."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()
