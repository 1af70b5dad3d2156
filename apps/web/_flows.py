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

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

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
from flows._tags import run_tags
from payflows.domain.cards import BrowserFingerprint

Rejected = OperationRejected

_Wrapper = TypeVar("_Wrapper", bound=Callable[..., Awaitable[PaymentResult]])


def _under_run_tags(flow_name: Callable[..., str]) -> Callable[[_Wrapper], _Wrapper]:
    """Start the wrapper's flow under that flow's run tags (``flows._tags``), as a deployment's
    runs carry them, so automations on failed payments see the web app's runs too."""

    def wrap(wrapper: _Wrapper) -> _Wrapper:
        @functools.wraps(wrapper)
        async def tagged(*args: Any, **kwargs: Any) -> PaymentResult:
            with run_tags(flow_name(*args, **kwargs)):
                return await wrapper(*args, **kwargs)

        return cast(_Wrapper, tagged)

    return wrap


def _checkout_flow(*, mode: str, **_: Any) -> str:
    return preauthorize.name if mode == "preauth" else customer_initiated_payment.name


def _complete_3ds_flow(*_: Any, **__: Any) -> str:
    return complete_3ds_flow.name


@_under_run_tags(_checkout_flow)
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


@_under_run_tags(_complete_3ds_flow)
async def complete_3ds(md: str, pares: str) -> PaymentResult:
    return await result_of_run(complete_3ds_flow(md=md, pares=pares, return_state=True))
