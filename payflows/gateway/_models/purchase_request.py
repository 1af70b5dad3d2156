"""A purchase to create, and the card flags it may carry (stored credential, 3DS, tokens)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_serializer, field_validator, model_validator

from payflows.domain.money import validate_currency
from payflows.gateway._models.clients import ClientDetails
from payflows.gateway._models.purchases import Product
from payflows.gateway._models.wire import Cents, WriteModel

__all__ = ["CardFlags", "PurchaseRequest"]


class CardFlags(WriteModel):
    """``purchase.payment_method_details.card``: stored-credential, external 3DS, network token.

    The network token, its cryptogram and the CAVV are kept out of ``repr``: they are one-time
    or card-equivalent values.
    """

    is_recurring: bool | None = None
    previous_network_transaction_id: str | None = None
    #: Sent as a string, as the guide does (``"10000"``); held as integer cents.
    original_amount_cents: Cents | None = None
    is_external_3ds: bool | None = Field(default=None, alias="is_external_3DS")
    authentication_transaction_id: str | None = None
    cavv: str | None = Field(default=None, repr=False)
    xid: str | None = None
    eci_raw: str | None = None
    network_token: str | None = Field(default=None, repr=False)
    network_token_cryptogram: str | None = Field(default=None, repr=False)
    token_requestor_id: str | None = None

    @field_serializer("original_amount_cents")
    def _as_text(self, cents: int | None) -> str | None:
        return None if cents is None else str(cents)

    def to_body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class PurchaseRequest(WriteModel):
    """A purchase to create. :meth:`to_body` writes the guide's nested body.

    ``brand_id`` may be left out: the client fills in its own. ``currency`` may be left out
    too: the platform then uses the brand's default currency.
    """

    currency: str | None = None
    products: list[Product] = Field(min_length=1)
    client_id: str | None = None
    #: An inline client instead of ``client_id``.
    client: ClientDetails | None = None
    brand_id: str | None = None
    reference: str | None = Field(default=None, max_length=128)
    language: str = "en"
    total_override: Cents | None = None
    card: CardFlags | None = None
    send_receipt: bool = False
    skip_capture: bool = False
    force_recurring: bool = False
    payment_method_whitelist: list[str] | None = None
    success_redirect: str | None = None
    failure_redirect: str | None = None
    cancel_redirect: str | None = None
    success_callback: str | None = None

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        return None if value is None else validate_currency(value)

    @model_validator(mode="after")
    def _has_client(self) -> PurchaseRequest:
        if (self.client_id is None) == (self.client is None):
            raise ValueError("give exactly one of client_id and client")
        return self

    @classmethod
    def single(
        cls, name: str, price: int, currency: str | None, *, client_id: str, **kwargs: Any
    ) -> PurchaseRequest:
        """A one-product purchase, the usual shape of a subscription charge."""
        return cls(
            currency=currency,
            products=[Product(name=name, price=price)],
            client_id=client_id,
            **kwargs,
        )

    def with_brand(self, brand_id: str) -> PurchaseRequest:
        return self.model_copy(update={"brand_id": brand_id})

    def to_body(self) -> dict[str, Any]:
        purchase: dict[str, Any] = {
            "language": self.language,
            "products": [p.model_dump(mode="json") for p in self.products],
        }
        if self.currency is not None:
            purchase["currency"] = self.currency
        if self.total_override is not None:
            purchase["total_override"] = self.total_override
        if self.card is not None:
            purchase["payment_method_details"] = {"card": self.card.to_body()}
        body: dict[str, Any] = {
            "client_id": self.client_id,
            "client": self.client.model_dump(exclude_none=True) if self.client else None,
            "brand_id": self.brand_id,
            "purchase": purchase,
            "reference": self.reference,
            "send_receipt": self.send_receipt,
            "skip_capture": self.skip_capture,
            "force_recurring": self.force_recurring,
            "payment_method_whitelist": self.payment_method_whitelist,
            "success_redirect": self.success_redirect,
            "failure_redirect": self.failure_redirect,
            "cancel_redirect": self.cancel_redirect,
            "success_callback": self.success_callback,
        }
        return {k: v for k, v in body.items() if v is not None}
