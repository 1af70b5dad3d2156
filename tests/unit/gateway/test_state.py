"""The light purchase answer of the billing run's hot path reads what the full model reads."""

from __future__ import annotations

import httpx
import orjson
import pytest

from payflows.gateway import (
    CardDeclinedError,
    CardFlags,
    OutcomeUnknownError,
    PreciumClient,
    Product,
    Purchase,
    PurchaseRequest,
    PurchaseState,
)

from .payloads import (
    BRAND_ID,
    CLIENT_ID,
    PURCHASE_ID,
    Recorder,
    charge_decline,
    chip_purchase,
    declined_purchase,
)


@pytest.mark.parametrize(
    "body",
    [
        chip_purchase(),
        declined_purchase(),
        declined_purchase("authorization_failed", "R1"),
        chip_purchase(transaction_data=None, purchase=None, payment=None),
        {"id": PURCHASE_ID, "status": "pending_charge"},
    ],
)
def test_reads_what_the_full_model_reads(body):
    state, full = PurchaseState.from_body(body), Purchase.model_validate(body)
    assert (state.id, state.status, state.last_error) == (full.id, full.status, full.last_error)
    assert (state.card_brand, state.masked_pan) == (full.card_brand, full.masked_pan)
    assert state.updated_on == full.updated_on


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"status": "paid"},
        {"id": PURCHASE_ID, "status": "no_such_status"},
        {"id": PURCHASE_ID, "status": "error", "transaction_data": {"attempts": {}}},
        {
            "id": PURCHASE_ID,
            "status": "error",
            "transaction_data": {"attempts": [{"error": {"message": "no code"}}]},
        },
        {"id": 7, "status": "paid"},
        {"id": PURCHASE_ID, "status": "paid", "transaction_data": {"extra": {"masked_pan": 4}}},
    ],
)
def test_refuses_what_is_not_a_purchase(body):
    with pytest.raises(ValueError):
        PurchaseState.from_body(body)


async def test_charge_state_sends_the_same_request_and_raises_declines_alike(
    gateway: PreciumClient, recorder: Recorder
):
    recorder.reply(200, chip_purchase())
    state = await gateway.charge_state(PURCHASE_ID, "tok_1")
    assert state.status.value == "paid"
    assert recorder.last.url.path.endswith(f"/purchases/{PURCHASE_ID}/charge/")
    assert recorder.last.headers["content-type"] == "application/json"
    assert recorder.last_json() == {"recurring_token": "tok_1"}
    for reply in (declined_purchase(), charge_decline("insufficient_funds", "51")):
        recorder.reply(200 if "id" in reply else 400, reply)
        with pytest.raises(CardDeclinedError) as info:
            await gateway.charge_state(PURCHASE_ID, "tok_1")
        assert info.value.decline.code == "insufficient_funds"
    # An answer that cannot be read is an unknown outcome, as with the full model.
    recorder.reply(200, {"status": "paid"})
    with pytest.raises(OutcomeUnknownError):
        await gateway.charge_state(PURCHASE_ID, "tok_1")


async def test_create_purchase_state_sends_the_validated_body(
    gateway: PreciumClient, recorder: Recorder
):
    request = PurchaseRequest(
        client_id=CLIENT_ID,
        currency="ZAR",
        products=[Product(name="Subscription basic", price=9900)],
        card=CardFlags(is_recurring=True),
    )
    body = gateway.purchase_body(request)
    assert body["brand_id"] == BRAND_ID
    recorder.reply(201, chip_purchase(status="created"))
    state = await gateway.create_purchase_state({**body, "reference": "sub:1:2026-01-31"})
    assert state.id == PURCHASE_ID
    sent = orjson.loads(recorder.last.content)
    assert sent == {**request.with_brand(BRAND_ID).to_body(), "reference": "sub:1:2026-01-31"}
    recorder.fail(httpx.ReadTimeout("slow"))
    with pytest.raises(OutcomeUnknownError):
        await gateway.create_purchase_state(body)


@pytest.mark.parametrize("amount", [None, 1500])
async def test_capture_and_release_state_send_what_capture_and_release_send(
    gateway: PreciumClient, recorder: Recorder, amount
):
    body = chip_purchase(status="paid")
    recorder.reply(200, body).reply(200, body)
    state = await gateway.capture_state(PURCHASE_ID, amount)
    full = await gateway.capture(PURCHASE_ID, amount)
    light, model = recorder.requests[-2:]
    assert (light.method, light.url) == (model.method, model.url)
    assert light.url.path.endswith(f"/purchases/{PURCHASE_ID}/capture/")
    assert (orjson.loads(light.content) if light.content else None) == (
        orjson.loads(model.content) if model.content else None
    )
    assert (state.id, state.status, state.updated_on) == (full.id, full.status, full.updated_on)
    assert state.paid_cents == (full.payment.amount if full.payment else None)
    recorder.reply(200, chip_purchase(status="released")).reply(200, chip_purchase(status="x"))
    assert (await gateway.release_state(PURCHASE_ID)).status.value == "released"
    assert recorder.last.url.path.endswith(f"/purchases/{PURCHASE_ID}/release/")
    # An answer that cannot be read is an unknown outcome, as with the full model.
    with pytest.raises(OutcomeUnknownError):
        await gateway.release_state(PURCHASE_ID)
