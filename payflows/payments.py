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

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine
from sqlmodel import select

from payflows.domain.cards import BrowserFingerprint, CardData
from payflows.domain.declines import classify_decline
from payflows.domain.holds import DEFAULT_WINDOWS, AuthorisationWindows
from payflows.domain.states import Status
from payflows.gateway import (
    CardDeclinedError,
    CardDetails,
    CardFlags,
    ClientDetails,
    OutcomeUnknownError,
    PreciumClient,
    PreciumError,
    Product,
    Purchase,
    PurchaseRequest,
    RequestRejected,
)
from payflows.ledger import (
    AttemptKind,
    AttemptState,
    Hold,
    PaymentAttempt,
    PaymentMethod,
    RefundStatus,
    UnitOfWork,
    attach_purchase,
    complete_challenge,
    get_attempt,
    get_challenge,
    mark_submitted,
    record_challenge,
    record_hold,
    record_intent,
    record_outcome,
    record_refund,
    upsert_customer,
    upsert_payment_method,
    withdraw_intent,
)
from payflows.ledger.cards import card_by_token, keep_network_transaction_id
from payflows.ledger.models import Customer
from payflows.ledger.models import Refund as LedgerRefund
from payflows.ledger.settlement import SettlementReport, record_settlements

__all__ = [
    "ChallengeInfo",
    "OperationRejected",
    "PaymentContext",
    "PaymentOutcome",
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
    "settlement_of",
    "void_hold",
]

# Statuses that mean "the customer's money moved or is held for us".
_SUCCESS = {
    Status.PAID,
    Status.CLEARED,
    Status.SETTLED,
    Status.HOLD,
    Status.PREAUTHORIZED,
    Status.PENDING_CAPTURE,
    Status.PENDING_REFUND,
    Status.REFUNDED,
    Status.CHARGEBACK,
}
_DECLINED = {Status.ERROR, Status.BLOCKED}
_NOT_ARRIVED = {Status.CREATED, Status.VIEWED}
_IN_FLIGHT = {Status.PENDING_EXECUTE, Status.PENDING_CHARGE}
_RESOLVED = {AttemptState.SUCCEEDED, AttemptState.DECLINED, AttemptState.FAILED}


class OperationRejected(Exception):
    """The request is wrong for this payment (too large a capture, a refund of nothing...).

    Raised before anything is recorded, or after the gateway refused it with a 4xx; either way
    the ledger is as it was and the same business key may be used again with corrected input.
    """


class ChallengeInfo(BaseModel):
    """Where to send the shopper's browser for 3-D Secure. ``pareq`` stays out of reprs."""

    model_config = ConfigDict(frozen=True)

    md: str
    acs_url: str
    pareq: str = Field(default="", repr=False)
    method: str = "POST"

    def __repr__(self) -> str:
        return f"ChallengeInfo(md={self.md!r}, acs_url={self.acs_url!r})"


class PaymentOutcome(BaseModel):
    """What one operation achieved. Card data never appears here: brand and masked PAN only."""

    business_key: str
    kind: str
    state: AttemptState
    purchase_id: str | None = None
    purchase_status: Status | None = None
    amount_cents: int
    currency: str
    decline_code: str | None = None
    decline_soft: bool | None = None
    brand: str | None = None
    masked_pan: str | None = None
    recurring_token: str | None = None
    refund_id: str | None = None
    three_ds: ChallengeInfo | None = None

    @property
    def succeeded(self) -> bool:
        return self.state is AttemptState.SUCCEEDED

    @classmethod
    def of(cls, attempt: PaymentAttempt, **extra: Any) -> PaymentOutcome:
        soft = None
        if attempt.decline_code:
            soft = classify_decline(attempt.decline_code, attempt.network_code, attempt.advice_code)
        return cls(
            business_key=attempt.business_key,
            kind=attempt.kind.value,
            state=attempt.state,
            purchase_id=attempt.purchase_id or attempt.related_purchase_id,
            purchase_status=attempt.purchase_status,
            amount_cents=attempt.amount_cents,
            currency=attempt.currency,
            decline_code=attempt.decline_code,
            decline_soft=soft,
            brand=attempt.brand,
            masked_pan=attempt.masked_pan,
            **extra,
        )


