"""Webhooks end to end: registered through PreciumClient, delivered by the sandbox over HTTP to a
real receiver, checked with verify_signature and read with WebhookEvent.parse."""

from __future__ import annotations

from collections import defaultdict

from payflows.domain import Status
from payflows.gateway import PreciumClient, Webhook, WebhookEvent, verify_signature
from tests.integration.support import Flow, Receiver, SandboxControl, wait_until

PAID_THEN_REFUNDED = [
    "purchase.created",
    "purchase.pending_execute",
    "purchase.paid",
    "purchase.pending_refund",
    "payment.refunded",
]


def _by_purchase(events: list[WebhookEvent]) -> dict[str | None, list[str]]:
    lanes: dict[str | None, list[str]] = defaultdict(list)
    for event in events:
        lanes[event.purchase_id].append(event.event_type)
    return dict(lanes)


async def test_every_delivery_is_signed_with_the_webhooks_own_key(
    flow: Flow,
    gateway: PreciumClient,
    receiver: Receiver,
    control: SandboxControl,
    hook: tuple[Webhook, str],
) -> None:
    webhook, name = hook
    other = await gateway.create_webhook("other", receiver.url(receiver.new_name()))
    try:
        paid = await flow.paid()
        await gateway.refund(paid.id, 1_000)
        await control.flush_webhooks()
    finally:
        await gateway.delete_webhook(other.id)
    company_key = await gateway.get_public_key()

    deliveries = [d for d in receiver.accepted(name) if paid.id.encode() in d.body]
    assert len(deliveries) == len(PAID_THEN_REFUNDED)
    for delivery in deliveries:
        assert delivery.signature
        assert verify_signature(delivery.body, delivery.signature, webhook.public_key or "")
        tampered = delivery.body.replace(b'"is_test":true', b'"is_test":false', 1)
        assert tampered != delivery.body
        assert not verify_signature(tampered, delivery.signature, webhook.public_key or "")
        assert not verify_signature(
            delivery.body + b" ", delivery.signature, webhook.public_key or ""
        )
        assert not verify_signature(delivery.body, delivery.signature, other.public_key or "")
        assert not verify_signature(delivery.body, delivery.signature, company_key)


async def test_deliveries_parse_as_events_and_arrive_in_order_per_purchase(
    flow: Flow,
    gateway: PreciumClient,
    receiver: Receiver,
    control: SandboxControl,
    hook: tuple[Webhook, str],
) -> None:
    _, name = hook
    paid = await flow.paid(price=29_900)
    held = await flow.paid(price=50_000, skip_capture=True)
    voided = await flow.paid(price=7_000, skip_capture=True)
    refund = await gateway.refund(paid.id, 9_900)
    await gateway.capture(held.id, 40_000)
    await gateway.release(voided.id)
    await control.flush_webhooks()

    events = [WebhookEvent.parse(d.body) for d in receiver.accepted(name)]

    assert _by_purchase(events) == {
        paid.id: PAID_THEN_REFUNDED,
        held.id: [
            "purchase.created",
            "purchase.pending_execute",
            "purchase.hold",
            "purchase.pending_capture",
            "purchase.captured",
        ],
        voided.id: [
            "purchase.created",
            "purchase.pending_execute",
            "purchase.hold",
            "purchase.pending_release",
            "purchase.released",
        ],
    }
    by_type = {(e.purchase_id, e.event_type): e for e in events}
    paid_event = by_type[(paid.id, "purchase.paid")]
    assert paid_event.status is Status.PAID and paid_event.amount == 29_900
    assert paid_event.currency == "ZAR" and paid_event.purchase is not None
    assert paid_event.purchase.reference == paid.reference
    refunded = by_type[(paid.id, "payment.refunded")]
    assert refunded.status is None and refunded.amount == 9_900
    assert refunded.refund_id == refund.refund_id
    captured = by_type[(held.id, "purchase.captured")]
    assert captured.status is Status.PAID and captured.amount == 40_000
    assert by_type[(voided.id, "purchase.released")].status is Status.RELEASED
    # Each event's purchase is no older than the one before it.
    for purchase_id in (paid.id, held.id, voided.id):
        stamps = [e.occurred_at for e in events if e.purchase_id == purchase_id]
        assert stamps == sorted(stamps)  # type: ignore[type-var]


async def test_receiver_that_fails_the_first_deliveries_gets_them_again_in_order(
    flow: Flow,
    gateway: PreciumClient,
    receiver: Receiver,
    control: SandboxControl,
    hook: tuple[Webhook, str],
) -> None:
    webhook, name = hook
    receiver.fail_first(name, 3)

    paid = await flow.paid()
    await gateway.refund(paid.id, 1_000)
    await control.flush_webhooks()
    accepted = await wait_until(
        lambda: len(receiver.accepted(name)) >= len(PAID_THEN_REFUNDED) and receiver.accepted(name)
    )

    events = [WebhookEvent.parse(d.body) for d in accepted]
    assert [e.event_type for e in events] == PAID_THEN_REFUNDED
    every_post = receiver.deliveries(name)
    assert [d.answered for d in every_post[:3]] == [500, 500, 500]
    assert len(every_post) == len(PAID_THEN_REFUNDED) + 3
    # The failed event came again, byte for byte, with the same valid signature.
    assert {d.body for d in every_post[:3]} == {accepted[0].body}
    assert verify_signature(accepted[0].body, accepted[0].signature, webhook.public_key or "")
    record = [
        d for d in await control.flush_webhooks()
        if d["purchase_id"] == paid.id and d["event_type"] == "purchase.created"
        and d["target_id"] == webhook.id
    ]  # fmt: skip
    assert record and record[0]["attempts"] == 4 and record[0]["delivered"]


async def test_webhook_subscribed_to_some_events_gets_only_those(
    flow: Flow, gateway: PreciumClient, receiver: Receiver, control: SandboxControl
) -> None:
    name = receiver.new_name()
    webhook = await gateway.create_webhook(
        "paid only", receiver.url(name), events=["purchase.paid", "payment.refunded"]
    )
    try:
        paid = await flow.paid()
        await gateway.refund(paid.id)
        await control.flush_webhooks()
    finally:
        await gateway.delete_webhook(webhook.id)

    events = [WebhookEvent.parse(d.body) for d in receiver.accepted(name)]
    assert [(e.purchase_id, e.event_type) for e in events] == [
        (paid.id, "purchase.paid"),
        (paid.id, "payment.refunded"),
    ]


async def test_deleted_webhook_gets_nothing_more(
    flow: Flow, gateway: PreciumClient, receiver: Receiver, control: SandboxControl
) -> None:
    name = receiver.new_name()
    webhook = await gateway.create_webhook("gone", receiver.url(name), all_events=True)
    await gateway.delete_webhook(webhook.id)

    await flow.paid()
    await control.flush_webhooks()

    assert receiver.deliveries(name) == []
