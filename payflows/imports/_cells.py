"""The checks of single CSV cells, shared by the four row parsers of :mod:`.formats`.

Each check reads one column of a row's cells and returns its value, typed, or raises
:class:`CellError` naming the column. No message quotes the cell (it could hold card data typed
into the wrong column); :func:`screen_cells` refuses any cell that holds a card number, a control
character or more than :data:`MAX_CELL_CHARS` characters before any other check reads it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from payflows.csvfiles import MAX_CELL_CHARS, redact, row_problem
from payflows.domain.cards import luhn_valid
from payflows.domain.money import MAX_CENTS, exponent, validate_currency

__all__ = [
    "BRANDS",
    "INTERVALS",
    "MAX_CELL_CHARS",
    "MAX_INTERVAL_COUNT",
    "CellError",
    "screen_cells",
]


class CellError(ValueError):
    """One cell is wrong; the row is rejected and the import goes on."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = redact(reason)


_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")
_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
_PHONE = re.compile(r"^\+?[0-9]{7,15}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_AMOUNT = re.compile(r"^[0-9]{1,13}(\.[0-9]{1,3})?$")
#: Digits in groups of three after the first 1-3, one space between groups (``1 234.56``).
_SPACED = re.compile(r"^-?[0-9]{1,3}(?: [0-9]{3})+(?:\.[0-9]{1,3})?$")
_MASKED = re.compile(r"^[0-9]{0,6}[*Xx•]{2,13}[0-9]{4}$")
#: Dates outside these years are typos (or attempts to overflow a date-time).
_FIRST_YEAR, _LAST_YEAR = 2000, 2099
BRANDS = frozenset({"visa", "mastercard", "amex", "maestro", "discover", "diners", "unknown"})
INTERVALS = ("day", "week", "month", "year")
#: Cap on interval_count: a subscription billed less than once in five years is a typo.
MAX_INTERVAL_COUNT = {"day": 365, "week": 260, "month": 60, "year": 5}


def _required(cells: dict[str, str], column: str) -> str:
    value = cells.get(column, "").strip()
    if not value:
        raise CellError(column, f"{column} is required")
    return value


def _optional(cells: dict[str, str], column: str) -> str | None:
    value = cells.get(column, "").strip()
    return value or None


def _ident(cells: dict[str, str], column: str, max_len: int = 128) -> str:
    value = _required(cells, column)
    if len(value) > max_len:
        raise CellError(column, f"{column} is longer than {max_len} characters")
    if not _ID.match(value):
        raise CellError(
            column, f"{column} may hold letters, digits and . _ : / @ + - only (no spaces)"
        )
    return value


def _text(cells: dict[str, str], column: str, max_len: int) -> str:
    value = " ".join(_required(cells, column).split())
    if len(value) > max_len:
        raise CellError(column, f"{column} is longer than {max_len} characters")
    return value


def screen_cells(cells: dict[str, str]) -> None:
    """A CellError for the first cell that is too long, holds a control character or a card
    number (:func:`payflows.csvfiles.row_problem`; in any column)."""
    problem = row_problem(list(cells), list(cells.values()))
    if problem is not None:
        raise CellError(*problem)


def _currency(cells: dict[str, str], column: str = "currency") -> str:
    try:
        return validate_currency(_required(cells, column))
    except ValueError:
        raise CellError(column, "currency must be an active ISO 4217 code such as ZAR") from None


def _amount(cells: dict[str, str], column: str, currency: str, *, zero_ok: bool) -> int:
    given = _required(cells, column)
    if " " in given and not _SPACED.match(given):
        # A space only between groups of three: "1 5" is not 15.
        raise CellError(column, f"{column} must be a decimal amount such as 1 234.00")
    text = given.replace(" ", "")
    if text.startswith("-"):
        raise CellError(column, f"{column} must not be negative")
    if not _AMOUNT.match(text):
        raise CellError(column, f"{column} must be a decimal amount such as 199.00")
    cents = _cents(text, currency)
    if cents is None:
        raise CellError(column, f"{column} has more decimals than {currency} allows")
    if cents > MAX_CENTS:
        raise CellError(column, f"{column} is too large")
    if cents == 0 and not zero_ok:
        raise CellError(column, f"{column} must be more than zero")
    return cents


def _cents(text: str, currency: str) -> int | None:
    """``text`` (already matched by ``_AMOUNT``: ASCII digits, one optional point) in minor
    units by integer arithmetic, or None when it has more decimals than ``currency`` allows
    (zeros too): what :func:`payflows.domain.money.parse_amount` answers, without a Decimal a
    row."""
    whole, _, frac = text.partition(".")
    exp = exponent(currency)
    if len(frac) > exp:  # zeros too: "1.500" ZAR may be 1500 written with a thousands point
        return None
    return int(whole + frac.ljust(exp, "0"))


def _int(cells: dict[str, str], column: str, low: int, high: int) -> int:
    text = _required(cells, column)
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or not low <= int(text) <= high:
        raise CellError(column, f"{column} must be a whole number from {low} to {high}")
    return int(text)


def _in_range(column: str, year: int) -> None:
    if not _FIRST_YEAR <= year <= _LAST_YEAR:
        raise CellError(column, f"{column} must be between {_FIRST_YEAR} and {_LAST_YEAR}")


def _date(cells: dict[str, str], column: str) -> date:
    text = _required(cells, column)
    try:
        if not text.isascii():
            raise ValueError(text)
        value = date.fromisoformat(text)
    except ValueError:
        raise CellError(column, f"{column} must be an ISO date YYYY-MM-DD") from None
    _in_range(column, value.year)
    return value


def _datetime(cells: dict[str, str], column: str) -> datetime:
    """A date means midnight UTC; a datetime without offset is UTC; an offset is converted."""
    text = _required(cells, column)
    try:
        if not text.isascii():
            raise ValueError(text)
        if len(text) == 10:
            day = date.fromisoformat(text)
            value = datetime(day.year, day.month, day.day, tzinfo=UTC)
        else:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CellError(
            column, f"{column} must be an ISO date or date-time, e.g. 2026-12-01"
        ) from None
    # Checked before converting: 9999-12-31T23:00:00-10:00 is valid but overflows in UTC.
    _in_range(column, value.year)
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    _in_range(column, value.year)
    return value


def _masked_pan(cells: dict[str, str]) -> str:
    value = _required(cells, "masked_pan").replace(" ", "").replace("-", "")
    if value.isdigit() or not value.isascii():
        # Never echo it: this is very likely a real card number.
        if 12 <= len(value) <= 19 and luhn_valid(value):
            raise CellError(
                "masked_pan",
                "masked_pan holds a full card number; give the masked form (444433******1111) "
                "and delete this file's copy of the number",
            )
        raise CellError("masked_pan", "masked_pan must be masked, e.g. 444433******1111")
    if not _MASKED.match(value) or len(value) > 19:
        raise CellError(
            "masked_pan", "masked_pan must look like 444433******1111 (first 6, stars, last 4)"
        )
    return value.replace("X", "*").replace("x", "*").replace("•", "*")
