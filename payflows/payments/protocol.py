"""The protocol's steps for one payment: intent, purchase id, read back (one commit per step)."""

from __future__ import annotations

from sqlmodel import select

from payflows.domain.attempts import NOT_ARRIVED, RESOLVED
from payflows.domain.states import Status
from payflows.gateway import (
    CardDeclinedError,
    CardFlags,
    ClientDetails,
    PreciumError,
    Product,
    Purchase,
    PurchaseRequest,
    RequestRejected,
)
from payflows.ledger import (
    AttemptKind,
    AttemptState,
    PaymentAttempt,
    PaymentMethod,
    UnitOfWork,
    attach_purchase,
    get_attempt,
    record_intent,
    record_outcome,
    upsert_customer,
    withdraw_intent,
)
from payflows.ledger.cards import card_by_token, keep_network_transaction_id
from payflows.ledger.models import Customer
from payflows.payments.context import OperationRejected, PaymentContext, PaymentOutcome
from payflows.payments.records import record_purchase

__all__ = [
    "build_request",
    "declined",
    "ensure_customer",
    "mark_unknown",
    "may_act",
    "open_purchase",
    "settle_by_read_back",
    "with_token",
]


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
    currency = request.currency
    if currency is None:  # optional on the wire; the ledger keeps every amount with its currency
        raise OperationRejected("a purchase needs a currency")
    attempt: PaymentAttempt = await ctx.ledger(
        lambda uow: record_intent(
            uow,
            business_key,
            kind,
            amount,
            currency,
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


async def settle_by_read_back(ctx: PaymentContext, business_key: str) -> PaymentOutcome:
    """Settle an unknown outcome by asking the gateway what became of the purchase."""
    attempt: PaymentAttempt | None = await ctx.ledger(
        lambda uow: get_attempt(uow, business_key=business_key)
    )
    if attempt is None:
        raise LookupError(f"no attempt for business key {business_key!r}")
    if attempt.state in RESOLVED or attempt.purchase_id is None:
        return PaymentOutcome.of(attempt)
    purchase = await ctx.gateway.get_purchase(attempt.purchase_id)
    return PaymentOutcome.of(await record_purchase(ctx, attempt, purchase))


async def mark_unknown(ctx: PaymentContext, business_key: str) -> PaymentOutcome:
    attempt = await ctx.ledger(
        lambda uow: record_outcome(uow, business_key=business_key, state=AttemptState.UNKNOWN)
    )
    try:
        return await settle_by_read_back(ctx, business_key)
    except PreciumError:
        # The gateway is still unreachable: the attempt stays unknown for reconciliation.
        return PaymentOutcome.of(attempt)


async def declined(
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


async def may_act(
    ctx: PaymentContext, attempt: PaymentAttempt, *, need_purchase: bool = False
) -> tuple[PaymentOutcome | None, Purchase | None]:
    """Before a money-moving request, make sure no earlier one for this attempt landed.

    Returns the outcome when there is nothing (more) to do, else the purchase as it stands:
    only a purchase the gateway still shows as unpaid (``created``/``viewed``) may be acted on.
    """
    if attempt.state in RESOLVED:
        return PaymentOutcome.of(attempt), None
    if attempt.state is AttemptState.CREATED and not need_purchase:
        # Nothing that moves money was ever sent for this attempt: no read-back needed.
        return None, None
    assert attempt.purchase_id is not None
    purchase = await ctx.gateway.get_purchase(attempt.purchase_id)
    if purchase.status in NOT_ARRIVED:
        return None, purchase
    return PaymentOutcome.of(await record_purchase(ctx, attempt, purchase)), None


async def with_token(ctx: PaymentContext, outcome: PaymentOutcome) -> PaymentOutcome:
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


def build_request(
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
