"""Webhook subscriptions, and a delivery normalised from either of its two shapes."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from payflows.domain.states import Status
from payflows.gateway._models.purchases import Purchase
from payflows.gateway._models.wire import Cents, ReadModel, Timestamp

__all__ = ["Webhook", "WebhookEvent"]


class Webhook(ReadModel):
    id: str
    title: str | None = None
    all_events: bool = False
    events: list[str] = Field(default_factory=list)
    callback: str | None = None
    #: PEM of the key that signs this webhook's deliveries.
    public_key: str | None = None
    created_on: Timestamp = None
    updated_on: Timestamp = None


class WebhookEvent(ReadModel):
    """A webhook delivery, normalised from either shape by :meth:`parse`.

    ``status`` is the purchase's status as the body states it: a ``purchase.settled`` event may
    say ``paid`` (see :attr:`Purchase.settled_on`). It is None for payment events
    (``payment.refunded``), whose status belongs to the refund, not the purchase.
    """

    event_type: str
    purchase_id: str | None = None
    status: Status | None = None
    amount: Cents | None = None
    currency: str | None = None
    occurred_at: Timestamp = None
    refund_id: str | None = None
    #: The refund's own status on a ``payment.refunded`` (CHIP: ``success``); None otherwise.
    refund_status: str | None = None
    #: The purchase object, when the body is one (CHIP shape).
    purchase: Purchase | None = Field(default=None, repr=False)
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, raw: bytes | str) -> WebhookEvent:
        """Read a delivery body; raises ValueError when it is neither shape."""
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ValueError("webhook body is not JSON") from None
        if not isinstance(data, dict):
            raise ValueError("webhook body is not a JSON object")
        if isinstance(data.get("data"), dict) and isinstance(data.get("event"), str):
            fields = _from_envelope(data)
        elif isinstance(data.get("event_type"), str):
            fields = _from_object(data)
        else:
            raise ValueError("webhook body has neither an 'event' envelope nor an 'event_type'")
        return cls.model_validate({**fields, "raw": data})


def _from_envelope(data: dict[str, Any]) -> dict[str, Any]:
    """The guide's ``{event, timestamp, data{purchase_id, status, amount, currency, ...}}``."""
    inner = data["data"]
    return {
        "event_type": data["event"],
        "purchase_id": inner.get("purchase_id"),
        "status": inner.get("status"),
        "amount": inner.get("amount"),
        "currency": inner.get("currency"),
        "occurred_at": data.get("timestamp"),
        "refund_id": inner.get("refund_id"),
        "refund_status": inner.get("status") if inner.get("refund_id") else None,
    }


def _from_object(data: dict[str, Any]) -> dict[str, Any]:
    """CHIP's bare purchase (or payment) object with a top-level ``event_type``."""
    event_type = data["event_type"]
    occurred_at = data.get("updated_on") or data.get("created_on")
    if data.get("type") == "payment" or event_type.startswith("payment."):
        payment = data.get("payment") or {}
        related = data.get("related_to") or {}
        own_id = data.get("id")
        purchase_id = related.get("id") or data.get("purchase_id")
        refund_id = data.get("refund_id")
        if refund_id is None and event_type == "payment.refunded" and own_id != purchase_id:
            refund_id = own_id
        return {
            "event_type": event_type,
            "purchase_id": purchase_id,
            "amount": payment.get("amount", data.get("refund_amount")),
            "currency": payment.get("currency"),
            "occurred_at": occurred_at,
            "refund_id": refund_id,
            "refund_status": data.get("status") if refund_id is not None else None,
        }
    purchase = Purchase.model_validate(data)
    return {
        "event_type": event_type,
        "purchase_id": purchase.id,
        "status": purchase.status,
        "amount": purchase.payment.amount
        if purchase.payment and purchase.payment.amount is not None
        else purchase.total,
        "currency": purchase.currency,
        "occurred_at": occurred_at,
        "purchase": purchase,
    }
