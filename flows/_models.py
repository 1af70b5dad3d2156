"""The flows' parameters and results: what the Prefect UI renders as a form, and what it shows.

A card never appears here. A card flow receives ``card_ref`` (an opaque one-time reference into
:data:`payflows.vault.default_vault`, put there by the checkout form or a CLI prompt) or, against
the local sandbox only, ``sandbox_card`` (the NAME of a test card). Results carry ids, statuses,
amounts, brand and masked PAN; never a PaReq (a 3DS1 PaReq can embed the PAN).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from flows._cards import SandboxCard
from flows._time import AsOf
from payflows.domain.cards import BrowserFingerprint
from payflows.domain.money import format_amount, validate_currency
from payflows.domain.screening import screen_value
from payflows.ledger import AttemptState
from payflows.payments import PaymentOutcome
from payflows.vault import REFERENCE_PATTERN

__all__ = [
    "Auto3DS",
    "Browser",
    "CaptureRequest",
    "CardInput",
    "CustomerInitiatedPaymentRequest",
    "External3DSPaymentRequest",
    "MITChargeRequest",
    "NetworkTokenPaymentRequest",
    "Non3DSPaymentRequest",
    "PaymentResult",
    "PreauthRequest",
    "PurchaseCancelRequest",
    "RecurringPreauthRequest",
    "RefundCancelRequest",
    "RefundRequest",
    "Shopper",
    "ThreeDSCompletionRequest",
    "ThreeDSRedirect",
    "VoidRequest",
    "ZeroAuthRequest",
]

#: Sandbox only: play the shopper on the sandbox ACS page and finish the payment in the flow.
Auto3DS = Literal["approve", "fail"]

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"
_ID = Field(min_length=1, max_length=100, pattern=_ID_PATTERN)


def run_reference() -> str:
    """``run-<flow run id>``: the business id of a run started without one (a UI Quick run).

    Each new flow run is a new order, and a retry of the same flow run keeps its id, so it stays
    idempotent: Prefect validates the parameters again on a retry, in the same run.
    Outside a flow run (a plain function call) it is a fresh random id.
    """
    from prefect.runtime import flow_run

    return f"run-{flow_run.id or uuid.uuid4()}"


#: A business id that defaults to :func:`run_reference`.
_RUN_ID = Field(
    default_factory=run_reference,
    min_length=1,
    max_length=100,
    pattern=_ID_PATTERN,
    description="Your business id; empty: this flow run's id (each run is a new one).",
)


class _Params(BaseModel):
    """Flow parameters: a card number in any of them is refused (rule 4), whatever the field.

    The JSON schema cannot express the Luhn rule, so this runs when the flow validates its
    parameters; the card reference itself is held to the vault's pattern in the schema.
    """

    # A refused value is never echoed in the error (it may be a card number).
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    #: Gateway blobs (base64) that may hold digit runs by chance: not screened.
    _unscreened: ClassVar[frozenset[str]] = frozenset({"md", "pares", "cavv", "xid"})

    @model_validator(mode="before")
    @classmethod
    def _no_card_numbers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, value in data.items():
                if name not in cls._unscreened:
                    screen_value(str(name), value)
        return data


class Browser(_Params):
    """The shopper's browser, as 3-D Secure 2 wants it described (nothing sensitive)."""

    user_agent: str = "Mozilla/5.0 (X11; Linux x86_64) payflows"
    accept_header: str = "text/html"
    language: str = "en-US"
    java_enabled: bool = False
    javascript_enabled: bool = True
    color_depth: int = 24
    utc_offset: int = 0
    screen_width: int = 1920
    screen_height: int = 1080

    def fingerprint(self) -> BrowserFingerprint:
        return BrowserFingerprint(**self.model_dump())


class Shopper(_Params):
    """Who pays: the merchant's own customer id (defaults to the email) and contact details."""

    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    customer_id: str | None = Field(default=None, max_length=128)
    full_name: str | None = Field(default=None, max_length=200)

    @property
    def external_id(self) -> str:
        return self.customer_id or self.email


