"""Clients (payers), their stored cards, and the payment methods a brand can take."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from payflows.gateway._models.wire import ReadModel, Timestamp, WriteModel

__all__ = ["Client", "ClientDetails", "PaymentMethods", "RecurringToken"]


class ClientDetails(WriteModel):
    """A client (payer) as created or updated; ``email`` is required on create."""

    email: str | None = None
    phone: str | None = None
    full_name: str | None = None
    street_address: str | None = None
    city: str | None = None
    state: str | None = None
    zip_code: str | None = None
    country: str | None = None


class Client(ReadModel):
    id: str
    email: str | None = None
    phone: str | None = None
    full_name: str | None = None
    street_address: str | None = None
    city: str | None = None
    state: str | None = None
    zip_code: str | None = None
    country: str | None = None
    created_on: Timestamp = None
    updated_on: Timestamp = None


class RecurringToken(ReadModel):
    """A stored card of a client: what a merchant-initiated ``/charge/`` may use."""

    id: str
    recurring_token: str | None = None
    type: str = "card"
    card_brand: str | None = None
    masked_pan: str | None = None
    expiry_month: int | None = None
    expiry_year: int | None = None
    network_transaction_id: str | None = None
    created_on: Timestamp = None

    @property
    def token(self) -> str:
        """What ``/charge/`` takes: the id of the purchase that saved the card."""
        return self.recurring_token or self.id


class PaymentMethods(ReadModel):
    """``GET /payment_methods/?brand_id=&currency=``: what a brand can take.

    ``available_payment_methods`` names methods (``visa``, ``mastercard``, ``fpx``...);
    ``card_methods`` those of them that are cards.
    """

    available_payment_methods: list[str] = Field(default_factory=list)
    card_methods: list[str] = Field(default_factory=list)
    by_country: dict[str, Any] = Field(default_factory=dict)
    country_names: dict[str, Any] = Field(default_factory=dict)
    names: dict[str, str] = Field(default_factory=dict)
    logos: dict[str, Any] = Field(default_factory=dict)
