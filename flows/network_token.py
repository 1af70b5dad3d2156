"""Network-token payment: an MDES / VTS token and its cryptogram stand in for the card."""

from __future__ import annotations

from typing import Annotated

from prefect import flow
from prefect.states import State

from flows._common import finish, network_token_reference
from flows._fields import (
    MERCHANT_CURRENCY,
    AmountText,
    CardholderName,
    CurrencyField,
    Email,
    FullName,
    OptionalCustomerId,
    OrderId,
    Product,
    RemoteIp,
    TokenRef,
    TokenRequestorId,
    described,
)
from flows._forms import request, run_name
from flows._models import NetworkTokenPaymentRequest, PaymentResult
from payflows.gateway import CardFlags
from payflows.vault import default_vault
from tasks import payments as tasks
from tasks.runtime import payment_context

__all__ = ["network_token_payment"]

NAME = "network-token-payment"


@flow(name=NAME, flow_run_name=run_name("network-token", "order_id"), persist_result=False)
async def network_token_payment(
    *,
    order_id: OrderId = "",
    amount: AmountText,
    currency: CurrencyField = MERCHANT_CURRENCY,
    email: Email,
    customer_id: OptionalCustomerId = "",
    full_name: FullName = "",
    token_ref: TokenRef = "",
    sandbox_token: Annotated[
        bool, described("Local sandbox only: pay with a test network token.")
    ] = False,
    token_requestor_id: TokenRequestorId,
    cardholder_name: CardholderName = "Sandbox Shopper",
    product: Product = "Order",
    remote_ip: RemoteIp = "127.0.0.1",
) -> State[PaymentResult]:
    """A payment with a scheme network token (MDES / VTS) and its cryptogram; once per order."""
    params = request(NetworkTokenPaymentRequest, locals())
    async with payment_context():
        token_ref = network_token_reference(params.token_ref, params.sandbox_token)
        try:
            customer = await tasks.ensure_customer(
                params.shopper.external_id, params.shopper.email, params.shopper.full_name
            )
            outcome = await tasks.submit_card(
                f"network-token:{params.order_id}",
                customer,
                None,
                mode="payment",
                amount_cents=params.amount_cents,
                currency=params.currency,
                product=params.product,
                flags=CardFlags(is_recurring=True),
                token_ref=token_ref,
                token_requestor_id=params.token_requestor_id,
                remote_ip=params.remote_ip,
            )
        finally:
            default_vault.pop_secret(token_ref)
        return await finish(NAME, outcome)
