import re

import pytest

from payflows.domain.money import (
    FORM_MAX_CENTS,
    Money,
    check_form_amount,
    format_amount,
    parse_amount,
    parse_form_amount,
)


def test_money_refuses_floats_and_bools():
    with pytest.raises(TypeError):
        Money(12.5, "ZAR")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, "ZAR")  # type: ignore[arg-type]


def test_money_normalises_currency_and_refuses_nonsense():
    assert Money(100, "zar").currency == "ZAR"
    with pytest.raises(ValueError):
        Money(100, "RAND")


def test_money_arithmetic_stays_in_one_currency():
    assert Money(100, "ZAR") + Money(250, "ZAR") == Money(350, "ZAR")
    with pytest.raises(ValueError):
        Money(100, "ZAR") - Money(1, "USD")


@pytest.mark.parametrize(
    ("text", "currency", "cents"),
    [("299", "ZAR", 29900), ("1 234.56", "ZAR", 123456), ("0.10", "USD", 10), ("500", "JPY", 500)],
)
def test_parse_amount(text, currency, cents):
    assert parse_amount(text, currency) == cents


@pytest.mark.parametrize(
    ("text", "currency", "cents"),
    [("1,234.56", "ZAR", 123456), ("25,000,000", "VND", 25_000_000), ("1,500.250", "BHD", 1500250)],
)
def test_separators_between_groups_of_three_are_read_as_thousands(text, currency, cents):
    assert parse_amount(text, currency) == cents


@pytest.mark.parametrize(
    ("text", "currency", "says"),
    [
        ("1,5", "ZAR", "a point before decimals"),  # a decimal comma, not 15
        ("1,50", "ZAR", "a point before decimals"),  # not 150
        ("12,34,567", "INR", "a point before decimals"),  # groups of three only
        ("1,500", "BHD", "ambiguous in BHD"),  # 1500.000 or 1.500: refused, never guessed
    ],
)
def test_a_comma_that_may_be_a_decimal_comma_is_refused(text, currency, says):
    with pytest.raises(ValueError, match=says):
        parse_amount(text, currency)


@pytest.mark.parametrize("text", ["1,000 000", "1 000,000", "1,000,000 000.50", "1, 000"])
def test_one_number_has_one_kind_of_thousands_separator(text):
    """A comma and a space in one number are two numbers run together, or a typo: refused."""
    with pytest.raises(ValueError, match="one kind of separator") as err:
        parse_amount(text, "ZAR")
    assert text not in str(err.value)
    assert parse_amount("1 000 000", "ZAR") == parse_amount("1,000,000", "ZAR") == 100_000_000


@pytest.mark.parametrize("text", ["1.000,000", "1.000.000", "1.234,56"])
def test_a_point_between_thousands_is_refused_never_read_as_decimals(text):
    with pytest.raises(ValueError, match=r"^not an amount"):
        parse_amount(text, "ZAR")


@pytest.mark.parametrize(
    ("text", "currency"),
    [("1.000", "JPY"), ("1.0", "JPY"), ("1.500", "ZAR"), ("1.000", "USD"), ("1.0000", "BHD")],
)
def test_zero_decimals_beyond_the_currencys_are_refused_not_dropped(text, currency):
    # "1.000" is a thousand to a writer who puts a point between thousands: never read as 1.
    with pytest.raises(ValueError, match="more decimals"):
        parse_amount(text, currency)


def test_parse_amount_refuses_extra_decimals_instead_of_rounding():
    with pytest.raises(ValueError, match="more decimals"):
        parse_amount("1.005", "ZAR")


@pytest.mark.parametrize(
    ("cents", "currency", "text"),
    [
        (123456, "ZAR", "R 1 234.56"),
        (-1000, "ZAR", "-R 10.00"),
        (5, "USD", "$ 0.05"),
        (500, "JPY", "JPY 500"),
    ],
)
def test_format_amount(cents, currency, text):
    assert format_amount(cents, currency) == text


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-inf", "1e3", "12..5", "", "R10"])
def test_parse_amount_accepts_plain_decimals_only(text):
    with pytest.raises(ValueError, match="not an amount"):
        parse_amount(text, "ZAR")


