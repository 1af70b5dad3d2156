"""What the gateway tells the ledger about stored cards and declines, outside a payment run.

A stored card (:class:`~payflows.ledger.models.PaymentMethod`) is named by its recurring token,
which on the platform is the id of the purchase that saved the card. Its life after it was saved
is told by the gateway: the card is deleted (by the merchant or anyone else with the keys; the
``purchase.pending_recurring_token_delete`` and ``purchase.recurring_token_deleted`` webhooks say
so), and the network transaction id of its first payment may only arrive with an answer the
ledger did not have when it stored the card. Each function here records one such fact once and
says whether anything changed; none ever un-deletes a card.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select

from payflows.ledger.db import UnitOfWork
from payflows.ledger.models import PaymentAttempt, PaymentMethod, utcnow

__all__ = [
    "CARD_DELETED",
    "card_by_token",
    "keep_network_transaction_id",
    "mark_card_deleted",
    "record_decline_code",
]

#: ``last_decline_code`` of a subscription or one-off charge whose card was deleted.
CARD_DELETED = "card_deleted"


def card_by_token(uow: UnitOfWork, recurring_token: str) -> PaymentMethod | None:
    return uow.session.exec(
        select(PaymentMethod).where(PaymentMethod.recurring_token == recurring_token)
    ).first()


def mark_card_deleted(uow: UnitOfWork, recurring_token: str, at: datetime) -> bool:
    """Mark the stored card ``recurring_token`` deleted (as of ``at``), once.

    False when the ledger has no such card or already knows it deleted: the first report
    (pending delete or deleted, whichever lands first) keeps its time.
    """
    method = card_by_token(uow, recurring_token)
    if method is None or method.deleted_at is not None:
        return False
    method.deleted_at = at
    method.updated_at = utcnow()
    uow.session.flush()
    return True


def keep_network_transaction_id(
    uow: UnitOfWork, recurring_token: str, network_transaction_id: str | None
) -> bool:
    """Keep the network transaction id of the card's first payment, if the ledger has none.

    The first id is the one every later merchant-initiated charge quotes; a later answer never
    replaces it.
    """
    if not network_transaction_id:
        return False
    method = card_by_token(uow, recurring_token)
    if method is None or method.network_transaction_id:
        return False
    method.network_transaction_id = network_transaction_id[:64]
    method.updated_at = utcnow()
    uow.session.flush()
    return True


def record_decline_code(
    uow: UnitOfWork,
    purchase_id: str,
    code: str,
    *,
    network_code: str | None = None,
    advice_code: str | None = None,
) -> bool:
    """Keep why the purchase ``purchase_id`` failed on the attempt that made it.

    A ``purchase.payment_failure`` webhook may be the only report of a decline (a payment that
    went ``pending`` and failed later). A decline already recorded (from the answer itself) is
    not overwritten, nor is an attempt that since succeeded given one.
    """
    attempt = uow.session.exec(
        select(PaymentAttempt).where(PaymentAttempt.purchase_id == purchase_id)
    ).first()
    if attempt is None or attempt.decline_code or attempt.state.value == "succeeded":
        return False
    attempt.decline_code = code[:64]
    attempt.network_code = network_code
    attempt.advice_code = advice_code
    attempt.updated_at = utcnow()
    uow.session.flush()
    return True
