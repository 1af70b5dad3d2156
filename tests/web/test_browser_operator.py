"""A real browser at the operator's desk: signs in, finds a payment, voids one hold and captures
part of another, then records a decision on the holds page.

Debian's Chromium driven headless by Playwright (the ``chromium`` fixture); the web app and the
sandbox are uvicorn servers on loopback, the holds are made through the core
(tests/web/seeding.py), and the actions run their flows in the web app's process, recorded by
the session's Prefect server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from apps.web import create_web_app
from payflows.ledger import UnitOfWork, make_engine
from payflows.ledger.lookups import hold_of_purchase
from payflows.ledger.migrate import upgrade
from payflows.sandbox import SandboxConfig, running_sandbox
from payflows.settings import load_settings
from tasks.runtime import dispose_engines
from tests.web.seeding import pay_through_core
from tests.web.support import serve_in_thread

TOKEN = "op-browser-7c0ffee-token"


@dataclass
class Desk:
    merchant: str
    api_url: str
    ledger_url: str


@pytest.fixture
def desk(tmp_path, prefect_api) -> Iterator[Desk]:  # type: ignore[no-untyped-def]
    ledger_url = f"sqlite:///{tmp_path}/ledger.db"
    upgrade(ledger_url)
    with pytest.MonkeyPatch.context() as env, running_sandbox(SandboxConfig(seed=17)) as api_url:
        env.setenv("PRECIUM_BASE_URL", api_url)
        env.setenv("PAYFLOWS_DATABASE_URL", ledger_url)
        env.setenv("PAYFLOWS_WEBHOOK_KEYS_FILE", str(tmp_path / "webhook-keys.json"))
        env.setenv("PAYFLOWS_OPERATOR_TOKEN", TOKEN)

        def app(origin: str) -> Any:
            env.setenv("PAYFLOWS_PUBLIC_URL", origin)
            return create_web_app(load_settings())

        with serve_in_thread(app) as merchant:
            yield Desk(merchant, api_url, ledger_url)
    dispose_engines()


@pytest.fixture
async def page(desk: Desk, chromium: Any) -> AsyncIterator[Any]:
    context = await chromium.new_context(viewport={"width": 1366, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        await context.close()


def hold_state(ledger_url: str, purchase_id: str) -> tuple[str, int, str]:
    engine = make_engine(ledger_url)
    try:
        with UnitOfWork(engine) as uow:
            hold = hold_of_purchase(uow, purchase_id)
            assert hold is not None
            return hold.status.value, hold.captured_cents, hold.decision.value
    finally:
        engine.dispose()


async def test_an_operator_finds_a_payment_and_voids_and_captures_holds(desk: Desk, page) -> None:  # type: ignore[no-untyped-def]
    one = await pay_through_core(
        desk.api_url, desk.ledger_url, "DESK-1", amount_cents=80_000, hold=True
    )
    two = await pay_through_core(
        desk.api_url, desk.ledger_url, "DESK-2", amount_cents=50_000, hold=True
    )
    three = await pay_through_core(
        desk.api_url, desk.ledger_url, "DESK-3", amount_cents=20_000, hold=True
    )
    assert one.purchase_id and two.purchase_id and three.purchase_id

    # Sign in once: the search page sends the browser to the login and back.
    await page.goto(f"{desk.merchant}/operator?q=DESK-1")
    await page.wait_for_url(f"{desk.merchant}/reports/login**")
    await page.fill("#token", TOKEN)
    await page.click("#sign-in")
    await page.wait_for_url(f"{desk.merchant}/operator?q=DESK-1")
    section = page.locator(f'section[data-purchase="{one.purchase_id}"]')
    text = await section.inner_text()
    assert "preauth:DESK-1" in text and "R 800.00" in text and "411111******1111" in text
    assert "4111111111111111" not in await page.content()

    # Void the first hold.
    await section.locator('form[data-action="void"] button').click()
    await page.wait_for_selector("main[data-outcome]")
    assert "Voided" in await page.inner_text("h1")
    assert hold_state(desk.ledger_url, one.purchase_id)[0] in {"released", "cancelled"}

    # Look up the second by its purchase id and capture part of it, in rand.
    await page.goto(f"{desk.merchant}/operator")
    await page.fill("#q", two.purchase_id)
    await page.click("#search")
    capture = page.locator(
        f'section[data-purchase="{two.purchase_id}"] form[data-action="capture"]'
    )
    await capture.locator('input[name="amount"]').fill("300.00")
    await capture.locator("button").click()
    await page.wait_for_selector("main[data-outcome]")
    assert "Captured" in await page.inner_text("h1")
    assert "R 300.00" in await page.inner_text("main")
    assert hold_state(desk.ledger_url, two.purchase_id)[1] == 30_000

    # The holds page lists the one still open; the operator decides to void it at the sweep.
    await page.click('nav a[href="/operator/holds"]')
    await page.wait_for_url(f"{desk.merchant}/operator/holds")
    table = await page.inner_text("#holds")
    assert three.purchase_id in table and one.purchase_id not in table
    row = page.locator(f'form[data-purchase="{three.purchase_id}"]')
    await row.locator('select[name="decision"]').select_option("void")
    await row.locator("button").click()
    await page.wait_for_url(f"{desk.merchant}/operator/holds?decided=*")
    assert "Decision recorded for" in await page.inner_text("main")
    assert hold_state(desk.ledger_url, three.purchase_id)[2] == "void"
