"""``GET/POST /checkout``: the card form, hardened against card testing (see apps.web.guard).

The order of the checks on a POST is the point: nothing costly or sensitive happens before the
cheap refusals. Form size and shape (400), origin and CSRF (403), the client's recent failures
(429), the signed order (400), an order already paid or in progress (409, nothing disclosed),
the fields (422, a card number in a non-card field is refused and not shown back), the card
itself (422); only then is the card put in the vault and the flow started. A failure (invalid
card, decline, refused order) counts against the client.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import HTMLResponse

from apps.web import pages
from apps.web.forms import BadForm, TooLarge, read_form
from apps.web.guard import (
    CSRF_COOKIE,
    InvalidOrder,
    LedgerFailureLimiter,
    Order,
    OrderSigner,
    same_origin,
)
from payflows.domain.cards import BrowserFingerprint, CardData, luhn_valid
from payflows.domain.money import format_amount
from payflows.domain.screening import contains_card_number, redact
from payflows.ledger import UnitOfWork, get_attempt
from payflows.vault import default_vault

__all__ = ["Checkout", "html", "result_html", "safe_message", "unavailable_html"]

_log = logging.getLogger("apps.web")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HTML_HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}
#: Fields a checkout form has; anything else is ignored (but still screened for card numbers).
_CARD_FIELDS = frozenset({"card_number", "expiry", "cvc"})
#: The sandbox's demo order, for a GET /checkout without an order token.
DEMO_PRODUCT, DEMO_AMOUNT_CENTS = "Blue mug", 4999


def html(content: str, status_code: int = 200, *, acs_url: str | None = None) -> HTMLResponse:
    headers = {**_HTML_HEADERS, "Content-Security-Policy": pages.csp(acs_url=acs_url)}
    return HTMLResponse(content, status_code=status_code, headers=headers)


def safe_message(exc: Exception) -> str:
    """A refusal's message for the shopper, with every long run of digits hidden.

    The messages are ours or the gateway's field errors and should never hold a PAN; this is
    the last line in case a gateway one day echoes the value it refused.
    """
    return redact(str(exc)[:300]) or "The payment was refused."


def unavailable_html() -> str:
    return pages.message_page(
        "Payment unavailable",
        "The payment could not be processed right now. You have not been charged twice; "
        "please try again in a moment.",
    )


def result_html(result: Any, currency: str) -> str:
    """The page after a payment (or its 3-D Secure step): outcome, order, amount, masked card."""
    state = str(getattr(result, "state", "") or "")
    state = getattr(state, "value", state)
    status = getattr(result, "purchase_status", None)
    status_text = str(getattr(status, "value", status) or "")
    amount = getattr(result, "amount_cents", None)
    currency = getattr(result, "currency", None) or currency
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


def _fingerprint(headers: Mapping[str, str]) -> BrowserFingerprint:
    """The browser as 3-D Secure wants it, from what the request says (never a card number)."""
    default = BrowserFingerprint()

    def header(name: str, fallback: str, limit: int) -> str:
        value = (headers.get(name) or fallback)[:limit]
        return fallback if contains_card_number(value) else value

    language = header("accept-language", default.language, 64).split(",")[0].strip()
    return BrowserFingerprint(
        user_agent=header("user-agent", default.user_agent, 512),
        accept_header=header("accept", default.accept_header, 512),
        language=language[:16] or default.language,
    )


def _read_card(form: Mapping[str, str], name: str) -> tuple[CardData | None, str | None]:
    """The card from the form, or a message that names the field but never its content."""
    digits = re.sub(r"[\s-]", "", form.get("card_number", ""))
    if not name:
        return None, "Please enter the name on the card."
    if not (digits.isascii() and digits.isdigit()) or not 12 <= len(digits) <= 19:
        return None, "The card number is not valid. Please check it and try again."
    if not luhn_valid(digits):
        return None, "The card number is not valid. Please check it and try again."
    try:
        card = CardData(digits, form.get("expiry", ""), form.get("cvc", ""), name)
    except ValueError as exc:
        # CardData's messages name the rule ("expiry must be MM/YY"), never the value.
        text = str(exc)
        return None, text[:1].upper() + text[1:] + "."
    return card, None


class Checkout:
    """The two checkout routes, bound to the app's ledger, signer and failure limiter."""

    def __init__(
        self,
        *,
        engine: Engine,
        signer: OrderSigner,
        limiter: LedgerFailureLimiter,
        currency: str,
        public_origin: str,
        term_url: str,
        demo_orders: bool,
        secure_cookie: bool,
    ) -> None:
        self.engine = engine
        self.signer = signer
        self.limiter = limiter
        self.currency = currency
        self.public_origin = public_origin
        self.term_url = term_url
        self.demo_orders = demo_orders
        self.secure_cookie = secure_cookie
        self._in_flight: set[str] = set()

    # -- GET /checkout ----------------------------------------------------------------------
    async def form(self, request: Request) -> HTMLResponse:
        token = request.query_params.get("order", "")
        if not token and self.demo_orders:
            token = self.signer.sign(
                Order(_new_order_id(), DEMO_AMOUNT_CENTS, self.currency, DEMO_PRODUCT)
            )
        try:
            order = self.signer.verify(token)
        except InvalidOrder as exc:
            _log.info("checkout page refused: %s", exc)
            return html(_no_order_page(), 400)
        cookie = request.cookies.get(CSRF_COOKIE) or ""
        if not 20 <= len(cookie) <= 128:
            cookie = self.signer.new_csrf_cookie()
        values = pages.CheckoutValues(order=token, csrf=self.signer.csrf_token(cookie))
        response = html(self._page(order, values))
        response.set_cookie(
            CSRF_COOKIE,
            cookie,
            max_age=2 * 3600,
            path="/",
            secure=self.secure_cookie,
            httponly=True,
            samesite="strict",
        )
        return response

    def _page(self, order: Order, values: pages.CheckoutValues, error: str | None = None) -> str:
        return pages.checkout_page(
            values,
            order_id=order.order_id,
            product=order.product,
            amount_cents=order.amount_cents,
            currency=order.currency,
            mode=order.mode,
            error=error,
        )

    # -- POST /checkout ---------------------------------------------------------------------
    async def submit(self, request: Request) -> HTMLResponse:
        try:
            form = await read_form(request)
        except TooLarge:
            return html(pages.message_page("Request too large", "Please try again."), 413)
        except BadForm:
            return html(pages.message_page("Malformed request", "Please reload the page."), 400)
        origin = request.headers.get("origin") or request.headers.get("referer")
        if origin is not None and not same_origin(origin, self.public_origin):
            return html(_expired_page(), 403)
        if not self.signer.csrf_ok(request.cookies.get(CSRF_COOKIE), form.get("csrf_token")):
            return html(_expired_page(), 403)
        client = request.client.host if request.client else "unknown"
        try:
            wait = await self.limiter.blocked(client)
        except SQLAlchemyError:
            # Fail closed: without the shared counts nothing says this client may try again.
            _log.exception("the checkout failure counts are unreadable")
            return html(unavailable_html(), 503)
        if wait:
            minutes = max(1, round(wait / 60))
            page = pages.message_page(
                "Too many failed attempts",
                "Too many payments from your connection failed. No payment was made; please "
                f"wait {minutes} minute{'s' if minutes > 1 else ''} before trying again.",
            )
            response = html(page, 429)
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        try:
            order = self.signer.verify(form.get("order", ""))
        except InvalidOrder as exc:
            _log.info("checkout refused: %s", exc)
            await self._failed(client)
            return html(_no_order_page(), 400)
        return await self._pay(request, form, order, client)

    async def _pay(
        self, request: Request, form: dict[str, str], order: Order, client: str
    ) -> HTMLResponse:
        values = pages.CheckoutValues(
            order=form.get("order", ""),
            csrf=form.get("csrf_token", ""),
            email=form.get("email", "").strip(),
            cardholder_name=form.get("cardholder_name", "").strip(),
        )
        problem = _check_fields(form, values)
        if problem is not None:
            form.clear()
            return html(self._page(order, _without_card_numbers(values), problem), 422)
        if order.order_id in self._in_flight or await asyncio.to_thread(self._already_used, order):
            form.clear()
            await self._failed(client)
            page = pages.message_page(
                "Order already used",
                "This order has already been paid or is being paid. No new payment was made.",
            )
            return html(page, 409)
        card, problem = _read_card(form, values.cardholder_name)
        form.clear()  # the raw card fields go no further than this line
        if problem is not None or card is None:
            await self._failed(client)
            return html(self._page(order, values, problem), 422)
        card_ref = default_vault.put(card)
        del card
        from apps.web import _flows

        # Two posts of one order at once (a double click, or a race with a stolen link): the
        # second is refused like a used order rather than shown the first one's payment.
        self._in_flight.add(order.order_id)
        try:
            result = await _flows.checkout(
                mode=order.mode,
                order_id=order.order_id,
                email=values.email,
                amount_cents=order.amount_cents,
                currency=order.currency,
                product=order.product,
                card_ref=card_ref,
                remote_ip=client,
                browser=_fingerprint(request.headers),
            )
        except _flows.Rejected as exc:
            # Refused before any money moved (the ledger withdrew the intent): the same order
            # may be tried again with corrected input.
            await self._failed(client)
            return html(self._page(order, values, safe_message(exc)), 422)
        except Exception:
            _log.exception("the checkout flow failed for order %s", order.order_id)
            return html(unavailable_html(), 503)
        finally:
            default_vault.discard(card_ref)
            self._in_flight.discard(order.order_id)
        state = getattr(getattr(result, "state", None), "value", getattr(result, "state", None))
        if state in {"declined", "failed"}:
            await self._failed(client)
        if result.three_ds is not None:
            md = result.three_ds.md
            pareq = default_vault.pop_secret(f"pareq:{md}")
            if pareq is None:
                page = pages.message_page(
                    "Verification unavailable",
                    "Your bank's verification could not be started. Please try again.",
                )
                return html(page, 503)
            acs = result.three_ds.acs_url
            page = pages.three_ds_redirect_page(
                acs_url=acs, md=md, pareq=pareq, term_url=self.term_url
            )
            return html(page, acs_url=acs)
        return html(result_html(result, self.currency))

    async def _failed(self, client: str) -> None:
        """Count a failure of ``client``; the shopper's answer does not wait on its fate."""
        try:
            await self.limiter.record_failure(client)
        except SQLAlchemyError:
            _log.exception("a checkout failure of %s could not be counted", client)

    def _already_used(self, order: Order) -> bool:
        """Whether the ledger has a payment for this order id, in either mode."""
        with UnitOfWork(self.engine) as uow:
            return any(
                get_attempt(uow, business_key=f"{mode}:{order.order_id}") is not None
                for mode in ("cit", "preauth")
            )


