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
from datetime import date, datetime
from typing import Literal

from payflows.csvfiles import (
    FileError,
    ImportStopped,
    normalise,
    redact,
    refuse_card_columns,
)
from payflows.imports._cells import (
    _COUNTRY,
    _EMAIL,
    _ID,
    _PHONE,
    BRANDS,
    INTERVALS,
    MAX_CELL_CHARS,
    MAX_INTERVAL_COUNT,
    CellError,
    _amount,
    _currency,
    _date,
    _datetime,
    _ident,
    _int,
    _masked_pan,
    _optional,
    _required,
    _text,
    screen_cells,
)

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


# --------------------------------------------------------------------------- records
# Plain slotted dataclasses, read and never changed by the store. Not frozen: a frozen one's
# __init__ sets each field through object.__setattr__, five times the cost of the plain one
# (~0.2 s of CPU per 100k rows, a tenth of an import's; bench/README.md, 2026-12-03).


@dataclass(slots=True)
class CustomerRow:
    external_id: str
    email: str
    full_name: str
    phone: str | None
    country: str | None


@dataclass(slots=True)
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


@dataclass(slots=True)
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


@dataclass(slots=True)
class ChargeRow:
    external_id: str
    customer_external_id: str
    recurring_token: str
    amount_cents: int
    currency: str
    description: str
    charge_on: date


Record = CustomerRow | PaymentMethodRow | SubscriptionRow | ChargeRow

# --------------------------------------------------------------------------- row parsers


def parse_customer(cells: dict[str, str]) -> CustomerRow:
    """The row's record, every cell screened first (:func:`screen_cells`)."""
    screen_cells(cells)
    return _read_customer(cells)


def _read_customer(cells: dict[str, str]) -> CustomerRow:
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
    """The row's record, every cell screened first (:func:`screen_cells`)."""
    screen_cells(cells)
    return _read_payment_method(cells)


def _read_payment_method(cells: dict[str, str]) -> PaymentMethodRow:
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
    """The row's record, every cell screened first (:func:`screen_cells`)."""
    screen_cells(cells)
    return _read_subscription(cells)


def _read_subscription(cells: dict[str, str]) -> SubscriptionRow:
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
    """The row's record, every cell screened first (:func:`screen_cells`)."""
    screen_cells(cells)
    return _read_charge(cells)


def _read_charge(cells: dict[str, str]) -> ChargeRow:
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
    #: ``parse`` without its :func:`screen_cells`: for cells :func:`payflows.csvfiles.records`
    #: has screened already (each cell is checked once).
    read_screened: object
    #: The column that names a record: it may appear once per file.
    key: str = "external_id"

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


FORMATS: dict[ImportKind, Format] = {
    "customers": Format(
        "customers",
        ("external_id", "email", "full_name"),
        ("phone", "country"),
        parse_customer,
        _read_customer,
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
        _read_payment_method,
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
        _read_subscription,
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
        _read_charge,
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
