"""The few steps several flows share: where the card comes from, the sandbox shopper, results."""

from __future__ import annotations

import json
from typing import Any

from prefect.states import State

from flows._cards import SANDBOX_NETWORK_TOKEN, sandbox_card_data, sandbox_only
from flows._models import Auto3DS, CardInput, PaymentResult, Shopper
from flows._outcome import publish_outcome
from payflows.domain.declines import classify_decline
from payflows.ledger import AttemptState
from payflows.payments import PaymentOutcome
from payflows.settings import Settings, load_settings
from payflows.vault import default_vault
from tasks import payments as tasks
from tasks.runtime import current_runtime

__all__ = [
    "card_reference",
    "check_sandbox_options",
    "finish",
    "flow_settings",
    "network_token_reference",
    "result_of",
    "shopper_completes_3ds",
]


def flow_settings() -> Settings:
    runtime = current_runtime()
    return runtime.settings if runtime is not None else load_settings()


def check_sandbox_options(card: CardInput | None, auto_3ds: Auto3DS | None) -> None:
    """Refuse the sandbox conveniences before anything is sent, against a real gateway."""
    settings = flow_settings()
    if card is not None and card.sandbox_card is not None:
        sandbox_only(settings, "sandbox_card")
    if auto_3ds is not None:
        sandbox_only(settings, "auto_3ds")


def card_reference(card: CardInput, *, cvc: str = "123") -> str:
    """The one-time vault reference of the card: given, or a sandbox test card put there now.

    ``cvc`` applies to sandbox cards only (``000`` for stored-credential and own-MPI purchases).
    """
    if card.card_ref is not None:
        return card.card_ref
    assert card.sandbox_card is not None
    sandbox_only(flow_settings(), "sandbox_card")
    return default_vault.put(
        sandbox_card_data(card.sandbox_card, cardholder_name=card.cardholder_name, cvc=cvc)
    )


def network_token_reference(token_ref: str | None, sandbox_token: bool) -> str:
    """The vault key of the network token and cryptogram (a test token on the sandbox)."""
    if token_ref is not None:
        return token_ref
    assert sandbox_token
    sandbox_only(flow_settings(), "sandbox_token")
    import secrets

    key = f"network-token:{secrets.token_urlsafe(16)}"
    token, cryptogram = SANDBOX_NETWORK_TOKEN
    default_vault.put_secret(key, json.dumps({"token": token, "cryptogram": cryptogram}))
    return key


async def shopper_completes_3ds(outcome: PaymentOutcome, auto_3ds: Auto3DS) -> PaymentOutcome:
    """Sandbox only: play the shopper on the ACS page, then finish as the TermUrl would."""
    if outcome.three_ds is None or outcome.state is AttemptState.SUCCEEDED:
        return outcome
    sandbox_only(flow_settings(), "auto_3ds")
    pares = await tasks.play_3ds_shopper(
        outcome.three_ds.md, outcome.three_ds.acs_url, auto_3ds == "approve"
    )
    return await tasks.complete_3ds(outcome.three_ds.md, pares)


def _message(outcome: PaymentOutcome) -> str | None:
    if outcome.three_ds is not None and outcome.state is not AttemptState.SUCCEEDED:
        return "3-D Secure: send the shopper to acs_url; the bank returns to the TermUrl"
    if outcome.state is AttemptState.DECLINED and outcome.decline_code:
        if outcome.decline_code == "s2s_not_supported":
            return (
                "declined s2s_not_supported: this card brand is not approved for non-3DS "
                "payments; take it as a customer-initiated payment with 3-D Secure"
            )
        soft = outcome.decline_soft
        if soft is None:
            soft = classify_decline(outcome.decline_code)
        return f"declined {outcome.decline_code} ({'soft' if soft else 'hard'} decline)"
    if outcome.state in {AttemptState.UNKNOWN, AttemptState.SUBMITTED}:
        return (
            "outcome not known yet: the gateway's answer was lost; the settle-unresolved "
            "flow reads it back within about a minute (or run: payflows settle)"
        )
    if outcome.state is AttemptState.FAILED:
        return f"not done: the purchase is {outcome.purchase_status or 'unknown'}"
    return None


async def result_of(flow: str, outcome: PaymentOutcome, **extra: object) -> PaymentResult:
    """The flow's result: the outcome without card data, plus what the ledger adds."""
    if outcome.succeeded and outcome.recurring_token and "network_transaction_id" not in extra:
        stored = await tasks.stored_card_of(outcome.recurring_token)
        if stored is not None:
            extra["network_transaction_id"] = stored.network_transaction_id
    return PaymentResult.of(flow, outcome, message=_message(outcome), **extra)


async def finish(flow: str, outcome: PaymentOutcome, **extra: object) -> State[Any]:
    """The run's final state: its result, named after the business outcome, logged and shown."""
    return await publish_outcome(await result_of(flow, outcome, **extra))


async def pay_by_card(
    business_key: str,
    shopper: Shopper,
    card: CardInput,
    *,
    cvc: str = "123",
    auto_3ds: Auto3DS | None = None,
    **submit: Any,
) -> PaymentOutcome:
    """The steps every card flow shares: the customer, the card out of the vault, then 3DS.

    The vault entry is discarded once the gateway has answered, whatever the answer; ``submit``
    carries what differs between scenarios (mode, amount, flags, browser...).
    """
    check_sandbox_options(card, auto_3ds)
    card_ref = card_reference(card, cvc=cvc)
    try:
        customer = await tasks.ensure_customer(
            shopper.external_id, shopper.email, shopper.full_name
        )
        outcome = await tasks.submit_card(business_key, customer, card_ref, **submit)
    finally:
        default_vault.discard(card_ref)
    if auto_3ds is not None:
        outcome = await shopper_completes_3ds(outcome, auto_3ds)
    return outcome