class CardInput(_Params):
    """Where the card comes from: a vault reference, or (local sandbox only) a test card's name."""

    card_ref: str | None = Field(
        default=None,
        pattern=REFERENCE_PATTERN,
        description=(
            "One-time vault reference (cardref_...) from the checkout form or a CLI prompt; "
            "never a card number."
        ),
    )
    sandbox_card: SandboxCard | None = Field(
        default=None, description="Local sandbox only: the name of a test card."
    )
    cardholder_name: str = Field(default="Sandbox Shopper", max_length=100)

    @model_validator(mode="after")
    def _one_source(self) -> CardInput:
        if (self.card_ref is None) == (self.sandbox_card is None):
            raise ValueError("give exactly one of card_ref and sandbox_card")
        return self


class _Money(_Params):
    currency: str = "ZAR"

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return validate_currency(value)


class ZeroAuthRequest(_Money):
    """Validate a card for 0 and keep it (tokenised) for later merchant-initiated charges."""

    reference: str = _RUN_ID
    shopper: Shopper
    card: CardInput
    product: str = "Card validation"
    remote_ip: str = "127.0.0.1"
    browser: Browser | None = Field(default_factory=Browser)
    auto_3ds: Auto3DS | None = None


class PreauthRequest(_Money):
    """Hold money on a card for a booking: captured or voided later."""

    booking_id: str = _RUN_ID
    amount_cents: int = Field(gt=0)
    shopper: Shopper
    card: CardInput
    product: str = "Booking deposit"
    remote_ip: str = "127.0.0.1"
    browser: Browser | None = Field(default_factory=Browser)
    auto_3ds: Auto3DS | None = None


class CaptureRequest(_Params):
    """Capture all (no amount) or part of a hold; the remainder is released."""

    purchase_id: str = _ID
    amount_cents: int | None = Field(default=None, gt=0)


class VoidRequest(_Params):
    """Release a hold the merchant no longer needs."""

    purchase_id: str = _ID
    via: Literal["release", "cancel"] = "release"


class RecurringPreauthRequest(_Money):
    """Pre-authorise on a stored credential without the CVC (the guide sends ``000``)."""

    booking_id: str = _RUN_ID
    amount_cents: int = Field(gt=0)
    customer_id: str = Field(min_length=1, max_length=128)
    recurring_token: str = _ID
    card: CardInput
    product: str = "Recurring pre-authorisation"
    remote_ip: str = "127.0.0.1"


class CustomerInitiatedPaymentRequest(_Money):
    """The shopper pays an order with a card; Precium runs 3-D Secure when the issuer asks."""

    order_id: str = _RUN_ID
    amount_cents: int = Field(gt=0)
    shopper: Shopper
    card: CardInput
    product: str = "Order"
    save_card: bool = Field(default=True, description="Tokenise the card for later MIT charges.")
    remote_ip: str = "127.0.0.1"
    browser: Browser | None = Field(default_factory=Browser)
    auto_3ds: Auto3DS | None = None


class External3DSPaymentRequest(_Money):
    """A payment authenticated by the merchant's own MPI: the 3DS values ride on the purchase."""

    order_id: str = _RUN_ID
    amount_cents: int = Field(gt=0)
    shopper: Shopper
    card: CardInput
    cavv: str = Field(min_length=1, max_length=64)
    eci_raw: str = Field(min_length=1, max_length=4)
    xid: str | None = Field(default=None, max_length=64)
    authentication_transaction_id: str | None = Field(default=None, max_length=64)
    product: str = "Order"
    remote_ip: str = "127.0.0.1"


