"""The four CSV formats and the checks every row goes through before it may touch the ledger.

Each format is a fixed set of columns (required and optional, any order, header names matched
without regard to case or surrounding spaces). A file is one kind of record, recognised by its
header: the header is the only place where a file can say what it holds, and guessing from the
values would let a file of subscriptions be read as one-off charges.

Parsing a row is pure (no database): it turns text cells into a typed record or raises
:class:`CellError` naming the column. References to other records (a customer, a stored token)
are resolved by the store, chunk by chunk.

Card data never enters: a column named like a card number, CVC or full expiry date makes the
whole file refused (:func:`check_header`), and a cell of any column that holds a card number
(:func:`payflows.domain.screening.contains_card_number`: any separators, any script) is a row
error whose message does not repeat it. No error message quotes a cell; file-level messages go
through :func:`redact`. Numbers are ASCII digits only (``²`` or Arabic-Indic digits are refused),
cells may not hold control characters (NUL...), and no cell may exceed :data:`MAX_CELL_CHARS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from payflows.csvfiles import (
    FileError,
    ImportStopped,
    normalise,
    redact,
    refuse_card_columns,
)
from payflows.domain.cards import luhn_valid
from payflows.domain.money import MAX_CENTS, parse_amount, validate_currency
from payflows.domain.screening import contains_card_number

__all__ = [
    "FORMATS",
    "MAX_CELL_CHARS",
    "CellError",
    "ChargeRow",
    "CustomerRow",
    "FileError",
    "Format",
    "ImportKind",
    "ImportStopped",
    "PaymentMethodRow",
    "SubscriptionRow",
    "check_header",
    "detect_kind",
    "redact",
    "refuse_card_columns",
    "screen_cells",
]

ImportKind = Literal["customers", "payment_methods", "subscriptions", "one_off_charges"]


class CellError(ValueError):
    """One cell is wrong; the row is rejected and the import goes on."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = redact(reason)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class CustomerRow:
    external_id: str
    email: str
    full_name: str
    phone: str | None
    country: str | None


@dataclass(frozen=True, slots=True)
class PaymentMethodRow:
    customer_external_id: str
    recurring_token: str
    network_transaction_id: str | None
    original_amount_cents: int
    currency: str
    brand: str
    masked_pan: str
    expiry_month: int
    expiry_year: int


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    external_id: str
    customer_external_id: str
    recurring_token: str
    plan: str
    amount_cents: int
    currency: str
    interval: str
    interval_count: int
    first_billing_at: datetime


@dataclass(frozen=True, slots=True)
class ChargeRow:
    external_id: str
    customer_external_id: str
    recurring_token: str
    amount_cents: int
    currency: str
    description: str
    charge_on: date


Record = CustomerRow | PaymentMethodRow | SubscriptionRow | ChargeRow