@dataclass
class PaymentContext:
    """What every operation needs: the gateway, the ledger, and the time."""

    gateway: PreciumClient
    engine: Engine
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    windows: AuthorisationWindows = DEFAULT_WINDOWS
    #: Brands the merchant accepts: every purchase's ``payment_method_whitelist``.
    card_brands: tuple[str, ...] = ("visa", "mastercard", "maestro")
    #: Where the shopper's bank returns after a 3-D Secure challenge (the merchant's TermUrl).
    term_url: str | None = None
    success_redirect: str = "https://merchant.invalid/payflows/success"
    failure_redirect: str = "https://merchant.invalid/payflows/failure"

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    async def ledger(self, fn: Callable[[UnitOfWork], Any]) -> Any:
        """Run ``fn`` in one committed unit of work, off the event loop."""

        def run() -> Any:
            with self.uow() as uow:
                result = fn(uow)
                uow.commit()
                return result

        return await asyncio.to_thread(run)


# -- customers ------------------------------------------------------------------------------


async def ensure_customer(
    ctx: PaymentContext,
    external_id: str,
    *,
    email: str,
    full_name: str | None = None,
    phone: str | None = None,
    country: str | None = None,
) -> Customer:
    """The ledger customer for ``external_id``, with a Precium client created once.

    Creating a gateway client twice (a crash between create and store) only leaves a spare
    client record: it moves no money, so no read-back is needed here.
    """
    customer: Customer = await ctx.ledger(
        lambda uow: upsert_customer(uow, external_id, email=email, full_name=full_name)
    )
    if customer.precium_client_id:
        return customer
    client = await ctx.gateway.create_client(
        ClientDetails(email=email, full_name=full_name, phone=phone, country=country)
    )
    return await ctx.ledger(
        lambda uow: upsert_customer(uow, external_id, precium_client_id=client.id, email=email)
    )


# -- the protocol ---------------------------------------------------------------------------


async def open_purchase(
    ctx: PaymentContext,
    business_key: str,
    kind: AttemptKind,
    request: PurchaseRequest,
    *,
    customer_id: int | None = None,
    subscription_id: int | None = None,
    payment_method_id: int | None = None,
) -> PaymentAttempt:
    """Steps 1 and 2: the intent, then the purchase, each durable before the next step."""
    amount = request.total_override
    if amount is None:
        amount = sum(p.price * int(p.quantity or 1) for p in request.products)
    attempt: PaymentAttempt = await ctx.ledger(
        lambda uow: record_intent(
            uow,
            business_key,
            kind,
            amount,
            request.currency,
            customer_id=customer_id,
            subscription_id=subscription_id,
            payment_method_id=payment_method_id,
        )
    )
    if attempt.purchase_id is not None:
        return attempt
    try:
        purchase = await ctx.gateway.create_purchase(
            request.model_copy(update={"reference": business_key[:128]})
        )
    except RequestRejected as exc:
        await ctx.ledger(lambda uow: withdraw_intent(uow, business_key))
        raise OperationRejected(str(exc)) from exc
    return await ctx.ledger(lambda uow: attach_purchase(uow, business_key, purchase.id))


def _state_for(status: Status) -> AttemptState:
    if status in _SUCCESS:
        return AttemptState.SUCCEEDED
    if status in _DECLINED:
        return AttemptState.DECLINED
    if status in _NOT_ARRIVED:
        return AttemptState.CREATED
    if status in _IN_FLIGHT:
        return AttemptState.UNKNOWN
    # cancelled, released, expired: the payment did not happen.
    return AttemptState.FAILED


