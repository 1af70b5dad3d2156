"""Creating purchases (``POST /purchases/``), the payer viewing one, and the brand's methods.

Accepts the guide's bodies and CHIP's verbatim (docs/gateway-wire.md): ``purchase{...}`` or the
guide's zero-auth shape with ``currency`` and ``products`` at the top level; ``currency`` may be
left out (the brand's default, as on the real platform).
"""

from __future__ import annotations

import contextlib
import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from payflows.domain.money import validate_currency
from payflows.domain.states import Op, Result, Status
from payflows.sandbox.clients import CLIENT_FIELDS, Clients, client_fields
from payflows.sandbox.core import Core
from payflows.sandbox.errors import (
    MAX_CENTS,
    FieldErrors,
    GatewayError,
    cents,
    flag,
    quantity,
    text,
)
from payflows.sandbox.state import Purchase

__all__ = ["CARD_METHODS", "Purchases"]

#: The card networks the sandbox's brand takes (docs/test-cards.md).
CARD_METHODS: Final = ("visa", "mastercard", "maestro", "amex")
_NAMES: Final = {"visa": "Visa", "mastercard": "Mastercard", "maestro": "Maestro", "amex": "Amex"}
_URLS: Final = ("success_redirect", "failure_redirect", "cancel_redirect", "success_callback")


class Purchases:
    def __init__(self, core: Core, clients: Clients) -> None:
        self.core = core
        self.clients = clients

    def create(self, body: dict[str, Any], origin: str) -> Purchase:
        errors = FieldErrors()
        config = self.core.config
        brand_id = body.get("brand_id")
        if brand_id is None:
            errors.add("brand_id", "required", "This field is required.")
        elif brand_id != config.brand_id:
            errors.add("brand_id", "invalid", "No such brand for this API key.")

        client_id, client = self._client(body, errors)

        details = body.get("purchase")
        prefix = "purchase."
        if details is None:
            details, prefix = body, ""  # the guide's zero-auth example: all at the top level
        elif not isinstance(details, dict):
            errors.add("purchase", "invalid", "Must be an object.")
            details = {}
        currency = ""
        raw_currency = details.get("currency")
        if raw_currency is None:
            currency = config.default_currency  # the brand's default (CONTRACT point 8)
        else:
            with contextlib.suppress(ValueError):
                currency = validate_currency(raw_currency) if isinstance(raw_currency, str) else ""
            if not currency:
                errors.add(prefix + "currency", "invalid", "A 3-letter ISO 4217 currency.")
        language = details.get("language") or "en"
        if not isinstance(language, str):
            errors.add(prefix + "language", "invalid", "Must be a string.")
            language = "en"
        products, total = _products(details.get("products"), prefix, errors)
        total_override: int | None = None
        if details.get("total_override") is not None:
            total_override = cents(details.get("total_override"))
            if total_override is None:
                errors.add(prefix + "total_override", "invalid", _CENTS_MESSAGE)
        pmd = _payment_method_details(details.get("payment_method_details"), prefix, errors)

        reference = text(body, "reference", errors, limit=128)
        flags = {
            k: flag(body, k, errors) for k in ("send_receipt", "skip_capture", "force_recurring")
        }
        whitelist = body.get("payment_method_whitelist")
        if whitelist is not None and (
            not isinstance(whitelist, list) or not all(isinstance(m, str) for m in whitelist)
        ):
            errors.add("payment_method_whitelist", "invalid", "Must be a list of payment methods.")
            whitelist = None
        urls = {k: text(body, k, errors) for k in _URLS}
        errors.raise_if_any()

        if client_id is None:  # an inline client becomes a client record, as on CHIP
            client_id = self.clients.create(client)["id"]
        now = self.core.now()
        state = self.core.state
        p = Purchase(
            id=str(uuid.uuid4()),
            created_on=now,
            updated_on=now,
            brand_id=config.brand_id,
            client_id=client_id,
            client={k: client.get(k, "") for k in CLIENT_FIELDS},
            currency=currency,
            language=language,
            products=products,
            total=total_override if total_override is not None else total,
            total_override=total_override,
            payment_method_details=pmd,
            reference=reference,
            send_receipt=flags["send_receipt"],
            skip_capture=flags["skip_capture"],
            force_recurring=flags["force_recurring"],
            payment_method_whitelist=[m.lower() for m in whitelist] if whitelist else None,
            origin=origin,
            due=now + 3600,
            status_history=[{"status": Status.CREATED.value, "timestamp": now}],
            reference_generated=f"CH{len(state.purchases) + 1}",
            **urls,
        )
        state.purchases[p.id] = p
        state.changed("purchases", p.id)
        self.core.publish(p, "purchase.created")
        return p

    def _client(
        self, body: dict[str, Any], errors: FieldErrors
    ) -> tuple[str | None, dict[str, Any]]:
        client_id = body.get("client_id")
        if client_id is not None:
            clients = self.core.state.clients
            stored = clients.get(client_id) if isinstance(client_id, str) else None
            if stored is None:
                errors.add("client_id", "invalid", "No such client.")
                return "", {}
            return client_id, stored
        inline = body.get("client")
        if not isinstance(inline, dict):
            errors.add("client", "required", "Either client_id or client is required.")
            return "", {}
        client_errors = FieldErrors()
        client_fields(inline, client_errors, partial=False)
        for key, items in client_errors.items.items():
            errors.items.setdefault(f"client.{key}", []).extend(items)
        return None, inline

    def view(self, purchase_id: str) -> Purchase:
        """The payer opened the payment page (``GET {checkout_url}``): ``created -> viewed``."""
        p = self.core.get_purchase(purchase_id)
        now = self.core.now()
        if p.viewed_on is None:
            p.viewed_on = now
            self.core.state.changed("purchases", p.id)
        if p.status == Status.CREATED:
            self.core.move(p, Op.VIEW, Result.APPROVED, now)
        return p

    def payment_methods(self, brand_id: str | None, currency: str | None) -> dict[str, Any]:
        """``GET /payment_methods/?brand_id=&currency=``: what the brand can take (CHIP's shape)."""
        if brand_id != self.core.config.brand_id:
            raise GatewayError.field("brand_id", "invalid", "No such brand for this API key.")
        if currency is not None:
            try:
                validate_currency(currency)
            except ValueError:
                raise GatewayError.field(
                    "currency", "invalid", "A 3-letter ISO 4217 currency."
                ) from None
        methods = list(CARD_METHODS)
        return {
            "available_payment_methods": methods,
            "by_country": {"any": methods},
            "country_names": {"any": "Other"},
            "names": {m: _NAMES[m] for m in methods},
            "logos": {m: f"/static/images/icon-{m}.svg" for m in methods},
            "card_methods": methods,
        }


