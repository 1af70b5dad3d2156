"""What a purchase read back leaves in the ledger: the attempt's outcome, the money figures,
the card it stored, the hold it placed."""

from __future__ import annotations

from datetime import datetime

from payflows.domain.attempts import state_for_status
from payflows.domain.states import Status
from payflows.gateway import (
    Purchase,
)
from payflows.ledger import (
    AttemptKind,
    AttemptState,
    Hold,
    PaymentAttempt,
    UnitOfWork,
    get_attempt,
    record_hold,
    record_outcome,
    upsert_payment_method,
)
from payflows.ledger.settlement import SettlementReport, record_settlements
from payflows.payments.context import PaymentContext

__all__ = ["record_purchase", "remember_card", "remember_hold", "settlement_of"]


async def record_purchase(
    ctx: PaymentContext, attempt: PaymentAttempt, purchase: Purchase
) -> PaymentAttempt:
    """Record what the gateway says of the attempt's own purchase (a read-back or an answer)."""
    found = state_for_status(purchase.status)
    # In flight at the gateway: still unknown to us; not arrived: nothing to record.
    state = AttemptState.UNKNOWN if found is AttemptState.SUBMITTED else found
    decline = purchase.decline if state is AttemptState.DECLINED else None
    observed = ctx.now()

    def write(uow: UnitOfWork) -> PaymentAttempt:
        if state is None:
            current = get_attempt(uow, business_key=attempt.business_key)
            assert current is not None
            return current
        updated = record_outcome(
            uow,
            business_key=attempt.business_key,
            state=state,
            purchase_status=purchase.status,
            decline_code=decline.code if decline else None,
            network_code=decline.network_code if decline else None,
            advice_code=decline.advice_code if decline else None,
            brand=purchase.card_brand,
            masked_pan=purchase.masked_pan,
            observed_at=observed,
        )
        record_settlements(uow, [settlement_of(purchase)])
        if state is AttemptState.SUCCEEDED:
            remember_card(uow, updated, purchase)
            if purchase.status is Status.HOLD:
                remember_hold(ctx, uow, updated, purchase)
        return updated

    return await ctx.ledger(write)


def remember_card(uow: UnitOfWork, attempt: PaymentAttempt, purchase: Purchase) -> None:
    # The purchase that saved the card IS the token; its ``recurring_token`` stays null.
    token = purchase.saved_token
    if not token or attempt.customer_id is None or attempt.kind is AttemptKind.MIT:
        return
    extra = purchase.transaction_data.extra
    upsert_payment_method(
        uow,
        token,
        customer_id=attempt.customer_id,
        network_transaction_id=purchase.network_transaction_id,
        original_amount_cents=purchase.total,
        currency=purchase.currency,
        brand=purchase.card_brand,
        masked_pan=purchase.masked_pan,
        expiry_month=extra.expiry_month,
        expiry_year=_full_year(extra.expiry_year),
    )


def _full_year(year: int | None) -> int | None:
    return None if year is None else (2000 + year if year < 100 else year)


def remember_hold(
    ctx: PaymentContext, uow: UnitOfWork, attempt: PaymentAttempt, purchase: Purchase
) -> Hold:
    authorised_at = _status_time(purchase, Status.HOLD) or ctx.now()
    is_mit = attempt.kind is AttemptKind.MIT or _is_recurring(purchase)
    expires_at = ctx.windows.deadline(authorised_at, purchase.card_brand, is_mit=is_mit)
    return record_hold(
        uow,
        purchase.id,
        authorised_cents=purchase.total or attempt.amount_cents,
        currency=purchase.currency or attempt.currency,
        authorised_at=authorised_at,
        expires_at=expires_at,
        brand=purchase.card_brand,
        is_mit=is_mit,
        customer_id=attempt.customer_id,
        attempt_id=attempt.id,
    )


def _status_time(purchase: Purchase, status: Status) -> datetime | None:
    for change in reversed(purchase.status_history or []):
        if change.status == status and change.timestamp is not None:
            return change.timestamp
    return None


def settlement_of(purchase: Purchase) -> SettlementReport:
    """The money side of a purchase as the gateway reports it (``payment`` and settlement),
    with the card's brand and masked PAN.

    Only a payment that came in counts (``payment_type`` purchase, not outgoing); a purchase
    that was never paid reports no amounts.
    """
    payment = purchase.payment
    incoming = payment is not None and not payment.is_outgoing and payment.amount is not None
    brand, masked = purchase.card_brand, purchase.masked_pan
    if not incoming or payment is None:
        return SettlementReport(
            purchase.id, settled_at=purchase.settled_on, brand=brand, masked_pan=masked
        )
    return SettlementReport(
        purchase.id,
        paid_cents=payment.amount,
        fee_cents=payment.fee_amount,
        net_cents=payment.net_amount,
        paid_at=payment.paid_on,
        settled_at=purchase.settled_on,
        brand=brand,
        masked_pan=masked,
    )


def _is_recurring(purchase: Purchase) -> bool:
    details = purchase.purchase.payment_method_details if purchase.purchase else {}
    card = details.get("card") or {}
    return bool(isinstance(card, dict) and card.get("is_recurring"))
