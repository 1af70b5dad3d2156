"""The end of a stored card's life: the merchant deletes it at the gateway.

On the platform the purchase that saved a card *is* its recurring token, and
``POST /purchases/{token}/delete_recurring_token/`` deletes it (the gateway then sends
``purchase.pending_recurring_token_delete`` and ``purchase.recurring_token_deleted``, which mark
the card deleted in the ledger too: whoever deleted it, see :mod:`payflows.webhooks`). Deleting is
harmless to repeat, so unlike a payment a lost answer may simply be asked again; but the ledger
marks the card deleted only on the gateway's word (its answer, or the purchase read back), so a
card is never shown deleted while the gateway could still charge it.

Prefect-free, like :mod:`payflows.payments` whose context it takes.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from payflows.domain.screening import CardNumberInField, contains_card_number
from payflows.gateway import NotFoundError, OutcomeUnknownError, Purchase, RequestRejected
from payflows.ledger import Customer, PaymentMethod, UnitOfWork
from payflows.ledger.cards import card_by_token, mark_card_deleted
from payflows.payments import OperationRejected, PaymentContext

__all__ = ["CardDeletion", "delete_stored_card"]


class CardDeletion(BaseModel):
    """What deleting a stored card did. No card data: the token, brand and masked PAN."""

    model_config = ConfigDict(frozen=True)

    recurring_token: str
    deleted_at: datetime
    #: True when the ledger already knew it deleted (nothing was asked of the gateway).
    already_deleted: bool = False
    brand: str | None = None
    masked_pan: str | None = None


def _snapshot(method: PaymentMethod, *, already: bool) -> CardDeletion:
    assert method.deleted_at is not None
    return CardDeletion(
        recurring_token=method.recurring_token,
        deleted_at=method.deleted_at,
        already_deleted=already,
        brand=method.brand,
        masked_pan=method.masked_pan,
    )


def _gone(purchase: Purchase) -> bool:
    return purchase.token_deleted or (
        not purchase.is_recurring_token and purchase.saved_token is None
    )


async def delete_stored_card(
    ctx: PaymentContext, recurring_token: str, *, customer_external_id: str | None = None
) -> CardDeletion:
    """Delete the stored card ``recurring_token`` at the gateway and mark it deleted.

    Refused (:class:`OperationRejected`) for a token the ledger does not hold (or not for the
    customer ``customer_external_id``, when given: an operator's form names both), or one the
    gateway refuses to delete while still holding it. A lost answer is settled by reading the
    purchase back; if that fails too, the error is raised (retry-safe: deleting again is
    harmless) and the card stays usable in the ledger until the gateway says otherwise.
    A token that looks like a card number is refused before anything is read or sent, and the
    refusal never quotes it.
    """
    if contains_card_number(recurring_token):
        raise OperationRejected(str(CardNumberInField("the recurring token")))

    def find(uow: UnitOfWork) -> PaymentMethod | None:
        method = card_by_token(uow, recurring_token)
        if method is None:
            return None
        if customer_external_id is not None:
            owner = uow.session.get(Customer, method.customer_id)
            if owner is None or owner.external_id != customer_external_id:
                raise OperationRejected(
                    f"customer {customer_external_id!r} has no stored card {recurring_token!r}"
                )
        uow.session.expunge(method)
        return method

    method: PaymentMethod | None = await ctx.ledger(find)
    if method is None:
        raise OperationRejected(f"no stored card {recurring_token!r} in the ledger")
    if method.deleted_at is not None:
        return _snapshot(method, already=True)
    try:
        await ctx.gateway.delete_recurring_token(recurring_token)
    except NotFoundError as exc:
        raise OperationRejected(
            f"the gateway has no purchase {recurring_token!r} (is this token from another "
            "account or environment?)"
        ) from exc
    except (RequestRejected, OutcomeUnknownError) as exc:
        # Refused (already deleted?) or lost: the purchase says whether the token still stands.
        purchase = await ctx.gateway.get_purchase(recurring_token)
        if not _gone(purchase):
            if isinstance(exc, RequestRejected):
                raise OperationRejected(f"the gateway refused to delete the card: {exc}") from exc
            raise
    at = ctx.now()

    def mark(uow: UnitOfWork) -> CardDeletion:
        mark_card_deleted(uow, recurring_token, at)
        stored = card_by_token(uow, recurring_token)
        assert stored is not None
        return _snapshot(stored, already=False)

    return await ctx.ledger(mark)  # type: ignore[no-any-return]