async def _record_purchase(
    ctx: PaymentContext, attempt: PaymentAttempt, purchase: Purchase
) -> PaymentAttempt:
    """Record what the gateway says of the attempt's own purchase (a read-back or an answer)."""
    state = _state_for(purchase.status)
    decline = purchase.decline if state is AttemptState.DECLINED else None
    observed = ctx.now()

    def write(uow: UnitOfWork) -> PaymentAttempt:
        if state in {AttemptState.CREATED}:
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
            _remember_card(uow, updated, purchase)
            if purchase.status is Status.HOLD:
                _remember_hold(ctx, uow, updated, purchase)
        return updated

    return await ctx.ledger(write)


def _remember_card(uow: UnitOfWork, attempt: PaymentAttempt, purchase: Purchase) -> None:
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


def _remember_hold(
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


async def settle_by_read_back(ctx: PaymentContext, business_key: str) -> PaymentOutcome:
    """Settle an unknown outcome by asking the gateway what became of the purchase."""
    attempt: PaymentAttempt | None = await ctx.ledger(
        lambda uow: get_attempt(uow, business_key=business_key)
    )
    if attempt is None:
        raise LookupError(f"no attempt for business key {business_key!r}")
    if attempt.state in _RESOLVED or attempt.purchase_id is None:
        return PaymentOutcome.of(attempt)
    purchase = await ctx.gateway.get_purchase(attempt.purchase_id)
    return PaymentOutcome.of(await _record_purchase(ctx, attempt, purchase))


async def _mark_unknown(ctx: PaymentContext, business_key: str) -> PaymentOutcome:
    attempt = await ctx.ledger(
        lambda uow: record_outcome(uow, business_key=business_key, state=AttemptState.UNKNOWN)
    )
    try:
        return await settle_by_read_back(ctx, business_key)
    except PreciumError:
        # The gateway is still unreachable: the attempt stays unknown for reconciliation.
        return PaymentOutcome.of(attempt)


async def _declined(
    ctx: PaymentContext,
    business_key: str,
    exc: CardDeclinedError,
    *,
    brand: str | None = None,
    masked_pan: str | None = None,
) -> PaymentOutcome:
    """Record a decline; ``brand``/``masked_pan`` (of the card submitted, or the stored card)
    keep declines countable per card brand."""
    decline = exc.decline
    attempt = await ctx.ledger(
        lambda uow: record_outcome(
            uow,
            business_key=business_key,
            state=AttemptState.DECLINED,
            purchase_status=Status.ERROR,
            decline_code=decline.code,
            network_code=decline.network_code,
            advice_code=decline.advice_code,
            brand=brand,
            masked_pan=masked_pan,
            observed_at=ctx.now(),
        )
    )
    return PaymentOutcome.of(attempt)


async def _may_act(
    ctx: PaymentContext, attempt: PaymentAttempt, *, need_purchase: bool = False
) -> tuple[PaymentOutcome | None, Purchase | None]:
    """Before a money-moving request, make sure no earlier one for this attempt landed.

    Returns the outcome when there is nothing (more) to do, else the purchase as it stands:
    only a purchase the gateway still shows as unpaid (``created``/``viewed``) may be acted on.
    """
    if attempt.state in _RESOLVED:
        return PaymentOutcome.of(attempt), None
    if attempt.state is AttemptState.CREATED and not need_purchase:
        # Nothing that moves money was ever sent for this attempt: no read-back needed.
        return None, None
    assert attempt.purchase_id is not None
    purchase = await ctx.gateway.get_purchase(attempt.purchase_id)
    if purchase.status in _NOT_ARRIVED:
        return None, purchase
    return PaymentOutcome.of(await _record_purchase(ctx, attempt, purchase)), None


# -- card submissions (CIT, pre-auth, zero-auth, external 3DS, network token, non-3DS) -------


async def _submit(
    ctx: PaymentContext,
    attempt: PaymentAttempt,
    card: CardData | None,
    *,
    remote_ip: str,
    remember_card: bool,
    browser: BrowserFingerprint | None,
) -> PaymentOutcome:
    done, purchase = await _may_act(ctx, attempt, need_purchase=True)
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
        return await _declined(ctx, key, exc, brand=brand, masked_pan=masked)
    except OutcomeUnknownError:
        return await _mark_unknown(ctx, key)
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
        current = await ctx.ledger(lambda uow: get_attempt(uow, business_key=key))
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


async def _with_token(ctx: PaymentContext, outcome: PaymentOutcome) -> PaymentOutcome:
    """The outcome with the recurring token the payment stored, however it was reached."""
    if not outcome.succeeded or outcome.recurring_token:
        return outcome
    token = await _token_of(ctx, outcome)
    if token is not None:
        await _ntid_from_saved_cards(ctx, token)
    return outcome.model_copy(update={"recurring_token": token})


async def _ntid_from_saved_cards(ctx: PaymentContext, token: str) -> None:
    """A card stored without its network transaction id (a ``pending`` answer carries none):
    the client's saved cards list it (``GET /clients/{id}/recurring_tokens/``)."""

    def client_needing_it(uow: UnitOfWork) -> str | None:
        method = card_by_token(uow, token)
        if method is None or method.network_transaction_id:
            return None
        customer = uow.session.get(Customer, method.customer_id)
        return customer.precium_client_id if customer is not None else None

    client_id = await ctx.ledger(client_needing_it)
    if not client_id:
        return
    try:
        saved = await ctx.gateway.list_recurring_tokens(client_id)
    except PreciumError:
        return  # the next payment on the card or a webhook brings it
    found = [r.network_transaction_id for r in saved.results if r.token == token]
    if found and found[0]:
        ntid = found[0]
        await ctx.ledger(lambda uow: keep_network_transaction_id(uow, token, ntid))


async def _token_of(ctx: PaymentContext, outcome: PaymentOutcome) -> str | None:
    if outcome.purchase_id is None:
        return None

    def find(uow: UnitOfWork) -> str | None:
        method = uow.session.exec(
            select(PaymentMethod).where(PaymentMethod.recurring_token == outcome.purchase_id)
        ).first()
        return method.recurring_token if method else None

    return await ctx.ledger(find)


def _request(
    ctx: PaymentContext,
    *,
    client_id: str,
    amount_cents: int,
    currency: str,
    product: str,
    skip_capture: bool = False,
    force_recurring: bool = False,
    card_flags: CardFlags | None = None,
) -> PurchaseRequest:
    return PurchaseRequest(
        client_id=client_id,
        currency=currency,
        products=[Product(name=product, price=amount_cents)],
        skip_capture=skip_capture,
        force_recurring=force_recurring,
        card=card_flags,
        payment_method_whitelist=list(ctx.card_brands),
        success_redirect=ctx.success_redirect,
        failure_redirect=ctx.failure_redirect,
    )


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
    request = _request(
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
    return await _with_token(ctx, outcome)


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
    attempt: PaymentAttempt = await ctx.ledger(lambda uow: get_attempt(uow, business_key=key))
    if attempt.state in _RESOLVED:
        return await _with_token(ctx, PaymentOutcome.of(attempt))
    try:
        result = await ctx.gateway.complete_3ds(challenge.callback_url, md, pares)
    except CardDeclinedError as exc:
        await ctx.ledger(lambda uow: complete_challenge(uow, md))
        return await _declined(ctx, key, exc)
    except OutcomeUnknownError:
        return await _mark_unknown(ctx, key)
    await ctx.ledger(lambda uow: complete_challenge(uow, md))
    outcome = await settle_by_read_back(ctx, key)
    await _keep_ntid(ctx, result.purchase_id, result.card)
    return await _with_token(ctx, outcome)


# -- merchant-initiated charges -------------------------------------------------------------


async def charge_stored_card(
    ctx: PaymentContext,
    business_key: str,
    customer: Customer,
    method: PaymentMethod,
    *,
    amount_cents: int,
    currency: str,
    product: str,
    subscription_id: int | None = None,
) -> PaymentOutcome:
    """One MIT charge on a stored credential, at most once per business key."""
    if method.deleted_at is not None:
        raise OperationRejected(f"payment method {method.id} was deleted at the gateway")
    if customer.precium_client_id is None:
        raise OperationRejected(f"customer {customer.external_id} has no Precium client")
    flags = CardFlags(
        is_recurring=True,
        previous_network_transaction_id=method.network_transaction_id,
        original_amount_cents=method.original_amount_cents,
    )
    request = _request(
        ctx,
        client_id=customer.precium_client_id,
        amount_cents=amount_cents,
        currency=currency,
        product=product,
        card_flags=flags,
    )
    attempt = await open_purchase(
        ctx,
        business_key,
        AttemptKind.MIT,
        request,
        customer_id=customer.id,
        subscription_id=subscription_id,
        payment_method_id=method.id,
    )
    done, _ = await _may_act(ctx, attempt)
    if done is not None:
        return done
    assert attempt.purchase_id is not None
    await ctx.ledger(lambda uow: mark_submitted(uow, business_key))
    try:
        purchase = await ctx.gateway.charge(attempt.purchase_id, method.recurring_token)
    except CardDeclinedError as exc:
        return await _declined(
            ctx, business_key, exc, brand=method.brand, masked_pan=method.masked_pan
        )
    except OutcomeUnknownError:
        return await _mark_unknown(ctx, business_key)
    except RequestRejected as exc:
        # The charge itself was refused (e.g. an invalid token): nothing moved. The purchase
        # stays created and unpaid; the attempt is closed as failed so it can be looked at.
        code = exc.code
        await ctx.ledger(
            lambda uow: record_outcome(
                uow, business_key=business_key, state=AttemptState.FAILED, decline_code=code
            )
        )
        raise OperationRejected(str(exc)) from exc
    return PaymentOutcome.of(await _record_purchase(ctx, attempt, purchase))


# -- acting on an existing purchase: capture, void, cancel, refund ---------------------------


async def _act_on(
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
    if attempt.state in _RESOLVED:
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
        attempt = await ctx.ledger(lambda uow: get_attempt(uow, business_key=business_key))
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
    # Actions on an existing purchase have no purchase of their own: mark them submitted directly.
    attempt = get_attempt(uow, business_key=business_key)
    assert attempt is not None
    if attempt.state is AttemptState.INTENT:
        attempt.state = AttemptState.SUBMITTED
        attempt.updated_at = datetime.now(UTC)
        uow.session.flush()


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


async def capture_hold(
    ctx: PaymentContext, purchase_id: str, amount_cents: int | None = None
) -> PaymentOutcome:
    """Capture all or part of a hold (the remainder is released). Once per hold."""
    purchase = await ctx.gateway.get_purchase(purchase_id)
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
    outcome, _ = await _act_on(
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
    outcome, _ = await _act_on(
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
    outcome, _ = await _act_on(
        ctx,
        key,
        AttemptKind.CANCEL,
        purchase,
        purchase.total or 0,
        lambda: ctx.gateway.cancel(purchase_id),
        lambda p: p.status is Status.CANCELLED,
    )
    return outcome


def _refunded_per_ledger(uow: UnitOfWork, purchase_id: str, except_key: str) -> int:
    """Cents the ledger knows were refunded on ``purchase_id`` (other refunds, not cancelled)."""
    attempts = uow.session.exec(
        select(PaymentAttempt).where(
            PaymentAttempt.related_purchase_id == purchase_id,
            PaymentAttempt.kind == AttemptKind.REFUND,
            PaymentAttempt.state == AttemptState.SUCCEEDED,
            PaymentAttempt.business_key != except_key,
        )
    ).all()
    cancelled = uow.session.exec(
        select(LedgerRefund).where(
            LedgerRefund.purchase_id == purchase_id,
            LedgerRefund.status == RefundStatus.CANCELLED,
        )
    ).all()
    return sum(a.amount_cents for a in attempts) - sum(r.amount_cents for r in cancelled)


async def refund_purchase(
    ctx: PaymentContext, purchase_id: str, amount_cents: int | None, *, refund_ref: str
) -> PaymentOutcome:
    """Refund all or part of a paid purchase, once per ``refund_ref`` (the merchant's id).

    A lost answer is settled from the purchase's ``refundable_amount``: the ledger knows what
    was paid and which other refunds it made, so a refundable amount at or below
    ``paid - other refunds - this refund`` means this refund landed. Its id then arrives with
    the ``payment.refunded`` webhook.
    """
    purchase = await ctx.gateway.get_purchase(purchase_id)
    refundable = purchase.refundable_amount or 0
    key = f"refund:{purchase_id}:{refund_ref}"
    existing: PaymentAttempt | None = await ctx.ledger(
        lambda uow: get_attempt(uow, business_key=key)
    )
    if existing is not None:
        amount = existing.amount_cents
    else:
        amount = refundable if amount_cents is None else amount_cents
        if not 0 < amount <= refundable:
            raise OperationRejected(
                f"refund of {amount} cents is more than the refundable {refundable} cents"
            )
    paid = purchase.payment.amount if purchase.payment and purchase.payment.amount else None
    paid = paid if paid is not None else (purchase.total or 0)
    others = await ctx.ledger(lambda uow: _refunded_per_ledger(uow, purchase_id, key))
    currency = purchase.currency or "ZAR"

    def landed(p: Purchase) -> bool:
        return (p.refundable_amount or 0) <= paid - others - amount

    outcome, answer = await _act_on(
        ctx,
        key,
        AttemptKind.REFUND,
        purchase,
        amount,
        lambda: ctx.gateway.refund(purchase_id, amount),
        landed,
    )
    refund_id = getattr(answer, "refund_id", None)
    if refund_id:

        def store(uow: UnitOfWork) -> None:
            attempt = get_attempt(uow, business_key=key)
            record_refund(
                uow,
                refund_id,
                purchase_id,
                amount,
                currency,
                attempt_id=attempt.id if attempt else None,
            )

        await ctx.ledger(store)
    return outcome.model_copy(update={"refund_id": refund_id})


async def cancel_refund(ctx: PaymentContext, purchase_id: str, refund_id: str) -> PaymentOutcome:
    """Cancel a refund before it settles. Cancelling it again is harmless."""

    def find(uow: UnitOfWork) -> LedgerRefund | None:
        return uow.session.exec(
            select(LedgerRefund).where(LedgerRefund.refund_id == refund_id)
        ).first()

    refund = await ctx.ledger(find)
    if refund is not None and refund.status is RefundStatus.SETTLED:
        raise OperationRejected(f"refund {refund_id} has settled and can no longer be cancelled")
    purchase = await ctx.gateway.get_purchase(purchase_id)
    key = f"refund_cancel:{refund_id}"
    amount = refund.amount_cents if refund else 0

    async def call() -> Any:
        return await ctx.gateway.cancel_refund(purchase_id, refund_id)

    outcome, _answer = await _act_on(
        ctx,
        key,
        AttemptKind.REFUND_CANCEL,
        purchase,
        amount,
        call,
        lambda p: False,  # only the gateway's own answer proves a cancel
    )
    if outcome.succeeded and refund is not None:
        await ctx.ledger(
            lambda uow: record_refund(
                uow,
                refund_id,
                purchase_id,
                refund.amount_cents,
                refund.currency,
                status=RefundStatus.CANCELLED,
            )
        )
    return outcome
