"""The web app's operator pages: find a payment and capture, void, refund or cancel it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from apps.web import create_web_app
from flows import (
    customer_initiated_payment,
    preauthorize,
)
from payflows.ledger.migrate import upgrade
from payflows.sandbox import SandboxConfig, running_sandbox
from payflows.settings import load_settings
from tasks.runtime import dispose_engines
from tests.flows.support import amount_text, card, run, shopper

from .conftest import MERCHANT

TOKEN = "op-7c0ffee-operator-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def operator(tmp_path, prefect_api, monkeypatch) -> AsyncIterator[httpx.AsyncClient]:
    ledger_url = f"sqlite:///{tmp_path}/ledger.db"
    upgrade(ledger_url)
    with running_sandbox(SandboxConfig(seed=5)) as api_url:
        monkeypatch.setenv("PRECIUM_BASE_URL", api_url)
        monkeypatch.setenv("PAYFLOWS_DATABASE_URL", ledger_url)
        monkeypatch.setenv("PAYFLOWS_WEBHOOK_KEYS_FILE", str(tmp_path / "keys.json"))
        monkeypatch.setenv("PAYFLOWS_PUBLIC_URL", MERCHANT)
        monkeypatch.setenv("PAYFLOWS_OPERATOR_TOKEN", TOKEN)
        app = create_web_app(load_settings())
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url=MERCHANT) as client:
                yield client
    dispose_engines()


async def test_find_by_order_then_refund_in_part_then_cancel_is_refused_once_refunded(
    operator: httpx.AsyncClient,
) -> None:
    paid = await run(
        customer_initiated_payment,
        dict(
            order_id="OP-1", amount=amount_text(29_900), **shopper("op1"), **card("visa_approved")
        ),
    )
    assert (await operator.get("/operator/payments", params={"q": "OP-1"})).status_code == 401
    found = await operator.get("/operator/payments", params={"q": "OP-1"}, headers=AUTH)
    [view] = found.json()["results"]
    assert view["purchase_id"] == paid.purchase_id and view["actions"] == ["refund", "cancel"]
    assert view["card"] == "visa 411111******1111" and view["amount"] == "R 299.00"

    refunded = await operator.post(
        f"/operator/payments/{paid.purchase_id}/refund",
        json={"amount": "100.00", "refund_ref": "OP-R1"},
        headers=AUTH,
    )
    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["state"] == "Refunded"
    assert refunded.json()["result"]["amount_cents"] == 10_000
    again = await operator.get("/operator/payments", params={"q": "1111"}, headers=AUTH)
    assert again.json()["results"][0]["refunded"] == "R 100.00"


async def test_a_hold_is_captured_in_part_and_a_wrong_action_is_refused(
    operator: httpx.AsyncClient,
) -> None:
    held = await run(
        preauthorize,
        dict(
            booking_id="OP-H1",
            amount=amount_text(50_000),
            **shopper("oph"),
            **card("visa_approved"),
        ),
    )
    url = f"/operator/payments/{held.purchase_id}"
    refused = await operator.post(f"{url}/refund", json={"refund_ref": "X"}, headers=AUTH)
    assert refused.status_code == 409 and "capture, void" in refused.json()["error"]
    bad = await operator.post(f"{url}/capture", json={"amount": "1.234"}, headers=AUTH)
    assert bad.status_code == 422
    captured = await operator.post(f"{url}/capture", json={"amount": "300.00"}, headers=AUTH)
    assert captured.status_code == 200, captured.text
    assert captured.json()["state"] == "Captured"


async def test_a_card_number_is_never_a_search_and_never_echoed(
    operator: httpx.AsyncClient,
) -> None:
    answer = await operator.get(
        "/operator/payments", params={"q": "4111 1111 1111 1111"}, headers=AUTH
    )
    assert answer.status_code == 422 and "4111" not in answer.text
