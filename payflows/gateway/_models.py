"""The shapes Precium sends and receives, as pydantic models.

Precium's S2S guide and the CHIP Collect platform underneath it describe the same objects in
different shapes (a refund is ``{id, refund_id, refund_amount}`` in one and a Payment object in
the other; a webhook is an envelope in one and the bare object in the other). Models that *read*
accept both, ignore keys they do not know, treat ``null`` as "absent", and turn every timestamp
(Unix seconds or ISO-8601) into an aware UTC ``datetime``; so a gateway that adds a field or
fills in a guide-only one does not break a billing run. Models that *write* forbid unknown keys,
so a typo in a flag is an error here rather than a silently ignored field at the gateway.

Amounts are integer cents everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

from payflows.domain.declines import DeclineInfo
from payflows.domain.money import validate_currency
from payflows.domain.states import Status

__all__ = [
    "Attempt",
    "AttemptError",
    "CardDetails",
    "CardExtra",
    "CardFlags",
    "CardSubmission",
    "Client",
    "ClientDetails",
    "Page",
    "Payment",
    "PaymentMethods",
    "Product",
    "Purchase",
    "PurchaseDetails",
    "PurchaseRequest",
    "RecurringToken",
    "Refund",
    "StatusChange",
    "SubmissionStatus",
    "ThreeDSChallenge",
    "ThreeDSResult",
    "TransactionData",
    "Webhook",
    "WebhookEvent",
]


# -- field types -------------------------------------------------------------------------------


def _utc(value: Any) -> datetime | None:
    """Unix seconds (int, float or digits) or ISO-8601 to an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("a timestamp, not a boolean")
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            text = value.strip()
            try:
                return datetime.fromtimestamp(float(text), UTC)
            except ValueError:
                value = datetime.fromisoformat(text)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"timestamp out of range: {value!r}") from exc
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    raise ValueError(f"not a timestamp: {value!r}")


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("an amount in integer cents, not a boolean")
    return value


#: An aware UTC datetime, read from Unix seconds or an ISO-8601 string; None when absent.
Timestamp = Annotated[datetime | None, BeforeValidator(_utc)]
#: Integer minor units. Fractional floats are refused by pydantic's int; booleans by us.
Cents = Annotated[int, BeforeValidator(_no_bool)]


def _drop_nulls(data: Any) -> Any:
    """``null`` from the gateway means "not there": let the field's default apply."""
    if isinstance(data, Mapping):
        return {k: v for k, v in data.items() if v is not None}
    return data


class _Read(BaseModel):
    """Base for what the gateway sends: tolerant of extra keys, nulls, both shapes."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_absent(cls, data: Any) -> Any:
        return _drop_nulls(data)


class _Write(BaseModel):
    """Base for what we send: strict, so a typo fails here and not silently at the gateway."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# -- clients -----------------------------------------------------------------------------------


class ClientDetails(_Write):
    """A client (payer) as created or updated; ``email`` is required on create."""

    email: str | None = None
    phone: str | None = None
    full_name: str | None = None
    street_address: str | None = None
    city: str | None = None
    state: str | None = None
    zip_code: str | None = None
    country: str | None = None


class Client(_Read):
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


class RecurringToken(_Read):
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


class PaymentMethods(_Read):
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


T = TypeVar("T")


class Page(_Read, Generic[T]):
    """One page of a list; ``next``/``previous`` are the gateway's URLs or None."""

    results: list[T] = Field(default_factory=list)
    next: str | None = None
    previous: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, data: Any) -> Any:
        return {"results": data} if isinstance(data, list) else data


# -- purchases: reading ------------------------------------------------------------------------