@pytest.mark.parametrize("code", ["XYZ", "ABC", "XTS", "XXX", "XAU", "RAND", "", "Z A"])
def test_only_active_iso_4217_currencies_are_accepted(code):
    from payflows.domain.money import validate_currency

    with pytest.raises(ValueError, match="ISO 4217") as err:
        validate_currency(code)
    assert code not in str(err.value) or not code


@pytest.mark.parametrize(("code", "exp"), [("zar", 2), ("JPY", 0), ("KWD", 3), ("ISK", 0)])
def test_iso_4217_currencies_carry_their_minor_unit(code, exp):
    from payflows.domain.money import exponent, validate_currency

    assert exponent(validate_currency(code)) == exp


@pytest.mark.parametrize("text", ["٣٠٠", "\uff13\uff10\uff10", "3²", "1" * 30, "9" * 14 + ".00"])
def test_parse_amount_refuses_other_scripts_and_huge_amounts(text):
    with pytest.raises(ValueError) as err:
        parse_amount(text, "ZAR")
    assert text not in str(err.value)


# -- the forms' amounts: one rule for every amount typed in a form -------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "cents"),
    [
        ("299.00", "ZAR", 29_900),
        (" 1.5 ", "ZAR", 150),
        ("99999999999", "JPY", FORM_MAX_CENTS),
        ("999999999.99", "ZAR", FORM_MAX_CENTS),
        ("99999999.999", "BHD", FORM_MAX_CENTS),
        ("0000000.01", "ZAR", 1),  # 11 digits, leading zeros included
    ],
)
def test_a_form_amount_is_plain_digits_in_minor_units(text, currency, cents):
    assert parse_form_amount(text, currency) == cents


@pytest.mark.parametrize(
    ("text", "currency", "says"),
    [
        ("1,500", "ZAR", "no sign, no commas, no spaces"),  # 1.5 to a decimal-comma reader
        ("1,234.56", "ZAR", "no sign, no commas, no spaces"),
        ("1 500", "ZAR", "no sign, no commas, no spaces"),  # spaces join a card's digits too
        ("-1.00", "ZAR", "no sign"),
        ("+1.00", "ZAR", "no sign"),
        ("1e3", "ZAR", "not an amount"),
        (".5", "ZAR", "not an amount"),
        ("٣٠٠", "ZAR", "not an amount"),
        ("", "ZAR", "not an amount"),
        ("0.00", "ZAR", "more than zero"),
        ("1.5", "JPY", "more decimals than JPY allows"),
        ("1.0000", "ZAR", "more decimals than ZAR allows"),  # not "too large"
        ("999999999.999", "ZAR", "more decimals than ZAR allows"),  # 12 digits: not too large
        ("000000000001.00", "ZAR", "without leading zeros"),  # R 1.00: not too large
        ("1000000000", "ZAR", "too large: at most 9 digits before the point in ZAR"),
        ("100000000000", "JPY", "too large: at most 11 digits before the point in JPY"),
        ("100000000.000", "BHD", "too large: at most 8 digits before the point in BHD"),
        ("4111111111111111", "JPY", "too large"),
    ],
)
def test_a_form_amount_is_refused_for_its_real_reason_never_echoed(text, currency, says):
    with pytest.raises(ValueError, match=re.escape(says)) as err:
        parse_form_amount(text, currency)
    assert not text.strip() or text.strip() not in str(err.value)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("1.0000", "more decimals than any currency allows"),
        ("1000000000000", "too large: at most 11 digits before the point"),
        ("1234567890.00", "too many digits: at most 11 in all, decimals included"),
        ("000000000001", "without leading zeros"),
    ],
)
def test_a_form_amount_without_its_currency_is_held_to_any_currencys(text, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        check_form_amount(text)
    assert check_form_amount(" 999999999.99 ") == "999999999.99"
