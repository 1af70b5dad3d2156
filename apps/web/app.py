"""The merchant's web app: the webhook receiver, the 3-D Secure TermUrl and a card checkout.

One Starlette app, served by uvicorn beside the shop (``payflows web serve``):

- ``POST /webhooks/precium``: Precium's deliveries. Verified against every key that may sign one
  (:class:`~payflows.webhooks.WebhookKeyStore`), stored once, applied to the ledger (out of
  order is fine: the state table decides), then announced as a Prefect event
  ``payflows.<event_type>`` on resource ``precium.purchase.<id>`` so automations can react.
  A delivery nobody's key verifies gets 401 and leaves no trace in the ledger.
- ``POST /3ds/return``: the TermUrl. The shopper's bank posts ``MD`` and ``PaRes``; the
  ``complete-3ds`` flow finishes the payment from the challenge the ledger remembers (so this
  works after a restart of the web process), and the shopper sees the result.
- ``GET/POST /checkout``: a card form. The card goes straight into the process's encrypted vault
  and the flow gets an opaque one-time reference; the page that comes back never repeats a card
  field. When the issuer wants 3-D Secure, the page hands the browser to its ACS.
- ``POST /holds/{purchase_id}/decision``, ``GET /holds``: the merchant's decisions on
  pre-authorisation holds (:mod:`apps.web.holds`), behind the operator bearer token.
- ``GET /healthz``.

Prefect is imported lazily, only by the routes that run a flow or emit an event.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from starlette.routing import Route

from apps.web import pages
from apps.web.holds import hold_routes
from apps.web.reports import report_routes
from payflows.domain.cards import BrowserFingerprint, CardData, luhn_valid
from payflows.domain.money import format_amount, parse_amount, validate_currency
from payflows.gateway import PreciumClient, WebhookEvent
from payflows.ledger import UnitOfWork, get_challenge, make_engine
from payflows.settings import ConfigurationError, Settings
from payflows.vault import default_vault
from payflows.webhooks import Delivery, WebhookKeyStore, event_payload, store_and_apply

__all__ = ["MAX_BODY_BYTES", "create_web_app", "public_url"]

_log = logging.getLogger("apps.web")

#: Webhook bodies and forms above this size are refused before anything else looks at them.
MAX_BODY_BYTES = 1_000_000

_ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HTML_HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}


def public_url(settings: Settings) -> str:
    """Where browsers and the gateway reach this app, without a trailing slash."""
    url = settings.public_url or f"http://{settings.web_host}:{settings.web_port}"
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigurationError(
            "PAYFLOWS_PUBLIC_URL: must be an http(s) URL such as https://shop.example/payflows"
        )
    return url.rstrip("/")


def create_web_app(
    settings: Settings, *, gateway_transport: httpx.AsyncBaseTransport | None = None
) -> Starlette:
    """The merchant's web app for ``settings``.

    ``gateway_transport`` routes this app's own gateway calls (fetching the company key) through
    an in-process transport in tests; the flows it starts build their clients from the
    environment as every flow run does.
    """
    base_url = public_url(settings)
    try:
        currency = validate_currency(settings.checkout_currency)
    except ValueError as exc:
        raise ConfigurationError(f"PAYFLOWS_CHECKOUT_CURRENCY: {exc}") from None
    engine = make_engine(settings.database_url)

    async def fetch_company_key() -> str:
        from tasks.secrets import aresolve_secret_blocks

        resolved = await aresolve_secret_blocks(settings)
        async with PreciumClient.from_settings(resolved, transport=gateway_transport) as gateway:
            return await gateway.get_public_key()

    keys = WebhookKeyStore(settings.webhook_keys_file, fetch_company_key=fetch_company_key)
    web = _WebApp(settings, engine, keys, base_url=base_url, currency=currency)

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
            Route("/checkout", web.checkout_form, methods=["GET"]),
            Route("/checkout", web.checkout_submit, methods=["POST"]),
            Route("/", lambda _r: RedirectResponse("/checkout", 303), methods=["GET"]),
            Route("/healthz", lambda _r: PlainTextResponse("ok"), methods=["GET"]),
            *hold_routes(settings, engine),
            *report_routes(settings),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.webhook_keys = keys
    app.state.public_url = base_url
    return app


class _TooLarge(Exception):
    pass


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def _form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body as a dict (first value of each field)."""
    raw = await _read_body(request)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in {"application/x-www-form-urlencoded", ""}:
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return {}
    parsed = parse_qs(text, keep_blank_values=True, max_num_fields=50)
    return {key: values[0] for key, values in parsed.items() if values}


def _html(content: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status_code=status_code, headers=_HTML_HEADERS)


