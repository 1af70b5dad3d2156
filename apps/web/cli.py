"""``payflows web ...``: serve the merchant's web app, register its webhook at the gateway."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from payflows.settings import ConfigurationError, Settings, load_settings

if TYPE_CHECKING:
    from payflows.webhooks import RegisteredWebhook

__all__ = ["app"]

app = typer.Typer(
    help="The merchant's web app: webhook receiver, 3-D Secure return and checkout.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        typer.echo(f"payflows: configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


def _require_current_ledger(settings: Settings) -> None:
    """Stop at start unless the ledger is migrated: the checkout counts its failures there (and
    would answer every shopper 503 without the table), the webhooks and flows write there."""
    from sqlalchemy.exc import SQLAlchemyError

    from payflows.ledger.migrate import current, head

    try:
        at = current(settings.database_url)
    except SQLAlchemyError as exc:
        typer.echo(
            f"payflows web serve: the ledger cannot be read ({type(exc).__name__})", err=True
        )
        raise typer.Exit(2) from None
    if at != head():
        typer.echo(
            f"payflows web serve: the ledger is at revision {at or 'none'}, not {head()} "
            "(run: payflows db upgrade)",
            err=True,
        )
        raise typer.Exit(2)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (PAYFLOWS_WEB_HOST, 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (PAYFLOWS_WEB_PORT, 8500).")] = None,
    prefect_home: Annotated[
        Path,
        typer.Option(
            help="Home of the local Prefect server started when PREFECT_API_URL is unset."
        ),
    ] = Path("data/prefect"),
) -> None:
    """Serve the web app with uvicorn (loopback by default: put a TLS proxy in front of it).

    Checkout and the TermUrl run flows in this process, recorded by the Prefect server that
    PREFECT_API_URL names. Without it, one local server is started under --prefect-home and
    stopped with the app (never Prefect's temporary in-process servers, which outlive Ctrl-C).
    """
    import os

    from apps.web.app import create_web_app

    settings = _settings()
    overrides: dict[str, object] = {}
    if host is not None:
        overrides["web_host"] = host
    if port is not None:
        overrides["web_port"] = port
    if overrides:
        settings = settings.model_copy(update=overrides)
    try:
        web = create_web_app(settings)
    except ConfigurationError as exc:
        typer.echo(f"payflows: configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
    _require_current_ledger(settings)
    typer.echo(
        f"payflows web app on http://{settings.web_host}:{settings.web_port} "
        f"(public URL {web.state.public_url})"
    )
    if os.environ.get("PREFECT_API_URL"):
        _run(web, settings)
        return
    from apps.local_prefect import prefect_api

    typer.echo(f"PREFECT_API_URL is not set: starting a local Prefect server in {prefect_home}")
    with prefect_api(prefect_home) as api_url:
        typer.echo(f"Prefect API {api_url}")
        _run(web, settings)


def _run(web: object, settings: Settings) -> None:
    import os

    import uvicorn

    # X-Forwarded-For names the client only when the operator names the proxy that sets it
    # (FORWARDED_ALLOW_IPS). uvicorn's default trusts it from 127.0.0.1, so a local client, or a
    # proxy passing the shopper's own header through, could claim a new address on every
    # attempt and never meet the checkout's per-client failure limit.
    trusted = os.environ.get("FORWARDED_ALLOW_IPS", "").strip()
    uvicorn.run(
        web,  # type: ignore[arg-type]
        host=settings.web_host,
        port=settings.web_port,
        # The access log shows paths only, never bodies; the checkout posts its card fields in
        # the body, so nothing sensitive reaches it.
        access_log=False,
        log_level="info",
        lifespan="on",
        # No "server: uvicorn" banner: nothing tells a scanner what runs here.
        server_header=False,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )


@app.command()
def order(
    amount: Annotated[str, typer.Option(help="Amount in the checkout currency, e.g. 49.99.")],
    product: Annotated[str, typer.Option(help="What the shopper pays for.")],
    order_id: Annotated[
        str | None, typer.Option("--order-id", help="The shop's order id (default: a new one).")
    ] = None,
    mode: Annotated[str, typer.Option(help="cit (pay now) or preauth (hold).")] = "cit",
    valid_minutes: Annotated[int, typer.Option(help="How long the link works.")] = 60,
) -> None:
    """Sign an order with PAYFLOWS_CHECKOUT_SECRET and print its checkout link."""
    import secrets

    from apps.web.app import public_url
    from apps.web.guard import InvalidOrder, Order, OrderSigner
    from payflows.domain.money import parse_form_amount, validate_currency

    settings = _settings()
    secret = settings.checkout_secret.get_secret_value() if settings.checkout_secret else ""
    if not secret:
        typer.echo("payflows: set PAYFLOWS_CHECKOUT_SECRET (the web app's too)", err=True)
        raise typer.Exit(2)
    try:
        currency = validate_currency(settings.checkout_currency)
        try:  # the flows' forms' rule: plain digits, at most 11 of them (never a card's length)
            cents = parse_form_amount(amount, currency)
        except ValueError as exc:
            raise ValueError(f"amount: {exc}") from None
        signer = OrderSigner(secret)
        made = Order(order_id or f"web-{secrets.token_hex(8)}", cents, currency, product, mode)  # type: ignore[arg-type]
        token = signer.sign(made, valid_seconds=max(1, valid_minutes) * 60)
    except (ValueError, InvalidOrder) as exc:
        typer.echo(f"payflows: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{public_url(settings)}/checkout?order={token}")


@app.command("register-webhook")
def register_webhook(
    url: Annotated[
        str | None,
        typer.Option(
            help="Callback URL the gateway posts to (default: PAYFLOWS_PUBLIC_URL"
            " + /webhooks/precium)."
        ),
    ] = None,
    events: Annotated[
        list[str] | None,
        typer.Option(
            "--events",
            "--event",
            help="Event types to subscribe to (repeatable; default: all events).",
        ),
    ] = None,
    title: Annotated[str, typer.Option(help="Title of the webhook at the gateway.")] = "payflows",
) -> None:
    """Create the webhook at the gateway and keep its public key for the receiver."""
    from apps.web.app import public_url

    settings = _settings()
    try:
        callback = url or f"{public_url(settings)}/webhooks/precium"
    except ConfigurationError as exc:
        typer.echo(f"payflows: configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
    if not callback.startswith(("http://", "https://")):
        typer.echo("payflows: --url must be an http(s) URL", err=True)
        raise typer.Exit(2)
    wanted = [e.strip() for item in events or [] for e in item.split(",") if e.strip()]
    try:
        entry = asyncio.run(_register(settings, callback, wanted, title))
    except ConfigurationError as exc:
        typer.echo(f"payflows: configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
    except Exception as exc:
        typer.echo(f"payflows: could not register the webhook: {exc}", err=True)
        raise typer.Exit(1) from None
    scope = "all events" if entry.all_events else ", ".join(entry.events)
    typer.echo(f"registered webhook {entry.id} -> {entry.callback} ({scope})")
    typer.echo(f"public key stored in {settings.webhook_keys_file}")


async def _register(
    settings: Settings, callback: str, events: list[str], title: str
) -> RegisteredWebhook:
    from payflows.gateway import PreciumClient
    from payflows.webhooks import WebhookKeyStore
    from tasks.secrets import aresolve_secret_blocks

    resolved = await aresolve_secret_blocks(settings)
    async with PreciumClient.from_settings(resolved) as gateway:
        webhook = await gateway.create_webhook(
            title, callback, events=events or None, all_events=not events
        )
    return WebhookKeyStore(settings.webhook_keys_file).add(webhook)
