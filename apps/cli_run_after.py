"""``payflows run ...`` commands that act on an earlier purchase: capture, void, cancel, refund.

They take the purchase id (``payflows run`` prints it, ``payment-lookup`` finds it) and run the
flow in this process, as :mod:`apps.cli_run` does for the payments themselves.
"""

from __future__ import annotations

from typing import Annotated

import typer

from apps.cli_run import Currency, Json, _cents, _params, _run, _settings, app

__all__: list[str] = []


@app.command("capture")
def capture(
    purchase: Annotated[str, typer.Option(help="Purchase id of the hold.")],
    amount: Annotated[str | None, typer.Option(help="Part to capture (default: all).")] = None,
    currency: Currency = "ZAR",
    as_json: Json = False,
) -> None:
    """Capture all or part of a hold; the remainder is released."""
    from flows import CaptureRequest, capture_hold

    params = _params(CaptureRequest, purchase_id=purchase, amount_cents=_cents(amount, currency))
    _run(lambda: capture_hold(params, return_state=True), as_json)


@app.command("void")
def void(
    purchase: Annotated[str, typer.Option(help="Purchase id of the hold.")],
    via: Annotated[str, typer.Option(help="release (default) or cancel.")] = "release",
    as_json: Json = False,
) -> None:
    """Release a hold without capturing it."""
    from flows import VoidRequest, void_hold

    params = _params(VoidRequest, purchase_id=purchase, via=via)
    _run(lambda: void_hold(params, return_state=True), as_json)


@app.command("cancel")
def cancel(
    purchase: Annotated[str, typer.Option(help="Purchase id to cancel.")],
    as_json: Json = False,
) -> None:
    """Cancel a purchase before it settles."""
    from flows import PurchaseCancelRequest, cancel_purchase

    params = _params(PurchaseCancelRequest, purchase_id=purchase)
    _run(lambda: cancel_purchase(params, return_state=True), as_json)


@app.command("refund")
def refund(
    purchase: Annotated[str, typer.Option(help="Purchase id to refund.")],
    ref: Annotated[str, typer.Option(help="Your refund reference (the business key).")],
    amount: Annotated[str | None, typer.Option(help="Part to refund (default: all).")] = None,
    currency: Currency = "ZAR",
    as_json: Json = False,
) -> None:
    """Refund all or part of a paid purchase."""
    from flows import RefundRequest
    from flows import refund as flow

    params = _params(
        RefundRequest,
        purchase_id=purchase,
        refund_ref=ref,
        amount_cents=_cents(amount, currency),
    )
    _run(lambda: flow(params, return_state=True), as_json)


@app.command("cancel-refund")
def cancel_refund(
    purchase: Annotated[str, typer.Option(help="Purchase id the refund belongs to.")],
    refund_id: Annotated[str, typer.Option("--refund", help="The refund id.")],
    as_json: Json = False,
) -> None:
    """Cancel a refund before it settles."""
    from flows import RefundCancelRequest
    from flows import cancel_refund as flow

    params = _params(RefundCancelRequest, purchase_id=purchase, refund_id=refund_id)
    _run(lambda: flow(params, return_state=True), as_json)


@app.command("complete-3ds")
def complete_3ds(
    md: Annotated[str, typer.Option(help="MD the bank posted to the TermUrl.")],
    pares: Annotated[str, typer.Option(help="PaRes the bank posted to the TermUrl.")],
    as_json: Json = False,
) -> None:
    """Finish a payment waiting for 3-D Secure (what the web app's TermUrl does)."""
    from flows import ThreeDSCompletionRequest
    from flows import complete_3ds as flow

    params = _params(ThreeDSCompletionRequest, md=md, pares=pares)
    _run(lambda: flow(params, return_state=True), as_json)


@app.command("serve")
def serve(
    limit: Annotated[int, typer.Option(help="Flow runs at most at once.")] = 4,
) -> None:
    """Serve every deployment (same as ``payflows serve``; PREFECT_API_URL: your server)."""
    from deployments.serve import serve_catalog

    _settings()
    serve_catalog(limit=limit)
