"""``payflows demo``: the main job on embedded defaults, end to end in a few seconds.

It starts the built-in Precium sandbox on loopback (unless the settings point at another
gateway), migrates the SQLite ledger, and walks a customer through the first payments a merchant
makes: a zero-amount card validation that stores a card token, a customer-initiated payment with
a 3-D Secure challenge (the demo plays the shopper's browser on the sandbox's ACS page), and a
merchant-initiated charge on the stored card. Every step goes through the same exactly-once
service the flows use, and the demo prints what the ledger recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
from sqlmodel import func, select

from payflows.domain.cards import BrowserFingerprint, CardData
from payflows.domain.money import format_amount
from payflows.gateway import PreciumClient, PreciumError
from payflows.ledger import PaymentAttempt, PaymentMethod, UnitOfWork, make_engine
from payflows.ledger.migrate import current, upgrade
from payflows.payments import (
    OperationRejected,
    PaymentContext,
    PaymentOutcome,
    authorize_card,
    charge_stored_card,
    complete_three_ds,
    ensure_customer,
    pay_with_card,
)
from payflows.settings import Settings

CURRENCY = "ZAR"
PRICE = 29900


def _say(text: str = "") -> None:
    print(text, flush=True)


def _step(n: int | None, title: str, outcome: PaymentOutcome) -> None:
    card = f"{outcome.brand or ''} {outcome.masked_pan or ''}".strip()
    status = outcome.purchase_status.value if outcome.purchase_status else outcome.state.value
    amount = format_amount(outcome.amount_cents, outcome.currency)
    _say(f"{n}. {title}" if n is not None else f"   {title}")
    _say(f"     {amount:>12}  {card:<24} {status:<14} purchase {outcome.purchase_id}")
    if outcome.decline_code:
        _say(f"     declined: {outcome.decline_code}")


@contextlib.contextmanager
def _gateway(settings: Settings) -> Iterator[Settings]:
    """The settings to use: with an embedded sandbox when they point at the local one."""
    if not settings.uses_local_sandbox:
        yield settings
        return
    from payflows.sandbox import SandboxConfig, running_sandbox

    config = SandboxConfig.from_settings(settings)
    if config.state_file is None:
        # The ledger outlives one demo run, so the sandbox must remember its clients too.
        config.state_file = (
            Path(settings.database_url.removeprefix("sqlite:///")).parent.joinpath(
                "sandbox-state.json"
            )
            if settings.database_url.startswith("sqlite:///")
            else Path("data/sandbox-state.json")
        )
    with running_sandbox(config) as base_url:
        yield settings.model_copy(update={"precium_base_url": base_url})


async def _walk(settings: Settings, run: str) -> None:
    engine = make_engine(settings.database_url)
    origin = settings.precium_base_url.split("/api/v1/")[0]
    async with PreciumClient.from_settings(settings) as gateway, httpx.AsyncClient() as browser:
        ctx = PaymentContext(gateway=gateway, engine=engine)
        customer = await ensure_customer(
            ctx, "demo-customer", email="thandi@example.co.za", full_name="Thandi Nkosi"
        )
        _say(f"   customer demo-customer is Precium client {customer.precium_client_id}")
        _say()

        # 1. Zero-auth: validate the card for R 0.00 and keep a token for later charges.
        card = CardData("4111 1111 1111 1111", "12/30", "123", "Thandi Nkosi")
        zero = await authorize_card(
            ctx,
            f"demo:{run}:zero-auth",
            customer,
            card,
            amount_cents=0,
            currency=CURRENCY,
            product="Card validation",
            force_recurring=True,
        )
        _step(1, "Zero-auth card validation (force_recurring: the card is tokenised)", zero)
        _say(f"     recurring token stored: {zero.recurring_token}")

        # 2. A customer-initiated payment that the issuer challenges with 3-D Secure.
        challenged = CardData("4000 0000 0000 0002", "12/30", "123", "Thandi Nkosi")
        cit = await pay_with_card(
            ctx,
            f"demo:{run}:order-1",
            customer,
            challenged,
            amount_cents=PRICE,
            currency=CURRENCY,
            product="Premium subscription, first month",
            force_recurring=True,
            browser=BrowserFingerprint(),
            remote_ip="196.21.45.123",
        )
        if cit.three_ds is not None:
            from payflows.sandbox.testing import complete_challenge

            _say("2. Customer-initiated payment: the issuer asks for a 3-D Secure challenge")
            _say(f"     shopper sent to the ACS page {cit.three_ds.acs_url}")
            pares = await complete_challenge(
                browser,
                cit.three_ds.acs_url,
                cit.three_ds.md,
                cit.three_ds.pareq,
                f"{origin}/merchant/3ds-return",
            )
            _say("     shopper approved the challenge; the bank posted PaRes back to the TermUrl")
            cit = await complete_three_ds(ctx, cit.three_ds.md, pares)
            _step(None, "result after 3-D Secure:", cit)
        else:
            _step(2, "Customer-initiated payment", cit)

        # 3. A merchant-initiated charge on the card stored in step 1.
        def stored(uow: UnitOfWork) -> PaymentMethod:
            method = uow.session.exec(
                select(PaymentMethod).where(PaymentMethod.recurring_token == zero.recurring_token)
            ).one()
            return method

        method = await ctx.ledger(stored)
        mit = await charge_stored_card(
            ctx,
            f"demo:{run}:sub-1:month-2",
            customer,
            method,
            amount_cents=PRICE,
            currency=CURRENCY,
            product="Premium subscription, second month",
        )
        _step(3, "Merchant-initiated charge on the stored card (no shopper present)", mit)

        def counts(uow: UnitOfWork) -> tuple[int, int]:
            attempts = uow.session.exec(select(func.count()).select_from(PaymentAttempt)).one()
            methods = uow.session.exec(select(func.count()).select_from(PaymentMethod)).one()
            return int(attempts), int(methods)

        attempts, methods = await ctx.ledger(counts)
        _say()
        _say(f"Ledger {settings.database_url}: {attempts} payment attempts, {methods} stored cards")
        _say("(card numbers and CVCs are nowhere in it: only brand and masked PAN)")
    engine.dispose()


def run_demo(settings: Settings) -> int:
    """Run the demo; returns the process exit code."""
    _say("payflows demo: the first payments of a merchant, on embedded defaults")
    upgrade(settings.database_url)
    _say(f"   ledger   {settings.database_url} (schema {current(settings.database_url)})")
    run = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    try:
        with _gateway(settings) as effective:
            kind = "built-in sandbox" if settings.uses_local_sandbox else "gateway"
            _say(f"   gateway  {effective.precium_base_url} ({kind})")
            asyncio.run(_walk(effective, run))
    except (PreciumError, OperationRejected) as exc:
        _say(f"payflows demo failed: {exc}")
        return 1
    _say("Done.")
    return 0