def emit_event(**event: Any) -> object:
    """Prefect's ``emit_event``, imported on first use: the web app (and every ``payflows``
    command, which imports it to build its CLI) starts without loading Prefect."""
    from prefect.events import emit_event as prefect_emit_event

    return prefect_emit_event(**event)


def _emit(delivery: Delivery) -> None:
    """Announce an applied delivery to Prefect. Runs after the response has gone out.

    A failure here must not make the gateway deliver again (the event is already stored and
    applied; a redelivery would be a duplicate and emit nothing), so it is logged and dropped.
    """
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
            raw = await _read_body(request)
        except _TooLarge:
            return JSONResponse({"error": "body too large"}, status_code=413)
        signer = await self.keys.verify(raw, request.headers.get("x-signature"))
        if signer is None:
            # Nothing of the body is logged: an unverified body is anyone's text.
            _log.warning("webhook rejected: X-Signature missing or not from a known key")
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        try:
            event = WebhookEvent.parse(raw)
        except ValueError:
            _log.warning("webhook signed by %s but unreadable", signer)
            return JSONResponse({"error": "unreadable event"}, status_code=400)
        delivery = await asyncio.to_thread(store_and_apply, self.engine, raw, event)
        answer = {
            "received": True,
            "duplicate": delivery.duplicate,
            "applied": delivery.applied,
        }
        background = None if delivery.duplicate else BackgroundTask(_emit, delivery)
        return JSONResponse(answer, background=background)

    # -- POST /3ds/return (TermUrl) ---------------------------------------------------------

    async def three_ds_return(self, request: Request) -> HTMLResponse:
        try:
            form = await _form(request)
        except _TooLarge:
            return _html(pages.message_page("Request too large", "Please try again."), 413)
        md, pares = form.get("MD", "").strip(), form.get("PaRes", "").strip()
        if not md or not pares:
            return _html(
                pages.message_page(
                    "Verification incomplete", "Your bank did not send the verification result."
                ),
                400,
            )
        challenge = await asyncio.to_thread(self._challenge, md)
        if challenge is None:
            return _html(
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
            return _html(pages.message_page("Payment not completed", _safe(exc)), 400)
        except Exception:
            _log.exception("the complete-3ds flow failed")
            return _html(self._unavailable(), 500)
        return _html(self._result(result))

    def _challenge(self, md: str) -> Any:
        with UnitOfWork(self.engine) as uow:
            return get_challenge(uow, md)

    # -- /checkout --------------------------------------------------------------------------

    async def checkout_form(self, request: Request) -> HTMLResponse:
        values = pages.CheckoutValues(order_id=_new_order_id())
        return _html(pages.checkout_page(values, currency=self.currency))

    async def checkout_submit(self, request: Request) -> HTMLResponse:
        try:
            form = await _form(request)
        except _TooLarge:
            return _html(pages.message_page("Request too large", "Please try again."), 413)
        values = pages.CheckoutValues(
            order_id=form.get("order_id", "").strip() or _new_order_id(),
            email=form.get("email", "").strip(),
            amount=form.get("amount", "").strip(),
            product=form.get("product", "").strip(),
            mode=form.get("mode", "cit").strip(),
            cardholder_name=form.get("cardholder_name", "").strip(),
        )
        problem, amount_cents = self._check_order(values)
        card: CardData | None = None
        if problem is None:
            card, problem = _read_card(form, values.cardholder_name)
        form.clear()  # the raw card fields go no further than this line
        if problem is not None or card is None or amount_cents is None:
            page = pages.checkout_page(values, currency=self.currency, error=problem)
            return _html(page, 422)
        card_ref = default_vault.put(card)
        del card
        from apps.web import _flows

        try:
            result = await _flows.checkout(
                mode=values.mode,
                order_id=values.order_id,
                email=values.email,
                amount_cents=amount_cents,
                currency=self.currency,
                product=values.product,
                card_ref=card_ref,
                remote_ip=request.client.host if request.client else "127.0.0.1",
                browser=_fingerprint(request.headers),
            )
        except _flows.Rejected as exc:
            # Refused before any money moved (the ledger withdrew the intent): the same order
            # may be tried again with corrected input.
            page = pages.checkout_page(values, currency=self.currency, error=_safe(exc))
            return _html(page, 422)
        except Exception:
            _log.exception("the checkout flow failed for order %s", values.order_id)
            return _html(self._unavailable(), 500)
        finally:
            default_vault.discard(card_ref)
        if result.three_ds is not None:
            md = result.three_ds.md
            pareq = default_vault.pop_secret(f"pareq:{md}")
            if pareq is None:
                return _html(
                    pages.message_page(
                        "Verification unavailable",
                        "Your bank's verification could not be started. Please try again.",
                    ),
                    500,
                )
            page = pages.three_ds_redirect_page(
                acs_url=result.three_ds.acs_url, md=md, pareq=pareq, term_url=self.term_url
            )
            return _html(page)
        return _html(self._result(result))

    def _check_order(self, values: pages.CheckoutValues) -> tuple[str | None, int | None]:
        if not _ORDER_ID.match(values.order_id):
            return "The order reference is not valid. Please reload the page.", None
        if not _EMAIL.match(values.email):
            return "Please enter a valid email address.", None
        if not values.product or len(values.product) > 120:
            return "Please name the product (at most 120 characters).", None
        if values.mode not in {"cit", "preauth"}:
            return "Please choose to pay now or to authorise only.", None
        try:
            cents = parse_amount(values.amount, self.currency)
        except ValueError:
            return f"The amount is not valid: enter it like 199.99 ({self.currency}).", None
        if cents <= 0:
            return "The amount must be more than zero.", None
        return None, cents

    # -- result pages -----------------------------------------------------------------------

    def _result(self, result: Any) -> str:
        state = str(getattr(result, "state", "") or "")
        state = getattr(state, "value", state)
        status = getattr(result, "purchase_status", None)
        status_text = str(getattr(status, "value", status) or "")
        amount = getattr(result, "amount_cents", None)
        currency = getattr(result, "currency", None) or self.currency
        details: list[tuple[str, str]] = []
        order = getattr(result, "order_id", None)
        if not order and getattr(result, "business_key", None):
            # ``cit:ORDER`` / ``preauth:ORDER``: the shopper knows the order, not our key.
            order = str(result.business_key).split(":", 1)[-1]
        if order:
            details.append(("Order", str(order)))
        if amount is not None:
            details.append(("Amount", format_amount(int(amount), currency)))
        brand, masked = getattr(result, "brand", None), getattr(result, "masked_pan", None)
        if masked:
            details.append(("Card", f"{(brand or '').capitalize()} {masked}".strip()))
        if status_text and state == "succeeded":
            details.append(("Status", status_text))
        purchase = getattr(result, "purchase_id", None)
        if purchase:
            details.append(("Payment reference", str(purchase)))
        if state == "succeeded":
            held = status_text in {"hold", "preauthorized"}
            return pages.result_page(
                outcome="ok",
                title="Card authorised" if held else "Payment successful",
                message=(
                    "The amount is reserved on your card; you are charged when the order ships."
                    if held
                    else "Thank you: your payment was received."
                ),
                details=details,
            )
        if state in {"declined", "failed"}:
            return pages.result_page(
                outcome="bad",
                title="Payment declined",
                message=pages.decline_reason(getattr(result, "decline_code", None)),
                details=details,
            )
        return pages.result_page(
            outcome="wait",
            title="Payment being confirmed",
            message="Your bank has not confirmed the payment yet. We will email you the outcome.",
            details=details,
        )

    @staticmethod
    def _unavailable() -> str:
        return pages.message_page(
            "Payment unavailable",
            "The payment could not be processed right now. You have not been charged twice; "
            "please try again in a moment.",
        )


_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d){11,18}")