_CENTS_MESSAGE: Final = f"Must be a whole number of cents from 0 to {MAX_CENTS}."


def _products(raw: Any, prefix: str, errors: FieldErrors) -> tuple[list[dict[str, Any]], int]:
    field = prefix + "products"
    if not isinstance(raw, list) or not raw:
        errors.add(field, "required", "At least one product is required.")
        return [], 0
    products: list[dict[str, Any]] = []
    total = Decimal(0)
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            errors.add(f"{field}.{index}", "invalid", "Must be an object.")
            continue
        name, price, count = (
            item.get("name"),
            cents(item.get("price")),
            quantity(item.get("quantity")),
        )
        if not isinstance(name, str) or not name.strip():
            errors.add(f"{field}.{index}.name", "required", "This field is required.")
        if price is None:
            errors.add(f"{field}.{index}.price", "invalid", _CENTS_MESSAGE)
        if count is None:
            errors.add(f"{field}.{index}.quantity", "invalid", "Must be a number > 0.")
        if price is None or count is None:
            continue
        total += price * count
        products.append({**item, "price": price, "quantity": item.get("quantity", 1)})
    rounded = int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if rounded > MAX_CENTS:
        errors.add(field, "invalid", f"The total must be at most {MAX_CENTS} cents.")
        rounded = 0
    return products, rounded


def _payment_method_details(raw: Any, prefix: str, errors: FieldErrors) -> dict[str, Any]:
    field = prefix + "payment_method_details"
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        errors.add(field, "invalid", "Must be an object.")
        return {}
    details = dict(raw)
    card = details.get("card")
    if card is None:
        return details
    if not isinstance(card, dict):
        errors.add(field + ".card", "invalid", "Must be an object.")
        return details
    card = dict(card)
    if card.get("original_amount_cents") is not None:
        amount = cents(card["original_amount_cents"])
        if amount is None:
            errors.add(field + ".card.original_amount_cents", "invalid", "Must be cents.")
        else:
            card["original_amount_cents"] = amount
    details["card"] = card
    return details