class Product(BaseModel):
    """A line of a purchase. CHIP sends ``quantity`` as ``"1.0000"``; we send a plain number."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    price: Cents
    quantity: Decimal = Decimal(1)

    @field_serializer("quantity")
    def _quantity(self, quantity: Decimal) -> int | str:
        return int(quantity) if quantity == quantity.to_integral_value() else str(quantity)


class StatusChange(_Read):
    status: Status
    timestamp: Timestamp = None


class PurchaseDetails(_Read):
    total: Cents | None = None
    currency: str | None = None
    language: str | None = None
    products: list[Product] = Field(default_factory=list)
    total_override: Cents | None = None
    #: As echoed by the gateway; may hold a network token or cryptogram, so never in a repr.
    payment_method_details: dict[str, Any] = Field(default_factory=dict, repr=False)


class Payment(_Read):
    amount: Cents | None = None
    currency: str | None = None
    net_amount: Cents | None = None
    fee_amount: Cents | None = None
    paid_on: Timestamp = None
    payment_type: str | None = None
    is_outgoing: bool | None = None


class AttemptError(_Read):
    code: str
    message: str = ""
    network_code: str | None = None
    advice_code: str | None = None

    def as_decline(self) -> DeclineInfo:
        return DeclineInfo(self.code, self.message, self.network_code, self.advice_code)


class Attempt(_Read):
    type: str | None = None
    successful: bool | None = None
    error: AttemptError | None = None
    processing_time: Timestamp = None
    fee_amount: Cents | None = None


class CardExtra(_Read):
    card_brand: str | None = None
    masked_pan: str | None = None
    expiry_month: int | None = None
    expiry_year: int | None = None
    cardholder_name: str | None = None
    network_transaction_id: str | None = None
    settlement: dict[str, Any] | None = None


class TransactionData(_Read):
    flow: str | None = None
    payment_method: str | None = None
    #: Newest first, as the gateway lists them.
    attempts: list[Attempt] = Field(default_factory=list)
    extra: CardExtra = Field(default_factory=CardExtra)


class Purchase(_Read):
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
        return _utc(settlement.get("settled_on"))


def _card_ntid(details: Mapping[str, Any]) -> str | None:
    card = details.get("card") if isinstance(details, Mapping) else None
    value = card.get("network_transaction_id") if isinstance(card, Mapping) else None
    return value if isinstance(value, str) and value else None


# -- purchases: writing ------------------------------------------------------------------------


class CardFlags(_Write):
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


class PurchaseRequest(_Write):
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


# -- S2S card submission and 3-D Secure --------------------------------------------------------


class CardDetails(_Read):
    """``payment_method_details.card`` in an S2S answer: what may be kept about a card."""

    brand: str | None = None
    last_4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    #: The recurring token, when the card was stored.
    token: str | None = None
    network_transaction_id: str | None = None


class ThreeDSChallenge(_Read):
    """Where to send the shopper's browser: POST ``MD``, ``PaReq`` and a ``TermUrl`` to ``url``.

    A 3DS1 PaReq can carry the PAN, so it stays out of ``repr``.
    """

    method: str = Field(default="POST", validation_alias=AliasChoices("Method", "method"))
    pareq: str = Field(validation_alias=AliasChoices("PaReq", "pareq", "paReq"), repr=False)
    md: str = Field(validation_alias=AliasChoices("MD", "md"))
    url: str = Field(validation_alias=AliasChoices("URL", "url"))
    callback_url: str | None = None


class SubmissionStatus(StrEnum):
    EXECUTED = "executed"  # paid
    AUTHORIZED = "authorized"  # a hold, or a zero-amount preauthorisation
    PENDING = "pending"  # wait for the webhook
    THREE_DS_REQUIRED = "3DS_required"


class CardSubmission(_Read):
    """The answer to ``POST {direct_post_url}?s2s=true`` (a decline is raised instead)."""

    status: SubmissionStatus
    purchase_id: str | None = None
    purchase_status: Status | None = None
    transaction_id: str | None = None
    card: CardDetails | None = None
    three_ds: ThreeDSChallenge | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_wire(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or "three_ds" in data:
            return data
        out = dict(data)
        if "purchase_id" not in out and "id" in out:
            out["purchase_id"] = out["id"]
        details = out.get("payment_method_details")
        if isinstance(details, Mapping) and "card" not in out:
            out["card"] = details.get("card")
        if any(k in data for k in ("PaReq", "pareq", "paReq")):
            # The guide's example 3DS answer has no "status" at all.
            out["three_ds"] = dict(data)
            out.setdefault("status", SubmissionStatus.THREE_DS_REQUIRED.value)
        return out

    @property
    def requires_3ds(self) -> bool:
        return self.status is SubmissionStatus.THREE_DS_REQUIRED

    @property
    def approved(self) -> bool:
        return self.status in {SubmissionStatus.EXECUTED, SubmissionStatus.AUTHORIZED}


class ThreeDSResult(_Read):
    """The final answer of the 3DS callback (the guide's "success response")."""

    purchase_id: str = Field(validation_alias=AliasChoices("id", "purchase_id"))
    status: Status
    transaction_id: str | None = None
    card: CardDetails | None = None

    @model_validator(mode="before")
    @classmethod
    def _card(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "card" not in data:
            details = data.get("payment_method_details")
            if isinstance(details, Mapping):
                return {**data, "card": details.get("card")}
        return data


# -- refunds -----------------------------------------------------------------------------------


class Refund(_Read):
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
        data = _drop_nulls(data)
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


# -- webhooks ----------------------------------------------------------------------------------


class Webhook(_Read):
    id: str
    title: str | None = None
    all_events: bool = False
    events: list[str] = Field(default_factory=list)
    callback: str | None = None
    #: PEM of the key that signs this webhook's deliveries.
    public_key: str | None = None
    created_on: Timestamp = None
    updated_on: Timestamp = None


class WebhookEvent(_Read):
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
