"""Money as integer minor units with an ISO 4217 currency.

Floats never hold an amount: a float cannot represent R 0.10 exactly, and a rounding error in
a refund or a partial capture is a real loss. Parsing and formatting go through ``Decimal``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from payflows.domain.currencies import ISO_4217

# Plain decimals only: no exponents, NaN or Infinity (Decimal would accept all three).
_AMOUNT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
#: Digits in groups of three after the first 1-3, each group after one comma or space.
_GROUPED = re.compile(r"^[+-]?\d{1,3}(?:[, ]\d{3})+(?:\.\d*)?$")

#: The largest amount payflows handles, in minor units: far above any card payment, far below
#: what a signed 64-bit column holds (a 30-digit amount is refused, not overflowed).
MAX_CENTS = 10**15 - 1
#: The most a flow's flat form (the Prefect UI, ``payflows run``, the web checkout) carries, in
#: minor units: 11 digits. The shortest card number has 12, so no form amount, as text or as
#: cents, can ever look like one to the card screening (:mod:`payflows.domain.screening`).
FORM_MAX_CENTS = 10**11 - 1
_SYMBOL: dict[str, str] = {"ZAR": "R", "USD": "$", "EUR": "€", "GBP": "£", "MYR": "RM"}


def validate_currency(code: str) -> str:
    """``code`` upper-cased when it is an active ISO 4217 currency, else ValueError.

    The message does not repeat the value (it may be anything a user typed).
    """
    upper = code.strip().upper() if isinstance(code, str) else ""
    if upper not in ISO_4217:
        raise ValueError("currency must be an active ISO 4217 code such as ZAR, USD or EUR")
    return upper


def exponent(currency: str) -> int:
    """Decimals of the currency's minor unit (2 for a code outside the table)."""
    return ISO_4217.get(currency.upper(), 2)


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units (cents) of one currency."""

    cents: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.cents, bool) or not isinstance(self.cents, int):
            raise TypeError(f"Money.cents must be an int, got {type(self.cents).__name__}")
        object.__setattr__(self, "currency", validate_currency(self.currency))

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.cents + other.cents, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.cents - other.cents, self.currency)

    def __str__(self) -> str:
        return format_amount(self.cents, self.currency)


def parse_amount(text: str, currency: str) -> int:
    """Parse a human amount such as ``"1 234.56"`` or ``"299"`` into minor units.

    Refuses more decimals than the currency has rather than rounding them away, digits of other
    scripts, and anything beyond :data:`MAX_CENTS`. Messages never repeat the text.
    """
    stripped = text.strip()
    if len(stripped) > 40 or not stripped.isascii():
        raise ValueError("not an amount: write it like 199.99")
    if "," in stripped or " " in stripped:
        # Separators only between groups of three: "1,5" or "1,50" is a decimal comma, which
        # stripping would read as 15 or 150.
        if not _GROUPED.match(stripped):
            raise ValueError("not an amount: write it like 1 234.56 (a point before decimals)")
        if "." not in stripped and exponent(currency) == 3:
            # "1,500" BHD: 1500.000 to some readers, 1.500 to others (decimal comma).
            raise ValueError(f"ambiguous in {currency}: write it without separators")
    cleaned = stripped.replace(" ", "").replace(",", "")
    if not _AMOUNT.match(cleaned):
        raise ValueError("not an amount: write it like 199.99")
    if "." in cleaned and len(cleaned.split(".", 1)[1]) > exponent(currency):
        # Checked on the text, not the value: "1.000" JPY or "1.500" ZAR is a point between
        # thousands to many writers, and reading it as 1 or 1.50 would charge a thousandth.
        raise ValueError(f"the amount has more decimals than {currency} allows")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already refused it
        raise ValueError("not an amount: write it like 199.99") from exc
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"the amount has more decimals than {currency} allows")
    if abs(scaled) > MAX_CENTS:
        # No figure in the message: a long one would be hidden as a card number in logs.
        digits = len(str(MAX_CENTS)) - exponent(currency)
        raise ValueError(
            f"the amount is too large: {currency} has at most {digits} digits before the point"
        )
    return int(scaled)


def format_amount(cents: int, currency: str) -> str:
    """Format minor units for people: ``R 1 234.56``, ``-R 10.00``, ``JPY 500``."""
    exp = exponent(currency)
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 10**exp) if exp else (abs(cents), 0)
    grouped = f"{whole:,}".replace(",", " ")
    body = f"{grouped}.{frac:0{exp}d}" if exp else grouped
    symbol = _SYMBOL.get(currency.upper(), currency.upper())
    return f"{sign}{symbol} {body}"
