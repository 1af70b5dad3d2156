"""Sandbox time: holds expire by card network, payments clear and settle, refunds settle.

Each test moves the clock, so each runs on a sandbox of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager

import httpx
import pytest

from payflows.domain import Status
from payflows.gateway import CardDeclinedError, CardFlags, InvalidStateError, WebhookEvent
from tests.integration.support import DAY, Flow, Receiver, SandboxControl, connect

StartSandbox = Callable[..., AbstractContextManager[str]]


@asynccontextmanager
async def _own_sandbox(
    start: StartSandbox, browser: httpx.AsyncClient
) -> AsyncIterator[tuple[Flow, SandboxControl]]:
    with start() as base_url:
        async with connect(base_url) as gateway:
            yield Flow(gateway, browser), SandboxControl(base_url, browser)


async def test_visa_hold_expires_after_7_days_and_a_mastercard_preauth_after_30(
    fresh_sandbox: StartSandbox, browser: httpx.AsyncClient
) -> None:
    async with _own_sandbox(fresh_sandbox, browser) as (flow, sandbox):
        gateway = flow.gateway
        visa = await flow.paid("4111111111111111", skip_capture=True)
        mastercard = await flow.paid("5100000000000008", skip_capture=True)
        assert visa.status is mastercard.status is Status.HOLD

        await sandbox.advance(days=8)

        assert (await gateway.get_purchase(visa.id)).status is Status.EXPIRED
        assert (await gateway.get_purchase(mastercard.id)).status is Status.HOLD
        with pytest.raises(InvalidStateError) as refused:
            await gateway.capture(visa.id)
        assert refused.value.code == "purchase_capture_error"

        await sandbox.advance(days=21)  # day 29
        assert (await gateway.get_purchase(mastercard.id)).status is Status.HOLD
        await sandbox.advance(days=2)  # day 31
        expired = await gateway.get_purchase(mastercard.id)
        assert expired.status is Status.EXPIRED and expired.refundable_amount == 0
        assert [c.status.value for c in expired.status_history][-2:] == ["hold", "expired"]


async def test_merchant_initiated_visa_hold_expires_after_5_days(
    fresh_sandbox: StartSandbox, browser: httpx.AsyncClient
) -> None:
    async with _own_sandbox(fresh_sandbox, browser) as (flow, sandbox):
        customer = await flow.paid("4111111111111111", skip_capture=True)
        stored = await flow.purchase(
            redirects=False,
            skip_capture=True,
            card=CardFlags(is_recurring=True, previous_network_transaction_id="546464487987132"),
        )
        await flow.submit(stored, "4111111111111111", cvc="000", browser=False)

        await sandbox.advance(days=6)

        assert (await flow.gateway.get_purchase(stored.id)).status is Status.EXPIRED
        assert (await flow.gateway.get_purchase(customer.id)).status is Status.HOLD


async def test_payment_clears_after_a_day_and_settles_after_two_with_a_settled_webhook(
    fresh_sandbox: StartSandbox, browser: httpx.AsyncClient, receiver: Receiver
) -> None:
    async with _own_sandbox(fresh_sandbox, browser) as (flow, sandbox):
        gateway = flow.gateway
        name = receiver.new_name()
        webhook = await gateway.create_webhook("settlement", receiver.url(name), all_events=True)
        paid = await flow.paid(price=29_900)

        await sandbox.advance(days=1, seconds=60)
        # Cleared for settlement: nothing visible changes, the status stays paid (sample 07).
        assert (await gateway.get_purchase(paid.id)).status is Status.PAID
        await sandbox.advance(days=2)
        settled = await gateway.get_purchase(paid.id)
        await sandbox.flush_webhooks()

    assert settled.status is Status.PAID
    assert settled.paid_on is not None and settled.settled_on is not None
    assert (settled.settled_on - settled.paid_on).total_seconds() == 2 * DAY
    assert [c.status.value for c in settled.status_history][-1] == "paid"
    events = [WebhookEvent.parse(d.body) for d in receiver.accepted(name)]
    assert [e.event_type for e in events] == [
        "purchase.created",
        "purchase.pending_execute",
        "purchase.paid",
        "purchase.settled",
    ]
    event = events[-1]
    assert event.purchase_id == paid.id and event.status is Status.PAID
    assert event.purchase is not None and event.purchase.settled_on == settled.settled_on
    assert webhook.public_key


async def test_cancel_after_settlement_is_refused(
    fresh_sandbox: StartSandbox, browser: httpx.AsyncClient
) -> None:
    async with _own_sandbox(fresh_sandbox, browser) as (flow, sandbox):
        paid = await flow.paid()
        await sandbox.advance(days=3)

        with pytest.raises(InvalidStateError) as refused:
            await flow.gateway.cancel(paid.id)

        assert refused.value.code == "purchase_cancel_error"
        # A settled payment is given back by refund instead.
        refund = await flow.gateway.refund(paid.id)
        assert refund.amount == paid.total
        assert (await flow.gateway.get_purchase(paid.id)).status is Status.REFUNDED


async def test_inspection_lists_exactly_what_was_done_with_refunds(
    fresh_sandbox: StartSandbox, browser: httpx.AsyncClient
) -> None:
    async with _own_sandbox(fresh_sandbox, browser) as (flow, sandbox):
        gateway = flow.gateway
        reference = "ORDER-12345"
        declined = await flow.purchase(reference=reference)
        with pytest.raises(CardDeclinedError):
            await flow.submit(declined, "4000000000000028")
        paid = await flow.paid(price=29_900, reference=reference)
        kept = await gateway.refund(paid.id, 10_000)
        undone = await gateway.refund(paid.id, 5_000)
        await gateway.cancel_refund(paid.id, undone.refund_id or "")
        await flow.paid(reference="SOMETHING-ELSE")

        await sandbox.advance(days=1, seconds=60)

        # A refund settled a day after it was made: too late to cancel it.
        with pytest.raises(InvalidStateError) as refused:
            await gateway.cancel_refund(paid.id, kept.refund_id or "")
        assert refused.value.code == "refund_cancel_error"
        listed = await sandbox.purchases(reference=reference)

    assert sorted(p["id"] for p in listed) == sorted([declined.id, paid.id])
    by_id = {p["id"]: p for p in listed}
    assert by_id[declined.id]["status"] == "error" and by_id[declined.id]["refunds"] == []
    assert by_id[declined.id]["transaction_data"]["attempts"][0]["error"]["code"] == (
        "insufficient_funds"
    )
    assert by_id[paid.id]["status"] == "paid"
    assert by_id[paid.id]["refundable_amount"] == 19_900
    refunds = by_id[paid.id]["refunds"]
    assert [(r["id"], r["amount"], r["status"]) for r in refunds] == [
        (kept.refund_id, 10_000, "settled"),
        (undone.refund_id, 5_000, "cancelled"),
    ]
    assert refunds[0]["settled_on"] == refunds[0]["created_on"] + DAY
    assert refunds[1]["cancelled_on"] is not None
