"""``payflows delete-card`` and ``payflows doctor``: a stored card's end, and the gateway's health.

Both talk to whatever gateway the settings name (the sandbox by default, the real platform with
real keys) and print one line per fact; exit code 0 when all is well, 1 when not, 2 for bad
configuration or input.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from payflows.settings import ConfigurationError, Settings, load_settings

__all__ = ["delete_card", "doctor", "register"]


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        typer.echo(f"payflows: configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


async def _resolved(settings: Settings) -> Settings:
    from tasks.secrets import aresolve_secret_blocks

    return await aresolve_secret_blocks(settings)


def delete_card(
    recurring_token: Annotated[
        str, typer.Argument(help="The card's recurring token (the purchase that saved it).")
    ],
) -> None:
    """Delete a stored card at the gateway and in the ledger; billing stops charging it."""
    from payflows.gateway import PreciumClient, PreciumError
    from payflows.ledger import make_engine
    from payflows.ledger.migrate import upgrade
    from payflows.payments import OperationRejected, PaymentContext
    from payflows.stored_cards import delete_stored_card

    settings = _settings()

    async def run() -> str:
        resolved = await _resolved(settings)
        engine = make_engine(settings.database_url)
        try:
            async with PreciumClient.from_settings(resolved) as gateway:
                ctx = PaymentContext(gateway=gateway, engine=engine)
                done = await delete_stored_card(ctx, recurring_token)
        finally:
            engine.dispose()
        card = " ".join(p for p in (done.brand, done.masked_pan) if p) or "card"
        if done.already_deleted:
            return f"{card} {recurring_token} was already deleted ({done.deleted_at.isoformat()})"
        return f"deleted {card} {recurring_token} at {done.deleted_at.isoformat()}"

    upgrade(settings.database_url)
    try:
        typer.echo(asyncio.run(run()))
    except OperationRejected as exc:
        typer.echo(f"payflows delete-card: {exc}", err=True)
        raise typer.Exit(2) from None
    except PreciumError as exc:
        typer.echo(f"payflows delete-card: the gateway did not answer ({exc}); try again", err=True)
        raise typer.Exit(1) from None


def doctor(
    callback: Annotated[
        str | None,
        typer.Option(
            help="Webhook URL to look for (default: PAYFLOWS_PUBLIC_URL/webhooks/precium)."
        ),
    ] = None,
) -> None:
    """Check the configured gateway: keys, brand, public key, payment methods, webhook."""
    from apps.web.app import public_url
    from payflows.doctor import Check, run_checks
    from payflows.gateway import PreciumClient
    from payflows.webhooks import WebhookKeyStore

    settings = _settings()
    if callback is None:
        try:
            callback = f"{public_url(settings)}/webhooks/precium" if settings.public_url else None
        except ConfigurationError as exc:
            typer.echo(f"payflows: configuration error: {exc}", err=True)
            raise typer.Exit(2) from None

    async def run() -> list[Check]:
        resolved = await _resolved(settings)
        async with PreciumClient.from_settings(resolved) as gateway:
            return await run_checks(
                gateway,
                callback_url=callback,
                registered=WebhookKeyStore(settings.webhook_keys_file).registered(),
                card_brands=settings.card_brands,
            )

    typer.echo(f"gateway {settings.precium_base_url} brand {settings.precium_brand_id}")
    checks = asyncio.run(run())
    for check in checks:
        typer.echo(check.line())
    failed = sum(not c.ok for c in checks)
    typer.echo(f"{len(checks) - failed} of {len(checks)} checks passed")
    raise typer.Exit(1 if failed else 0)


def register(app: typer.Typer) -> None:
    app.command("delete-card")(delete_card)
    app.command("doctor")(doctor)
