"""WebhookEvent.parse reads every real CHIP delivery, the guide's envelope, and the sandbox's."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from payflows.domain import Status
from payflows.gateway import Purchase, WebhookEvent
from tests.support.shared import WEBHOOK_SAMPLES

SAMPLES = WEBHOOK_SAMPLES
ALL_SAMPLES = sorted(SAMPLES.glob("*.json"))

GUIDE_ENVELOPE = {
    "event": "purchase.paid",
    "timestamp": "2026-01-13T10:35:12Z",
    "data": {
        "purchase_id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
        "status": "paid",
        "amount": 29900,
        "currency": "ZAR",
        "client_id": "d9f8a7b6-c5e4-3d2a-1b0c-9e8d7f6a5b4c",
        "payment_method": {"type": "card", "brand": "visa", "last_4": "1091"},
    },
}


def test_there_are_samples_to_read():
    assert len(ALL_SAMPLES) == 17  # every real body the platform sent (shared/precium)


@pytest.mark.parametrize("sample", ALL_SAMPLES, ids=lambda p: p.name)
def test_every_real_chip_delivery_parses(sample: Path):
    raw = sample.read_bytes()
    data = json.loads(raw)

    event = WebhookEvent.parse(raw)

    assert event.event_type == data["event_type"]
    assert event.purchase_id
    assert event.currency == "MYR"
    # Zero-amount pre-authorisations (06, 13, 14) save a card and move no money.
    zero_auth = data.get("purchase", {}).get("total") == 0
    assert isinstance(event.amount, int) and (event.amount == 0 if zero_auth else event.amount > 0)
    assert event.occurred_at == datetime.fromtimestamp(data["updated_on"], UTC)
    assert event.raw == data
    if data["type"] == "purchase":
        assert event.purchase_id == data["id"]
        assert event.status == Status(data["status"])
        assert isinstance(event.purchase, Purchase)


def test_the_refund_delivery_names_the_purchase_it_refunds():
    event = WebhookEvent.parse((SAMPLES / "12-event-Purchase-refunded.json").read_bytes())
    assert event.event_type == "payment.refunded"
    assert event.purchase_id == "b6cd91ee-3969-49e1-87e1-0d2dbc277294"  # related_to.id
    assert event.refund_id == "e8106d24-f47e-4fcd-badf-296958410880"
    assert event.amount == 100
    assert event.status is None  # "success" is the refund's status, not the purchase's
    assert event.purchase is None


def test_the_settled_delivery_says_paid_and_carries_the_settlement():
    event = WebhookEvent.parse((SAMPLES / "07-event-Purchase-settled.json").read_bytes())
    assert (event.event_type, event.status) == ("purchase.settled", Status.PAID)
    assert event.purchase is not None
    assert event.purchase.settled_on == datetime.fromtimestamp(1706976569, UTC)


def test_the_hold_delivery_carries_the_masked_card():
    event = WebhookEvent.parse((SAMPLES / "08-event-Purchase-hold.json").read_bytes())
    assert event.status is Status.HOLD
    assert event.purchase is not None
    assert (event.purchase.card_brand, event.purchase.masked_pan) == ("visa", "444433******1111")


def test_the_guides_envelope_parses():
    event = WebhookEvent.parse(json.dumps(GUIDE_ENVELOPE).encode())
    assert event.event_type == "purchase.paid"
    assert event.purchase_id == "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
    assert (event.status, event.amount, event.currency) == (Status.PAID, 29900, "ZAR")
    assert event.occurred_at == datetime(2026, 1, 13, 10, 35, 12, tzinfo=UTC)
    assert event.refund_id is None and event.purchase is None


def test_the_sandboxs_refund_payment_with_guide_fields_parses():
    body = {
        "event_type": "payment.refunded",
        "id": "ref_1",
        "type": "payment",
        "status": "success",
        "payment": {"amount": 500, "currency": "ZAR", "payment_type": "refund"},
        "related_to": {"id": "pur_1", "type": "purchase"},
        "created_on": 1768400000,
        "updated_on": 1768400000,
    }
    event = WebhookEvent.parse(json.dumps(body))
    assert (event.purchase_id, event.refund_id, event.amount) == ("pur_1", "ref_1", 500)


def test_a_settled_status_is_read_as_settled():
    body = json.loads((SAMPLES / "07-event-Purchase-settled.json").read_bytes())
    body["status"] = "settled"
    assert WebhookEvent.parse(json.dumps(body).encode()).status is Status.SETTLED


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[]", b'{"id": "x"}', b'{"event": "purchase.paid"}', b"\xff\xfe"],
)
def test_anything_else_is_a_value_error(raw):
    with pytest.raises(ValueError):
        WebhookEvent.parse(raw)


def test_the_repr_leaves_out_the_raw_body():
    event = WebhookEvent.parse((SAMPLES / "01-event-Purchase-paid.json").read_bytes())
    assert "issuer_details" not in repr(event)
