"""``payflows run ...``: every scenario flow from the command line, run in-process.

A card is never a command-line argument (it would rest in the shell history and the process
list). ``--card-prompt`` asks for it with hidden input and puts it in the process's vault; the
flow gets the one-time reference. Against the local sandbox, ``--sandbox-card NAME`` names a test
card instead. Amounts are parsed as decimals into cents (``299.00`` -> 29900), never as floats.

Exit codes: 0 done (or waiting for the shopper's 3-D Secure), 1 declined, failed or not known
yet, 2 refused (wrong input, configuration): nothing was charged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import typer

from payflows.domain.cards import CardData
from payflows.domain.money import format_amount, parse_amount, validate_currency
from payflows.settings import ConfigurationError, Settings, load_settings

__all__ = ["app"]

app = typer.Typer(
    help="Run one payment scenario (a Prefect flow) in this process and print its result.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# -- shared options -----------------------------------------------------------------------------

Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
Currency = Annotated[str, typer.Option(help="ISO 4217 currency of the amounts.")]
Email = Annotated[str, typer.Option(help="The shopper's email.")]
CustomerId = Annotated[
    str | None, typer.Option("--customer", help="Your customer id (default: the email).")
]
FullName = Annotated[str | None, typer.Option("--name", help="The shopper's full name.")]
SandboxCardName = Annotated[
    str | None,
    typer.Option(
        "--sandbox-card", help="Local sandbox only: a test card by name (docs/test-cards.md)."
    ),
]
CardPrompt = Annotated[
    bool, typer.Option("--card-prompt", help="Type the card in (hidden input, never echoed).")
]
Auto3DS = Annotated[
    str | None,
    typer.Option(
        "--auto-3ds", help="Local sandbox only: answer a 3DS challenge with approve or fail."
    ),
]
RemoteIp = Annotated[str, typer.Option(help="The shopper's IP address.")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"payflows: {message}", err=True)
    return typer.Exit(code)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        raise _fail(f"configuration error: {exc}") from None


def _cents(text: str | None, currency: str, what: str = "--amount") -> int | None:
    if text is None:
        return None
    try:
        cents = parse_amount(text, validate_currency(currency))
    except ValueError as exc:
        raise _fail(f"{what}: {exc}") from None
    if cents <= 0:
        raise _fail(f"{what} must be more than zero")
    return cents


def _required_cents(text: str, currency: str) -> int:
    cents = _cents(text, currency)
    assert cents is not None
    return cents


def _prompted_card(*, with_cvc: bool = True) -> str:
    """Ask for the card with hidden input; only the vault reference leaves this function."""
    from payflows.vault import default_vault

    number = typer.prompt("Card number", hide_input=True)
    expires = typer.prompt("Expiry (MM/YY)", hide_input=True)
    cvc = typer.prompt("CVC", hide_input=True) if with_cvc else "000"
    name = typer.prompt("Cardholder name")
    try:
        card = CardData(number, expires, cvc, name)
    except ValueError as exc:  # the messages name the field, never its value
        raise _fail(f"card: {exc}") from None
    finally:
        del number, expires, cvc
    return default_vault.put(card)


def _card(sandbox_card: str | None, card_prompt: bool, *, with_cvc: bool = True) -> Any:
    from flows import CardInput, SandboxCard

    if card_prompt == (sandbox_card is not None):
        raise _fail("give one of --card-prompt and --sandbox-card NAME")
    if sandbox_card is not None:
        try:
            return CardInput(sandbox_card=SandboxCard(sandbox_card))
        except ValueError:
            names = ", ".join(c.value for c in SandboxCard)
            raise _fail(f"--sandbox-card: unknown test card {sandbox_card!r} ({names})") from None
    return CardInput(card_ref=_prompted_card(with_cvc=with_cvc))


def _auto_3ds(value: str | None) -> Any:
    if value not in (None, "approve", "fail"):
        raise _fail("--auto-3ds must be approve or fail")
    return value


def _shopper(email: str, customer: str | None, name: str | None) -> Any:
    from flows import Shopper

    return Shopper(email=email, customer_id=customer, full_name=name)


def _params(model: type[Any], **fields: Any) -> Any:
    from pydantic import ValidationError

    try:
        return model(**fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "input"
        raise _fail(f"{where}: {err.get('msg', 'invalid')}") from None


def _show(result: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    rows: list[tuple[str, object]] = [
        ("flow", result.flow),
        ("business key", result.business_key),
        ("state", result.state.value),
        ("purchase", result.purchase_id),
        ("purchase status", result.purchase_status),
        ("amount", format_amount(result.amount_cents, result.currency)),
        ("card", " ".join(x for x in (result.brand, result.masked_pan) if x) or None),
        ("decline", result.decline_code),
        ("recurring token", result.recurring_token),
        ("network transaction id", result.network_transaction_id),
        ("refund id", result.refund_id),
        ("hold expires", result.hold_expires_at),
    ]
    if result.three_ds is not None:
        rows += [("3DS MD", result.three_ds.md), ("3DS ACS URL", result.three_ds.acs_url)]
    rows.append(("note", result.message))
    for label, value in rows:
        if value is not None:
            typer.echo(f"{label:>24}  {value}")


def _run(call: Callable[[], Coroutine[Any, Any, Any]], as_json: bool) -> None:
    """Run the flow in this process, print its result, exit with the documented code."""
    from flows import result_of_run
    from payflows.ledger.migrate import upgrade
    from payflows.payments import OperationRejected
    from payflows.vault import VaultError

    settings = _settings()
    upgrade(settings.database_url)
    try:
        result: Any = asyncio.run(result_of_run(call()))
    except (OperationRejected, VaultError) as exc:
        raise _fail(f"refused, nothing was charged: {exc}") from None
    _show(result, as_json)
    if not (result.succeeded or result.three_ds is not None):
        raise typer.Exit(1)


# -- one command per scenario -------------------------------------------------------------------


@app.command("zero-auth")
def zero_auth(
    ref: Annotated[str, typer.Option(help="Your id of this card validation.")],
    email: Email,
    customer: CustomerId = None,
    name: FullName = None,
    sandbox_card: SandboxCardName = None,
    card_prompt: CardPrompt = False,
    auto_3ds: Auto3DS = None,
    currency: Currency = "ZAR",
    remote_ip: RemoteIp = "127.0.0.1",
    as_json: Json = False,
) -> None:
    """Validate a card for 0 and store it (tokenised) for later charges."""
    from flows import ZeroAuthRequest, zero_auth_validation

    params = _params(
        ZeroAuthRequest,
        reference=ref,
        shopper=_shopper(email, customer, name),
        card=_card(sandbox_card, card_prompt),
        auto_3ds=_auto_3ds(auto_3ds),
        currency=currency,
        remote_ip=remote_ip,
    )
    _run(lambda: zero_auth_validation(params, return_state=True), as_json)


@app.command("preauth")
def preauth(
    booking: Annotated[str, typer.Option(help="Your booking id (the business key).")],
    amount: Annotated[str, typer.Option(help="Amount to hold, e.g. 350.00.")],
    email: Email,
    customer: CustomerId = None,
    name: FullName = None,
    sandbox_card: SandboxCardName = None,
    card_prompt: CardPrompt = False,
    auto_3ds: Auto3DS = None,
    product: Annotated[str, typer.Option(help="What the hold is for.")] = "Booking deposit",
    currency: Currency = "ZAR",
    remote_ip: RemoteIp = "127.0.0.1",
    as_json: Json = False,
) -> None:
    """Pre-authorise (hold) an amount on the shopper's card."""
    from flows import PreauthRequest, preauthorize

    params = _params(
        PreauthRequest,
        booking_id=booking,
        amount_cents=_required_cents(amount, currency),
        shopper=_shopper(email, customer, name),
        card=_card(sandbox_card, card_prompt),
        auto_3ds=_auto_3ds(auto_3ds),
        product=product,
        currency=currency,
        remote_ip=remote_ip,
    )
    _run(lambda: preauthorize(params, return_state=True), as_json)


