"""A real browser through checkout -> sandbox ACS -> TermUrl -> result page.

Debian's Chromium (the ``chromium`` fixture: tests/support/browser.py), driven headless by
Playwright; the web app and the sandbox are uvicorn servers on loopback. The 3-D Secure hand-off
is the page's own auto-submitting form, and the ACS page posts back to TermUrl by itself: the
test only types into the checkout form and clicks Approve or Fail.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from payflows.domain.money import parse_amount
from tests.web.support import order_token

THREE_DS = "4000 0000 0000 0002"


@pytest.fixture
async def page(chromium) -> AsyncIterator[object]:
    context = await chromium.new_context(viewport={"width": 900, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        await context.close()


async def fill_checkout(page, shop, *, amount: str) -> None:  # type: ignore[no-untyped-def]
    token = order_token(f"web-{secrets.token_hex(6)}", parse_amount(amount, "ZAR"))
    await page.goto(f"{shop.merchant}/checkout?order={token}")
    await page.fill("#email", "ada@example.com")
    await page.fill("#cardholder_name", "Ada Shopper")
    await page.fill("#card_number", THREE_DS)
    await page.fill("#expiry", "12/30")
    await page.fill("#cvc", "737")
    await page.click("#pay")
    # The merchant's page hands the browser to the ACS by itself.
    await page.wait_for_url(f"{shop.sandbox}/acs/**")
    await page.get_by_role("button", name="Approve").wait_for()


async def test_a_shopper_pays_with_3ds_in_a_real_browser(shop, page, tmp_path: Path):
    await fill_checkout(page, shop, amount="42.50")
    acs = await page.content()
    assert "Confirm this payment" in acs and "400000******0002" in acs
    await page.screenshot(path=str(tmp_path / "acs.png"), full_page=True)

    await page.get_by_role("button", name="Approve").click()
    await page.wait_for_url(f"{shop.merchant}/3ds/return")
    await page.wait_for_selector("main[data-outcome]")

    result = await page.content()
    assert 'data-outcome="ok"' in result
    assert "Payment successful" in result and "R 42.50" in result
    assert "4000000000000002" not in result
    await page.screenshot(path=str(tmp_path / "result.png"), full_page=True)
    assert (tmp_path / "acs.png").stat().st_size > 0 and (tmp_path / "result.png").stat().st_size


async def test_a_failed_challenge_ends_on_the_declined_page(shop, page, tmp_path: Path):
    await fill_checkout(page, shop, amount="13")

    await page.get_by_role("button", name="Fail").click()
    await page.wait_for_url(f"{shop.merchant}/3ds/return")
    await page.wait_for_selector("main[data-outcome]")

    result = await page.content()
    assert 'data-outcome="bad"' in result
    assert "Payment declined" in result and "3-D Secure authentication failed" in result
    await page.screenshot(path=str(tmp_path / "declined.png"), full_page=True)
