"""How the web app starts payments: the one seam between the HTTP routes and the flows.

Checkout and the TermUrl run the scenario flows in this process, so a card reference from
:data:`payflows.vault.default_vault` (and the PaReq the flow keeps there under ``pareq:<md>``)
never leaves the process. The routes depend only on this contract:

- ``checkout(...)`` and ``complete_3ds(md, pares)`` return a
  :class:`~flows.PaymentResult` (``state``, ``purchase_status``, ``amount_cents``,
  ``currency``, ``brand``, ``masked_pan``, ``decline_code``, ``purchase_id``, ``business_key``,
  ``three_ds`` with ``md`` and ``acs_url``; no PaReq);
- a request refused before any money moved raises :data:`Rejected` (its message is shown).
"""

from __future__ import annotations

from flows import (
    Browser,
    OperationRejected,
    PaymentResult,
    customer_initiated_payment,
    preauthorize,
    result_of_run,
    units,
)
from flows import complete_3ds as complete_3ds_flow
from payflows.domain.cards import BrowserFingerprint

Rejected = OperationRejected


async def checkout(
    *,
    mode: str,
    order_id: str,
    email: str,
    amount_cents: int,
    currency: str,
    product: str,
    card_ref: str,
    remote_ip: str,
    browser: BrowserFingerprint,
) -> PaymentResult:
    # The flows' flat forms, as an operator would fill them in the Prefect UI.
    form = {
        "amount": units(amount_cents, currency),
        "currency": currency,
        "email": email,
        "card_ref": card_ref,
        "product": product,
        "remote_ip": remote_ip,
        "browser": Browser(**browser.as_fields()),
    }
    if mode == "preauth":
        return await result_of_run(preauthorize(booking_id=order_id, **form, return_state=True))
    return await result_of_run(
        customer_initiated_payment(order_id=order_id, **form, return_state=True)
    )


async def complete_3ds(md: str, pares: str) -> PaymentResult:
    return await result_of_run(complete_3ds_flow(md=md, pares=pares, return_state=True))