class NetworkTokenPaymentRequest(_Money):
    """A payment with a scheme network token (MDES / VTS) and its one-time cryptogram.

    The token and cryptogram are card-equivalent: they reach the flow through the vault
    (``token_ref``, a secret put there by the caller) or, on the local sandbox, as a test token.
    """

    order_id: str = _RUN_ID
    amount_cents: int = Field(gt=0)
    shopper: Shopper
    token_ref: str | None = Field(default=None, description="Vault secret holding the token.")
    sandbox_token: bool = Field(default=False, description="Local sandbox only: a test token.")
    token_requestor_id: str = Field(min_length=1, max_length=32)
    cardholder_name: str = Field(default="Sandbox Shopper", max_length=100)
    product: str = "Order"
    remote_ip: str = "127.0.0.1"

    @model_validator(mode="after")
    def _one_source(self) -> NetworkTokenPaymentRequest:
        if (self.token_ref is None) == (not self.sandbox_token):
            raise ValueError("give exactly one of token_ref and sandbox_token")
        return self


class Non3DSPaymentRequest(_Money):
    """A frictionless charge without 3-D Secure, where the brand is approved for it."""

    order_id: str = _RUN_ID
    amount_cents: int = Field(gt=0)
    shopper: Shopper
    card: CardInput
    product: str = "Order"
    remote_ip: str = "127.0.0.1"


class MITChargeRequest(_Money):
    """One merchant-initiated charge on a stored credential, once per subscription period."""

    subscription_id: str = _ID
    period: str | None = Field(
        default=None, max_length=32, description="Defaults to the month of as_of (YYYY-MM)."
    )
    as_of: AsOf = None
    amount_cents: int = Field(gt=0)
    customer_id: str = Field(min_length=1, max_length=128)
    recurring_token: str = _ID
    product: str = "Subscription"


class PurchaseCancelRequest(_Params):
    """Cancel a paid purchase before it settles."""

    purchase_id: str = _ID


class RefundRequest(_Params):
    """Refund all (no amount) or part of a paid purchase, once per merchant refund reference."""

    purchase_id: str = _ID
    refund_ref: str = _ID
    amount_cents: int | None = Field(default=None, gt=0)


class RefundCancelRequest(_Params):
    """Cancel a refund before it settles."""

    purchase_id: str = _ID
    refund_id: str = _ID


class ThreeDSCompletionRequest(_Params):
    """What the shopper's bank posted to the TermUrl after the challenge."""

    md: str = Field(min_length=1, max_length=255)
    pares: str = Field(min_length=1, repr=False)


class ThreeDSRedirect(BaseModel):
    """Where to send the shopper for 3-D Secure. The PaReq is in the vault, never here."""

    md: str
    acs_url: str


class PaymentResult(BaseModel):
    """What a flow achieved: ids, statuses, amounts, brand and masked PAN; never card data."""

    flow: str
    business_key: str
    state: AttemptState
    purchase_id: str | None = None
    purchase_status: str | None = None
    amount_cents: int
    currency: str
    decline_code: str | None = None
    decline_soft: bool | None = None
    brand: str | None = None
    masked_pan: str | None = None
    recurring_token: str | None = None
    network_transaction_id: str | None = None
    refund_id: str | None = None
    hold_expires_at: datetime | None = None
    three_ds: ThreeDSRedirect | None = None
    message: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.state is AttemptState.SUCCEEDED

    @property
    def amount(self) -> str:
        return format_amount(self.amount_cents, self.currency)

    @classmethod
    def of(cls, flow: str, outcome: PaymentOutcome, **extra: object) -> PaymentResult:
        three_ds = None
        if outcome.three_ds is not None and outcome.state is not AttemptState.SUCCEEDED:
            three_ds = ThreeDSRedirect(md=outcome.three_ds.md, acs_url=outcome.three_ds.acs_url)
        fields: dict[str, object] = {
            "flow": flow,
            "business_key": outcome.business_key,
            "state": outcome.state,
            "purchase_id": outcome.purchase_id,
            "purchase_status": outcome.purchase_status.value if outcome.purchase_status else None,
            "amount_cents": outcome.amount_cents,
            "currency": outcome.currency,
            "decline_code": outcome.decline_code,
            "decline_soft": outcome.decline_soft,
            "brand": outcome.brand,
            "masked_pan": outcome.masked_pan,
            "recurring_token": outcome.recurring_token,
            "refund_id": outcome.refund_id,
            "three_ds": three_ds,
        }
        fields.update(extra)
        return cls.model_validate(fields)
