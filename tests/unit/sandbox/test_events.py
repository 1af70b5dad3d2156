"""Every status change is published as CHIP's event, signed, in order (docs/gateway-wire.md)."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from payflows.domain.states import Op, Result, Status
from payflows.sandbox.engine import event_for, fee_for
from tests.unit.sandbox.conftest import CALLBACK, DAY, FINGERPRINT, HOOK, card_body, flush


def verify(request: httpx.Request, public_pem: str) -> None:
    key = serialization.load_pem_public_key(public_pem.encode())
    signature = base64.b64decode(request.headers["X-Signature"])
    key.verify(signature, request.content, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr]


async def test_a_payment_publishes_created_pending_paid_signed(hooked) -> None:
    gw, receiver, webhook = hooked
    purchase = await gw.purchase(success_callback=CALLBACK)
    await gw.submit(purchase, card_body("4111111111111111", **FINGERPRINT))
    await flush(gw)
    events = receiver.events()
    assert [e for e, _ in events] == [
        "purchase.created",
        "purchase.pending_execute",
        "purchase.paid",
    ]
    assert [b["status"] for _, b in events] == ["created", "pending_execute", "paid"]
    assert events[-1][1]["payment"]["amount"] == 29900 and events[-1][1]["id"] == purchase["id"]
    for request in receiver.requests:
        if str(request.url) == HOOK:
            verify(request, webhook["public_key"])

    callbacks = [r for r in receiver.requests if str(r.url) == CALLBACK]
    assert len(callbacks) == 1
    assert json.loads(callbacks[0].content)["event_type"] == "purchase.paid"
    verify(callbacks[0], (await gw.api("GET", "public_key/")).json())
    deliveries = (await gw.sandbox("GET", "webhooks/deliveries/")).json()["results"]
    assert {d["event_type"] for d in deliveries} >= {"purchase.created", "purchase.paid"}


async def test_every_money_movement_has_its_event(hooked) -> None:
    gw, receiver, _ = hooked
    held = await gw.paid(skip_capture=True)
    await gw.api("POST", f"purchases/{held['id']}/capture/", {"amount": 1000})
    await gw.api("POST", f"purchases/{held['id']}/refund/", {"amount": 400})
    released = await gw.paid(skip_capture=True)
    await gw.api("POST", f"purchases/{released['id']}/release/")
    cancelled = await gw.purchase()
    await gw.api("POST", f"purchases/{cancelled['id']}/cancel/")
    declined = await gw.purchase()
    await gw.submit(declined, card_body("4000000000000028", **FINGERPRINT))
    token = await gw.paid("4000000000000085", force_recurring=True)
    failed = await gw.purchase()
    await gw.api("POST", f"purchases/{failed['id']}/charge/", {"recurring_token": token["id"]})
    await gw.api("POST", f"purchases/{token['id']}/delete_recurring_token/")
    await gw.advance(3 * DAY)
    await flush(gw)

    def of(purchase: dict[str, Any]) -> list[str]:
        return [
            e
            for e, b in receiver.events()
            if b["id"] == purchase["id"] or b.get("related_to", {}).get("id") == purchase["id"]
        ]

    assert of(held) == [
        "purchase.created", "purchase.pending_execute", "purchase.hold",
        "purchase.pending_capture", "purchase.captured",
        "purchase.pending_refund", "payment.refunded", "purchase.settled",
    ]  # fmt: skip
    assert of(released)[-2:] == ["purchase.pending_release", "purchase.released"]
    assert of(cancelled) == ["purchase.created", "purchase.cancelled"]
    assert of(declined)[-1] == "purchase.payment_failure"
    assert of(failed)[-2:] == ["purchase.pending_charge", "purchase.subscription_charge_failure"]
    assert of(token)[-3:] == [
        "purchase.pending_recurring_token_delete",
        "purchase.recurring_token_deleted",
        "purchase.settled",
    ]

    refund = next(b for e, b in receiver.events() if e == "payment.refunded")
    assert refund["type"] == "payment" and refund["payment"]["payment_type"] == "refund"
    assert refund["payment"]["amount"] == 400 and refund["related_to"]["id"] == held["id"]
    settled = next(b for e, b in receiver.events() if e == "purchase.settled")
    assert settled["status"] == "paid" and "settlement" in settled["transaction_data"]["extra"]


async def test_only_subscribed_events_are_delivered(hooked) -> None:
    gw, receiver, webhook = hooked
    await gw.api(
        "PATCH", f"webhooks/{webhook['id']}/", {"all_events": False, "events": ["purchase.paid"]}
    )
    await gw.paid()
    await flush(gw)
    assert [e for e, _ in receiver.events()] == ["purchase.paid"]


async def test_a_failing_receiver_gets_the_event_again(hooked) -> None:
    gw, receiver, _ = hooked
    receiver.fail_next = 1
    await gw.purchase()
    await flush(gw)
    await asyncio.sleep(0.05)  # webhook_backoff_base is 0.01 s in these tests
    await flush(gw)
    deliveries = (await gw.sandbox("GET", "webhooks/deliveries/")).json()["results"]
    created = [d for d in deliveries if d["event_type"] == "purchase.created"]
    assert created[0]["attempts"] >= 2 and created[0]["delivered"] is True


def test_event_table() -> None:
    assert event_for(Op.PAY, Result.STARTED, Status.PENDING_EXECUTE) == "purchase.pending_execute"
    assert event_for(Op.PAY, Result.APPROVED, Status.PAID) == "purchase.paid"
    assert event_for(Op.CHARGE, Result.APPROVED, Status.PAID) == "purchase.paid"
    assert event_for(Op.CAPTURE, Result.APPROVED, Status.PAID) == "purchase.captured"
    assert event_for(Op.CAPTURE, Result.DECLINED, Status.HOLD) == "purchase.capture_failure"
    assert event_for(Op.EXPIRE, Result.APPROVED, Status.EXPIRED) is None
    assert event_for(Op.CLEAR, Result.APPROVED, Status.CLEARED) is None
    assert event_for(Op.REFUND, Result.PARTIAL, Status.PAID) == "payment.refunded"


def test_fee_is_two_and_a_half_percent_rounded_half_up() -> None:
    assert [fee_for(a) for a in (0, 1, 19, 20, 29900, 450000)] == [0, 0, 0, 1, 748, 11250]
