"""The card-number screen: every separator, every script, every place in the text."""

import pytest

from payflows.domain import (
    CardNumberInField,
    contains_card_number,
    find_card_number,
    normalise_digits,
    redact,
    screen,
    screen_value,
)

VISA = "4111111111111111"
AMEX = "378282246310005"
FULLWIDTH = {ord(c): ord(c) + 0xFEE0 for c in "0123456789-"}


@pytest.mark.parametrize(
    "text",
    [
        VISA,
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111.1111.1111.1111",
        "4111/1111/1111/1111",
        "4111_1111_1111_1111",
        "4111 - 1111 - 1111 - 1111",
        "4111 / 1111 / 1111 / 1111",
        "4111\u200b1111\u200b1111\u200b1111",  # zero-width spaces
        "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1",
        "3782 822463 10005",  # Amex 4-6-5
        "+" + AMEX,  # an Amex number in a phone column
        f"{VISA}@example.com",
        f"jo.{VISA}@example.com",
        "Jo.4111.1111.1111.1111.Bloggs",
        f"ORDER-{VISA}",
        f"order{VISA}x",
        "ref 12 4111 1111 1111 1111",  # the card is a tail of a longer chain
        "4111 1111 1111 1111 exp 12/30",
        "٤١١١١١١١١١١١١١١١",  # Arabic-Indic digits
        "4111-1111-1111-1111".translate(FULLWIDTH),  # full-width digits and dash
        "4111111111111111".replace("1", "¹"),  # superscript ones
        "5555555555554444",
        "6767700000000005",
        "123456789015",  # 12 digits, Luhn-valid
        "1234567890123456785",  # 19 digits, Luhn-valid
    ],
)
def test_card_numbers_are_found_whatever_separates_their_digits(text):
    assert contains_card_number(text), text
    with pytest.raises(CardNumberInField) as err:
        screen("full_name", text)
    assert err.value.field == "full_name"
    assert "full_name" in str(err.value)
    assert normalise_digits(text) not in str(err.value)


def test_the_nineteen_digit_case_is_luhn_valid():
    from payflows.domain import luhn_valid

    assert luhn_valid("1234567890123456785")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Jo Bloggs",
        "4111111111111112",  # Luhn fails
        "411111111111",  # 12 digits, Luhn fails
        "41111111111",  # 11 digits
        "+27 82 555 1234",
        "2026-12-01",
        "ORDER-2026-0001",
        "4111    1111    1111    1111",  # gaps of four: not one number
        "4111a1111b1111c1111",  # letters break a number
        "12345678901234567890123",  # a 23-digit identifier, not a card number
        "R 1 234.56",
    ],
)
def test_ordinary_text_passes(text):
    assert not contains_card_number(text), text
    assert screen("field", text) == text


def test_find_card_number_gives_the_span_in_the_original_text():
    text = "call me: 4111-1111-1111-1111 thanks"
    start, end = find_card_number(text)
    assert text[start:end] == "4111-1111-1111-1111"
    arabic = "x ٤١١١١١١١١١١١١١١١ y"
    start, end = find_card_number(arabic)
    assert arabic[start:end] == "٤١١١١١١١١١١١١١١١"


def test_normalise_digits_keeps_positions():
    assert normalise_digits("a٤b\uff14c²") == "a4b4c2"
    assert normalise_digits("plain") == "plain"


@pytest.mark.parametrize(
    "text",
    [
        f"bad value {VISA} here",
        "bad value 4111.1111.1111.1111 here",
        "bad value 4111/1111/1111/1111 here",
        "bad value 4111_1111_1111_1111 here",
        "bad value 4111 - 1111 - 1111 - 1111 here",
        "bad value ٤١١١١١١١١١١١١١١١ here",
        "bad value 4111111111111112 here",  # not Luhn-valid: hidden all the same
        "bad value 123456789012345678901234567890 here",
    ],
)
def test_redact_hides_every_long_digit_chain(text):
    out = redact(text)
    assert out.startswith("bad value ") and out.endswith(" here")
    assert "[digits hidden]" in out
    assert sum(c.isdigit() for c in out) == 0


