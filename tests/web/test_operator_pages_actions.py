"""The operator pages act for real: capture, void, refund and cancel from the HTML forms run
the same flows as the JSON API against the sandbox, and the ledger shows the result.

Payments are made through the core (tests/web/seeding.py); the actions' flow runs are recorded
by the session's Prefect server, as in the web app's own process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlmodel import select

from apps.web import create_web_app
from payflows.ledger import Refund, UnitOfWork, make_engine
from payflows.ledger.migrate import upgrade
from payflows.sandbox import SandboxConfig, running_sandbox
from payflows.settings import load_settings
from tasks.runtime import dispose_engines
from tests.web.conftest import MERCHANT
from tests.web.seeding import pay_through_core
from tests.web.support import forms_of

TOKEN = "op-actions-7c0ffee-token"
ORIGIN = {"Origin": MERCHANT}


@dataclass
class Desk:
    web: httpx.AsyncClient
    api_url: str
    ledger_url: str

    async def form(self, query: str, action: str) -> dict[str, str]:
        page = await self.web.get("/operator", params={"q": query})
        assert page.status_code == 200, page.text
        for form in forms_of(page.text):
            if form["fields"].get("action") == action:
                return dict(form["fields"])
        raise AssertionError(f"no {action} button for {query}")

    async def act(self, query: str, action: str, **fields: str) -> httpx.Response:
        form = await self.form(query, action)
        return await self.web.post("/operator/action", data={**form, **fields}, headers=ORIGIN)


@pytest.fixture
async def desk(tmp_path, prefect_api, monkeypatch) -> AsyncIterator[Desk]:  # type: ignore[no-untyped-def]
    ledger_url = f"sqlite:///{tmp_path}/ledger.db"
    upgrade(ledger_url)
    with running_sandbox(SandboxConfig(seed=13)) as api_url:
        monkeypatch.setenv("PRECIUM_BASE_URL", api_url)
        monkeypatch.setenv("PAYFLOWS_DATABASE_URL", ledger_url)
        monkeypatch.setenv("PAYFLOWS_WEBHOOK_KEYS_FILE", str(tmp_path / "keys.json"))
        monkeypatch.setenv("PAYFLOWS_PUBLIC_URL", MERCHANT)
        monkeypatch.setenv("PAYFLOWS_OPERATOR_TOKEN", TOKEN)
        app = create_web_app(load_settings())
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url=MERCHANT) as client:
                signed = await client.post("/reports/login", data={"token": TOKEN})
                assert signed.status_code == 303
                yield Desk(client, api_url, ledger_url)
    dispose_engines()


async def test_a_hold_is_captured_in_part_from_the_page(desk: Desk) -> None:
    held = await pay_through_core(
        desk.api_url, desk.ledger_url, "OPH-1", amount_cents=50_000, hold=True
    )
    assert held.purchase_id
    done = await desk.act("OPH-1", "capture", amount="300.00")
    assert done.status_code == 200, done.text
    assert '<h1 class="ok">Captured</h1>' in done.text and "R 300.00" in done.text
    after = (await desk.web.get("/operator", params={"q": held.purchase_id})).text
    assert "Captured</dt><dd>R 300.00" in after
    actions = {f["fields"].get("action") for f in forms_of(after)[1:]}
    assert "capture" not in actions and "void" not in actions


async def test_a_hold_is_voided_and_a_second_void_is_refused_clearly(desk: Desk) -> None:
    held = await pay_through_core(
        desk.api_url, desk.ledger_url, "OPH-2", amount_cents=12_000, hold=True
    )
    form = await desk.form("OPH-2", "void")
    done = await desk.web.post("/operator/action", data=form, headers=ORIGIN)
    assert done.status_code == 200 and "Voided" in done.text, done.text
    again = await desk.web.post("/operator/action", data=form, headers=ORIGIN)
    assert again.status_code == 409 and "Nothing was done" in again.text
    assert held.purchase_id in again.text  # the way back to the payment


async def test_a_refund_form_sent_twice_refunds_once_and_cancel_runs(desk: Desk) -> None:
    paid = await pay_through_core(desk.api_url, desk.ledger_url, "OPC-1", amount_cents=29_900)
    form = await desk.form("OPC-1", "refund")
    assert form["refund_ref"].startswith("op-refund-")
    for _ in range(2):  # a double click: one refund
        done = await desk.web.post(
            "/operator/action", data={**form, "amount": "100.00"}, headers=ORIGIN
        )
        assert done.status_code == 200 and "Refunded" in done.text, done.text
    engine = make_engine(desk.ledger_url)
    try:
        with UnitOfWork(engine) as uow:
            refunds = uow.session.exec(
                select(Refund).where(Refund.purchase_id == paid.purchase_id)
            ).all()
    finally:
        engine.dispose()
    assert [r.amount_cents for r in refunds] == [10_000]

    await pay_through_core(desk.api_url, desk.ledger_url, "OPC-2", amount_cents=4_999)
    cancelled = await desk.act("OPC-2", "cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert 'data-outcome="ok"' in cancelled.text
