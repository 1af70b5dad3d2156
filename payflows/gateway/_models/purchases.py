"""A purchase as the gateway answers it, with its products, payment and attempts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from payflows.domain.declines import DeclineInfo
from payflows.domain.states import Status
from payflows.gateway._models.wire import Cents, ReadModel, Timestamp, to_utc

__all__ = [
    "Attempt",
    "AttemptError",
    "CardExtra",
    "Payment",
    "Product",
    "Purchase",
    "PurchaseDetails",
    "StatusChange",
    "TransactionData",
]


class Product(BaseModel):
    """A line of a purchase. CHIP sends ``quantity`` as ``"1.0000"``; we send a plain number."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    price: Cents
    quantity: Decimal = Decimal(1)

    @field_serializer("quantity")
    def _quantity(self, quantity: Decimal) -> int | str:
        return int(quantity) if quantity == quantity.to_integral_value() else str(quantity)


class StatusChange(ReadModel):
    status: Status
    timestamp: Timestamp = None


class PurchaseDetails(ReadModel):
    total: Cents | None = None
    currency: str | None = None
    language: str | None = None
    products: list[Product] = Field(default_factory=list)
    total_override: Cents | None = None
    #: As echoed by the gateway; may hold a network token or cryptogram, so never in a repr.
    payment_method_details: dict[str, Any] = Field(default_factory=dict, repr=False)


class Payment(ReadModel):
    amount: Cents | None = None
    currency: str | None = None
    net_amount: Cents | None = None
    fee_amount: Cents | None = None
    paid_on: Timestamp = None
    payment_type: str | None = None
    is_outgoing: bool | None = None


class AttemptError(ReadModel):
    code: str
    message: str = ""
    network_code: str | None = None
    advice_code: str | None = None

    def as_decline(self) -> DeclineInfo:
        return DeclineInfo(self.code, self.message, self.network_code, self.advice_code)


class Attempt(ReadModel):
    type: str | None = None
    successful: bool | None = None
    error: AttemptError | None = None
    processing_time: Timestamp = None
    fee_amount: Cents | None = None


class CardExtra(ReadModel):
    card_brand: str | None = None
    masked_pan: str | None = None
    expiry_month: int | None = None
    expiry_year: int | None = None
    cardholder_name: str | None = None
    network_transaction_id: str | None = None
    settlement: dict[str, Any] | None = None


class TransactionData(ReadModel):
    flow: str | None = None
    payment_method: str | None = None
    #: Newest first, as the gateway lists them.
    attempts: list[Attempt] = Field(default_factory=list)
    extra: CardExtra = Field(default_factory=CardExtra)


class Purchase(ReadModel):
    """A purchase as ``GET /purchases/{id}/`` (or an action on it) answers.

    Only ``id`` and ``status`` are required: the guide's cancel answer carries little else.
    """

    id: str
    status: Status
    type: str = "purchase"
    status_history: list[StatusChange] = Field(default_factory=list)
    reference: str | None = None
    client_id: str | None = None
    brand_id: str | None = None
    purchase: PurchaseDetails | None = None
    payment: Payment | None = None
    transaction_data: TransactionData = Field(default_factory=TransactionData)
    direct_post_url: str | None = None
    checkout_url: str | None = None
    is_recurring_token: bool = False
    #: The token that was *used to pay* this purchase (a ``/charge/``); never the token this
    #: purchase saved, which is the purchase's own ``id`` (see :attr:`saved_token`).
    recurring_token: str | None = None
    #: The guide's S2S / 3-D Secure answer shape, when a gateway sends it on the purchase too.
    payment_method_details: dict[str, Any] = Field(default_factory=dict, repr=False)
    refundable_amount: Cents = 0
    skip_capture: bool = False
    force_recurring: bool = False
    created_on: Timestamp = None
    updated_on: Timestamp = None
    cancelled_on: Timestamp = None

    @property
    def total(self) -> int | None:
        return self.purchase.total if self.purchase else None

    @property
    def currency(self) -> str | None:
        if self.purchase and self.purchase.currency:
            return self.purchase.currency
        return self.payment.currency if self.payment else None

    @property
    def last_error(self) -> DeclineInfo | None:
        """The error of the newest failed attempt (attempts are listed newest first)."""
        for attempt in self.transaction_data.attempts:
            if attempt.error is not None and not attempt.successful:
                return attempt.error.as_decline()
        return None

    @property
    def decline(self) -> DeclineInfo | None:
        """Same as :attr:`last_error`; reads better where a decline is what is expected."""
        return self.last_error

    @property
    def card_brand(self) -> str | None:
        return self.transaction_data.extra.card_brand

    @property
    def masked_pan(self) -> str | None:
        return self.transaction_data.extra.masked_pan

    @property
    def saved_token(self) -> str | None:
        """The recurring token this purchase *is*, if it saved a card: its own ``id``.

        The platform marks it ``is_recurring_token`` (its ``recurring_token`` stays null). A
        zero-amount purchase that is ``preauthorized`` saves the card even without
        ``force_recurring``; once its token is deleted (a ``delete_recurring_token`` attempt)
        it is no token any more.
        """
        if self.is_recurring_token:
            return self.id
        deleted = any(a.type == "delete_recurring_token" for a in self.transaction_data.attempts)
        if self.status is Status.PREAUTHORIZED and not self.total and not deleted:
            return self.id
        return None

    @property
    def token_deleted(self) -> bool:
        """Whether the gateway deleted the token this purchase was (a successful
        ``delete_recurring_token`` attempt and ``is_recurring_token`` false)."""
        return not self.is_recurring_token and any(
            a.type == "delete_recurring_token" and a.successful is not False
            for a in self.transaction_data.attempts
        )

    @property
    def network_transaction_id(self) -> str | None:
        """The card network's id of this transaction, wherever the gateway put it.

        Read, in order, from ``transaction_data.extra`` (where CHIP's own documentation puts
        card details), the guide's ``payment_method_details.card`` (its 3-D Secure answer
        shape), and ``purchase.payment_method_details.card`` (never its
        ``previous_network_transaction_id``: that is the one *we* quoted on an MIT).
        """
        return (
            self.transaction_data.extra.network_transaction_id
            or _card_ntid(self.payment_method_details)
            or _card_ntid(self.purchase.payment_method_details if self.purchase else {})
        )

    @property
    def paid_on(self) -> datetime | None:
        return self.payment.paid_on if self.payment else None

    @property
    def fee_amount(self) -> int | None:
        return self.payment.fee_amount if self.payment else None

    @property
    def net_amount(self) -> int | None:
        return self.payment.net_amount if self.payment else None

    @property
    def settled_on(self) -> datetime | None:
        """When the gateway settled the money (``transaction_data.extra.settlement``)."""
        settlement = self.transaction_data.extra.settlement or {}
        return to_utc(settlement.get("settled_on"))


def _card_ntid(details: Mapping[str, Any]) -> str | None:
    card = details.get("card") if isinstance(details, Mapping) else None
    value = card.get("network_transaction_id") if isinstance(card, Mapping) else None
    return value if isinstance(value, str) and value else None