def _safe(exc: Exception) -> str:
    """A refusal's message for the shopper, with anything shaped like a card number masked.

    The messages are ours or the gateway's field errors and should never hold a PAN; this is
    the last line in case a gateway one day echoes the value it refused.
    """
    text = str(exc)[:300] or "The payment was refused."
    return _DIGIT_RUN.sub("[redacted]", text)


def _new_order_id() -> str:
    return "web-" + secrets.token_hex(8)


def _read_card(form: Mapping[str, str], name: str) -> tuple[CardData | None, str | None]:
    """The card from the form, or a message that names the field but never its content."""
    digits = re.sub(r"[\s-]", "", form.get("card_number", ""))
    if not name:
        return None, "Please enter the name on the card."
    if not digits.isdigit() or not 12 <= len(digits) <= 19 or not luhn_valid(digits):
        return None, "The card number is not valid. Please check it and try again."
    try:
        card = CardData(digits, form.get("expiry", ""), form.get("cvc", ""), name)
    except ValueError as exc:
        # CardData's messages name the rule ("expiry must be MM/YY"), never the value.
        text = str(exc)
        return None, text[:1].upper() + text[1:] + "."
    return card, None


def _fingerprint(headers: Mapping[str, str]) -> BrowserFingerprint:
    """The browser as 3-D Secure wants it, from what the request itself says."""
    default = BrowserFingerprint()
    language = (headers.get("accept-language") or default.language).split(",")[0].strip()
    return BrowserFingerprint(
        user_agent=(headers.get("user-agent") or default.user_agent)[:512],
        accept_header=(headers.get("accept") or default.accept_header)[:512],
        language=language[:16] or default.language,
    )