@app.command("recurring-preauth")
def recurring_preauth(
    booking: Annotated[str, typer.Option(help="Your booking id (the business key).")],
    amount: Annotated[str, typer.Option(help="Amount to hold, e.g. 5000.00.")],
    customer: Annotated[str, typer.Option(help="Your customer id that owns the stored card.")],
    token: Annotated[str, typer.Option(help="The stored card's recurring token.")],
    sandbox_card: SandboxCardName = None,
    card_prompt: Annotated[
        bool, typer.Option("--card-prompt", help="Type the card number and expiry (no CVC).")
    ] = False,
    currency: Currency = "ZAR",
    as_json: Json = False,
) -> None:
    """Pre-authorise on a stored card without the CVC."""
    from flows import RecurringPreauthRequest
    from flows import recurring_preauth as flow

    params = _params(
        RecurringPreauthRequest,
        booking_id=booking,
        amount_cents=_required_cents(amount, currency),
        customer_id=customer,
        recurring_token=token,
        card=_card(sandbox_card, card_prompt, with_cvc=False),
        currency=currency,
    )
    _run(lambda: flow(params, return_state=True), as_json)


@app.command("cit")
def cit(
    order: Annotated[str, typer.Option(help="Your order id (the business key).")],
    amount: Annotated[str, typer.Option(help="Amount, e.g. 299.00.")],
    email: Email,
    customer: CustomerId = None,
    name: FullName = None,
    sandbox_card: SandboxCardName = None,
    card_prompt: CardPrompt = False,
    auto_3ds: Auto3DS = None,
    save_card: Annotated[
        bool, typer.Option(help="Keep the card (tokenised) for later charges.")
    ] = True,
    product: Annotated[str, typer.Option(help="What is bought.")] = "Order",
    currency: Currency = "ZAR",
    remote_ip: RemoteIp = "127.0.0.1",
    as_json: Json = False,
) -> None:
    """Customer-initiated payment with Precium's 3-D Secure."""
    from flows import CustomerInitiatedPaymentRequest, customer_initiated_payment

    params = _params(
        CustomerInitiatedPaymentRequest,
        order_id=order,
        amount_cents=_required_cents(amount, currency),
        shopper=_shopper(email, customer, name),
        card=_card(sandbox_card, card_prompt),
        auto_3ds=_auto_3ds(auto_3ds),
        save_card=save_card,
        product=product,
        currency=currency,
        remote_ip=remote_ip,
    )
    _run(lambda: customer_initiated_payment(params, return_state=True), as_json)


