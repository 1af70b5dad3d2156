"""Card data that cannot leak by accident.

A PAN, CVC or expiry date may pass *through* payflows on its way to Precium but must never rest
anywhere: not in the ledger, a log line, a Prefect parameter or result, an exception message.
``CardData`` makes the safe thing the default. Its ``repr``/``str`` show only the brand and the
masked PAN, it has no ``__dict__`` for a serialiser to walk, and it refuses to be pickled or
copied into JSON, so a careless ``logger.info(card)`` or a Prefect result store cannot write it.
The only way to the raw values is :meth:`CardData.s2s_fields`, called by the gateway client when
it builds the request body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, NoReturn

_DIGITS = re.compile(r"^\d{12,19}$")
_EXPIRES = re.compile(r"^(\d{2})/(\d{2})$")


def luhn_valid(number: str) -> bool:
    """The ISO/IEC 7812 check digit test that every real PAN passes."""
    if not number.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_brand(number: str) -> str:
    """The card scheme by IIN range, as Precium names it (``visa``, ``mastercard``...)."""
    n = number
    if n.startswith("4"):
        return "visa"
    if n[:2] in {"34", "37"}:
        return "amex"
    if n[:2] in {"51", "52", "53", "54", "55"} or (len(n) >= 4 and 2221 <= int(n[:4]) <= 2720):
        return "mastercard"
    if n[:2] in {"50", "56", "57", "58", "63", "67"} or n[:4] in {"6759", "6761"}:
        return "maestro"
    if n.startswith(("6011", "65")):
        return "discover"
    return "unknown"


def mask_pan(number: str) -> str:
    """First six and last four digits, the rest starred: ``444433******1111``."""
    if len(number) < 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


class CardData:
    """A cardholder's card as typed at checkout. Holds the PAN, expiry and CVC in memory only."""

    __slots__ = ("_cardholder_name", "_cvc", "_exp_month", "_exp_year", "_number")

    def __init__(self, number: str, expires: str, cvc: str, cardholder_name: str) -> None:
        digits = re.sub(r"[\s-]", "", number)
        if not _DIGITS.match(digits):
            raise ValueError("card number must be 12 to 19 digits")
        match = _EXPIRES.match(expires.strip())
        if not match or not 1 <= int(match.group(1)) <= 12:
            raise ValueError("expiry must be MM/YY")
        cvc = cvc.strip()
        if not cvc.isdigit() or not 3 <= len(cvc) <= 4:
            raise ValueError("CVC must be 3 or 4 digits")
        if not cardholder_name.strip():
            raise ValueError("cardholder name is required")
        self._number = digits
        self._exp_month = int(match.group(1))
        self._exp_year = 2000 + int(match.group(2))
        self._cvc = cvc
        self._cardholder_name = cardholder_name.strip()

    # -- what may be shown -------------------------------------------------------------------
    @property
    def brand(self) -> str:
        return card_brand(self._number)

    @property
    def masked_pan(self) -> str:
        return mask_pan(self._number)

    @property
    def last_4(self) -> str:
        return self._number[-4:]

    @property
    def exp_month(self) -> int:
        """Expiry month and year are stored by the ledger for stored credentials (not the PAN)."""
        return self._exp_month

    @property
    def exp_year(self) -> int:
        return self._exp_year

    def is_expired(self, today: date) -> bool:
        return (self._exp_year, self._exp_month) < (today.year, today.month)

    def __repr__(self) -> str:
        return f"CardData(brand={self.brand!r}, masked_pan={self.masked_pan!r})"

    __str__ = __repr__

    # -- the one way out ---------------------------------------------------------------------
    def s2s_fields(self) -> dict[str, str]:
        """The fields of an S2S card submission. Only the gateway client should call this."""
        return {
            "cardholder_name": self._cardholder_name,
            "card_number": self._number,
            "expires": f"{self._exp_month:02d}/{self._exp_year % 100:02d}",
            "cvc": self._cvc,
        }

    # -- refuse every way of resting ---------------------------------------------------------
    def __reduce__(self) -> NoReturn:
        raise TypeError("CardData cannot be pickled: card data must never be persisted")

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        self.__reduce__()

    def __copy__(self) -> NoReturn:
        raise TypeError("CardData cannot be copied")

    def __deepcopy__(self, memo: Any) -> NoReturn:
        raise TypeError("CardData cannot be copied")

    def __eq__(self, other: object) -> bool:
        return NotImplemented

    def __hash__(self) -> int:
        """Unhashable, as a class with its own ``__eq__`` is: never a key of a cache or a set."""
        raise TypeError("CardData is not hashable")


@dataclass(frozen=True, slots=True)
class BrowserFingerprint:
    """The shopper's browser as 3-D Secure 2 wants it described. Not sensitive."""

    user_agent: str = "Mozilla/5.0 (X11; Linux x86_64) payflows"
    accept_header: str = "text/html"
    language: str = "en-US"
    java_enabled: bool = False
    javascript_enabled: bool = True
    color_depth: int = 24
    utc_offset: int = 0
    screen_width: int = 1920
    screen_height: int = 1080

    def as_fields(self) -> dict[str, object]:
        return {
            "user_agent": self.user_agent,
            "accept_header": self.accept_header,
            "language": self.language,
            "java_enabled": self.java_enabled,
            "javascript_enabled": self.javascript_enabled,
            "color_depth": self.color_depth,
            "utc_offset": self.utc_offset,
            "screen_width": self.screen_width,
            "screen_height": self.screen_height,
        }
