"""What the sandbox sends: CHIP's purchase and payment objects, field for field.

The real platform's bodies (``../shared/precium/webhook-samples/``) are much richer than the
fields payflows reads; the sandbox sends every top-level field they have, with the same JSON
types (product ``quantity`` and ``tax_percent`` are decimal strings, unknown references are
``null``), so that a client that trips over a real body trips here first. The conformance test
(tests/conformance/) holds this module to the samples. Pure functions of the records: nothing
here changes state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from payflows.sandbox.cards import MaskedCard
from payflows.sandbox.state import Purchase, RecurringToken, Refund, Webhook

__all__ = [
    "COMPANY_ID",
    "PAYABLE",
    "attempt",
    "card_details",
    "client_wire",
    "fee_for",
    "payment",
    "purchase_wire",
    "refund_wire",
    "token_wire",
    "webhook_wire",
]

#: The sandbox merchant's company (CHIP: the company that owns the brand).
COMPANY_ID: Final = "5a9d6c1e-0b1f-4f43-9c56-2f7d1e0a5c11"
PAYABLE: Final = frozenset({"created", "viewed", "error"})
_TIMEZONE: Final = "Africa/Johannesburg"
_CARD_COUNTRY: Final = "ZA"
_ISSUER: Final = {
    "website": "",
    "brand_name": "Payflows sandbox merchant",
    "legal_city": "Cape Town",
    "legal_name": "Payflows Sandbox (Pty) Ltd",
    "tax_number": "",
    "bank_accounts": [{"bank_code": "SBZA", "bank_account": "000000000"}],
    "legal_country": "ZA",
    "legal_zip_code": "8001",
    "registration_number": "2026/000000/07",
    "legal_street_address": "1 Loopback Road",
}
#: CHIP's client fields that the sandbox does not keep, with the values CHIP sends when unset.
_CLIENT_DEFAULTS: Final[dict[str, Any]] = {
    "cc": [],
    "bcc": [],
    "city": "",
    "email": "",
    "phone": "",
    "state": "",
    "country": "",
    "zip_code": "",
    "bank_code": "",
    "full_name": "",
    "brand_name": "",
    "legal_name": "",
    "tax_number": "",
    "client_type": None,
    "bank_account": "",
    "personal_code": "",
    "shipping_city": "",
    "shipping_state": "",
    "street_address": "",
    "delivery_methods": [{"method": "email", "options": {}}],
    "shipping_country": "",
    "shipping_zip_code": "",
    "registration_number": "",
    "shipping_street_address": "",
}


def fee_for(amount: int) -> int:
    """2.5 % rounded half-up, in integers: ``(amount * 25 + 500) // 1000``.

    Deterministic, so a test or a report can reproduce ``fee_amount`` and ``net_amount``.
    """
    return (amount * 25 + 500) // 1000 if amount > 0 else 0


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


def client_wire(client: dict[str, Any]) -> dict[str, Any]:
    """A purchase's ``client``: the fields kept, the rest as CHIP sends them when unset."""
    out = {k: (list(v) if isinstance(v, list) else v) for k, v in _CLIENT_DEFAULTS.items()}
    out["delivery_methods"] = [{"method": "email", "options": {}}]
    out.update({k: v for k, v in client.items() if k in _CLIENT_DEFAULTS})
    return out


def _decimal(value: Any, places: int) -> str:
    return str(Decimal(str(value)).quantize(Decimal(1).scaleb(-places)))


def _product(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": item.get("name", ""),
        "price": item.get("price", 0),
        "category": item.get("category") if isinstance(item.get("category"), str) else "",
        "discount": item.get("discount") if isinstance(item.get("discount"), int) else 0,
        "quantity": _decimal(item.get("quantity", 1), 4),
        "tax_percent": _decimal(item.get("tax_percent") or 0, 2),
    }


def _card_extra(card: MaskedCard) -> dict[str, Any]:
    return {
        "card_type": "credit",
        "card_brand": card.brand,
        "masked_pan": card.masked_pan,
        "card_issuer": "",
        "expiry_year": card.exp_year % 100,  # two digits, as CHIP sends it
        "expiry_month": card.exp_month,
        "cardholder_name": card.cardholder_name,
        "card_issuer_country": _CARD_COUNTRY,
    }


