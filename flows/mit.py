"""Merchant-initiated charge: one charge on a stored credential, once per subscription period."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow
from prefect.states import State

from flows._common import finish
from flows._fields import (
    MERCHANT_CURRENCY,
    AmountText,
    AsOfField,
    CurrencyField,
    CustomerId,
    Period,
    Product,
    RecurringToken,
    SubscriptionId,
)
from flows._forms import request
from flows._models import MITChargeRequest, PaymentResult
from tasks import payments as tasks
from tasks.runtime import payment_context

__all__ = ["billing_period", "mit_charge"]

NAME = "mit-charge"


def billing_period(params: MITChargeRequest) -> str:
    """The period the charge is for: given, else the month of ``as_of`` (default: now)."""
    if params.period:
        return params.period
    return (params.as_of or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m")


@flow(name=NAME, flow_run_name="mit-{subscription_id}", persist_result=False)
async def mit_charge(
    *,
    subscription_id: SubscriptionId,
    period: Period = "",
    amount: AmountText,
    currency: CurrencyField = MERCHANT_CURRENCY,
    customer_id: CustomerId,
    recurring_token: RecurringToken,
    product: Product = "Subscription",
    as_of: AsOfField = None,
) -> State[PaymentResult]:
    """One merchant-initiated charge on a stored card, once per subscription and period."""
    params = request(MITChargeRequest, locals())
    async with payment_context():
        stored = await tasks.load_stored_card(params.customer_id, params.recurring_token)
        outcome = await tasks.charge_stored_card(
            f"mit:{params.subscription_id}:{billing_period(params)}",
            stored,
            amount_cents=params.amount_cents,
            currency=params.currency,
            product=params.product,
            subscription_external_id=params.subscription_id,
        )
        return await finish(NAME, outcome)
