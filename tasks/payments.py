"""One Prefect task per payments-service operation, and the card's last steps.

Every task calls :mod:`payflows.payments`, which is idempotent on its business key, so a retried
task never pays twice. Tasks keep no results (``persist_result=False``) and no cache
(``NO_CACHE``): the ledger is the memory, and a Prefect result store is not a place for payment
data. A card reaches :func:`submit_card` as a one-time vault reference: the task reads the card,
hands it to the service, and discards the reference once the gateway has answered. Only a
retry-safe error (throttled, unreachable: nothing happened) keeps it, for the retry.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

import httpx
from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from payflows.domain.cards import CardData
from payflows.gateway import CardFlags, RequestRejected
from payflows.ledger import Customer, PaymentMethod, UnitOfWork
from payflows.ledger.lookups import (
    customer_by_id,
    hold_of_purchase,
    payment_method_by_id,
    payment_method_by_token,
    stored_card_of_customer,
    subscription_by_external_id,
)
from payflows.payments import OperationRejected, PaymentOutcome
from payflows.payments import authorize_card as _authorize_card
from payflows.payments import cancel_purchase as _cancel_purchase
from payflows.payments import cancel_refund as _cancel_refund
from payflows.payments import capture_hold as _capture_hold
from payflows.payments import charge_stored_card as _charge_stored_card
from payflows.payments import complete_three_ds as _complete_three_ds
from payflows.payments import ensure_customer as _ensure_customer
from payflows.payments import pay_with_card as _pay_with_card
from payflows.payments import refund_purchase as _refund_purchase
from payflows.payments import settle_by_read_back as _settle_by_read_back
from payflows.payments import void_hold as _void_hold
from payflows.stored_cards import CardDeletion
from payflows.stored_cards import delete_stored_card as _delete_stored_card
from payflows.vault import default_vault
from tasks.conveniences import sandbox_conveniences
from tasks.runtime import RETRY_POLICY, payment_context

__all__ = [
    "CustomerRef",
    "StoredCard",
    "cancel_purchase",
    "cancel_refund",
    "capture_hold",
    "charge_stored_card",
    "complete_3ds",
    "delete_stored_card",
    "ensure_customer",
    "hold_expiry",
    "load_stored_card",
    "play_3ds_shopper",
    "refund_purchase",
    "settle_by_read_back",
    "stored_card_of",
    "submit_card",
    "void_hold",
]

#: Options of every task here: the retry rule, and nothing kept by Prefect.
_OPTIONS: dict[str, Any] = {"persist_result": False, "cache_policy": NO_CACHE, **RETRY_POLICY}
#: Ledger-only reads: nothing to retry.
_READ: dict[str, Any] = {"persist_result": False, "cache_policy": NO_CACHE}


class CustomerRef(BaseModel):
    """A ledger customer as tasks pass it around."""

    id: int
    external_id: str
    precium_client_id: str | None = None


class StoredCard(BaseModel):
    """A stored credential: the token and what an MIT needs to quote from the first payment."""

    payment_method_id: int
    customer_id: int
    recurring_token: str
    network_transaction_id: str | None = None
    original_amount_cents: int | None = None
    brand: str | None = None
    masked_pan: str | None = None


def _customer(uow: UnitOfWork, customer_id: int) -> Customer:
    customer = customer_by_id(uow, customer_id)
    if customer is None:
        raise OperationRejected(f"no customer {customer_id} in the ledger")
    return customer


@task(name="ensure-customer", **_OPTIONS)
async def ensure_customer(
    external_id: str, email: str, full_name: str | None = None
) -> CustomerRef:
    async with payment_context() as ctx:
        customer = await _ensure_customer(ctx, external_id, email=email, full_name=full_name)
    assert customer.id is not None
    return CustomerRef(
        id=customer.id,
        external_id=customer.external_id,
        precium_client_id=customer.precium_client_id,
    )


def _is_retry_safe(exc: BaseException) -> bool:
    return bool(getattr(exc, "retry_safe", False))


def _hide_pareq(outcome: PaymentOutcome) -> PaymentOutcome:
    """Keep the PaReq for the checkout page in the vault; the outcome goes on without it."""
    if outcome.three_ds is None or not outcome.three_ds.pareq:
        return outcome
    default_vault.put_secret(f"pareq:{outcome.three_ds.md}", outcome.three_ds.pareq)
    return outcome.model_copy(
        update={"three_ds": outcome.three_ds.model_copy(update={"pareq": ""})}
    )


def _network_token(token_ref: str) -> tuple[str, str]:
    secret = default_vault.pop_secret(token_ref)
    if secret is None:
        raise OperationRejected("unknown, used or expired network-token reference")
    value = json.loads(secret)
    return str(value["token"]), str(value["cryptogram"])


@task(name="submit-card", **_OPTIONS)
async def submit_card(
    business_key: str,
    customer: CustomerRef,
    card_ref: str | None,
    *,
    mode: Literal["payment", "authorization"],
    amount_cents: int,
    currency: str,
    product: str,
    save_card: bool = False,
    flags: CardFlags | None = None,
    token_ref: str | None = None,
    token_requestor_id: str | None = None,
    browser: Any = None,
    remote_ip: str = "127.0.0.1",
) -> PaymentOutcome:
    """Create the purchase and submit the card (or network token) to it, once per business key.

    ``browser`` (a :class:`~payflows.domain.cards.BrowserFingerprint`) asks for 3-D Secure;
    without it the payment is non-3DS. A 3DS answer comes back with ``three_ds`` (MD and ACS
    URL); its PaReq is kept in the vault under ``pareq:<MD>`` for the checkout page.
    """
    card: CardData | None = default_vault.get(card_ref) if card_ref else None
    token: tuple[str, str] | None = _network_token(token_ref) if token_ref else None
    try:
        if token is not None:
            flags = (flags or CardFlags()).model_copy(
                update={
                    "network_token": token[0],
                    "network_token_cryptogram": token[1],
                    "token_requestor_id": token_requestor_id,
                }
            )
        async with payment_context() as ctx:
            owner = await ctx.ledger(lambda uow: _customer(uow, customer.id))
            if mode == "authorization":
                outcome = await _authorize_card(
                    ctx,
                    business_key,
                    owner,
                    card,
                    amount_cents=amount_cents,
                    currency=currency,
                    product=product,
                    force_recurring=save_card,
                    card_flags=flags,
                    browser=browser,
                    remote_ip=remote_ip,
                )
            else:
                outcome = await _pay_with_card(
                    ctx,
                    business_key,
                    owner,
                    card,
                    amount_cents=amount_cents,
                    currency=currency,
                    product=product,
                    force_recurring=save_card,
                    card_flags=flags,
                    browser=browser,
                    remote_ip=remote_ip,
                )
    except BaseException as exc:
        if _is_retry_safe(exc):
            # Nothing happened at the gateway: keep what the retry needs (until it expires).
            if token is not None and token_ref is not None:
                default_vault.put_secret(
                    token_ref, json.dumps({"token": token[0], "cryptogram": token[1]})
                )
        elif card_ref:
            default_vault.discard(card_ref)
        raise
    finally:
        del card, token
    if card_ref:
        default_vault.discard(card_ref)
    return _hide_pareq(outcome)


@task(name="play-3ds-shopper", **_OPTIONS)
async def play_3ds_shopper(md: str, acs_url: str, approve: bool) -> str:
    """Sandbox only: the shopper's browser on the ACS page; returns the PaRes for the TermUrl.

    The PaReq is taken out of the vault (it is gone afterwards, as when a checkout page used it).
    """
    pareq = default_vault.pop_secret(f"pareq:{md}")
    if pareq is None:
        raise OperationRejected("the 3-D Secure request of this MD is no longer available")
    conveniences = sandbox_conveniences()
    if conveniences is None:
        raise OperationRejected("auto_3ds needs the sandbox's conveniences, not wired here")
    async with payment_context() as ctx, httpx.AsyncClient(timeout=30.0) as browser:
        return await conveniences.play_3ds_shopper(
            browser, acs_url, md, pareq, ctx.term_url or "", approve=approve
        )


@task(name="complete-3ds", **_OPTIONS)
async def complete_3ds(md: str, pares: str) -> PaymentOutcome:
    """Finish a payment with the bank's answer from the TermUrl (idempotent per MD)."""
    async with payment_context() as ctx:
        try:
            outcome = await _complete_three_ds(ctx, md, pares)
        except RequestRejected as exc:
            # A PaRes the gateway does not accept (forged, for another MD) changed nothing:
            # the payment still waits for the bank's real answer.
            raise OperationRejected(f"3-D Secure answer refused: {exc}") from exc
    return _hide_pareq(outcome)