def attempt(
    p: Purchase,
    kind: str,
    now: int,
    *,
    error: dict[str, str] | None = None,
    fee: int = 0,
    amount: int | None = None,
) -> dict[str, Any]:
    """One entry of ``transaction_data.attempts`` (the caller puts it first: newest first)."""
    card = p.card
    return {
        "flow": "s2s",
        "type": kind,
        "error": error,
        "extra": _card_extra(card) if card is not None else {},
        "country": _CARD_COUNTRY if card is not None else "",
        "client_ip": p.client_ip if kind in ("execute", "authorize") else "",
        "fee_amount": fee,
        "successful": error is None,
        "payment_method": card.brand if card else "",
        "processing_time": now,
        # The live platform's processing fields (sample 07); the sandbox is its own acquirer.
        "acquirer": "sandbox",
        "is_internal": False,
        "terminal_id": "SANDBOX01",
        "terminal_uid": COMPANY_ID,
        "markup_amount": 0,
        "processing_fee": 0,
        "pricing_details": "ok",
        "processing_tx_id": p.transaction_id or "",
        "processing_status": "00" if error is None else "05",
        "pricing_calculated": True,
        "related_payment_id": None,
        # Not in the real bodies: kept for readers of earlier sandbox versions.
        "amount": p.total if amount is None else amount,
    }


def payment(p: Purchase, amount: int, now: int) -> dict[str, Any]:
    """CHIP's ``payment`` object of a paid purchase (sample 01)."""
    fee = fee_for(amount)
    return {
        "amount": amount,
        "paid_on": now,
        "currency": p.currency,
        "fee_amount": fee,
        "net_amount": amount - fee,
        "description": "",
        "is_outgoing": False,
        "payment_type": "purchase",
        "pending_amount": 0,
        "remote_paid_on": now,
        "owned_bank_code": None,
        "owned_bank_account": None,
        "pending_unfreeze_on": None,
        "owned_bank_account_id": None,
    }


def _refund_availability(p: Purchase) -> str:
    if p.status not in ("paid", "cleared", "settled") or p.refundable_amount <= 0:
        return "none"
    return "all" if p.refunded == 0 else "partial"


def purchase_wire(p: Purchase, origin: str | None = None) -> dict[str, Any]:
    """CHIP's purchase object as sample 01 has it, plus ``cancelled_on`` (the guide's)."""
    origin = origin or p.origin
    card = p.card
    direct = p.status in PAYABLE and (
        bool(p.success_redirect and p.failure_redirect)
        or isinstance(p.payment_method_details.get("card"), dict)
    )
    extra: dict[str, Any] = _card_extra(card) if card is not None else {}
    if p.settled_on is not None:
        extra["settlement"] = {"settled_on": p.settled_on}
    return {
        "id": p.id,
        "due": p.due,
        "type": "purchase",
        "client": client_wire(p.client),
        "issued": _day(p.created_on),
        "status": p.status,
        "is_test": True,
        "payment": p.payment,
        "product": "purchases",
        "user_id": None,
        "brand_id": p.brand_id,
        "order_id": None,
        "platform": "api",
        "purchase": {
            "debt": 0,
            "notes": "",
            "total": p.total,
            "currency": p.currency,
            "language": p.language,
            "products": [_product(item) for item in p.products],
            "timezone": _TIMEZONE,
            "due_strict": False,
            "email_message": "",
            "total_override": p.total_override,
            "shipping_options": [],
            "subtotal_override": None,
            "total_tax_override": None,
            "has_upsell_products": False,
            "payment_method_details": p.payment_method_details,
            "request_client_details": [],
            "total_discount_override": None,
        },
        "client_id": p.client_id,
        "reference": p.reference,
        "viewed_on": p.viewed_on,
        "company_id": COMPANY_ID,
        "created_on": p.created_on,
        "updated_on": p.updated_on,
        "invoice_url": None,
        "can_retrieve": False,
        "checkout_url": f"{origin}/p/{p.id}/",
        "send_receipt": p.send_receipt,
        "skip_capture": p.skip_capture,
        "creator_agent": "",
        "referral_code": None,
        "can_chargeback": False,
        "issuer_details": {**_ISSUER, "bank_accounts": [dict(_ISSUER["bank_accounts"][0])]},
        "marked_as_paid": False,
        "status_history": list(p.status_history),
        "cancel_redirect": p.cancel_redirect,
        "created_from_ip": "127.0.0.1",
        "direct_post_url": f"{origin}/p/{p.id}/" if direct else None,
        "force_recurring": p.force_recurring,
        # The token that PAID this purchase (a /charge/); null on the card-saving purchase,
        # whose own id is the token (CONTRACT, "What the real platform does", point 1).
        "recurring_token": p.used_token,
        "failure_redirect": p.failure_redirect,
        "success_callback": p.success_callback,
        "success_redirect": p.success_redirect,
        "transaction_data": {
            "flow": "s2s",
            "extra": extra,
            "country": _CARD_COUNTRY if card is not None else "",
            "attempts": list(p.attempts),
            "payment_method": card.brand if card else "",
            "acquirer": "sandbox" if card is not None else "",
            "terminal_id": "SANDBOX01" if card is not None else "",
            "terminal_uid": COMPANY_ID if card is not None else "",
            "processing_tx_id": p.transaction_id or "",
        },
        "upsell_campaigns": [],
        "audit_log_entries": [],
        "refundable_amount": p.refundable_amount,
        "is_recurring_token": p.is_recurring_token,
        "billing_template_id": None,
        "currency_conversion": None,
        "reference_generated": p.reference_generated,
        "refund_availability": _refund_availability(p),
        "can_mark_as_refunded": False,
        "referral_campaign_id": None,
        "retain_level_details": None,
        "referral_code_details": None,
        "referral_code_generated": None,
        "payment_method_whitelist": p.payment_method_whitelist,
        "cancelled_on": p.cancelled_on,
    }


