"""Card submissions: customer-initiated payments, pre-auth, zero-auth, 3-D Secure completion."""

from __future__ import annotations

from typing import Any

from payflows.domain.attempts import RESOLVED
from payflows.domain.cards import BrowserFingerprint, CardData
from payflows.domain.states import Status
from payflows.gateway import (
    CardDeclinedError,
    CardDetails,
    CardFlags,
    OutcomeUnknownError,
    PreciumError,
)
from payflows.ledger import (
    AttemptKind,
    PaymentAttempt,
    complete_challenge,
    get_challenge,
    mark_submitted,
    record_challenge,
    require_attempt,
)
from payflows.ledger.cards import keep_network_transaction_id
from payflows.ledger.models import Customer
from payflows.payments.context import (
    ChallengeInfo,
    OperationRejected,
    PaymentContext,
    PaymentOutcome,
)
from payflows.payments.protocol import (
    build_request,
    declined,
    mark_unknown,
    may_act,
    open_purchase,
    settle_by_read_back,
    with_token,
)
from payflows.payments.records import record_purchase

__all__ = ["authorize_card", "complete_three_ds", "pay_with_card"]


async def _submit(
    ctx: PaymentContext,
    attempt: PaymentAttempt,
    card: CardData | None,
    *,
    remote_ip: str,
    remember_card: bool,
    browser: BrowserFingerprint | None,
) -> PaymentOutcome:
    done, purchase = await may_act(ctx, attempt, need_purchase=True)
    if done is not None:
        return done
    assert purchase is not None
    if not purchase.direct_post_url:
        raise OperationRejected(
            f"purchase {purchase.id} has no direct_post_url: set both redirects when creating it"
        )
    key = attempt.business_key
    await ctx.ledger(lambda uow: mark_submitted(uow, key))
    try:
        answer = await ctx.gateway.submit_card(
            purchase.direct_post_url,
            card,
            remote_ip=remote_ip,
            remember_card=remember_card,
            browser=browser,
        )
    except CardDeclinedError as exc:
        brand = card.brand if card is not None else None
        masked = card.masked_pan if card is not None else None
        return await declined(ctx, key, exc, brand=brand, masked_pan=masked)
    except OutcomeUnknownError:
        return await mark_unknown(ctx, key)
    if answer.requires_3ds and answer.three_ds is not None:
        challenge = answer.three_ds
        callback = challenge.callback_url or ""
        await ctx.ledger(
            lambda uow: record_challenge(
                uow,
                md=challenge.md,
                business_key=key,
                purchase_id=purchase.id,
                acs_url=challenge.url,
                callback_url=callback,
            )
        )
        current = await ctx.ledger(lambda uow: require_attempt(uow, key))
        info = ChallengeInfo(
            md=challenge.md, acs_url=challenge.url, pareq=challenge.pareq, method=challenge.method
        )
        return PaymentOutcome.of(current, three_ds=info)
    # executed / authorized / pending: the purchase itself is the record.
    outcome = await settle_by_read_back(ctx, key)
    await _keep_ntid(ctx, purchase.id, answer.card)
    return outcome


async def _keep_ntid(ctx: PaymentContext, token: str, card: CardDetails | None) -> None:
    """The network transaction id the answer gave (the purchase read back may have none)."""
    ntid = card.network_transaction_id if card is not None else None
    if ntid:
        await ctx.ledger(lambda uow: keep_network_transaction_id(uow, token, ntid))


async def pay_with_card(
    ctx: PaymentContext,
    business_key: str,
    customer: Customer,
    card: CardData | None,
    *,
    amount_cents: int,
    currency: str,
    product: str,
    kind: AttemptKind = AttemptKind.CIT,
    skip_capture: bool = False,
    force_recurring: bool = False,
    card_flags: CardFlags | None = None,
    remote_ip: str = "127.0.0.1",
    browser: BrowserFingerprint | None = None,
) -> PaymentOutcome:
    """A card payment: customer-initiated, pre-auth, zero-auth, external 3DS, network token.

    Returns a succeeded or declined outcome, or one with ``three_ds`` set: the shopper must
    complete the challenge, after which :func:`complete_three_ds` finishes the payment.
    """
    if customer.precium_client_id is None:
        raise OperationRejected(f"customer {customer.external_id} has no Precium client yet")
    request = build_request(
        ctx,
        client_id=customer.precium_client_id,
        amount_cents=amount_cents,
        currency=currency,
        product=product,
        skip_capture=skip_capture,
        force_recurring=force_recurring,
        card_flags=card_flags,
    )
    attempt = await open_purchase(ctx, business_key, kind, request, customer_id=customer.id)
    outcome = await _submit(
        ctx,
        attempt,
        card,
        remote_ip=remote_ip,
        remember_card=force_recurring,
        browser=browser,
    )
    return await with_token(ctx, outcome)


async def authorize_card(
    ctx: PaymentContext,
    business_key: str,
    customer: Customer,
    card: CardData | None,
    *,
    amount_cents: int,
    currency: str,
    product: str,
    **kwargs: Any,
) -> PaymentOutcome:
    """A pre-authorisation (a hold to capture or void later); zero amount validates the card."""
    kind = AttemptKind.ZERO_AUTH if amount_cents == 0 else AttemptKind.PREAUTH
    return await pay_with_card(
        ctx,
        business_key,
        customer,
        card,
        amount_cents=amount_cents,
        currency=currency,
        product=product,
        kind=kind,
        skip_capture=amount_cents > 0,
        **kwargs,
    )


async def complete_three_ds(ctx: PaymentContext, md: str, pares: str) -> PaymentOutcome:
    """Finish a payment after the shopper's bank answered at the TermUrl (idempotent per MD)."""
    challenge = await ctx.ledger(lambda uow: get_challenge(uow, md))
    if challenge is None:
        raise OperationRejected("unknown 3-D Secure session")
    key = challenge.business_key
    attempt = await ctx.ledger(lambda uow: require_attempt(uow, key))
    if attempt.state in RESOLVED:
        return await with_token(ctx, PaymentOutcome.of(attempt))
    if attempt.purchase_id is not None:
        # A repeated bank-return POST or a task retry: the first completion may have gone
        # through with its answer lost. Read back first; send only while 3DS is still awaited.
        pid = attempt.purchase_id
        try:
            purchase = await ctx.gateway.get_purchase(pid)
        except PreciumError:
            return PaymentOutcome.of(attempt)  # cannot tell: not sent again; read back later
        if purchase.status != Status.PENDING_EXECUTE:
            outcome = PaymentOutcome.of(await record_purchase(ctx, attempt, purchase))
            await ctx.ledger(lambda uow: complete_challenge(uow, md))
            return await with_token(ctx, outcome)
    try:
        result = await ctx.gateway.complete_3ds(challenge.callback_url, md, pares)
    except CardDeclinedError as exc:
        await ctx.ledger(lambda uow: complete_challenge(uow, md))
        return await declined(ctx, key, exc)
    except OutcomeUnknownError:
        return await mark_unknown(ctx, key)
    await ctx.ledger(lambda uow: complete_challenge(uow, md))
    outcome = await settle_by_read_back(ctx, key)
    await _keep_ntid(ctx, result.purchase_id, result.card)
    return await with_token(ctx, outcome)