# --------------------------------------------------------------------------- cell checks

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")
_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
_PHONE = re.compile(r"^\+?[0-9]{7,15}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_AMOUNT = re.compile(r"^[0-9]{1,13}(\.[0-9]{1,3})?$")
_MASKED = re.compile(r"^[0-9]{0,6}[*Xx•]{2,13}[0-9]{4}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: The longest cell read at all (longer ones are row errors); every column is far shorter.
MAX_CELL_CHARS = 4096
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
    number (in any column: a card number is card data wherever it is typed)."""
    for column, value in cells.items():
        if len(value) > MAX_CELL_CHARS:
            raise CellError(column, f"{column} is longer than {MAX_CELL_CHARS} characters")
        if _CONTROL.search(value):
            raise CellError(column, f"{column} holds a control character (such as NUL)")
        if contains_card_number(value):
            if column == "masked_pan":
                raise CellError(
                    "masked_pan",
                    "masked_pan holds a full card number; give the masked form "
                    "(444433******1111) and delete this file's copy of the number",
                )
            raise CellError(column, f"{column} contains what looks like a card number; remove it")


def _currency(cells: dict[str, str], column: str = "currency") -> str:
    try:
        return validate_currency(_required(cells, column))
    except ValueError:
        raise CellError(column, "currency must be an active ISO 4217 code such as ZAR") from None


def _amount(cells: dict[str, str], column: str, currency: str, *, zero_ok: bool) -> int:
    text = _required(cells, column).replace(" ", "")
    if text.startswith("-"):
        raise CellError(column, f"{column} must not be negative")
    if not _AMOUNT.match(text):
        raise CellError(column, f"{column} must be a decimal amount such as 199.00")
    try:
        cents = parse_amount(text, currency)
    except ValueError:
        raise CellError(column, f"{column} has more decimals than {currency} allows") from None
    if cents > MAX_CENTS:
        raise CellError(column, f"{column} is too large")
    if cents == 0 and not zero_ok:
        raise CellError(column, f"{column} must be more than zero")
    return cents


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


# --------------------------------------------------------------------------- row parsers


def parse_customer(cells: dict[str, str]) -> CustomerRow:
    screen_cells(cells)
    external_id = _ident(cells, "external_id")
    email = _required(cells, "email").lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise CellError("email", "email is not an email address")
    full_name = _text(cells, "full_name", 200)
    phone = _optional(cells, "phone")
    if phone is not None:
        phone = re.sub(r"[\s().-]", "", phone)
        if not _PHONE.match(phone):
            raise CellError("phone", "phone must be 7 to 15 digits, optionally with a leading +")
    country = _optional(cells, "country")
    if country is not None:
        country = country.upper()
        if not _COUNTRY.match(country):
            raise CellError("country", "country must be an ISO 3166 two-letter code such as ZA")
    return CustomerRow(external_id, email, full_name, phone, country)


def parse_payment_method(cells: dict[str, str]) -> PaymentMethodRow:
    screen_cells(cells)
    customer = _ident(cells, "customer_external_id")
    token = _ident(cells, "recurring_token", 64)
    ntid = _optional(cells, "network_transaction_id")
    if ntid is not None and (len(ntid) > 64 or not _ID.match(ntid)):
        raise CellError(
            "network_transaction_id", "network_transaction_id must be up to 64 letters or digits"
        )
    currency = _currency(cells)
    original = _amount(cells, "original_amount", currency, zero_ok=True)
    brand = _required(cells, "brand").lower()
    if brand not in BRANDS:
        raise CellError("brand", f"brand must be one of {', '.join(sorted(BRANDS))}")
    masked = _masked_pan(cells)
    month = _int(cells, "expiry_month", 1, 12)
    year_text = _required(cells, "expiry_year")
    if year_text.isascii() and year_text.isdigit() and len(year_text) == 2:
        year_text = "20" + year_text
    year = _int({"expiry_year": year_text}, "expiry_year", 2000, 2099)
    return PaymentMethodRow(customer, token, ntid, original, currency, brand, masked, month, year)


def parse_subscription(cells: dict[str, str]) -> SubscriptionRow:
    screen_cells(cells)
    external_id = _ident(cells, "external_id")
    customer = _ident(cells, "customer_external_id")
    token = _ident(cells, "recurring_token", 64)
    plan = _text(cells, "plan", 64)
    currency = _currency(cells)
    amount = _amount(cells, "amount", currency, zero_ok=False)
    interval = _required(cells, "interval").lower()
    if interval not in INTERVALS:
        raise CellError("interval", f"interval must be one of {', '.join(INTERVALS)}")
    count = 1
    if _optional(cells, "interval_count") is not None:
        count = _int(cells, "interval_count", 1, MAX_INTERVAL_COUNT[interval])
    first = _datetime(cells, "first_billing_date")
    return SubscriptionRow(
        external_id, customer, token, plan, amount, currency, interval, count, first
    )


def parse_charge(cells: dict[str, str]) -> ChargeRow:
    screen_cells(cells)
    external_id = _ident(cells, "external_id")
    customer = _ident(cells, "customer_external_id")
    token = _ident(cells, "recurring_token", 64)
    currency = _currency(cells)
    amount = _amount(cells, "amount", currency, zero_ok=False)
    description = _text(cells, "description", 200)
    charge_on = _date(cells, "charge_on")
    return ChargeRow(external_id, customer, token, amount, currency, description, charge_on)


# --------------------------------------------------------------------------- formats


@dataclass(frozen=True)
class Format:
    kind: ImportKind
    required: tuple[str, ...]
    optional: tuple[str, ...]
    parse: object  # Callable[[dict[str, str]], Record]; kept loose for the frozen dataclass
    #: The column that names a record: it may appear once per file.
    key: str = "external_id"

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


FORMATS: dict[ImportKind, Format] = {
    "customers": Format(
        "customers", ("external_id", "email", "full_name"), ("phone", "country"), parse_customer
    ),
    "payment_methods": Format(
        "payment_methods",
        (
            "customer_external_id",
            "recurring_token",
            "original_amount",
            "currency",
            "brand",
            "masked_pan",
            "expiry_month",
            "expiry_year",
        ),
        ("network_transaction_id",),
        parse_payment_method,
        key="recurring_token",
    ),
    "subscriptions": Format(
        "subscriptions",
        (
            "external_id",
            "customer_external_id",
            "recurring_token",
            "plan",
            "amount",
            "currency",
            "interval",
            "first_billing_date",
        ),
        ("interval_count",),
        parse_subscription,
    ),
    "one_off_charges": Format(
        "one_off_charges",
        (
            "external_id",
            "customer_external_id",
            "recurring_token",
            "amount",
            "currency",
            "description",
            "charge_on",
        ),
        (),
        parse_charge,
    ),
}


def check_header(header: list[str], fmt: Format) -> list[str]:
    """The header's column names, normalised; a FileError if it is not exactly ``fmt``'s."""
    refuse_card_columns(header)
    names = [normalise(h) for h in header]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise FileError(f"column {name!r} appears twice in the header")
        seen.add(name)
    missing = [c for c in fmt.required if c not in seen]
    if missing:
        raise FileError(f"{fmt.kind} file lacks column(s): {', '.join(missing)}")
    unknown = [n for n in names if n not in fmt.columns]
    if unknown:
        raise FileError(
            f"unknown column(s) for {fmt.kind}: {', '.join(map(repr, unknown))} "
            f"(allowed: {', '.join(fmt.columns)})"
        )
    return names


def detect_kind(header: list[str]) -> ImportKind:
    """Which format a header belongs to: the one whose required columns it has, most specific."""
    names = {normalise(h) for h in header}
    matches = [f for f in FORMATS.values() if set(f.required) <= names]
    if not matches:
        raise FileError(
            "cannot tell what the file holds from its header; expected the columns of one of: "
            + "; ".join(f"{f.kind} ({', '.join(f.required)})" for f in FORMATS.values())
        )
    best = max(matches, key=lambda f: len(f.required))
    return best.kind