def test_redact_keeps_short_numbers():
    text = "line 12, column 3: amount 299.00 is more than 100.00"
    assert redact(text) == text
    assert redact(12) == "12"


def test_screen_value_walks_nested_parameters_without_quoting():
    screen_value("params", {"order": "A-1", "amount": 29900, "items": ["x", ("y", 3)]})
    for bad in (
        {"order": VISA},
        {"items": ["ok", {"note": "4111 1111 1111 1111"}]},
        {VISA: "key"},
        {"amount": int(VISA)},
    ):
        with pytest.raises(CardNumberInField) as err:
            screen_value("params", bad)
        assert VISA not in str(err.value)
        assert str(err.value).startswith("params")


def test_screen_value_survives_deep_nesting():
    deep: object = VISA
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(CardNumberInField):
        screen_value("params", deep)


def test_screening_a_large_cell_is_fast():
    import time

    text = ("Jo Bloggs 2026-12-01 " * 7000)[:131_072]
    t0 = time.perf_counter()
    assert not contains_card_number(text)
    redact(text)
    assert time.perf_counter() - t0 < 2.0


def test_uuids_are_ids_not_card_numbers():
    """A UUID whose all-digit groups happen to make a Luhn-valid window is still an id."""
    uuid = "4f1c2a9e-0000-4000-8000-000000000001"
    assert not contains_card_number(uuid)
    assert not contains_card_number(f"purchase {uuid} held")
    assert redact(f"unknown purchase {uuid}") == f"unknown purchase {uuid}"
    # A card number next to a UUID is still found.
    assert contains_card_number(f"{uuid} 4111 1111 1111 1111")
    import uuid as uuids

    found = sum(contains_card_number(str(uuids.uuid4())) for _ in range(20_000))
    assert found == 0


def test_an_ipv4_address_is_never_a_card_number() -> None:
    # 192.100.100.101: twelve digits joined by dots, and Luhn-valid.
    assert not contains_card_number("192.100.100.101")
    assert not contains_card_number("from 192.100.100.119, twice")
    # Groups over 255 are no address: the card written with dots is still caught.
    assert contains_card_number("4111.1111.1111.1111")


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-12-03 08:56:12.345678",
        "2026-12-03T08:56:12.345678+00:00",
        "2026-12-03 08:56:12,345",
        "2026-12-03T08:56:12Z",
        "2026-12-03 08:56",
    ],
)
def test_a_timestamp_is_never_a_card_number(stamp: str) -> None:
    """A log line's time stays readable (it read ``08:56:[digits hidden]``)."""
    line = f"{stamp} | INFO | Flow run 'x' - Finished in state Completed()"
    assert redact(line) == line
    assert not contains_card_number(line)
    # A card number beside the time is still hidden and found.
    assert "[digits hidden]" in redact(f"{line} 4111 1111 1111 1111")
    assert contains_card_number(f"{stamp} 4111-1111-1111-1111")


def test_a_card_number_written_like_a_date_is_still_caught() -> None:
    # Not a real month or not a year of this era: a chain like any other.
    assert contains_card_number("4111-1111-1111-1111")
    assert "[digits hidden]" in redact("5555-55-55 55:55:55.5555")


def test_a_card_number_whose_first_digits_look_like_an_address_is_still_caught() -> None:
    # 4111111111111111 written "41.111.111.111 11111": the quad is joined to more digits.
    for text in ("41.111.111.111 11111", "card 41.111.111.111-11111", "4111 111.111.111.111"):
        assert contains_card_number(text), text
    assert "11111" not in redact("pay 41.111.111.111 11111 now")
    assert not contains_card_number("from 192.100.100.119, port 8080")