def _stored_card(method: PaymentMethod) -> StoredCard:
    assert method.id is not None
    return StoredCard(
        payment_method_id=method.id,
        customer_id=method.customer_id,
        recurring_token=method.recurring_token,
        network_transaction_id=method.network_transaction_id,
        original_amount_cents=method.original_amount_cents,
        brand=method.brand,
        masked_pan=method.masked_pan,
    )


@task(name="load-stored-card", **_READ)
async def load_stored_card(customer_external_id: str, recurring_token: str) -> StoredCard:
    """The customer's stored credential, refused when unknown, deleted or someone else's."""

    def find(uow: UnitOfWork) -> StoredCard:
        method = stored_card_of_customer(uow, customer_external_id, recurring_token)
        if method is None:
            raise OperationRejected(
                f"customer {customer_external_id!r} has no stored card {recurring_token!r}"
            )
        if method.deleted_at is not None:
            raise OperationRejected(f"stored card {recurring_token!r} was deleted")
        return _stored_card(method)

    async with payment_context() as ctx:
        return await ctx.ledger(find)  # type: ignore[no-any-return]


@task(name="stored-card-of", **_READ)
async def stored_card_of(recurring_token: str | None) -> StoredCard | None:
    """The stored credential a payment created, if any."""
    if not recurring_token:
        return None

    def find(uow: UnitOfWork) -> StoredCard | None:
        method = payment_method_by_token(uow, recurring_token)
        return _stored_card(method) if method is not None else None

    async with payment_context() as ctx:
        return await ctx.ledger(find)  # type: ignore[no-any-return]


