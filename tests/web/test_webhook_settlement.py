"""Settlement reaches the ledger from webhooks: the real purchase.settled sample (which still
says "paid") records the paid amount, the gateway's fee and net, and the settlement date."""

from __future__ import annotations

from datetime import UTC, datetime

from payflows.domain import Status
from payflows.gateway import WebhookEvent
from payflows.webhooks import store_and_apply
from tests.web.support import attempt_of, sample, seed_purchase

SETTLED = "8d065839-77c6-4f65-980b-dbb8a5eb2886"


def test_purchase_settled_records_fee_net_and_settlement(engine) -> None:
    seed_purchase(engine, SETTLED)
    raw = sample("07-event-Purchase-settled")

    delivery = store_and_apply(engine, raw, WebhookEvent.parse(raw))

    assert delivery.applied and delivery.changed
    attempt = attempt_of(engine, SETTLED)
    assert attempt.purchase_status is Status.SETTLED
    assert (attempt.paid_cents, attempt.fee_cents, attempt.net_cents) == (100, 100, 0)
    assert attempt.paid_at == datetime.fromtimestamp(1706856784, UTC)
    assert attempt.settled_at == datetime.fromtimestamp(1706976569, UTC)
    # Delivered again (a retry by the gateway): stored once, nothing moves.
    again = store_and_apply(engine, raw, WebhookEvent.parse(raw))
    assert again.duplicate and attempt_of(engine, SETTLED).settled_at == attempt.settled_at
