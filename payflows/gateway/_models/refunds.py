"""A refund, read from either of the two shapes the gateway answers with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import model_validator

from payflows.gateway._models.wire import Cents, ReadModel, Timestamp, drop_nulls

__all__ = ["Refund"]


class Refund(ReadModel):
    """A refund, read from the guide's ``{id, refund_id, refund_amount, refunded_on}`` or
    CHIP's Payment object (``id`` = the refund, ``related_to.id`` = the purchase).

    ``status`` is the gateway's word for the refund (``refunded``, ``success``, ``cancelled``).
    """

    purchase_id: str
    refund_id: str | None = None
    amount: Cents | None = None
    currency: str | None = None
    status: str | None = None
    refunded_on: Timestamp = None

    @property
    def done(self) -> bool:
        """Whether the gateway says the refund went through (CHIP ``success``, the guide's
        ``refunded``); ``pending`` or no status at all means not yet."""
        return self.status in {"success", "refunded"}

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"

    @classmethod
    def of_purchase(cls, purchase_id: str, data: Any) -> Refund:
        """Read an answer about ``purchase_id``'s refund: a payment object without
        ``related_to`` is then still known to be this purchase's refund (its ``id`` the
        refund's)."""
        if (
            isinstance(data, Mapping)
            and data.get("type") == "payment"
            and not data.get("related_to")
            and "purchase_id" not in data
        ):
            data = {**data, "related_to": {"id": purchase_id, "type": "purchase"}}
        return cls.model_validate(data)

    @model_validator(mode="before")
    @classmethod
    def _either_shape(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or "purchase_id" in data:
            return data
        data = drop_nulls(data)
        payment = data.get("payment") or {}
        related = data.get("related_to") or {}
        own_id = data.get("id")
        purchase_id = related.get("id") or own_id
        refund_id = data.get("refund_id")
        if refund_id is None and own_id != purchase_id:
            refund_id = own_id  # CHIP: the Payment object's own id is the refund's
        return {
            "purchase_id": purchase_id,
            "refund_id": refund_id,
            "amount": data.get("refund_amount", payment.get("amount")),
            "currency": data.get("currency", payment.get("currency")),
            "status": data.get("status"),
            "refunded_on": data.get("refunded_on")
            or payment.get("paid_on")
            or data.get("created_on"),
        }
