"""``payflows run`` payments authenticated elsewhere: by your own 3DS server, or a network token.

Registered on :data:`apps.cli_run.app` when that module is imported.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from apps.cli_run import (
    CardPrompt,
    Currency,
    CustomerId,
    Email,
    FullName,
    Json,
    SandboxCardName,
    _card,
    _fail,
    _params,
    _required_cents,
    _run,
    _shopper,
    app,
)

__all__: list[str] = []


@app.command("external-3ds")
def external_3ds(
    order: Annotated[str, typer.Option(help="Your order id (the business key).")],
    amount: Annotated[str, typer.Option(help="Amount, e.g. 250.00.")],
    email: Email,
    cavv: Annotated[str, typer.Option(help="CAVV from your MPI.")],
    eci: Annotated[str, typer.Option(help="ECI from your MPI (eci_raw), e.g. 05.")],
    xid: Annotated[str | None, typer.Option(help="XID from your MPI.")] = None,
    auth_id: Annotated[
        str | None, typer.Option(help="authentication_transaction_id from your MPI.")
    ] = None,
    customer: CustomerId = None,
    name: FullName = None,
    sandbox_card: SandboxCardName = None,
    card_prompt: CardPrompt = False,
    currency: Currency = "ZAR",
    as_json: Json = False,
) -> None:
    """Payment authenticated by your own 3DS server (MPI)."""
    from flows import External3DSPaymentRequest, external_3ds_payment

    params = _params(
        External3DSPaymentRequest,
        order_id=order,
        amount_cents=_required_cents(amount, currency),
        shopper=_shopper(email, customer, name),
        card=_card(sandbox_card, card_prompt),
        cavv=cavv,
        eci_raw=eci,
        xid=xid,
        authentication_transaction_id=auth_id,
        currency=currency,
    )
    _run(lambda: external_3ds_payment(params, return_state=True), as_json)


@app.command("network-token")
def network_token(
    order: Annotated[str, typer.Option(help="Your order id (the business key).")],
    amount: Annotated[str, typer.Option(help="Amount, e.g. 250.00.")],
    email: Email,
    token_requestor_id: Annotated[str, typer.Option(help="Your token requestor id.")],
    sandbox_token: Annotated[
        bool, typer.Option("--sandbox-token", help="Local sandbox only: use a test token.")
    ] = False,
    token_prompt: Annotated[
        bool, typer.Option("--token-prompt", help="Type the token and cryptogram (hidden).")
    ] = False,
    customer: CustomerId = None,
    name: FullName = None,
    currency: Currency = "ZAR",
    as_json: Json = False,
) -> None:
    """Payment with a network token (MDES / VTS) and its cryptogram."""
    from flows import NetworkTokenPaymentRequest, network_token_payment

    if token_prompt == sandbox_token:
        raise _fail("give one of --token-prompt and --sandbox-token")
    token_ref = None
    if token_prompt:
        import secrets

        from payflows.vault import default_vault

        token = typer.prompt("Network token", hide_input=True)
        cryptogram = typer.prompt("Cryptogram", hide_input=True)
        token_ref = f"network-token:{secrets.token_urlsafe(16)}"
        default_vault.put_secret(token_ref, json.dumps({"token": token, "cryptogram": cryptogram}))
        del token, cryptogram
    params = _params(
        NetworkTokenPaymentRequest,
        order_id=order,
        amount_cents=_required_cents(amount, currency),
        shopper=_shopper(email, customer, name),
        token_ref=token_ref,
        sandbox_token=sandbox_token,
        token_requestor_id=token_requestor_id,
        currency=currency,
    )
    _run(lambda: network_token_payment(params, return_state=True), as_json)