@task(name="hold-expiry", **_READ)
async def hold_expiry(purchase_id: str | None) -> datetime | None:
    """When the hold on ``purchase_id`` must be captured by (the network's window)."""
    if not purchase_id:
        return None

    def find(uow: UnitOfWork) -> datetime | None:
        hold = hold_of_purchase(uow, purchase_id)
        return hold.expires_at if hold is not None else None

    async with payment_context() as ctx:
        return await ctx.ledger(find)  # type: ignore[no-any-return]


@task(name="charge-stored-card", **_OPTIONS)
async def charge_stored_card(
    business_key: str,
    stored: StoredCard,
    *,
    amount_cents: int,
    currency: str,
    product: str,
    subscription_external_id: str | None = None,
) -> PaymentOutcome:
    """One merchant-initiated charge on a stored credential, at most once per business key."""

    def load(uow: UnitOfWork) -> tuple[Customer, PaymentMethod, int | None]:
        customer = _customer(uow, stored.customer_id)
        method = payment_method_by_id(uow, stored.payment_method_id)
        assert method is not None
        subscription = None
        if subscription_external_id is not None:
            subscription = subscription_by_external_id(uow, subscription_external_id)
        return customer, method, subscription.id if subscription is not None else None

    async with payment_context() as ctx:
        customer, method, subscription_id = await ctx.ledger(load)
        return await _charge_stored_card(
            ctx,
            business_key,
            customer,
            method,
            amount_cents=amount_cents,
            currency=currency,
            product=product,
            subscription_id=subscription_id,
        )


async def _run(operation: Any, *args: Any, **kwargs: Any) -> PaymentOutcome:
    async with payment_context() as ctx:
        return await operation(ctx, *args, **kwargs)  # type: ignore[no-any-return]


@task(name="capture-hold", **_OPTIONS)
async def capture_hold(
    purchase_id: str, amount_cents: int | None = None, currency: str | None = None
) -> PaymentOutcome:
    return await _run(_capture_hold, purchase_id, amount_cents, currency=currency)


@task(name="void-hold", **_OPTIONS)
async def void_hold(
    purchase_id: str, via: Literal["release", "cancel"] = "release"
) -> PaymentOutcome:
    return await _run(_void_hold, purchase_id, via=via)


@task(name="cancel-purchase", **_OPTIONS)
async def cancel_purchase(purchase_id: str) -> PaymentOutcome:
    return await _run(_cancel_purchase, purchase_id)


@task(name="refund-purchase", **_OPTIONS)
async def refund_purchase(
    purchase_id: str, amount_cents: int | None, refund_ref: str, currency: str | None = None
) -> PaymentOutcome:
    return await _run(
        _refund_purchase, purchase_id, amount_cents, refund_ref=refund_ref, currency=currency
    )


@task(name="cancel-refund", **_OPTIONS)
async def cancel_refund(purchase_id: str, refund_id: str) -> PaymentOutcome:
    return await _run(_cancel_refund, purchase_id, refund_id)


@task(name="settle-by-read-back", **_OPTIONS)
async def settle_by_read_back(business_key: str) -> PaymentOutcome:
    """Ask the gateway what became of an attempt whose answer was lost."""
    return await _run(_settle_by_read_back, business_key)


@task(name="delete-stored-card", **_OPTIONS)
async def delete_stored_card(customer_external_id: str, recurring_token: str) -> CardDeletion:
    """Delete the customer's stored card at the gateway and in the ledger (again: harmless)."""

    async with payment_context() as ctx:
        return await _delete_stored_card(
            ctx, recurring_token, customer_external_id=customer_external_id
        )
