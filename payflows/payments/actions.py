"""Acting on a purchase that exists: capture, void, cancel (refunds are in ``refunds``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from payflows.domain.attempts import RESOLVED
from payflows.domain.states import Status
from payflows.gateway import (
    OutcomeUnknownError,
    PreciumError,
    Purchase,
    RequestRejected,
)
from payflows.ledger import (
    AttemptKind,
    AttemptState,
    PaymentAttempt,
    UnitOfWork,
    get_attempt,
    mark_submitted,
    record_intent,
    record_outcome,
    require_attempt,
    withdraw_intent,
)
from payflows.ledger.settlement import record_settlements
from payflows.payments.context import OperationRejected, PaymentContext, PaymentOutcome
from payflows.payments.records import settlement_of

__all__ = ["act_on", "cancel_purchase", "capture_hold", "void_hold"]


async def act_on(
    ctx: PaymentContext,
    business_key: str,
    kind: AttemptKind,
    purchase: Purchase,
    amount_cents: int,
    call: Callable[[], Any],
    done_when: Callable[[Purchase], bool],
) -> tuple[PaymentOutcome, Any]:
    """The protocol for an action on a purchase that exists: read, intend, act, settle.

    ``done_when`` tells from a read-back whether an earlier request of this attempt landed.
    """
    pid = purchase.id
    attempt: PaymentAttempt = await ctx.ledger(
        lambda uow: record_intent(
            uow,
            business_key,
            kind,
            amount_cents,
            purchase.currency or "ZAR",
            related_purchase_id=pid,
        )
    )
    if attempt.state in RESOLVED:
        return PaymentOutcome.of(attempt), None
    retrying = attempt.state in {AttemptState.SUBMITTED, AttemptState.UNKNOWN}
    if retrying:
        if done_when(purchase):
            return await _close(ctx, business_key, purchase), None
        if purchase.status.value.startswith("pending_"):
            # The gateway is still working on the earlier request: wait for it, do not resend.
            return PaymentOutcome.of(attempt), None
    await ctx.ledger(lambda uow: _submit_related(uow, business_key))
    try:
        answer = await call()
    except OutcomeUnknownError:
        await ctx.ledger(
            lambda uow: record_outcome(uow, business_key=business_key, state=AttemptState.UNKNOWN)
        )
        try:
            fresh = await ctx.gateway.get_purchase(pid)
        except PreciumError:
            fresh = None
        if fresh is not None and done_when(fresh):
            return await _close(ctx, business_key, fresh), None
        attempt = await ctx.ledger(lambda uow: require_attempt(uow, business_key))
        return PaymentOutcome.of(attempt), None
    except RequestRejected as exc:
        code = exc.code
        if retrying:
            await ctx.ledger(
                lambda uow: record_outcome(
                    uow,
                    business_key=business_key,
                    state=AttemptState.FAILED,
                    decline_code=code,
                )
            )
        else:
            await ctx.ledger(lambda uow: withdraw_intent(uow, business_key))
        raise OperationRejected(str(exc)) from exc
    fresh = answer if isinstance(answer, Purchase) else await ctx.gateway.get_purchase(pid)
    return await _close(ctx, business_key, fresh), answer


def _submit_related(uow: UnitOfWork, business_key: str) -> None:
    # An action on an existing purchase has no purchase of its own: intent -> submitted; an
    # unknown one was just read back (not landed, nothing pending), so it is sent again.
    mark_submitted(uow, business_key, resend=True)


async def _close(ctx: PaymentContext, business_key: str, purchase: Purchase) -> PaymentOutcome:
    observed = ctx.now()

    def write(uow: UnitOfWork) -> PaymentAttempt:
        attempt = record_outcome(
            uow,
            business_key=business_key,
            state=AttemptState.SUCCEEDED,
            purchase_status=purchase.status,
            brand=purchase.card_brand,
            masked_pan=purchase.masked_pan,
            observed_at=observed,
        )
        # A capture pays the purchase it acts on: its paid amount and fee go on that purchase.
        record_settlements(uow, [settlement_of(purchase)])
        return attempt

    return PaymentOutcome.of(await ctx.ledger(write))


def same_currency(purchase: Purchase, amount_cents: int | None, currency: str | None) -> None:
    """Refuse an amount given in another currency than the purchase's.

    An operator types an amount in a currency's units; its cents mean another sum in another
    currency (``"50"`` JPY is 50 minor units: R 0.50 on a ZAR purchase), so the two must agree.
    """
    have = (purchase.currency or "ZAR").upper()
    if amount_cents is not None and currency is not None and currency.upper() != have:
        raise OperationRejected(f"the amount is in {currency.upper()}, the purchase in {have}")


async def capture_hold(
    ctx: PaymentContext,
    purchase_id: str,
    amount_cents: int | None = None,
    *,
    currency: str | None = None,
) -> PaymentOutcome:
    """Capture all or part of a hold (the remainder is released). Once per hold.

    ``currency``, when given, is the one ``amount_cents`` was typed in: refused unless the hold's.
    """
    purchase = await ctx.gateway.get_purchase(purchase_id)
    same_currency(purchase, amount_cents, currency)
    authorised = purchase.total or 0
    amount = authorised if amount_cents is None else amount_cents
    if amount <= 0 or amount > authorised:
        raise OperationRejected(
            f"capture of {amount} cents is not within the authorised {authorised} cents"
        )
    key = f"capture:{purchase_id}"
    existing = await ctx.ledger(lambda uow: get_attempt(uow, business_key=key))
    if existing is None and purchase.status is not Status.HOLD:
        raise OperationRejected(f"purchase {purchase_id} is {purchase.status}, not a hold")
    outcome, _ = await act_on(
        ctx,
        key,
        AttemptKind.CAPTURE,
        purchase,
        amount,
        lambda: ctx.gateway.capture(purchase_id, None if amount == authorised else amount),
        lambda p: p.status in {Status.PAID, Status.CLEARED, Status.SETTLED},
    )
    return outcome


async def void_hold(
    ctx: PaymentContext, purchase_id: str, *, via: str = "release"
) -> PaymentOutcome:
    """Release a hold the merchant no longer needs (``via="cancel"`` voids as the guide does)."""
    purchase = await ctx.gateway.get_purchase(purchase_id)
    key = f"void:{purchase_id}"
    existing = await ctx.ledger(lambda uow: get_attempt(uow, business_key=key))
    if existing is None and purchase.status not in {Status.HOLD, Status.PREAUTHORIZED}:
        raise OperationRejected(f"purchase {purchase_id} is {purchase.status}, not a hold")
    call = ctx.gateway.cancel if via == "cancel" else ctx.gateway.release
    outcome, _ = await act_on(
        ctx,
        key,
        AttemptKind.VOID,
        purchase,
        purchase.total or 0,
        lambda: call(purchase_id),
        lambda p: p.status in {Status.RELEASED, Status.CANCELLED},
    )
    return outcome


async def cancel_purchase(ctx: PaymentContext, purchase_id: str) -> PaymentOutcome:
    """Cancel a purchase before settlement (a paid one is refunded in full by the network)."""
    purchase = await ctx.gateway.get_purchase(purchase_id)
    key = f"cancel:{purchase_id}"
    existing = await ctx.ledger(lambda uow: get_attempt(uow, business_key=key))
    cancellable = {Status.CREATED, Status.VIEWED, Status.ERROR, Status.HOLD}
    cancellable |= {Status.PREAUTHORIZED, Status.PAID}
    # The platform keeps a settled purchase "paid": its settlement date says it settled.
    settled = purchase.status is Status.SETTLED or purchase.settled_on is not None
    if existing is None and (purchase.status not in cancellable or settled):
        raise OperationRejected(
            f"purchase {purchase_id} is {'settled' if settled else purchase.status}: it can no "
            "longer be cancelled" + (" (it has settled; refund it instead)" if settled else "")
        )
    outcome, _ = await act_on(
        ctx,
        key,
        AttemptKind.CANCEL,
        purchase,
        purchase.total or 0,
        lambda: ctx.gateway.cancel(purchase_id),
        lambda p: p.status is Status.CANCELLED,
    )
    return outcome
