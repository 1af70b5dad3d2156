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
#: Digits in groups of three after the first 1-3, each group after one separator of one kind
#: for the whole number: all commas or all spaces (``1,000 000`` is two numbers to a reader).
_GROUPED = re.compile(r"^[+-]?\d{1,3}(?P<sep>[, ])\d{3}(?:(?P=sep)\d{3})*(?:\.\d*)?$")

#: The largest amount payflows handles, in minor units: far above any card payment, far below
#: what a signed 64-bit column holds (a 30-digit amount is refused, not overflowed).
MAX_CENTS = 10**15 - 1
#: The most a flow's flat form (the Prefect UI, ``payflows run``, the web checkout) carries, in
#: minor units: 11 digits. The shortest card number has 12, so no form amount, as text or as
#: cents, can ever look like one to the card screening (:mod:`payflows.domain.screening`).
FORM_MAX_CENTS = 10**11 - 1
#: The most digits a form's amount has, decimals and leading zeros included: 11.
FORM_AMOUNT_DIGITS = len(str(FORM_MAX_CENTS))
#: The most decimals a form's amount has in any currency (three: BHD, KWD...).
FORM_MAX_DECIMALS = max(ISO_4217.values())
#: A form's amount: ASCII digits and at most one point between digits. No sign, and no grouping:
#: "1,500" is 1.5 to a decimal-comma reader and 1500 to others, and spaces join a card
#: number's digits as well as a thousand's.
_FORM_AMOUNT = re.compile(r"^([0-9]+)(?:\.([0-9]+))?$")
#: What a form says of a text that is not an amount.
FORM_SHAPE = "not an amount: write it like 199.99 (no sign, no commas, no spaces)"
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
        if "," in stripped and " " in stripped:
            raise ValueError(
                "not an amount: one kind of separator between thousands (1 234 567 or 1,234,567)"
            )
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


def check_form_amount(text: str, currency: str | None = None) -> str:
    """``text`` stripped when a form may carry it as an amount, else ValueError with the reason.

    The one rule of every amount typed in a form (a flow's form, ``payflows run``, the operator
    pages, ``payflows web order``): plain digits with at most one point (:data:`FORM_SHAPE`), no
    more decimals than ``currency`` has (than any currency has without one), and at most
    :data:`FORM_AMOUNT_DIGITS` digits in all, leading zeros included: no amount a form takes is
    a card number's length (12 digits or more). The reasons come in that order, so a long text
    is "too large" only when its value is. Messages never repeat the text. ``currency`` must be
    valid already (:func:`validate_currency`).
    """
    stripped = text.strip()
    shape = _FORM_AMOUNT.match(stripped)
    if shape is None:
        raise ValueError(FORM_SHAPE)
    whole, decimals = shape.group(1), shape.group(2) or ""
    places = FORM_MAX_DECIMALS if currency is None else exponent(currency)
    if len(decimals) > places:  # zeros too, as parse_amount: "1.000" may be a thousand
        which = "any currency" if currency is None else currency
        raise ValueError(f"the amount has more decimals than {which} allows")
    significant = whole.lstrip("0")
    # No figure in the messages: logs hide a long one as a card number.
    before = FORM_AMOUNT_DIGITS - (0 if currency is None else places)
    if len(significant) > before:
        where = "" if currency is None else f" in {currency}"
        raise ValueError(f"too large: at most {before} digits before the point{where}")
    if len(significant) + len(decimals) > FORM_AMOUNT_DIGITS:
        # Without a currency only: with one, its decimals and digits before the point add up
        # to 11 at most. Too large where the decimals are the currency's, too many decimals
        # where they are not.
        raise ValueError(f"too many digits: at most {FORM_AMOUNT_DIGITS} in all, decimals included")
    if len(whole) + len(decimals) > FORM_AMOUNT_DIGITS:
        raise ValueError(
            f"too many digits: at most {FORM_AMOUNT_DIGITS} in all (write it without leading zeros)"
        )
    return stripped


def parse_form_amount(text: str, currency: str) -> int:
    """An amount typed in a form in minor units of ``currency``: :func:`check_form_amount`'s
    rule, then more than zero (at most :data:`FORM_MAX_CENTS` by that rule). ValueError with the
    reason otherwise, never repeating the text."""
    code = validate_currency(currency)
    cents = parse_amount(check_form_amount(text, code), code)
    if cents <= 0:
        raise ValueError("must be more than zero")
    return cents


def format_amount(cents: int, currency: str) -> str:
    """Format minor units for people: ``R 1 234.56``, ``-R 10.00``, ``JPY 500``."""
    exp = exponent(currency)
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 10**exp) if exp else (abs(cents), 0)
    grouped = f"{whole:,}".replace(",", " ")
    body = f"{grouped}.{frac:0{exp}d}" if exp else grouped
    symbol = _SYMBOL.get(currency.upper(), currency.upper())
    return f"{sign}{symbol} {body}"
