"""The webhook receiver: signatures, storing once, applying in any order, Prefect events.

The bodies are the seventeen real CHIP deliveries of /work/shared/precium/webhook-samples
(re-signed by a test key, since the platform's key is not ours) and the guide's envelope; what
each one does to the ledger is tested in ``test_real_samples``.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import update

from apps.web import WebhookKeyStore
from payflows.domain import Status
from payflows.gateway import Webhook, WebhookEvent
from payflows.ledger import PaymentAttempt, UnitOfWork, make_engine
from payflows.ledger.migrate import upgrade
from payflows.ledger.models import AttemptState
from payflows.sandbox.signing import generate_key, public_pem, sign
from payflows.webhooks import store_and_apply
from tests.web.conftest import MERCHANT
from tests.web.support import (
    ALL_SAMPLES,
    GUIDE_ENVELOPE,
    SAMPLE_PURCHASES,
    attempt_of,
    ledger_snapshot,
    reserialised,
    sample,
    seed_purchase,
    signed,
    stored_events,
)

PAID = "bb2529fa-42b7-404b-a412-ed75b2191b38"
HELD = "b6cd91ee-3969-49e1-87e1-0d2dbc277294"
SETTLED = "8d065839-77c6-4f65-980b-dbb8a5eb2886"
URL = "/webhooks/precium"


def seed_all(engine) -> None:
    for purchase_id, hold in SAMPLE_PURCHASES.items():
        seed_purchase(engine, purchase_id, hold=hold)


async def test_a_signed_delivery_is_stored_applied_and_announced(
    receiver, engine, webhook_key, prefect_events
):
    seed_purchase(engine, PAID)
    raw = sample("01-event-Purchase-paid")

    response = await receiver.post(URL, content=raw, headers=signed(raw, webhook_key))

    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False, "applied": True}
    attempt = attempt_of(engine, PAID)
    assert attempt.purchase_status is Status.PAID
    assert attempt.state is AttemptState.SUCCEEDED
    (row,) = stored_events(engine)
    assert (row.event_type, row.purchase_id, row.status, row.applied) == (
        "purchase.paid",
        PAID,
        "paid",
        True,
    )
    (event,) = await prefect_events.collect()
    assert event.event == "payflows.purchase.paid"
    assert event.resource.id == f"precium.purchase.{PAID}"
    assert event.payload["status"] == "paid"
    assert event.payload["amount_cents"] == 200
    assert event.payload["applied"] is True
    # Neither the stored row nor the Prefect event carries what the body says of the card.
    for text in (json.dumps(row.payload), event.model_dump_json()):
        assert "444433" not in text and "masked_pan" not in text and "cardholder" not in text


async def test_a_duplicate_is_acknowledged_but_not_applied_again(
    receiver, engine, webhook_key, prefect_events
):
    seed_purchase(engine, PAID)
    raw = sample("01-event-Purchase-paid")
    first = await receiver.post(URL, content=raw, headers=signed(raw, webhook_key))
    assert first.json()["duplicate"] is False
    # Put the ledger back by hand: if the duplicate were applied, it would move it again.
    with UnitOfWork(engine) as uow:
        uow.session.exec(
            update(PaymentAttempt)
            .where(PaymentAttempt.purchase_id == PAID)
            .values(purchase_status=Status.PENDING_EXECUTE)
        )
        uow.commit()

    again = await receiver.post(URL, content=raw, headers=signed(raw, webhook_key))

    assert again.status_code == 200
    assert again.json() == {"received": True, "duplicate": True, "applied": False}
    assert attempt_of(engine, PAID).purchase_status is Status.PENDING_EXECUTE
    assert len(stored_events(engine)) == 1
    assert [e.event for e in await prefect_events.collect()] == ["payflows.purchase.paid"]


@pytest.mark.parametrize(
    "tamper",
    ["body changed", "signed by a stranger", "no signature", "not base64", "empty signature"],
)
async def test_a_bad_signature_gets_401_and_leaves_no_trace(
    receiver, engine, webhook_key, stranger_key, prefect_events, tamper
):
    seed_purchase(engine, PAID)
    raw = sample("01-event-Purchase-paid")
    headers = signed(raw, webhook_key)
    body = raw
    if tamper == "body changed":
        body = raw.replace(b'"amount":200', b'"amount":20000')
        assert body != raw
    elif tamper == "signed by a stranger":
        headers = signed(raw, stranger_key)
    elif tamper == "no signature":
        del headers["X-Signature"]
    elif tamper == "not base64":
        headers["X-Signature"] = "%%% not a signature %%%"
    else:
        headers["X-Signature"] = ""

    response = await receiver.post(URL, content=body, headers=headers)

    assert response.status_code == 401
    assert stored_events(engine) == []
    assert attempt_of(engine, PAID).purchase_status is None
    assert await prefect_events.collect() == []


async def test_the_guides_envelope_is_accepted_too(receiver, engine, webhook_key, prefect_events):
    purchase_id = GUIDE_ENVELOPE["data"]["purchase_id"]
    seed_purchase(engine, purchase_id, amount=29900, currency="ZAR")
    raw = json.dumps(GUIDE_ENVELOPE).encode()

    response = await receiver.post(URL, content=raw, headers=signed(raw, webhook_key))

    assert response.status_code == 200 and response.json()["applied"] is True
    assert attempt_of(engine, purchase_id).purchase_status is Status.PAID
    (row,) = stored_events(engine)
    assert row.event_at.isoformat().startswith("2026-01-13T10:35:12")
    (event,) = await prefect_events.collect()
    assert event.event == "payflows.purchase.paid"
    assert event.resource.id == f"precium.purchase.{purchase_id}"


async def test_reverse_order_delivery_ends_where_in_order_delivery_does(
    settings, receiver, engine, webhook_key
):
    """All seventeen samples, newest first, end in the same ledger as oldest first."""
    seed_all(engine)
    # The paid event that preceded the real settlement sample, made from it.
    settled_raw = sample("07-event-Purchase-settled")
    settled = json.loads(settled_raw)
    paid_before_settlement = reserialised(
        settled_raw,
        event_type="purchase.paid",
        updated_on=1706856784,
        transaction_data={**settled["transaction_data"], "extra": {}},
    )
    in_order = [paid_before_settlement] + [p.read_bytes() for p in ALL_SAMPLES]
    in_order.sort(key=lambda raw: json.loads(raw)["updated_on"])

    for raw in reversed(in_order):
        response = await receiver.post(URL, content=raw, headers=signed(raw, webhook_key))
        assert response.status_code == 200
    reverse_result = ledger_snapshot(engine)

    # The same deliveries in order, into a second ledger.
    url = settings.database_url.replace("ledger.db", "ledger-in-order.db")
    upgrade(url)
    other = make_engine(url)
    try:
        seed_all(other)
        for raw in in_order:
            store_and_apply(other, raw, WebhookEvent.parse(raw))
        in_order_result = ledger_snapshot(other)
    finally:
        other.dispose()

    assert reverse_result == in_order_result
    # Held, captured in full, then refunded in full.
    assert reverse_result["attempts"][HELD] == ("succeeded", "refunded")
    assert reverse_result["holds"][HELD] == ("refunded", 100)
    assert reverse_result["attempts"][SETTLED] == ("succeeded", "settled")
    assert reverse_result["holds"]["38928be3-fff3-4166-8732-2f7d311b6b85"][0] == "released"
    assert reverse_result["refunds"]["e8106d24-f47e-4fcd-badf-296958410880"][:2] == (HELD, 100)
    assert len(stored_events(engine)) == 18


async def test_an_event_for_a_purchase_the_ledger_never_made_is_kept_unapplied(
    receiver, engine, webhook_key, prefect_events
):
    raw = sample("01-event-Purchase-paid")

    response = await receiver.post(URL, content=raw, headers=signed(raw, webhook_key))

    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False, "applied": False}
    (row,) = stored_events(engine)
    assert row.applied is False  # left for reconciliation
    (event,) = await prefect_events.collect()
    assert event.payload["applied"] is False


async def test_success_callbacks_are_checked_with_the_company_key_fetched_once(
    receiver, engine, company_key, gateway
):
    seed_all(engine)
    for name in ("01-event-Purchase-paid", "08-event-Purchase-hold"):
        raw = sample(name)
        response = await receiver.post(URL, content=raw, headers=signed(raw, company_key))
        assert response.status_code == 200
    assert gateway.calls == 1
    assert attempt_of(engine, HELD).purchase_status is Status.HOLD


async def test_a_gateway_that_cannot_give_its_key_means_401_not_500(
    receiver, engine, company_key, gateway
):
    gateway.down = True
    raw = sample("01-event-Purchase-paid")
    for _ in range(3):
        response = await receiver.post(URL, content=raw, headers=signed(raw, company_key))
        assert response.status_code == 401
    assert gateway.calls == 1  # not asked again on every forged delivery
    assert stored_events(engine) == []


async def test_a_webhook_registered_while_the_app_runs_is_trusted_at_once(
    receiver, settings, engine
):
    seed_purchase(engine, PAID)
    raw = sample("01-event-Purchase-paid")
    new_key = generate_key()
    assert (await receiver.post(URL, content=raw, headers=signed(raw, new_key))).status_code == 401

    WebhookKeyStore(settings.webhook_keys_file).add(
        Webhook(
            id="wh-new", callback=f"{MERCHANT}/webhooks/precium", public_key=public_pem(new_key)
        )
    )

    assert (await receiver.post(URL, content=raw, headers=signed(raw, new_key))).status_code == 200


def _payment(**changes):  # type: ignore[no-untyped-def]
    body = {
        "event_type": "payment.refunded",
        "type": "payment",
        "id": "pay-1",
        "related_to": {"id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "type": "purchase"},
        "refund_id": "rf-1",
        "payment": {"amount": 100, "currency": "ZAR"},
    }
    return json.dumps({**body, **changes}).encode()


async def test_a_signed_delivery_that_cannot_be_applied_is_held_for_an_operator(
    receiver, engine, webhook_key
):
    """Issue 15: refusing a verified delivery makes the gateway redeliver it for 36 hours; it is
    stored unapplied (without its body) and acknowledged instead, never a 500."""
    deep = b"[" * 100_000 + b"]" * 100_000
    bodies = [
        b"not json",
        b"[1, 2]",
        b'{"hello": "world"}',
        deep,
        _payment(related_to="a1b2c3d4"),
        _payment(related_to=["x"]),
        _payment(payment={"amount": 2**63, "currency": "ZAR"}),
        _payment(payment={"amount": 10**30, "currency": "ZAR"}),
        json.dumps(
            {**GUIDE_ENVELOPE, "data": {**GUIDE_ENVELOPE["data"], "amount": 2**64}}
        ).encode(),
        json.dumps(
            {**GUIDE_ENVELOPE, "data": {**GUIDE_ENVELOPE["data"], "purchase_id": "p" * 500}}
        ).encode(),
    ]
    for raw in bodies:
        response = await receiver.post(URL, content=raw, headers=signed(raw, webhook_key))
        assert response.status_code == 202, (raw[:80], response.text)
        assert response.json()["applied"] is False and response.json()["held"]
    rows = stored_events(engine)
    assert len(rows) == len(bodies)
    assert all(not row.applied and row.payload["held"] for row in rows)
    # A redelivery of a held body is recognised, not stored twice.
    again = await receiver.post(URL, content=bodies[0], headers=signed(bodies[0], webhook_key))
    assert again.status_code == 202 and again.json()["duplicate"] is True
    assert len(stored_events(engine)) == len(bodies)


async def test_an_oversized_body_is_refused_before_anything_else(receiver, engine, webhook_key):
    raw = b"{" + b" " * 1_100_000 + b"}"
    response = await receiver.post(
        URL, content=raw, headers={"X-Signature": sign(raw, webhook_key)}
    )
    assert response.status_code == 413
    assert stored_events(engine) == []


def refund_story(refund_cents: int) -> list[bytes]:
    """hold -> captured -> pending_refund -> payment.refunded, the last two in the same second."""
    captured = sample("10-event-Purchase-captured")
    refunded = json.loads(sample("12-event-Purchase-refunded"))
    refunded["payment"]["amount"] = refund_cents
    pending = reserialised(
        captured,
        event_type="purchase.pending_refund",
        status="pending_refund",
        updated_on=1708334129,
    )
    return [sample("08-event-Purchase-hold"), captured, pending, json.dumps(refunded).encode()]


@pytest.mark.parametrize("order", ["in order", "reversed"])
@pytest.mark.parametrize(("refund_cents", "final"), [(100, "refunded"), (40, "paid")])
async def test_a_refund_ends_pending_refund_whatever_the_order(
    receiver, engine, webhook_key, order, refund_cents, final
):
    seed_purchase(engine, HELD, hold=True)
    story = refund_story(refund_cents)
    if order == "reversed":
        story.reverse()

    for raw in story:
        response = await receiver.post(URL, content=raw, headers=signed(raw, webhook_key))
        assert response.status_code == 200

    snapshot = ledger_snapshot(engine)
    assert snapshot["attempts"][HELD] == ("succeeded", final)
    assert snapshot["holds"][HELD] == (final, 100)
    # The platform says the refund succeeded: it is done, not pending.
    assert list(snapshot["refunds"].values()) == [(HELD, refund_cents, "MYR", "settled")]
