"""Row and header checks, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from payflows.imports.formats import (
    FORMATS,
    CellError,
    FileError,
    check_header,
    detect_kind,
    parse_charge,
    parse_customer,
    parse_payment_method,
    parse_subscription,
    redact,
    refuse_card_columns,
)

FULL_PAN = "4111111111111111"

CUSTOMER = {
    "external_id": "cust-1",
    "email": "Thandi@Example.co.za",
    "full_name": "  Thandi   Nkosi ",
    "phone": "+27 82 555 0101",
    "country": "za",
}
METHOD = {
    "customer_external_id": "cust-1",
    "recurring_token": "tok_1",
    "network_transaction_id": "NTI1",
    "original_amount": "1 250.50",
    "currency": "zar",
    "brand": "Visa",
    "masked_pan": "411111******1111",
    "expiry_month": "08",
    "expiry_year": "28",
}
SUBSCRIPTION = {
    "external_id": "sub-1",
    "customer_external_id": "cust-1",
    "recurring_token": "tok_1",
    "plan": "Fibre",
    "amount": "199.00",
    "currency": "ZAR",
    "interval": "Month",
    "interval_count": "",
    "first_billing_date": "2026-12-01",
}
CHARGE = {
    "external_id": "inv-1",
    "customer_external_id": "cust-1",
    "recurring_token": "tok_1",
    "amount": "850",
    "currency": "ZAR",
    "description": "Router installation",
    "charge_on": "2026-12-02",
}


def test_good_rows_parse_to_typed_records() -> None:
    c = parse_customer(CUSTOMER)
    assert (c.email, c.full_name, c.phone, c.country) == (
        "thandi@example.co.za",
        "Thandi Nkosi",
        "+27825550101",
        "ZA",
    )
    m = parse_payment_method(METHOD)
    assert (m.original_amount_cents, m.currency, m.brand, m.expiry_year) == (
        125050,
        "ZAR",
        "visa",
        2028,
    )
    s = parse_subscription(SUBSCRIPTION)
    assert s.amount_cents == 19900 and isinstance(s.amount_cents, int)
    assert (s.interval, s.interval_count) == ("month", 1)
    assert s.first_billing_at == datetime(2026, 12, 1, tzinfo=UTC)
    ch = parse_charge(CHARGE)
    assert (ch.amount_cents, ch.charge_on) == (85000, date(2026, 12, 2))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T06:00:00+02:00", datetime(2026, 12, 1, 4, tzinfo=UTC)),
        ("2026-12-01T06:00:00Z", datetime(2026, 12, 1, 6, tzinfo=UTC)),
        ("2026-12-01T06:00:00", datetime(2026, 12, 1, 6, tzinfo=UTC)),
        ("2026-12-01 06:00", datetime(2026, 12, 1, 6, tzinfo=UTC)),
    ],
)
def test_first_billing_date_is_utc(text: str, expected: datetime) -> None:
    assert (
        parse_subscription({**SUBSCRIPTION, "first_billing_date": text}).first_billing_at
        == expected
    )


def _error(parse, row: dict[str, str], **changes: str) -> CellError:
    with pytest.raises(CellError) as info:
        parse({**row, **changes})
    return info.value


@pytest.mark.parametrize(
    ("changes", "column", "words"),
    [
        ({"external_id": ""}, "external_id", "required"),
        ({"external_id": "has space"}, "external_id", "no spaces"),
        ({"external_id": "x" * 129}, "external_id", "longer than 128"),
        ({"email": "not-an-email"}, "email", "not an email"),
        ({"full_name": ""}, "full_name", "required"),
        ({"full_name": "n" * 201}, "full_name", "longer than 200"),
        ({"phone": "call me"}, "phone", "7 to 15 digits"),
        ({"country": "ZAF"}, "country", "two-letter"),
    ],
)
def test_customer_cell_errors(changes: dict[str, str], column: str, words: str) -> None:
    error = _error(parse_customer, CUSTOMER, **changes)
    assert error.column == column and words in error.reason


@pytest.mark.parametrize(
    ("changes", "column", "words"),
    [
        ({"customer_external_id": ""}, "customer_external_id", "required"),
        ({"recurring_token": "t" * 65}, "recurring_token", "longer than 64"),
        ({"network_transaction_id": "a b"}, "network_transaction_id", "64 letters"),
        ({"original_amount": "12.345"}, "original_amount", "more decimals"),
        ({"original_amount": "1.500"}, "original_amount", "more decimals"),  # not R1.50
        ({"original_amount": "1 5"}, "original_amount", "decimal amount"),  # not 15
        ({"original_amount": "abc"}, "original_amount", "decimal amount"),
        ({"original_amount": "1e3"}, "original_amount", "decimal amount"),
        ({"original_amount": "NaN"}, "original_amount", "decimal amount"),
        ({"original_amount": "Infinity"}, "original_amount", "decimal amount"),
        ({"original_amount": "-5"}, "original_amount", "negative"),
        ({"currency": "RAND"}, "currency", "ISO 4217"),
        ({"brand": "bankcard"}, "brand", "one of"),
        ({"masked_pan": "4111-1111"}, "masked_pan", "masked"),
        ({"masked_pan": "1111"}, "masked_pan", "masked"),
        ({"expiry_month": "13"}, "expiry_month", "1 to 12"),
        ({"expiry_month": "x"}, "expiry_month", "1 to 12"),
        ({"expiry_year": "1999"}, "expiry_year", "2000 to 2099"),
    ],
)
def test_payment_method_cell_errors(changes: dict[str, str], column: str, words: str) -> None:
    error = _error(parse_payment_method, METHOD, **changes)
    assert error.column == column and words in error.reason


@pytest.mark.parametrize("pan", [FULL_PAN, "4111 1111 1111 1111", "4111-1111-1111-1111"])
def test_a_full_pan_in_masked_pan_is_a_row_error_that_never_echoes_it(pan: str) -> None:
    error = _error(parse_payment_method, METHOD, masked_pan=pan)
    assert error.column == "masked_pan" and "full card number" in error.reason
    assert "1111111" not in str(error) and "1111111" not in error.reason


def test_a_card_number_in_free_text_is_refused_without_echo() -> None:
    error = _error(parse_charge, CHARGE, description=f"paid with {FULL_PAN}")
    assert error.column == "description" and FULL_PAN not in error.reason


@pytest.mark.parametrize(
    ("changes", "column", "words"),
    [
        ({"amount": "0.00"}, "amount", "more than zero"),
        ({"amount": ""}, "amount", "required"),
        ({"interval": "fortnight"}, "interval", "one of"),
        ({"interval_count": "0"}, "interval_count", "from 1 to 60"),
        ({"interval_count": "61"}, "interval_count", "from 1 to 60"),
        ({"interval_count": "1.5"}, "interval_count", "whole number"),
        ({"first_billing_date": "31/12/2026"}, "first_billing_date", "ISO date"),
        ({"first_billing_date": "2026-02-30"}, "first_billing_date", "ISO date"),
        ({"plan": ""}, "plan", "required"),
    ],
)
def test_subscription_cell_errors(changes: dict[str, str], column: str, words: str) -> None:
    error = _error(parse_subscription, SUBSCRIPTION, **changes)
    assert error.column == column and words in error.reason


@pytest.mark.parametrize(
    ("changes", "column"),
    [
        ({"charge_on": "2026-12-02T10:00:00"}, "charge_on"),
        ({"description": ""}, "description"),
        ({"amount": "-1"}, "amount"),
        ({"currency": ""}, "currency"),
    ],
)
def test_charge_cell_errors(changes: dict[str, str], column: str) -> None:
    assert _error(parse_charge, CHARGE, **changes).column == column


def test_redact_hides_long_digit_runs_only() -> None:
    assert redact(f"got {FULL_PAN!r}") == "got '[digits hidden]'"
    assert redact("got '4111 1111 1111 1111'") == "got '[digits hidden]'"
    assert redact("line 12 of 2026-12-01 costs 199.00") == "line 12 of 2026-12-01 costs 199.00"


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        (["external_id", "email", "full_name"], "customers"),
        (["EMAIL ", "\ufeffexternal_id", "full_name", "country"], "customers"),
        (list(FORMATS["payment_methods"].required), "payment_methods"),
        (list(FORMATS["subscriptions"].columns), "subscriptions"),
        (list(FORMATS["one_off_charges"].required), "one_off_charges"),
    ],
)
def test_kind_is_detected_by_header(header: list[str], kind: str) -> None:
    assert detect_kind(header) == kind


def test_unknown_header_is_a_file_error() -> None:
    with pytest.raises(FileError, match="cannot tell"):
        detect_kind(["a", "b"])


@pytest.mark.parametrize(
    "column",
    ["card_number", "PAN", "Card Number", "cvv", "CVC2", "security_code", "expiry", "full_pan"],
)
def test_card_data_columns_refuse_the_file(column: str) -> None:
    with pytest.raises(FileError, match="never imports card data"):
        refuse_card_columns(["customer_external_id", column])


def test_header_problems_are_file_errors() -> None:
    fmt = FORMATS["customers"]
    with pytest.raises(FileError, match="lacks column"):
        check_header(["external_id", "email"], fmt)
    with pytest.raises(FileError, match="unknown column"):
        check_header(["external_id", "email", "full_name", "nickname"], fmt)
    with pytest.raises(FileError, match="twice"):
        check_header(["external_id", "email", "full_name", "email"], fmt)
    assert check_header(["External_ID", "email", "full_name"], fmt) == [
        "external_id",
        "email",
        "full_name",
    ]