def card_details(p: Purchase) -> dict[str, Any]:
    """``payment_method_details`` of the guide's S2S and 3DS answers, where the network
    transaction id is (the purchase object never carries it, as on the real platform)."""
    card = p.card
    assert card is not None
    return {
        "card": {
            "brand": card.brand,
            "last_4": card.last_4,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
            "token": p.id if p.is_recurring_token else None,
            "network_transaction_id": p.network_transaction_id,
        }
    }


def refund_wire(p: Purchase, refund: Refund) -> dict[str, Any]:
    """The refund as CHIP's payment object (sample 12): the ``/refund/`` answer and the body
    of ``payment.refunded``. Its ``id`` is the refund's, ``related_to`` names the purchase."""
    card = p.card
    extra: dict[str, Any] = {"amount": refund.amount}
    if card is not None:
        extra.update(_card_extra(card))
    client = client_wire(p.client)
    client.update(client_id=p.client_id, last_name="", first_name="")
    reference = p.reference or p.reference_generated
    body: dict[str, Any] = {
        "id": refund.id,
        "type": "payment",
        "client": client,
        "status": "cancelled" if refund.status == "cancelled" else "success",
        "is_test": True,
        "payment": {
            "amount": refund.amount,
            "paid_on": refund.created_on,
            "currency": refund.currency,
            "fee_amount": 0,
            "net_amount": refund.amount,
            "description": f"Refund: {reference}",
            "is_outgoing": True,
            "payment_type": "refund",
            "pending_amount": 0,
            "remote_paid_on": refund.created_on,
            "owned_bank_code": None,
            "owned_bank_account": None,
            "pending_unfreeze_on": None,
            "owned_bank_account_id": None,
        },
        "user_id": None,
        "brand_id": p.brand_id,
        "reference": p.reference,
        "company_id": COMPANY_ID,
        "created_on": refund.created_on,
        "fee_amount": 0,
        "related_to": {"id": p.id, "type": "purchase", "reference": reference},
        "updated_on": refund.cancelled_on or refund.created_on,
        "account_extra": {},
        "account_fx_rate": None,
        "transaction_data": {
            "flow": "s2s",
            "extra": extra,
            "country": _CARD_COUNTRY if card is not None else "",
            "payment_method": card.brand if card else "",
        },
        "audit_log_entries": [],
        "account_fx_currency": None,
        "currency_conversion": None,
        "reference_generated": refund.id[:8],
        "refund_availability": "none",
        "account_fx_buy_amount": None,
    }
    if refund.cancelled_on is not None:
        body["cancelled_on"] = refund.cancelled_on
    return body


def token_wire(token: RecurringToken) -> dict[str, Any]:
    """A row of ``GET /clients/{id}/recurring_tokens/`` (CHIP's fields, then the sandbox's)."""
    return {
        "id": token.id,
        "type": "card",
        "created_on": token.created_on,
        "updated_on": token.created_on,
        "payment_method": token.card.brand,
        "description": f"{token.card.brand} {token.card.masked_pan}",
        "recurring_token": token.id,
        "card_brand": token.card.brand,
        "masked_pan": token.card.masked_pan,
        "expiry_month": token.card.exp_month,
        "expiry_year": token.card.exp_year,
        "network_transaction_id": token.network_transaction_id,
    }


def webhook_wire(webhook: Webhook) -> dict[str, Any]:
    return {
        "id": webhook.id,
        "title": webhook.title,
        "all_events": webhook.all_events,
        "events": list(webhook.events),
        "callback": webhook.callback,
        "public_key": webhook.public_key,
        "created_on": webhook.created_on,
        "updated_on": webhook.updated_on,
    }
