"""The ledger: the merchant's own record of customers, cards, subscriptions and money moved.

Precium knows what happened to each purchase; the ledger knows what the merchant *meant* to do
(a business key per attempt) and which purchase carries it, so that a crash or a retry can be
settled by reading the purchase back instead of charging again. SQLite by default, PostgreSQL in
production; ``payflows db upgrade`` runs :func:`payflows.ledger.migrate.upgrade`.

    with UnitOfWork(engine) as uow:
        attempt = record_intent(uow, f"sub:{sub.id}:{period}", AttemptKind.MIT, 9900, "ZAR")
        uow.commit()
"""

from payflows.ledger.db import UnitOfWork, make_engine
from payflows.ledger.errors import AttemptNotFound, LedgerError, PurchaseConflict
from payflows.ledger.models import (
    AttemptKind,
    AttemptState,
    Customer,
    Hold,
    HoldDecision,
    IntervalUnit,
    PaymentAttempt,
    PaymentMethod,
    Refund,
    RefundStatus,
    Subscription,
    SubscriptionStatus,
    WebhookEvent,
    metadata,
)
from payflows.ledger.repo import (
    UNRESOLVED,
    Intent,
    Outcome,
    StatusReport,
    apply_gateway_status,
    apply_gateway_statuses,
    attach_purchase,
    attach_purchases,
    claim_due_subscriptions,
    decide_hold,
    due_holds,
    get_attempt,
    mark_submitted,
    mark_webhook_applied,
    record_hold,
    record_intent,
    record_intents,
    record_outcome,
    record_outcomes,
    record_refund,
    record_webhook_event,
    release_claim,
    unresolved_attempts,
    upsert_customer,
    upsert_payment_method,
    upsert_subscription,
    webhook_dedupe_key,
)

__all__ = [
    "UNRESOLVED",
    "AttemptKind",
    "AttemptNotFound",
    "AttemptState",
    "Customer",
    "Hold",
    "HoldDecision",
    "Intent",
    "IntervalUnit",
    "LedgerError",
    "Outcome",
    "PaymentAttempt",
    "PaymentMethod",
    "PurchaseConflict",
    "Refund",
    "RefundStatus",
    "StatusReport",
    "Subscription",
    "SubscriptionStatus",
    "UnitOfWork",
    "WebhookEvent",
    "apply_gateway_status",
    "apply_gateway_statuses",
    "attach_purchase",
    "attach_purchases",
    "claim_due_subscriptions",
    "decide_hold",
    "due_holds",
    "get_attempt",
    "make_engine",
    "mark_submitted",
    "mark_webhook_applied",
    "metadata",
    "record_hold",
    "record_intent",
    "record_intents",
    "record_outcome",
    "record_outcomes",
    "record_refund",
    "record_webhook_event",
    "release_claim",
    "unresolved_attempts",
    "upsert_customer",
    "upsert_payment_method",
    "upsert_subscription",
    "webhook_dedupe_key",
]
