"""The common shape of a row, read with one pattern match: the fast path of :mod:`.formats`.

Nearly every row of a billing file is plain: ASCII identifiers, a decimal amount, an ISO date,
printable text with single spaces. For such a row one compiled pattern over its cells (joined as
:func:`payflows.csvfiles.row_problem` joins them, each opened by ``\\x1f``) checks the shape of
every cell at once, in C, and a few lines of Python turn the captured text into the record; the
per-cell helper calls of the parsers (a dozen function calls and a dict per row) cost more than
everything else the reading does.

The fast path only ever answers "this record", and only when the full path would give the very
same record; anything else is ``None`` and the row goes the full way (card-number screening of
every cell, then the parser of :mod:`.formats`, which names the column and the reason):

- every pattern admits printable ASCII only (no control character, no ``\\x1f``, no space at
  either end of a cell) and bounds each cell far below :data:`MAX_CELL_CHARS`, so the screening's
  other checks would pass; a row with a cell of twelve digits or more (all a card number needs) is
  never taken here (each cell's pattern refuses twelve digits, the test
  :func:`payflows.csvfiles.has_twelve_digit_cell` makes of a row), so
  :func:`payflows.csvfiles.cell_problem` stays the only judge of those;
- what a pattern cannot say (an active currency, an amount's decimals, a day that exists, a
  range) is checked by the same rules the parsers use, and a failure means "the full way".

``tests/unit/imports/test_fast_rows.py`` compares the two paths on hostile and plain rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from payflows.domain.money import ISO_4217, MAX_CENTS
from payflows.imports._cells import (
    _FIRST_YEAR,
    _LAST_YEAR,
    BRANDS,
    INTERVALS,
    MAX_INTERVAL_COUNT,
    _cents,
)
from payflows.imports.formats import (
    ChargeRow,
    CustomerRow,
    Format,
    PaymentMethodRow,
    SubscriptionRow,
)

__all__ = ["fast_reader"]

#: One row's cells to its record, or None for "take the full path".
FastReader = Callable[[list[str]], Any]

_SEP = "\x1f"


def _ident(max_len: int) -> str:
    return rf"[A-Za-z0-9][A-Za-z0-9._:/@+-]{{0,{max_len - 1}}}"


_AMOUNT = r"[0-9]{1,13}(?:\.[0-9]{1,3})?"
_DAY = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
#: Printable ASCII, single spaces inside, none at either end: what ``" ".join(text.split())``
#: leaves as it is. Lengths are checked by the builders.
_TEXT = r"[!-~](?: ?[!-~])*"
_INT = r"[0-9]{1,9}"

#: The shape of each column's cell in the common case (the same column means the same thing in
#: every format). An optional column may also be empty.
_SHAPES = {
    "external_id": _ident(128),
    "customer_external_id": _ident(128),
    "recurring_token": _ident(64),
    "network_transaction_id": f"(?:{_ident(64)})?",
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+",
    "full_name": _TEXT,
    "phone": r"[0-9+() .-]{0,40}",
    "country": r"(?:[A-Z]{2})?",
    "original_amount": _AMOUNT,
    "amount": _AMOUNT,
    "currency": r"[A-Z]{3}",
    "brand": r"[a-z]{1,12}",
    "masked_pan": r"[0-9]{0,6}[*Xx]{2,13}[0-9]{4}",
    "expiry_month": _INT,
    "expiry_year": _INT,
    "plan": _TEXT,
    "interval": "|".join(INTERVALS),
    "interval_count": f"(?:{_INT})?",
    "first_billing_date": _DAY,
    "description": _TEXT,
    "charge_on": _DAY,
}


#: Columns whose shape admits eleven digits at most (a card number needs twelve or more):
#: codes, small integers, dates and the masked number (six and four digits). Every other column's
#: cell is refused by the pattern itself when it holds twelve digits (:data:`_NO_TWELVE_DIGITS`),
#: which is what :func:`payflows.csvfiles.has_twelve_digit_cell` tells of the row, in the same pass.
_FEW_DIGITS = frozenset(
    {
        "country",
        "currency",
        "brand",
        "masked_pan",
        "expiry_month",
        "expiry_year",
        "interval",
        "interval_count",
        "first_billing_date",
        "charge_on",
    }
)
#: At the start of a cell: not twelve digits before the next cell (the ``\x1f`` mark).
_NO_TWELVE_DIGITS = r"(?!(?:[^0-9\x1f]*+[0-9]){12})"


def _cell(name: str) -> str:
    """The pattern of one cell of column ``name``, its mark included, its value a group."""
    guard = "" if name in _FEW_DIGITS else _NO_TWELVE_DIGITS
    return f"{_SEP}{guard}({_SHAPES[name]})"


def fast_reader(fmt: Format, names: Sequence[str]) -> FastReader:
    """The fast path for a file of ``fmt`` whose header is ``names`` (normalised, checked).

    The pattern follows the header's order; the captured cells are handed to the builder in
    the format's own column order (an optional column the file lacks reads as empty).
    """
    pattern = re.compile("".join(_cell(name) for name in names) + "()", re.ASCII)
    absent = len(names) + 1  # the trailing empty group
    order = [names.index(c) + 1 if c in names else absent for c in fmt.columns]
    build = _BUILDERS[fmt.kind]
    match = pattern.fullmatch

    width = len(names)

    def read(cells: list[str]) -> Any:
        if len(cells) != width:
            return None
        # With the width right, a cell holding the separator itself shows as one cell too many.
        joined = _SEP + _SEP.join(cells)
        found = match(joined)  # no cell with twelve digits either (see _cell)
        if found is None:
            return None
        return build(found.group(*order))

    return read


# --------------------------------------------------------------------------- values

_PHONE_JUNK = re.compile(r"[\s().-]")
_MEMO_SIZE = 4096
_days: dict[str, date | None] = {}
_midnights: dict[str, datetime | None] = {}


def _day(text: str) -> date | None:
    """``YYYY-MM-DD`` (already matched) as a date in the accepted years, or None."""
    try:
        return _days[text]
    except KeyError:
        pass
    try:
        value: date | None = date.fromisoformat(text)
    except ValueError:
        value = None
    if value is not None and not _FIRST_YEAR <= value.year <= _LAST_YEAR:
        value = None
    if len(_days) >= _MEMO_SIZE:  # a file has few distinct days; the memo stays small
        _days.clear()
    _days[text] = value
    return value


def _midnight(text: str) -> datetime | None:
    """``YYYY-MM-DD`` as midnight UTC, as the parser reads a date given for a date-time."""
    try:
        return _midnights[text]
    except KeyError:
        pass
    day = _day(text)
    value = None if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC)
    if len(_midnights) >= _MEMO_SIZE:
        _midnights.clear()
    _midnights[text] = value
    return value


def _money(text: str, currency: str, *, zero_ok: bool) -> int | None:
    """Cents of an amount (already matched) in an active ``currency``, as the parser counts."""
    whole, _, frac = text.partition(".")
    if len(frac) == ISO_4217[currency]:  # as many decimals as the currency has: the usual case
        cents: int | None = int(whole + frac)
    else:
        cents = _cents(text, currency)
    if cents is None or cents > MAX_CENTS or (cents == 0 and not zero_ok):
        return None
    return cents


# --------------------------------------------------------------------------- builders
# Each takes the cells in the format's column order (required, then optional) and returns the
# record, or None when a rule the pattern cannot express fails.


def _customer(v: tuple[str, ...]) -> CustomerRow | None:
    external_id, email, full_name, phone_text, country = v
    if len(email) > 254 or len(full_name) > 200:
        return None
    # The parser strips the cell, drops spaces, brackets, dots and dashes, then wants an optional
    # "+" and 7 to 15 digits; the cell holds none but those characters (its pattern).
    phone: str | None = phone_text.replace(" ", "")
    if phone:
        digits = phone[1:] if phone.startswith("+") else phone
        if not digits.isdigit():  # brackets, dots or dashes: taken out as the parser does
            phone = _PHONE_JUNK.sub("", phone)
            digits = phone[1:] if phone.startswith("+") else phone
        if not (digits.isdigit() and 7 <= len(digits) <= 15):
            return None
    else:
        phone = None
    return CustomerRow(external_id, email.lower(), full_name, phone, country or None)


def _payment_method(v: tuple[str, ...]) -> PaymentMethodRow | None:
    customer, token, amount, currency, brand, masked, month, year_text, ntid = v
    if currency not in ISO_4217 or brand not in BRANDS or len(masked) > 19:
        return None
    original = _money(amount, currency, zero_ok=True)
    expiry_month = int(month)
    if len(year_text) == 2:
        year_text = "20" + year_text
    year = int(year_text)
    if original is None or not 1 <= expiry_month <= 12 or not 2000 <= year <= 2099:
        return None
    masked = masked.replace("X", "*").replace("x", "*")
    return PaymentMethodRow(
        customer, token, ntid or None, original, currency, brand, masked, expiry_month, year
    )


def _subscription(v: tuple[str, ...]) -> SubscriptionRow | None:
    external_id, customer, token, plan, amount, currency, interval, first, count_text = v
    if len(plan) > 64 or currency not in ISO_4217:
        return None
    cents = _money(amount, currency, zero_ok=False)
    count = int(count_text) if count_text else 1
    at = _midnight(first)
    if cents is None or at is None or not 1 <= count <= MAX_INTERVAL_COUNT[interval]:
        return None
    return SubscriptionRow(external_id, customer, token, plan, cents, currency, interval, count, at)


def _charge(v: tuple[str, ...]) -> ChargeRow | None:
    external_id, customer, token, amount, currency, description, charge_on = v
    if len(description) > 200 or currency not in ISO_4217:
        return None
    cents = _money(amount, currency, zero_ok=False)
    day = _day(charge_on)
    if cents is None or day is None:
        return None
    return ChargeRow(external_id, customer, token, cents, currency, description, day)


_BUILDERS: dict[str, Callable[[tuple[str, ...]], Any]] = {
    "customers": _customer,
    "payment_methods": _payment_method,
    "subscriptions": _subscription,
    "one_off_charges": _charge,
}
