"""The ledger's queries, by aggregate (kept as one import path for older callers).

Each aggregate has a module of its own: :mod:`~payflows.ledger.customers`,
:mod:`~payflows.ledger.subscriptions`, :mod:`~payflows.ledger.one_offs`,
:mod:`~payflows.ledger.attempts` (the exactly-once steps), :mod:`~payflows.ledger.grouped` (their
grouped SQL forms), :mod:`~payflows.ledger.statuses` (gateway statuses),
:mod:`~payflows.ledger.holds` (holds and refunds) and :mod:`~payflows.ledger.webhooks` (webhooks
and 3-D Secure challenges). Import from :mod:`payflows.ledger`.
"""

from payflows.domain.attempts import UNRESOLVED
from payflows.ledger.attempts import (
    Intent,
    Outcome,
    attach_purchase,
    attach_purchases,
    get_attempt,
    mark_submitted,
    record_intent,
    record_intents,
    record_outcome,
    record_outcomes,
    require_attempt,
    unresolved_attempts,
    withdraw_intent,
)
from payflows.ledger.customers import upsert_customer, upsert_payment_method
from payflows.ledger.holds import decide_hold, due_holds, record_hold, record_refund
from payflows.ledger.one_offs import get_one_off_charge, upsert_one_off_charge
from payflows.ledger.statuses import StatusReport, apply_gateway_status, apply_gateway_statuses
from payflows.ledger.subscriptions import (
    claim_due_subscriptions,
    lease_rows,
    release_claim,
    renew_leases,
    upsert_subscription,
)
from payflows.ledger.webhooks import (
    complete_challenge,
    get_challenge,
    mark_webhook_applied,
    record_challenge,
    record_webhook_event,
    webhook_dedupe_key,
)

__all__ = [
    "UNRESOLVED",
    "Intent",
    "Outcome",
    "StatusReport",
    "apply_gateway_status",
    "apply_gateway_statuses",
    "attach_purchase",
    "attach_purchases",
    "claim_due_subscriptions",
    "complete_challenge",
    "decide_hold",
    "due_holds",
    "get_attempt",
    "get_challenge",
    "get_one_off_charge",
    "lease_rows",
    "mark_submitted",
    "mark_webhook_applied",
    "record_challenge",
    "record_hold",
    "record_intent",
    "record_intents",
    "record_outcome",
    "record_outcomes",
    "record_refund",
    "record_webhook_event",
    "release_claim",
    "renew_leases",
    "require_attempt",
    "unresolved_attempts",
    "upsert_customer",
    "upsert_one_off_charge",
    "upsert_payment_method",
    "upsert_subscription",
    "webhook_dedupe_key",
    "withdraw_intent",
]
