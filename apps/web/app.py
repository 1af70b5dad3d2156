"""The merchant's web app: the webhook receiver, the 3-D Secure TermUrl and a card checkout.

One Starlette app, served by uvicorn beside the shop (``payflows web serve``):

- ``POST /webhooks/precium``: Precium's deliveries. Verified against every key that may sign one
  (:class:`~payflows.webhooks.WebhookKeyStore`), stored once, applied to the ledger (out of
  order is fine: the state table decides), then announced as a Prefect event
  ``payflows.<event_type>`` on resource ``precium.purchase.<id>`` so automations can react.
  A delivery nobody's key verifies gets 401 and leaves no trace in the ledger. A verified one
  that cannot be read or applied (malformed, nested too deep, amounts out of range) is stored
  unapplied for an operator and acknowledged, so the gateway does not redeliver it for days.
- ``POST /3ds/return``: the TermUrl. The shopper's bank posts ``MD`` and ``PaRes``; the
  ``complete-3ds`` flow finishes the payment from the challenge the ledger remembers (so this
  works after a restart of the web process), and the shopper sees the result.
- ``GET/POST /checkout``: a card form for an order the shop signed (amount and product are the
  shop's, never the shopper's), behind CSRF, origin and failure-rate checks
  (:mod:`apps.web.checkout`, :mod:`apps.web.guard`). The card goes straight into the process's
  encrypted vault and the flow gets an opaque one-time reference; the page that comes back never
  repeats a card field. When the issuer wants 3-D Secure, the page hands the browser to its ACS.
- ``POST /holds/{purchase_id}/decision``, ``GET /holds``: the merchant's decisions on
  pre-authorisation holds (:mod:`apps.web.holds`), behind the operator bearer token;
  ``GET /operator/payments``, ``POST /operator/payments/{id}/{action}``: find a payment and
  act on it (:mod:`apps.web.operator`), the same.
- ``GET /operator``, ``/operator/holds`` and their forms: the same for a person in a browser,
  signed in once at ``/reports/login`` (:mod:`apps.web.operator_pages`).
- ``GET /healthz``.

Every response carries ``X-Content-Type-Options: nosniff`` and a Content-Security-Policy.
Prefect events are emitted only when ``PREFECT_API_URL`` names a server: the app never brings up
a temporary Prefect server of its own (``payflows web serve`` starts one managed local server
when none is configured, and stops it on exit).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from apps.web import pages
from apps.web.checkout import Checkout, html, result_html, safe_message, unavailable_html
from apps.web.forms import MAX_BODY_BYTES, BadForm, TooLarge, read_body, read_form
from apps.web.guard import LedgerFailureLimiter, OrderSigner
from apps.web.holds import hold_routes
from apps.web.operator import operator_routes
from apps.web.operator_pages import operator_page_routes
from apps.web.reports import report_routes
from payflows.domain.money import validate_currency
from payflows.gateway import PreciumClient
from payflows.ledger import UnitOfWork, get_challenge, make_engine
from payflows.settings import ConfigurationError, Settings
from payflows.webhooks import (
    Delivery,
    UnreadableDelivery,
    WebhookKeyStore,
    event_payload,
    read_event,
    store_and_apply,
    store_unapplied,
)

__all__ = ["MAX_BODY_BYTES", "create_web_app", "prefect_configured", "public_url"]

_log = logging.getLogger("apps.web")

_JSON_CSP = "default-src 'none'; frame-ancestors 'none'"


def public_url(settings: Settings) -> str:
    """Where browsers and the gateway reach this app, without a trailing slash."""
    url = settings.public_url or f"http://{settings.web_host}:{settings.web_port}"
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigurationError(
            "PAYFLOWS_PUBLIC_URL: must be an http(s) URL such as https://shop.example/payflows"
        )
    return url.rstrip("/")


def prefect_configured() -> bool:
    """Whether ``PREFECT_API_URL`` names a server (else nothing may talk to Prefect)."""
    from prefect.settings import PREFECT_API_URL

    return bool(os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value())


def _signer(settings: Settings) -> OrderSigner:
    secret = settings.checkout_secret.get_secret_value() if settings.checkout_secret else ""
    if not secret:
        if not settings.uses_local_sandbox:
            raise ConfigurationError(
                "PAYFLOWS_CHECKOUT_SECRET: required against a real gateway (the shop signs its "
                "orders with it; at least 16 characters)"
            )
        import secrets

        secret = secrets.token_urlsafe(32)  # sandbox: this process's own demo orders only
    try:
        return OrderSigner(secret)
    except ValueError as exc:
        raise ConfigurationError(f"PAYFLOWS_CHECKOUT_SECRET: {exc}") from None


class SecurityHeaders:
    """nosniff on every response, a strict CSP where a route did not set one, no server name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"server"]
                names = {k.lower() for k, _ in headers}
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"same-origin"))
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", _JSON_CSP.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_web_app(
    settings: Settings,
    *,
    gateway_transport: httpx.AsyncBaseTransport | None = None,
    limiter: LedgerFailureLimiter | None = None,
) -> Starlette:
    """The merchant's web app for ``settings``.

    ``gateway_transport`` routes this app's own gateway calls (fetching the company key) through
    an in-process transport in tests; the flows it starts build their clients from the
    environment as every flow run does. ``limiter`` replaces the checkout's failure limiter
    (tests give one with their own clock); by default it counts in this app's ledger, shared
    with every other web process on it.
    """
    base_url = public_url(settings)
    try:
        currency = validate_currency(settings.checkout_currency)
    except ValueError as exc:
        raise ConfigurationError(f"PAYFLOWS_CHECKOUT_CURRENCY: {exc}") from None
    signer = _signer(settings)
    engine = make_engine(settings.database_url)

    async def fetch_company_key() -> str:
        from tasks.secrets import aresolve_secret_blocks

        resolved = await aresolve_secret_blocks(settings)
        async with PreciumClient.from_settings(resolved, transport=gateway_transport) as gateway:
            return await gateway.get_public_key()

    keys = WebhookKeyStore(settings.webhook_keys_file, fetch_company_key=fetch_company_key)
    web = _WebApp(settings, engine, keys, base_url=base_url, currency=currency)
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    checkout = Checkout(
        engine=engine,
        signer=signer,
        limiter=limiter
        or LedgerFailureLimiter(
            engine, settings.checkout_max_failures, settings.checkout_failure_window_seconds
        ),
        currency=currency,
        public_origin=origin,
        term_url=web.term_url,
        demo_orders=settings.uses_local_sandbox,
        secure_cookie=parts.scheme == "https",
    )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            engine.dispose()

    app = Starlette(
        routes=[
            Route("/webhooks/precium", web.webhook, methods=["POST"]),
            Route("/3ds/return", web.three_ds_return, methods=["POST"]),
            Route("/checkout", checkout.form, methods=["GET"]),
            Route("/checkout", checkout.submit, methods=["POST"]),
            Route("/", lambda _r: RedirectResponse("/checkout", 303), methods=["GET"]),
            Route("/healthz", lambda _r: PlainTextResponse("ok"), methods=["GET"]),
            *hold_routes(settings, engine),
            *operator_routes(settings, engine),
            *operator_page_routes(settings, engine, origin),
            *report_routes(settings, origin),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(SecurityHeaders)
    app.state.settings = settings
    app.state.engine = engine
    app.state.webhook_keys = keys
    app.state.public_url = base_url
    app.state.order_signer = signer
    return app


def emit_event(**event: Any) -> object:
    """Prefect's ``emit_event``, imported on first use: the web app (and every ``payflows``
    command, which imports it to build its CLI) starts without loading Prefect."""
    from prefect.events import emit_event as prefect_emit_event

    return prefect_emit_event(**event)


def _emit(delivery: Delivery) -> None:
    """Announce an applied delivery to Prefect. Runs after the response has gone out.

    Only when ``PREFECT_API_URL`` is set: without it Prefect's events client would start a
    temporary server of its own in this process. A failure here must not make the gateway
    deliver again (the event is already stored and applied), so it is logged and dropped.
    """
    if not prefect_configured():
        _log.debug("PREFECT_API_URL is not set: no Prefect event for %s", delivery.dedupe_key)
        return
    event = delivery.event
    resource_id = (
        f"precium.purchase.{event.purchase_id}"
        if event.purchase_id
        else f"precium.webhook.{delivery.dedupe_key[:16]}"
    )
    try:
        emit_event(
            event=f"payflows.{event.event_type}",
            resource={"prefect.resource.id": resource_id},
            occurred=delivery.occurred_at,
            payload=event_payload(delivery),
        )
    except Exception as exc:  # pragma: no cover - depends on the Prefect API being reachable
        _log.warning("could not emit the Prefect event for %s: %s", event.event_type, exc)


class _WebApp:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        keys: WebhookKeyStore,
        *,
        base_url: str,
        currency: str,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.keys = keys
        self.base_url = base_url
        self.currency = currency

    @property
    def term_url(self) -> str:
        return f"{self.base_url}/3ds/return"

    # -- POST /webhooks/precium -------------------------------------------------------------

    async def webhook(self, request: Request) -> JSONResponse:
        try:
            raw = await read_body(request)
        except TooLarge:
            return JSONResponse({"error": "body too large"}, status_code=413)
        except BadForm:
            return JSONResponse({"error": "bad content-length"}, status_code=400)
        signer = await self.keys.verify(raw, request.headers.get("x-signature"))
        if signer is None:
            # Nothing of the body is logged: an unverified body is anyone's text.
            _log.warning("webhook rejected: X-Signature missing or not from a known key")
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        try:
            event = read_event(raw)
        except UnreadableDelivery as exc:
            return await self._hold_for_operator(raw, signer, str(exc))
        try:
            delivery = await asyncio.to_thread(store_and_apply, self.engine, raw, event)
        except OperationalError:
            _log.exception("the ledger is unavailable; the gateway will deliver again")
            return JSONResponse({"error": "ledger unavailable"}, status_code=503)
        except Exception as exc:
            _log.error("webhook from %s could not be applied: %s", signer, type(exc).__name__)
            return await self._hold_for_operator(
                raw, signer, f"could not be applied ({type(exc).__name__})", event.event_type
            )
        answer = {
            "received": True,
            "duplicate": delivery.duplicate,
            "applied": delivery.applied,
        }
        background = None if delivery.duplicate else BackgroundTask(_emit, delivery)
        return JSONResponse(answer, background=background)

    async def _hold_for_operator(
        self, raw: bytes, signer: str, reason: str, event_type: str | None = None
    ) -> JSONResponse:
        """Store a verified delivery that cannot be applied, unapplied, and acknowledge it."""
        _log.warning("webhook signed by %s held for an operator: %s", signer, reason)
        try:
            fresh = await asyncio.to_thread(
                store_unapplied, self.engine, raw, reason=reason, event_type=event_type
            )
        except OperationalError:
            return JSONResponse({"error": "ledger unavailable"}, status_code=503)
        answer = {"received": True, "duplicate": not fresh, "applied": False, "held": reason}
        return JSONResponse(answer, status_code=202)

    # -- POST /3ds/return (TermUrl) ---------------------------------------------------------

    async def three_ds_return(self, request: Request) -> HTMLResponse:
        try:
            form = await read_form(request)
        except TooLarge:
            return html(pages.message_page("Request too large", "Please try again."), 413)
        except BadForm:
            return html(pages.message_page("Malformed request", "Please try again."), 400)
        md, pares = form.get("MD", "").strip(), form.get("PaRes", "").strip()
        if not md or not pares:
            return html(
                pages.message_page(
                    "Verification incomplete", "Your bank did not send the verification result."
                ),
                400,
            )
        if len(md) > 256 or len(pares) > 64_000:
            return html(pages.message_page("Malformed request", "Please try again."), 400)
        challenge = await asyncio.to_thread(self._challenge, md)
        if challenge is None:
            return html(
                pages.message_page(
                    "Unknown verification",
                    "This 3-D Secure session is unknown or has expired. No payment was made.",
                ),
                400,
            )
        from apps.web import _flows

        try:
            result = await _flows.complete_3ds(md, pares)
        except _flows.Rejected as exc:
            return html(pages.message_page("Payment not completed", safe_message(exc)), 400)
        except Exception:
            _log.exception("the complete-3ds flow failed")
            return html(unavailable_html(), 503)
        return html(result_html(result, self.currency))

    def _challenge(self, md: str) -> Any:
        with UnitOfWork(self.engine) as uow:
            return get_challenge(uow, md)
