"""The scenario forms' field types: what the schema refuses is refused in Python too."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from flows import _fields as F

CARD_LIKE = [
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "4111.1111.1111.1111",
    "4111/1111/1111/1111",
    "4111_1111_1111_1111",
    "4111 - 1111 - 1111 - 1111",
    "Thandi\n4111111111111111",
]


def _valid(kind: Any, value: object) -> bool:
    try:
        TypeAdapter(kind).validate_python(value)
    except ValidationError:
        return False
    return True


def _schema_pattern(kind: Any) -> str:
    schema = TypeAdapter(kind).json_schema()
    return str(schema["pattern"])


@pytest.mark.parametrize("value", CARD_LIKE)
@pytest.mark.parametrize("kind", [F.Product, F.FullName, F.OrderId, F.CustomerId, F.CardRef])
def test_a_card_like_digit_run_is_refused_by_the_schema_and_in_python(
    kind: Any, value: str
) -> None:
    assert re.search(_schema_pattern(kind), value) is None
    assert not _valid(kind, value)


def test_a_long_number_that_is_no_card_is_refused_by_the_schema_only() -> None:
    # JSON schema cannot test Luhn: it refuses any 12-digit run. In Python the Luhn test decides.
    assert re.search(_schema_pattern(F.Product), "order 123456789012") is None
    assert _valid(F.Product, "order 123456789012")
    assert re.search(_schema_pattern(F.OrderId), "ORDER-202612031234") is None
    assert _valid(F.OrderId, "ORDER-202612031234")


def test_a_luhn_valid_card_in_another_script_is_refused_in_python() -> None:
    full_width = "".join(chr(0xFF10 + int(d)) for d in "4111111111111111")
    assert not _valid(F.Product, full_width)


def test_the_card_reference_is_the_vaults_shape_without_a_card_inside() -> None:
    assert _valid(F.CardRef, "cardref_" + "a" * 32)
    assert not _valid(F.CardRef, "cardref_4111111111111111" + "a" * 16)
    assert not _valid(F.CardRef, "4111111111111111")


def test_ordinary_text_and_ids_pass() -> None:
    assert _valid(F.Product, "Stay 12 nights, room 1204")
    assert _valid(F.FullName, "Thandi Nkosi")
    assert _valid(F.OrderId, "order-2026-12-03")
    assert _valid(F.OrderId, None)
    assert _valid(F.Email, "a@b.co")


def test_gateway_ids_may_be_uuids_with_digit_runs() -> None:
    uuid = "12345678-1234-1234-1234-123456789012"
    assert re.search(_schema_pattern(F.PurchaseId), uuid)
    assert _valid(F.PurchaseId, uuid)
    assert not _valid(F.PurchaseId, "4111111111111111")


@pytest.mark.parametrize("ip", ["192.100.100.101", "203.0.113.7", "::1", "2001:db8::1"])
def test_an_ip_address_is_not_screened_as_a_card(ip: str) -> None:
    assert re.search(_schema_pattern(F.RemoteIp), ip)
    assert _valid(F.RemoteIp, ip)


@pytest.mark.parametrize("value", ["4111.1111.1111.1111", "4111111111111111", "not-an-ip"])
def test_a_remote_ip_that_is_no_address_is_refused(value: str) -> None:
    assert not _valid(F.RemoteIp, value)


@pytest.mark.parametrize("text", ["299.00", "299", "0.5", "1.234"])
def test_amounts_are_decimal_text(text: str) -> None:
    assert _valid(F.AmountText, text)


@pytest.mark.parametrize("text", ["-1.00", "1e5", "1,00", "1234567890.00", "1.2345", "", "NaN"])
def test_negative_exponent_or_absurd_amounts_are_refused_by_the_schema(text: str) -> None:
    assert not _valid(F.AmountText, text)


LARGE = ["25000000000", "99999999999", "999999999.99", "99999999.999", " 1234.5 "]


@pytest.mark.parametrize("text", LARGE)
def test_amounts_of_up_to_eleven_digits_are_taken_by_schema_and_python(text: str) -> None:
    assert re.search(_schema_pattern(F.AmountText), text)
    assert _valid(F.AmountText, text) and _valid(F.OptionalAmountText, text)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("250000000000", "too large: at most 11 digits before the point"),  # a card's length
        ("378282246310005", "too large: at most 11 digits before the point"),  # an Amex number
        # 12 digits joined by a dot: too large in ZAR, too many decimals in JPY (cents says which).
        ("1234567890.00", "too many digits: at most 11 in all, decimals included"),
        ("000000000001.00", "without leading zeros"),  # 100 cents: not too large
        ("1.0000", "more decimals than any currency allows"),  # not "not an amount"
        ("1000000000000000000000", "too large: at most 11 digits before the point"),
        ("378,282,246,310,005", "not an amount"),  # an Amex number in groups of three
        ("25,000,000", "no commas"),  # no groups of three: no comma at all
        ("1,500", "no commas"),  # 1.5 to a decimal-comma reader
        ("25 000 000", "not an amount"),  # spaces join a card number's digits
        ("1 500", "no spaces"),
        ("-1.00", "no sign"),
    ],
)
def test_a_long_run_of_digits_commas_or_too_many_are_refused_clearly(text: str, why: str) -> None:
    assert not re.search(_schema_pattern(F.AmountText), text)
    assert not re.search(_schema_pattern(F.OptionalAmountText), text)
    with pytest.raises(ValidationError, match=why) as refused:
        TypeAdapter(F.AmountText).validate_python(text)
    assert text not in str(refused.value).split("[type=")[0]  # the value is never quoted


def test_currency_is_an_iso_dropdown_defaulting_to_the_merchants() -> None:
    schema = TypeAdapter(F.CurrencyField).json_schema()
    codes = set(schema["$defs"]["CurrencyCode"]["enum"])
    assert {"ZAR", "USD", "JPY", "KWD"} <= codes
    assert "XYZ" not in codes
    assert F.MERCHANT_CURRENCY.value == "ZAR"  # PAYFLOWS_CHECKOUT_CURRENCY unset in tests


# -- the flows' flat forms ------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["order_id", "full_name", "product", "customer_id", "card_ref"])
def test_a_flow_refuses_a_card_number_in_any_text_field_without_echoing_it(field: str) -> None:
    from prefect.exceptions import ParameterTypeError

    from flows import customer_initiated_payment

    form = {"amount": "1.00", "email": "a@b.co", "sandbox_card": "visa_approved"}
    with pytest.raises(ParameterTypeError) as refused:
        customer_initiated_payment.validate_parameters({**form, field: "4111 1111 1111 1111"})
    assert field in str(refused.value) and "4111" not in str(refused.value)


def test_a_flat_form_becomes_the_request_model_with_integer_cents() -> None:
    from flows import CustomerInitiatedPaymentRequest, customer_initiated_payment
    from flows._forms import request

    form = customer_initiated_payment.validate_parameters(
        {"amount": "299.00", "email": "a@b.co", "sandbox_card": "visa_approved", "currency": "ZAR"}
    )
    params = request(CustomerInitiatedPaymentRequest, form)
    assert params.amount_cents == 29_900 and isinstance(params.amount_cents, int)
    assert params.shopper.email == "a@b.co" and params.card.sandbox_card is not None
    assert params.order_id.startswith("run-") and params.currency == "ZAR"


@pytest.mark.parametrize(
    ("amount", "currency", "why"),
    [
        ("1.001", "ZAR", "more decimals"),
        ("1.5", "JPY", "more decimals"),
        ("0.00", "ZAR", "more than zero"),
    ],
)
def test_amounts_are_held_to_their_currency(amount: str, currency: str, why: str) -> None:
    from flows import CustomerInitiatedPaymentRequest, OperationRejected
    from flows._forms import request

    form = {
        "amount": amount,
        "currency": currency,
        "email": "a@b.co",
        "sandbox_card": "visa_approved",
    }
    with pytest.raises(OperationRejected, match=why):
        request(CustomerInitiatedPaymentRequest, form)


def test_units_is_the_inverse_of_cents() -> None:
    from flows._forms import cents, units
    from payflows.domain.money import FORM_MAX_CENTS

    for value, currency in [(29_900, "ZAR"), (500, "JPY"), (1_234, "KWD"), (1, "USD")]:
        assert cents(units(value, currency), currency) == value
    for currency in ["VND", "JPY", "IDR", "ZAR", "BHD"]:
        text = units(FORM_MAX_CENTS, currency)  # plain digits, as the form takes them
        assert "," not in text and _valid(F.AmountText, text)
        assert cents(text, currency) == FORM_MAX_CENTS


def _cit(amount: str, currency: str) -> Any:
    from flows import CustomerInitiatedPaymentRequest
    from flows._forms import request

    form = {
        "amount": amount,
        "currency": currency,
        "email": "a@b.co",
        "sandbox_card": "visa_approved",
    }
    return request(CustomerInitiatedPaymentRequest, form)


@pytest.mark.parametrize(
    ("amount", "currency", "cents"),
    [
        ("25000000000", "VND", 25_000_000_000),  # VND has no decimals
        ("99999999999", "JPY", 10**11 - 1),  # the most a form takes
        ("99999999990", "VND", 99_999_999_990),  # Luhn-valid, and no card: 11 digits
        ("999999999.99", "IDR", 10**11 - 1),  # IDR has two
        ("99999999.999", "BHD", 10**11 - 1),  # BHD has three
    ],
)
def test_large_amounts_are_integer_minor_units_never_screened_as_cards(
    amount: str, currency: str, cents: int
) -> None:
    params = _cit(amount, currency)
    assert params.amount_cents == cents and type(params.amount_cents) is int


@pytest.mark.parametrize(
    ("amount", "currency", "digits"),
    [
        ("100000000000", "VND", 11),  # 12 digits of cents: a card number's length
        ("1000000000", "ZAR", 9),
        ("1000000000.00", "ZAR", 9),
        ("100000000.000", "BHD", 8),
        ("1000000000009", "VND", 11),  # Luhn-valid: once refused as "holds a card number"
    ],
)
def test_an_amount_past_what_a_form_holds_is_refused_with_its_currencys_limit(
    amount: str, currency: str, digits: int
) -> None:
    from flows import OperationRejected

    why = f"amount: too large: at most {digits} digits before the point in {currency}"
    with pytest.raises(OperationRejected, match=why) as refused:
        _cit(amount, currency)
    assert amount not in str(refused.value)


def test_a_comma_is_refused_in_python_too_never_read_as_thousands() -> None:
    from flows import OperationRejected
    from flows._forms import cents

    for amount, currency in [("1,500", "BHD"), ("378,282,246,310,005", "ZAR"), ("1 500", "ZAR")]:
        with pytest.raises(OperationRejected, match="no commas, no spaces"):
            cents(amount, currency)


@pytest.mark.parametrize(
    ("amount", "currency", "why"),
    [
        ("000000000001.00", "ZAR", "amount: too many digits: at most 11 in all (write it without"),
        ("00000000000001", "JPY", "amount: too many digits: at most 11 in all (write it without"),
        ("999999999.999", "ZAR", "amount: the amount has more decimals than ZAR allows"),
        ("1.0000", "ZAR", "amount: the amount has more decimals than ZAR allows"),
        ("1.000", "JPY", "amount: the amount has more decimals than JPY allows"),
        ("1000000000.000", "BHD", "amount: too large: at most 8 digits before the point in BHD"),
    ],
)
def test_a_long_amount_is_refused_for_its_real_reason(amount: str, currency: str, why: str) -> None:
    """Leading zeros or extra decimals make a text long, not its value large."""
    from flows import OperationRejected
    from flows._forms import cents

    with pytest.raises(OperationRejected, match=re.escape(why)):
        cents(amount, currency)
    assert cents("00000000001", "JPY") == 1 and cents("0000000.01", "ZAR") == 1  # 11 digits


_AMOUNTISH = st.text(alphabet="0123456789., -+\n", max_size=16)


@settings(max_examples=400, deadline=None)
@given(text=st.one_of(_AMOUNTISH, st.from_regex(r"\s?0{0,4}[0-9]{1,12}(\.[0-9]{0,5})?\s?")))
def test_the_python_rule_takes_what_the_schema_takes_and_no_more(text: str) -> None:
    """The field's Python check and the schema's pattern (Prefect's server) agree on every text,
    and whatever the currency rule takes, the schema takes: no 12-digit run, ever."""
    from flows import OperationRejected
    from flows._forms import cents

    by_schema = re.search(_schema_pattern(F.AmountText), text) is not None
    assert _valid(F.AmountText, text) == by_schema
    for currency in ("JPY", "ZAR", "BHD"):
        try:
            cents(text, currency)
        except OperationRejected:
            continue
        assert by_schema


def test_the_forms_currency_default_is_the_merchants(tmp_path: Any) -> None:
    """Read when the flows are imported: a fresh interpreter with PAYFLOWS_CHECKOUT_CURRENCY."""
    import os
    import subprocess
    import sys

    probe = (
        "from flows import customer_initiated_payment as f\n"
        "print(f.parameters.model_dump()['properties']['currency']['default'])"
    )
    env = {**os.environ, "PAYFLOWS_CHECKOUT_CURRENCY": "usd", "PREFECT_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "USD"


# -- plain fields in the Prefect UI ---------------------------------------------------------------


def _scenario_schemas() -> list[tuple[str, dict[str, Any]]]:
    from prefect.utilities.callables import parameter_schema

    from flows.scenarios import SCENARIOS

    return [
        (s.command, schema)
        for s in SCENARIOS
        for schema in (s.flow.parameters.model_dump(), parameter_schema(s.flow).model_dump())
    ]


def test_no_scenario_field_is_a_type_switch_in_the_prefect_ui() -> None:
    """``X | None`` is ``anyOf [X, null]`` in the schema, which the UI shows as a type switch
    ("type / None") beside the field; a plain type with a default is one field."""
    switches = {
        (command, name)
        for command, schema in _scenario_schemas()
        for name, prop in schema["properties"].items()
        if any(option.get("type") == "null" for option in prop.get("anyOf", ()))
    }
    assert not switches, switches  # mit's as_of too: a text field, empty for now


def test_sandbox_card_and_auto_3ds_are_dropdowns_whose_empty_choice_means_none() -> None:
    from flows._cards import SandboxCard

    for _, schema in _scenario_schemas():
        props = schema["properties"]
        if "sandbox_card" in props:
            card = props["sandbox_card"]
            assert card["type"] == "string" and card["default"] == ""
            assert card["enum"] == ["", *(c.value for c in SandboxCard)]
        if "auto_3ds" in props:
            assert props["auto_3ds"]["enum"] == ["", "approve", "fail"]
            assert props["auto_3ds"]["default"] == ""
    for value in ("", None):  # None from Python is empty, as for the optional text fields
        assert TypeAdapter(F.SandboxCardField).validate_python(value) == ""
        assert TypeAdapter(F.Auto3DSField).validate_python(value) == ""
    assert TypeAdapter(F.SandboxCardField).validate_python(SandboxCard("visa_approved")) == (
        "visa_approved"
    )
    with pytest.raises(ValidationError, match="must be one of approve, fail, or empty"):
        TypeAdapter(F.Auto3DSField).validate_python("maybe")


def test_the_browser_is_a_plain_field_defaulting_to_a_desktop_browser() -> None:
    from flows._forms import request
    from flows._models import PreauthRequest
    from flows.preauthorization import preauthorize

    for _, schema in _scenario_schemas():
        if "browser" in schema["properties"]:
            browser = schema["properties"]["browser"]
            assert "anyOf" not in browser and browser["default"]["screen_width"] == 1920
    assert TypeAdapter(F.BrowserField).validate_python(None) == F.DESKTOP_BROWSER
    form = {"amount": "5.00", "email": "a@b.co", "sandbox_card": "visa_approved"}
    validated = preauthorize.validate_parameters(form)
    assert validated["browser"] == F.DESKTOP_BROWSER and validated["auto_3ds"] == ""
    params = request(PreauthRequest, validated)
    assert params.auto_3ds is None and params.card.sandbox_card == "visa_approved"
    assert params.browser == F.DESKTOP_BROWSER