def _check_fields(form: Mapping[str, str], values: pages.CheckoutValues) -> str | None:
    for name, value in form.items():
        if name not in _CARD_FIELDS and contains_card_number(value):
            label = {"cardholder_name": "name on the card", "email": "email"}.get(name, name)
            return (
                f"The {redact(label)[:40]} looks like a card number. Card numbers go only in "
                "the card number field."
            )
    if not _EMAIL.match(values.email) or len(values.email) > 254:
        return "Please enter a valid email address."
    if len(values.cardholder_name) > 100:
        return "The name on the card is too long."
    return None


def _without_card_numbers(values: pages.CheckoutValues) -> pages.CheckoutValues:
    """The values to show again, with any field that holds a card number emptied."""
    return pages.CheckoutValues(
        order=values.order,
        csrf=values.csrf,
        email="" if contains_card_number(values.email) else values.email,
        cardholder_name=""
        if contains_card_number(values.cardholder_name)
        else values.cardholder_name,
    )


def _no_order_page() -> str:
    return pages.message_page(
        "No order to pay",
        "This payment page needs an order from the shop, and this one is missing, expired or "
        "not valid. Please go back to the shop and start the payment again.",
    )


def _expired_page() -> str:
    return pages.message_page(
        "Page expired", "This payment form has expired. Please reload the page and try again."
    )


def _new_order_id() -> str:
    import secrets

    return "web-" + secrets.token_hex(8)
