"""The flows' parameters, one field each: what the Prefect UI renders as a form.

Every flow, pipelines too, describes its parameters with :func:`described`.

Each ``Annotated`` type carries a description (the UI's help, the CLI option's) and, for text, a
JSON-schema ``pattern`` that Prefect's server checks before it stores a flow run (deployments
enforce their schema): a card number typed into a text field or the card reference is refused
with 409 and rests nowhere. JSON schema cannot test Luhn, so the schema refuses any run of
:data:`CARD_LIKE_DIGITS` digits or more, with up to three spaces, dashes, dots, slashes or
underscores between them. In Python (an in-process call, a server without enforcement) a field
is held to its shape and the core's Luhn screening (:mod:`payflows.domain.screening`): a card
number is refused either way, a 12-digit order number only by the schema. Patterns
(:mod:`flows._patterns`) go to the schema only (``json_schema_extra``): pydantic's regex engine
has no look-ahead. Amounts are plain text (``"299.00"``, no commas) of at most 11 digits, made
integer cents by :mod:`flows._forms`, never through a float.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from flows._cards import SandboxCard
from flows._models import Browser
from flows._patterns import (
    AMOUNT_DIGITS,
    AMOUNT_PATTERN,
    CARD_LIKE_DIGITS,
    CARD_REF_PATTERN,
    GATEWAY_ID_PATTERN,
    ID_PATTERN,
    IP_PATTERN,
    NO_CARD_NUMBER,
    TEXT_PATTERN,
    amount_text,
    optional,
)
from flows._time import AsOf
from payflows.domain.currencies import ISO_4217
from payflows.domain.screening import screen
from payflows.settings import merchant_currency

__all__ = [
    "AMOUNT_DIGITS",
    "CARD_LIKE_DIGITS",
    "DESKTOP_BROWSER",
    "NO_CARD_NUMBER",
    "AmountText",
    "AsOfField",
    "Auto3DSField",
    "BookingId",
    "BrowserField",
    "CardRef",
    "CardholderName",
    "Cavv",
    "CurrencyCode",
    "CurrencyField",
    "CustomerId",
    "EciRaw",
    "Email",
    "FullName",
    "MpiId",
    "OptionalAmountText",
    "OptionalCustomerId",
    "OrderId",
    "Period",
    "Product",
    "PurchaseId",
    "RecurringToken",
    "Reference",
    "RefundId",
    "RefundRef",
    "RemoteIp",
    "SandboxCardField",
    "SaveCard",
    "SubscriptionId",
    "TokenRef",
    "TokenRequestorId",
    "described",
]

#: An optional text parameter is a plain string whose empty value means "none": the Prefect UI
#: shows a text box (``str | None`` would be a type switch), and None from Python is "".
_EMPTY_FOR_NONE = BeforeValidator(lambda value: "" if value is None else value)


def _matches(pattern: str, what: str) -> Any:
    """The check a flow runs on a text parameter: its shape, then the Luhn screening.

    The schema's digit-run look-ahead is left to the schema: in Python the precise test is at
    hand, so an in-process caller (the web checkout, the CLI) may use a 12-digit order number
    that is no card number, while a card number is refused here as there.
    """
    compiled = re.compile(pattern.replace(NO_CARD_NUMBER, ""))

    def check(value: str | None) -> str | None:
        if not value:
            return value
        if compiled.search(value) is None:
            # Never quote the value: it may be a card number.
            raise ValueError(f"not a valid {what} (a card number is never accepted here)")
        screen(what, value)
        return value

    return AfterValidator(check)


def _choice(names: tuple[str, ...]) -> Any:
    """One of ``names``, or empty for none. With the schema's ``enum`` (``""`` first) the Prefect
    UI shows a plain dropdown: an ``X | None`` type would show a type switch beside it."""

    def check(value: str) -> str:
        if value and value not in names:  # the value is never quoted: it may be anything
            raise ValueError(f"must be one of {', '.join(names)}, or empty")
        return value

    return AfterValidator(check)


def _ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError("not an IP address") from None


def _schema(pattern: str, **extra: Any) -> dict[str, Any]:
    return {"pattern": pattern, **extra}


def described(description: str, **kwargs: Any) -> Any:
    """``Field(description=...)`` whose description reaches the Prefect UI's form.

    Prefect builds a flow's parameter schema with a ``Field`` of its own per parameter, whose
    description (from the docstring, None here) overrides the one in ``Annotated``; its
    ``json_schema_extra`` is merged with ours, so the description rides there as well.
    """
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra["description"] = description
    return Field(description=description, json_schema_extra=extra, **kwargs)


def _field(description: str, pattern: str, max_length: int, **extra: Any) -> Any:
    """A text parameter: its help, its length, and its pattern for the schema only."""
    return described(
        description, max_length=max_length, json_schema_extra=_schema(pattern, **extra)
    )


# -- business ids ---------------------------------------------------------------------------------

_RUN_ID_HELP = " Empty: this flow run's id (each run is a new one)."

OrderId = Annotated[
    str,
    _EMPTY_FOR_NONE,
    _field("Your order id: paying it twice pays once." + _RUN_ID_HELP, optional(ID_PATTERN), 100),
    _matches(ID_PATTERN, "order id"),
]
BookingId = Annotated[
    str,
    _EMPTY_FOR_NONE,
    _field("Your booking id: one hold per booking." + _RUN_ID_HELP, optional(ID_PATTERN), 100),
    _matches(ID_PATTERN, "booking id"),
]
Reference = Annotated[
    str,
    _EMPTY_FOR_NONE,
    _field("Your id of this card validation." + _RUN_ID_HELP, optional(ID_PATTERN), 100),
    _matches(ID_PATTERN, "reference"),
]
RefundRef = Annotated[  # required: a run again with the same one never refunds twice
    str,
    _field(
        "Your refund reference: one refund per reference (a run again with it refunds once).",
        ID_PATTERN,
        100,
    ),
    _matches(ID_PATTERN, "refund reference"),
]
SubscriptionId = Annotated[
    str,
    _field("Your subscription id: one charge per subscription and period.", ID_PATTERN, 100),
    _matches(ID_PATTERN, "subscription id"),
]

# -- ids the gateway gave -------------------------------------------------------------------------

PurchaseId = Annotated[
    str,
    _field(
        "The purchase id (printed by the payment's run; payment-lookup finds it).",
        GATEWAY_ID_PATTERN,
        100,
    ),
    _matches(GATEWAY_ID_PATTERN, "purchase id"),
]
RefundId = Annotated[
    str,
    _field("The refund id (printed by the refund's run).", GATEWAY_ID_PATTERN, 100),
    _matches(GATEWAY_ID_PATTERN, "refund id"),
]
RecurringToken = Annotated[
    str,
    _field(
        "The stored card's recurring token (the id of the purchase that saved it).",
        GATEWAY_ID_PATTERN,
        100,
    ),
    _matches(GATEWAY_ID_PATTERN, "recurring token"),
]

# -- the shopper ----------------------------------------------------------------------------------

Email = Annotated[
    str,
    described(
        "The shopper's email.",
        min_length=3,
        max_length=254,
        json_schema_extra=_schema(rf"^{NO_CARD_NUMBER}[^@\s]+@[^@\s]+$", format="email"),
    ),
    _matches(rf"^{NO_CARD_NUMBER}[^@\s]+@[^@\s]+$", "email"),
]
CustomerId = Annotated[
    str,
    _field("Your customer id (the owner of the stored card).", TEXT_PATTERN, 128),
    _matches(TEXT_PATTERN, "customer id"),
]
OptionalCustomerId = Annotated[
    str,
    _EMPTY_FOR_NONE,
    _field("Your customer id. Empty: the email.", optional(TEXT_PATTERN), 128),
    _matches(TEXT_PATTERN, "customer id"),
]
FullName = Annotated[
    str,
    _EMPTY_FOR_NONE,
    _field("The shopper's full name.", optional(TEXT_PATTERN), 200),
    _matches(TEXT_PATTERN, "full name"),
]
Product = Annotated[
    str,
    _field("What is bought (shown to the shopper and on reports).", TEXT_PATTERN, 200),
    _matches(TEXT_PATTERN, "product"),
]

# -- the card -------------------------------------------------------------------------------------

CardRef = Annotated[
    str,
    _EMPTY_FOR_NONE,
    _field(
        "One-time vault reference (cardref_...) from the checkout form or a CLI prompt; "
        "never a card number. Give this or a sandbox card.",
        optional(CARD_REF_PATTERN),
        40,
    ),
    _matches(CARD_REF_PATTERN, "card reference"),
]
_SANDBOX_CARDS = tuple(card.value for card in SandboxCard)
SandboxCardField = Annotated[
    str,
    _EMPTY_FOR_NONE,
    described(
        "Local sandbox only: a test card by name (docs/test-cards.md). Give this or card_ref.",
        json_schema_extra={"enum": ["", *_SANDBOX_CARDS]},
    ),
    _choice(_SANDBOX_CARDS),
]
CardholderName = Annotated[
    str,
    _field("The name on the card.", TEXT_PATTERN, 100),
    _matches(TEXT_PATTERN, "cardholder name"),
]
SaveCard = Annotated[
    bool, described("Keep the card (tokenised) for later merchant-initiated charges.")
]
Auto3DSField = Annotated[
    str,
    _EMPTY_FOR_NONE,
    described(
        "Local sandbox only: play the shopper on the 3-D Secure page (approve or fail). "
        "Empty: the run ends Awaiting 3DS with the page to send the shopper to.",
        json_schema_extra={"enum": ["", "approve", "fail"]},
    ),
    _choice(("approve", "fail")),
]

# -- money ----------------------------------------------------------------------------------------

#: Every active ISO 4217 code, a dropdown in the Prefect UI.
CurrencyCode = StrEnum("CurrencyCode", {code: code for code in sorted(ISO_4217)})  # type: ignore[misc]
CurrencyCode.__doc__ = "An active ISO 4217 currency."

#: The merchant's currency (``PAYFLOWS_CHECKOUT_CURRENCY``), the forms' default.
MERCHANT_CURRENCY = CurrencyCode(merchant_currency())

CurrencyField = Annotated[
    CurrencyCode, described("Currency of the amount (default: the merchant's).")
]
AmountText = Annotated[
    str,
    described(
        "Amount in the currency's units, e.g. 299.00: digits and a point (no sign, commas or "
        "spaces), no more decimals than it has, at most 11 digits in all (99999999999 VND, "
        "999999999.99 ZAR).",
        min_length=1,
        json_schema_extra={"pattern": AMOUNT_PATTERN},
        examples=["299.00"],
    ),
    AfterValidator(amount_text),
]
OptionalAmountText = Annotated[
    str,
    _EMPTY_FOR_NONE,
    described(
        "Part of the amount, e.g. 100.00 (digits and a point, at most 11). Empty: all of it.",
        json_schema_extra={"pattern": optional(AMOUNT_PATTERN)},
        examples=["100.00"],
    ),
    AfterValidator(amount_text),
]

# -- authenticated elsewhere ----------------------------------------------------------------------

_BLOB = rf"^{NO_CARD_NUMBER}[A-Za-z0-9+/=_:.-]+$"
Cavv = Annotated[
    str, _field("CAVV from your 3-D Secure server (MPI).", _BLOB, 64), _matches(_BLOB, "CAVV")
]
EciRaw = Annotated[
    str,
    _field("ECI from your 3-D Secure server, e.g. 05.", "^[0-9]{1,4}$", 4),
    _matches("^[0-9]{1,4}$", "ECI"),
]
MpiId = Annotated[
    str,
    _EMPTY_FOR_NONE,
    _field("Optional, from your 3-D Secure server.", optional(_BLOB), 64),
    _matches(_BLOB, "3-D Secure id"),
]
TokenRef = Annotated[
    str,
    _EMPTY_FOR_NONE,
    _field(
        "Vault key holding the network token and cryptogram (put there by the caller). "
        "Give this or sandbox_token.",
        optional(ID_PATTERN),
        100,
    ),
    _matches(ID_PATTERN, "token reference"),
]
TokenRequestorId = Annotated[
    str,
    _field("Your token requestor id (MDES / VTS).", f"^{NO_CARD_NUMBER}[A-Za-z0-9]{{1,32}}$", 32),
    _matches(f"^{NO_CARD_NUMBER}[A-Za-z0-9]{{1,32}}$", "token requestor id"),
]

# -- when -----------------------------------------------------------------------------------------

Period = Annotated[
    str,
    _EMPTY_FOR_NONE,
    described(
        "Billing period YYYY-MM. Empty: the month of as_of.",
        pattern=r"^(?:\d{4}-(0[1-9]|1[0-2]))?$",
    ),
]
AsOfField = Annotated[  # a text field, empty for now (flows._empty)
    AsOf, described("Technical: the time the run acts at (ISO; empty: now; no zone: UTC).")
]

# -- technical, defaulted, last in each form ------------------------------------------------------

DESKTOP_BROWSER = Browser()  #: what a scenario's form describes when left as it is
BrowserField = Annotated[
    Browser,
    BeforeValidator(lambda value: DESKTOP_BROWSER if value is None else value),
    described(
        "Technical: the shopper's browser as 3-D Secure 2 wants it described "
        "(default: a desktop browser)."
    ),
]

RemoteIp = Annotated[
    str,
    described(
        "Technical: the shopper's IP address (3-D Secure risk data).",
        max_length=45,
        json_schema_extra=_schema(IP_PATTERN),
    ),
    AfterValidator(_ip_address),
]
