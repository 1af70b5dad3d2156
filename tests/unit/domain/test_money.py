import pytest

from payflows.domain.money import Money, format_amount, parse_amount


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
