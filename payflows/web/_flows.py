"""How the web app starts payments: the one seam between the HTTP routes and the flows.

TEMPORARY: ``payflows.flows`` (``customer_initiated_payment``, ``preauthorize``,
``complete_3ds``) did not exist yet when the web app was written, so this module calls the
Prefect-free payments service directly, doing what the flows' tasks are specified to do (read
the card from the vault, discard the reference once the gateway answered, keep the PaReq with
``put_secret(f"pareq:{md}")`` and never return it). Replace the two functions' bodies with the
flow calls; the routes depend only on this contract:

- ``checkout(...)`` and ``complete_3ds(md, pares)`` return an object with ``state``,
  ``purchase_status``, ``amount_cents``, ``currency``, ``brand``, ``masked_pan``,
  ``decline_code``, ``purchase_id``, ``business_key`` (or ``order_id``) and ``three_ds``
  (``md``, ``acs_url``; no PaReq);
- a request refused before any money moved raises :data:`Rejected` (its message is shown).
"""

from __future__ import annotations

from typing import Any

from payflows.domain.cards import BrowserFingerprint
from payflows.gateway import PreciumClient
from payflows.ledger import make_engine
from payflows.payments import (
    OperationRejected,
    PaymentContext,
    authorize_card,
    complete_three_ds,
    ensure_customer,
    pay_with_card,
)
from payflows.settings import load_settings
from payflows.tasks.secrets import aresolve_secret_blocks
from payflows.vault import default_vault

Rejected = OperationRejected

_engines: dict[str, Any] = {}


def _engine(url: str) -> Any:
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


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
) -> Any:
    settings = await aresolve_secret_blocks(load_settings())
    async with PreciumClient.from_settings(settings) as gateway:
        ctx = PaymentContext(gateway=gateway, engine=_engine(settings.database_url))
        customer = await ensure_customer(ctx, email, email=email)
        card = default_vault.get(card_ref)
        run = authorize_card if mode == "preauth" else pay_with_card
        key = f"{'preauth' if mode == 'preauth' else 'cit'}:{order_id}"
        try:
            outcome = await run(
                ctx,
                key,
                customer,
                card,
                amount_cents=amount_cents,
                currency=currency,
                product=product,
                remote_ip=remote_ip,
                browser=browser,
            )
        finally:
            del card
            default_vault.discard(card_ref)
    if outcome.three_ds is not None:
        default_vault.put_secret(f"pareq:{outcome.three_ds.md}", outcome.three_ds.pareq)
        outcome = outcome.model_copy(
            update={"three_ds": outcome.three_ds.model_copy(update={"pareq": ""})}
        )
    return outcome


async def complete_3ds(md: str, pares: str) -> Any:
    settings = await aresolve_secret_blocks(load_settings())
    async with PreciumClient.from_settings(settings) as gateway:
        ctx = PaymentContext(gateway=gateway, engine=_engine(settings.database_url))
        return await complete_three_ds(ctx, md, pares)
