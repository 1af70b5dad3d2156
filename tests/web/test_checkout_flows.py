"""Checkout and TermUrl end to end: the web app and the sandbox on loopback, httpx as the browser.

The shopper's side is played the way a browser would: read the form the page returns, post it
where its ``action`` says. The sandbox's ACS page is clicked with
:func:`payflows.sandbox.complete_challenge`.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from apps.web import create_web_app
from payflows.domain.money import parse_amount
from payflows.ledger import Hold, UnitOfWork, get_attempt, make_engine
from payflows.sandbox import complete_challenge
from payflows.settings import load_settings
from tests.web.conftest import Shop
from tests.web.support import forms_of, open_checkout, order_token, serve_in_thread

THREE_DS = "4000000000000002"
NO_3DS = "4111111111111111"
INSUFFICIENT = "4000000000000028"
CARD_NUMBERS = (THREE_DS, NO_3DS, INSUFFICIENT)


@pytest.fixture
async def browser(shop) -> AsyncIterator[httpx.AsyncClient]:
    headers = {
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) payflows-tests",
        "Accept": "text/html,application/xhtml+xml",
        "Accept-Language": "en-ZA,en;q=0.9",
    }
    async with httpx.AsyncClient(base_url=shop.merchant, headers=headers, timeout=20) as client:
        yield client


@pytest.fixture(autouse=True)
def no_card_data_in_logs(caplog):  # type: ignore[no-untyped-def]
    """Whatever a test does, no log line (app, uvicorn, httpx, sandbox) names a card."""
    caplog.set_level("DEBUG")
    yield
    for number in CARD_NUMBERS:
        assert number not in caplog.text


def no_card_data(*pages: str) -> None:
    for page in pages:
        for number in CARD_NUMBERS:
            assert number not in page
        assert "12/30" not in page and 'value="737"' not in page


async def checkout(browser: httpx.AsyncClient, card: str, *, mode: str = "cit", amount="49.99"):
    """The shop signs an order; the shopper opens it and pays with ``card``."""
    order_id = f"web-{secrets.token_hex(6)}"
    token = order_token(order_id, parse_amount(amount, "ZAR"), mode=mode)
    hidden = await open_checkout(browser, token)
    response = await browser.post(
        "/checkout",
        data={
            **hidden,
            "email": f"{order_id}@example.com",
            "cardholder_name": "Ada Shopper",
            "card_number": card,
            "expiry": "12/30",
            "cvc": "737",
        },
    )
    return order_id, response


async def through_3ds(browser: httpx.AsyncClient, page: httpx.Response, *, approve: bool):
    """Follow the auto-submitting form to the ACS, click, and post the answer to TermUrl."""
    (form,) = forms_of(page.text)
    fields = form["fields"]
    assert set(fields) == {"MD", "PaReq", "TermUrl"}
    assert fields["TermUrl"] == str(browser.base_url.join("/3ds/return"))
    async with httpx.AsyncClient(timeout=20) as outside:
        pares = await complete_challenge(
            outside, form["action"], fields["MD"], fields["PaReq"], fields["TermUrl"], approve
        )
    result = await browser.post(fields["TermUrl"], data={"MD": fields["MD"], "PaRes": pares})
    return fields["MD"], pares, result


def attempt(shop: Shop, key: str):  # type: ignore[no-untyped-def]
    engine = make_engine(shop.ledger_url)
    try:
        with UnitOfWork(engine) as uow:
            found = get_attempt(uow, business_key=key)
            assert found is not None, key
            uow.session.expunge(found)
            hold = None
            if found.purchase_id:
                hold = uow.session.exec(
                    select(Hold).where(Hold.purchase_id == found.purchase_id)
                ).first()
                if hold is not None:
                    uow.session.expunge(hold)
            return found, hold
    finally:
        engine.dispose()


async def test_3ds_approved_ends_on_the_paid_page(shop, browser):
    order_id, page = await checkout(browser, THREE_DS)
    assert page.status_code == 200
    assert 'id="three-ds"' in page.text and "document.getElementById" in page.text

    md, pares, result = await through_3ds(browser, page, approve=True)

    assert result.status_code == 200
    assert 'data-outcome="ok"' in result.text and "Payment successful" in result.text
    assert "R 49.99" in result.text and "400000******0002" in result.text
    no_card_data(page.text, result.text)
    paid, _ = attempt(shop, f"cit:{order_id}")
    assert (paid.state.value, paid.purchase_status.value) == ("succeeded", "paid")

    # The bank's answer posted twice (a reload, a double click) shows the same, pays once.
    again = await browser.post("/3ds/return", data={"MD": md, "PaRes": pares})
    assert again.status_code == 200 and "Payment successful" in again.text


async def test_3ds_failed_ends_on_the_declined_page(shop, browser):
    order_id, page = await checkout(browser, THREE_DS)

    _md, _pares, result = await through_3ds(browser, page, approve=False)

    assert result.status_code == 200
    assert 'data-outcome="bad"' in result.text
    assert "3-D Secure authentication failed" in result.text
    no_card_data(result.text)
    failed, _ = attempt(shop, f"cit:{order_id}")
    assert failed.state.value == "declined"
    assert failed.decline_code == "3ds_authentication_failed"


async def test_a_card_without_3ds_is_paid_at_once(shop, browser):
    order_id, page = await checkout(browser, NO_3DS, amount="10")

    assert page.status_code == 200
    assert "Payment successful" in page.text and "R 10.00" in page.text
    no_card_data(page.text)
    paid, _ = attempt(shop, f"cit:{order_id}")
    assert paid.purchase_status.value == "paid" and paid.amount_cents == 1000


async def test_a_declined_card_shows_the_reason(shop, browser):
    order_id, page = await checkout(browser, INSUFFICIENT)

    assert page.status_code == 200
    assert 'data-outcome="bad"' in page.text and "insufficient funds" in page.text
    no_card_data(page.text)
    declined, _ = attempt(shop, f"cit:{order_id}")
    assert (declined.state.value, declined.decline_code) == ("declined", "insufficient_funds")


async def test_preauth_mode_records_a_hold(shop, browser):
    order_id, page = await checkout(browser, NO_3DS, mode="preauth", amount="300")

    assert page.status_code == 200
    assert "Card authorised" in page.text
    held, hold = attempt(shop, f"preauth:{order_id}")
    assert held.purchase_status.value == "hold"
    assert hold is not None and hold.authorised_cents == 30000 and hold.status.value == "hold"
    assert hold.expires_at > hold.authorised_at


async def test_preauth_with_3ds_records_the_hold_after_the_challenge(shop, browser):
    order_id, page = await checkout(browser, THREE_DS, mode="preauth", amount="75")

    _md, _pares, result = await through_3ds(browser, page, approve=True)

    assert "Card authorised" in result.text
    held, hold = attempt(shop, f"preauth:{order_id}")
    assert held.purchase_status.value == "hold"
    assert hold is not None and hold.authorised_cents == 7500


async def test_the_term_url_works_after_a_restart_of_the_web_process(shop, browser):
    """The challenge lives in the ledger: a fresh app instance finishes the payment."""
    order_id, page = await checkout(browser, THREE_DS, amount="5")
    (form,) = forms_of(page.text)
    fields = form["fields"]
    async with httpx.AsyncClient(timeout=20) as outside:
        pares = await complete_challenge(
            outside, form["action"], fields["MD"], fields["PaReq"], fields["TermUrl"], True
        )

    fresh = create_web_app(load_settings(PAYFLOWS_PUBLIC_URL=shop.merchant))
    with serve_in_thread(fresh) as restarted:
        async with httpx.AsyncClient(base_url=restarted, timeout=20) as other:
            result = await other.post("/3ds/return", data={"MD": fields["MD"], "PaRes": pares})

    assert "Payment successful" in result.text
    paid, _ = attempt(shop, f"cit:{order_id}")
    assert paid.purchase_status.value == "paid"


def test_no_card_number_rests_in_the_ledger(shop):
    """Run last in this module: after every payment above, the ledger files hold no PAN or CVC."""
    database = Path(shop.ledger_url.removeprefix("sqlite:///"))
    files = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
    assert files
    for path in files:
        content = path.read_bytes()
        for number in CARD_NUMBERS:
            assert number.encode() not in content, path
