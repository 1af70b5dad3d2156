"""Payment operations, exactly once: the merchant's side of every S2S scenario.

Each operation follows one protocol, whatever moves the money (a card submission, a recurring
charge, a capture, a void, a refund):

1. **Intent.** The business key (``sub:42:2026-02``, ``cit:ORDER-1``, ``capture:<purchase>``) is
   written to the ledger before anything is sent. A second call with the same key finds the first
   attempt and continues *it*; it never starts another.
2. **Purchase id.** The purchase is created and its id stored (committed) before the card is
   submitted or the token charged. Creating a purchase moves no money, so a lost create answer
   leaves at worst an unpaid orphan purchase.
3. **Act, then record.** A declined answer is final and recorded. A lost answer (timeout, dropped
   connection, 5xx) is an *unknown outcome*: the attempt is marked ``unknown`` and settled by
   reading the purchase back, never by sending the request again. A 4xx refusal means nothing
   happened: the intent is withdrawn so the merchant can correct the input.

Every function is safe to call again after any crash: it reads the ledger (and, where the ledger
cannot know, the purchase) before acting. That is what makes them safe for Prefect task retries.

This module is Prefect-free: tasks in ``tasks`` wrap it.
"""

from payflows.payments.actions import cancel_purchase, capture_hold, void_hold
from payflows.payments.cards import authorize_card, complete_three_ds, pay_with_card
from payflows.payments.context import (
    ChallengeInfo,
    OperationRejected,
    PaymentContext,
    PaymentOutcome,
)
from payflows.payments.mit import charge_stored_card
from payflows.payments.protocol import ensure_customer, open_purchase, settle_by_read_back
from payflows.payments.records import settlement_of
from payflows.payments.refunds import cancel_refund, refund_purchase
from payflows.payments.unresolved import UnresolvedSummary, settle_unresolved

__all__ = [
    "ChallengeInfo",
    "OperationRejected",
    "PaymentContext",
    "PaymentOutcome",
    "UnresolvedSummary",
    "authorize_card",
    "cancel_purchase",
    "cancel_refund",
    "capture_hold",
    "charge_stored_card",
    "complete_three_ds",
    "ensure_customer",
    "open_purchase",
    "pay_with_card",
    "refund_purchase",
    "settle_by_read_back",
    "settle_unresolved",
    "settlement_of",
    "void_hold",
]
