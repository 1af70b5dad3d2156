"""The sandbox's test cards (docs/test-cards.md) and the rules every submitted card meets.

This is the only module of the sandbox that sees a PAN or a CVC. :func:`check_card` takes the
raw fields of an S2S submission and answers either a :class:`CardRefusal` (a validation code) or
a :class:`MaskedCard`: brand, masked PAN, expiry and the key of the table row that decides how
the card behaves later. Only the masked card goes on into the engine, the state and the wire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Final

from payflows.domain.cards import card_brand, luhn_valid, mask_pan

__all__ = [
    "CARD_NAMES",
    "NETWORK_TOKEN_CARD",
    "TEST_CARDS",
    "CardRefusal",
    "Decline",
    "MaskedCard",
    "Outcome",
    "TestCard",
    "UnknownTestCard",
    "card_by_key",
    "card_by_name",
    "check_card",
    "expiry_passed",
    "network_token_card",
]


class Outcome(StrEnum):
    """What the issuer (and its ACS) does with a payment on a card."""

    APPROVE = "approve"
    CHALLENGE = "challenge"  # 3DS challenge first, then whatever the ACS page decides
    FRICTIONLESS = "frictionless"  # 3DS without a challenge, approved
    ACS_REFUSE = "acs_refuse"  # the ACS refuses without a challenge
    DECLINE = "decline"
    TIMEOUT = "timeout"  # approved and committed, the answer held back


@dataclass(frozen=True, slots=True)
class Decline:
    """An issuer's or the gateway's "no": Precium's code and the network's own codes."""

    code: str
    message: str
    network_code: str | None = None
    advice_code: str | None = None

    def as_error(self) -> dict[str, str]:
        """The ``error`` object of an attempt, with the network keys only when known."""
        error = {"code": self.code, "message": self.message}
        if self.network_code is not None:
            error["network_code"] = self.network_code
        if self.advice_code is not None:
            error["advice_code"] = self.advice_code
        return error


@dataclass(frozen=True, slots=True)
class TestCard:
    """One row of the test-card table. ``key`` is what the state keeps instead of the PAN."""

    __test__ = False  # not a pytest test class, whatever its name says

    key: str
    number: str = field(repr=False)
    brand: str
    cvc_rule: str  # "any" (3-4 digits) or the one CVC the card accepts, e.g. "123"
    cit: Outcome
    mit: Outcome
    cit_decline: Decline | None = None
    mit_decline: Decline | None = None

    @property
    def masked_pan(self) -> str:
        return mask_pan(self.number)

    @property
    def last_4(self) -> str:
        return self.number[-4:]


@dataclass(frozen=True, slots=True)
class MaskedCard:
    """A submitted card as far as anything past this module may know it."""

    key: str
    brand: str
    masked_pan: str
    last_4: str
    exp_month: int
    exp_year: int  # four digits
    cardholder_name: str


@dataclass(frozen=True, slots=True)
class CardRefusal:
    """The card failed a rule before reaching the network."""

    decline: Decline
    field: str


def _d(code: str, message: str, network: str | None = None, advice: str | None = None) -> Decline:
    return Decline(code, message, network, advice)


_INSUFFICIENT = _d("insufficient_funds", "Insufficient funds", "51")
_DNH = _d("do_not_honour", "Do not honour", "05")
_EXPIRED = _d("expired_card", "Expired card", "54")
_STOLEN = _d("authorization_failed", "Authorization failed: stolen card", "43")
_ACS = _d("3ds_authentication_failed", "3-D Secure authentication failed")
_A, _C, _F, _R, _X, _T = (
    Outcome.APPROVE,
    Outcome.CHALLENGE,
    Outcome.FRICTIONLESS,
    Outcome.ACS_REFUSE,
    Outcome.DECLINE,
    Outcome.TIMEOUT,
)

#: docs/test-cards.md, row by row. The MIT outcome of the ACS-refusing card (a dash in the
#: table: its CIT never succeeds, so no token exists) is "approve" for stored-credential use.
TEST_CARDS: Final[tuple[TestCard, ...]] = (
    TestCard("visa_approved", "4111111111111111", "visa", "any", _A, _A),
    TestCard("visa_3ds_challenge", "4000000000000002", "visa", "any", _C, _A),
    TestCard("visa_3ds_frictionless", "4000000000000010", "visa", "any", _F, _A),
    TestCard("visa_insufficient_funds", "4000000000000028", "visa", "any", _X, _X, _INSUFFICIENT,
             _INSUFFICIENT),
    TestCard("visa_do_not_honour", "4000000000000036", "visa", "any", _X, _X, _DNH, _DNH),
    TestCard("visa_expired_card", "4000000000000044", "visa", "any", _X, _X, _EXPIRED, _EXPIRED),
    TestCard("visa_stolen_card", "4000000000000051", "visa", "any", _X, _X, _STOLEN, _STOLEN),
    TestCard("visa_3ds_refused", "4000000000000069", "visa", "any", _R, _A, _ACS),
    TestCard("visa_timeout", "4000000000000077", "visa", "any", _T, _T),
    TestCard("visa_mit_insufficient_funds", "4000000000000085", "visa", "any", _A, _X, None,
             _INSUFFICIENT),
    TestCard("visa_mit_revoked", "4000000000000093", "visa", "any", _A, _X, None,
             _d("authorization_failed", "Authorization failed: payment stopped", "R1")),
    TestCard("mastercard_approved", "5100000000000008", "mastercard", "any", _A, _A),
    TestCard("mastercard_mit_retry_later", "5100000000000016", "mastercard", "any", _A, _X, None,
             _d("insufficient_funds", "Insufficient funds", "51", "24")),
    TestCard("mastercard_mit_stop", "5100000000000024", "mastercard", "any", _A, _X, None,
             _d("do_not_honour", "Do not honour", "05", "21")),
    TestCard("maestro_approved", "6767700000000005", "maestro", "any", _A, _A),
    TestCard("amex_approved", "378282246310005", "amex", "any", _A, _A),
    TestCard("chip_visa", "4444333322221111", "visa", "123", _A, _A),
    TestCard("chip_mastercard_3ds", "5555555555554444", "mastercard", "123", _C, _A),
    TestCard("guide_visa_3ds", "4000000000001091", "visa", "any", _C, _A),
)  # fmt: skip

#: Stands in for the card when a network-token purchase is submitted without card fields.
NETWORK_TOKEN_CARD: Final = TestCard("network_token", "", "visa", "any", _A, _A)

_BY_NUMBER: Final[dict[str, TestCard]] = {card.number: card for card in TEST_CARDS}
_BY_NAME: Final[dict[str, TestCard]] = {card.key: card for card in TEST_CARDS}
_BY_KEY: Final[dict[str, TestCard]] = {**_BY_NAME, NETWORK_TOKEN_CARD.key: NETWORK_TOKEN_CARD}
_SEPARATORS = re.compile(r"[\s-]")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_EXPIRES = re.compile(r"^(\d{2})/(\d{2})$")
_CVC = re.compile(r"^\d{3,4}$")

_NUMBER_INVALID = _d("validation_card_number_invalid", "Card number is invalid")
_EXPIRES_INVALID = _d("validation_expires_invalid", "Expiry date is invalid or in the past")
_CVC_INVALID = _d("validation_cvc_invalid", "CVC is invalid")


class UnknownTestCard(ValueError):
    """A name that is not one of the test cards; the message lists the valid names."""

    def __init__(self, name: object) -> None:
        # Echoed only when it looks like a name: a card number typed here is never repeated.
        looks_like_name = isinstance(name, str) and _NAME.fullmatch(name) is not None
        shown = repr(name) if looks_like_name else "that value"
        super().__init__(
            f"{shown} is not a sandbox test card; the names are: {', '.join(CARD_NAMES)}"
        )
        self.name = name


#: The names flows, CSVs and the CLI take (docs/test-cards.md), in table order.
CARD_NAMES: Final[tuple[str, ...]] = tuple(card.key for card in TEST_CARDS)


def card_by_name(name: object) -> TestCard:
    """The test card called ``name`` (e.g. ``visa_3ds_challenge``).

    Raises :class:`UnknownTestCard`, whose message lists every valid name, for anything else.
    """
    card = _BY_NAME.get(name) if isinstance(name, str) else None
    if card is None:
        raise UnknownTestCard(name)
    return card


def card_by_key(key: str) -> TestCard:
    """The behaviour of a card the state knows only by its row key (names, and the
    network-token stand-in)."""
    return _BY_KEY[key]


def expiry_passed(exp_month: int, exp_year: int, today: date) -> bool:
    """A card is good through the last day of its expiry month."""
    return (exp_year, exp_month) < (today.year, today.month)


def check_card(
    card_number: object,
    expires: object,
    cvc: object,
    cardholder_name: object,
    *,
    today: date,
    placeholder_cvc_ok: bool = False,
) -> MaskedCard | CardRefusal:
    """Apply the table's rules to a submission; ``today`` is the sandbox clock's date.

    ``placeholder_cvc_ok`` is set for stored-credential, external-3DS and network-token
    purchases, on which a CVC of ``000`` stands in for the one the merchant may not keep.
    """
    number = _SEPARATORS.sub("", card_number) if isinstance(card_number, str) else ""
    card = _BY_NUMBER.get(number) if luhn_valid(number) else None
    if card is None:
        return CardRefusal(_NUMBER_INVALID, "card_number")
    match = _EXPIRES.match(expires.strip()) if isinstance(expires, str) else None
    if match is None or not 1 <= int(match.group(1)) <= 12:
        return CardRefusal(_EXPIRES_INVALID, "expires")
    exp_month, exp_year = int(match.group(1)), 2000 + int(match.group(2))
    if expiry_passed(exp_month, exp_year, today):
        return CardRefusal(_EXPIRES_INVALID, "expires")
    code = cvc.strip() if isinstance(cvc, str) else ""
    placeholder = placeholder_cvc_ok and code == "000"
    if not _CVC.match(code) or (
        card.cvc_rule != "any" and code != card.cvc_rule and not placeholder
    ):
        return CardRefusal(_CVC_INVALID, "cvc")
    name = cardholder_name.strip() if isinstance(cardholder_name, str) else ""
    return MaskedCard(
        key=card.key,
        brand=card.brand,
        masked_pan=card.masked_pan,
        last_4=card.last_4,
        exp_month=exp_month,
        exp_year=exp_year,
        cardholder_name=name,
    )


def network_token_card(network_token: str, cardholder_name: str, today: date) -> MaskedCard:
    """The masked card of a network-token purchase submitted without card fields.

    The token (a DPAN, not the card's PAN) is masked like one; it carries no expiry of its own,
    so the card is taken to be good for three more years.
    """
    digits = _SEPARATORS.sub("", network_token)
    brand = card_brand(digits) if digits.isdigit() else "visa"
    return MaskedCard(
        key=NETWORK_TOKEN_CARD.key,
        brand=brand if brand != "unknown" else "visa",
        masked_pan=mask_pan(digits),
        last_4=digits[-4:],
        exp_month=12,
        exp_year=today.year + 3,
        cardholder_name=cardholder_name.strip(),
    )