@app.command("non-3ds")
def non_3ds(
    order: Annotated[str, typer.Option(help="Your order id (the business key).")],
    amount: Annotated[str, typer.Option(help="Amount, e.g. 50.00.")],
    email: Email,
    customer: CustomerId = None,
    name: FullName = None,
    sandbox_card: SandboxCardName = None,
    card_prompt: CardPrompt = False,
    currency: Currency = "ZAR",
    as_json: Json = False,
) -> None:
    """Frictionless payment without 3-D Secure (where the brand is approved for it)."""
    from flows import Non3DSPaymentRequest, non_3ds_payment

    params = _params(
        Non3DSPaymentRequest,
        order_id=order,
        amount_cents=_required_cents(amount, currency),
        shopper=_shopper(email, customer, name),
        card=_card(sandbox_card, card_prompt),
        currency=currency,
    )
    _run(lambda: non_3ds_payment(params, return_state=True), as_json)


@app.command("mit")
def mit(
    subscription: Annotated[str, typer.Option(help="Your subscription id.")],
    amount: Annotated[str, typer.Option(help="Amount, e.g. 299.00.")],
    customer: Annotated[str, typer.Option(help="Your customer id that owns the stored card.")],
    token: Annotated[str, typer.Option(help="The stored card's recurring token.")],
    period: Annotated[
        str | None, typer.Option(help="Billing period (default: this month, YYYY-MM).")
    ] = None,
    product: Annotated[str, typer.Option(help="What is charged.")] = "Subscription",
    currency: Currency = "ZAR",
    as_json: Json = False,
) -> None:
    """One merchant-initiated charge on a stored card, once per subscription period."""
    from flows import MITChargeRequest, mit_charge

    params = _params(
        MITChargeRequest,
        subscription_id=subscription,
        period=period,
        amount_cents=_required_cents(amount, currency),
        customer_id=customer,
        recurring_token=token,
        product=product,
        currency=currency,
    )
    _run(lambda: mit_charge(params, return_state=True), as_json)


# More commands live in modules of their own (acting on an earlier purchase; payments
# authenticated elsewhere): importing them registers them on ``app``.
from apps import cli_run_after, cli_run_elsewhere  # noqa: E402, F401
