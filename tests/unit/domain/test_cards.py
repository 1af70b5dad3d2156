import copy
import json
import logging
import pickle

import pytest

from payflows.domain.cards import CardData, card_brand, luhn_valid, mask_pan

PAN = "4111111111111111"


def card() -> CardData:
    return CardData(PAN, "12/30", "123", "Jo Bloggs")


def test_repr_and_str_show_only_brand_and_masked_pan():
    c = card()
    for text in (repr(c), str(c), f"{c}", f"{c!r}"):
        assert PAN not in text
        assert "123" not in text.replace("411111", "")
        assert "411111******1111" in text


def test_card_data_refuses_every_way_of_resting():
    c = card()
    with pytest.raises(TypeError):
        pickle.dumps(c)
    with pytest.raises(TypeError):
        copy.deepcopy(c)
    with pytest.raises(TypeError):
        json.dumps(c)
    assert not hasattr(c, "__dict__")


def test_logging_a_card_logs_no_pan(caplog):
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("card %s / %r", card(), card())
    assert PAN not in caplog.text


def test_s2s_fields_is_the_one_way_out():
    assert card().s2s_fields() == {
        "cardholder_name": "Jo Bloggs",
        "card_number": PAN,
        "expires": "12/30",
        "cvc": "123",
    }


@pytest.mark.parametrize(
    ("number", "expires", "cvc", "name"),
    [
        ("41111", "12/30", "123", "a"),
        (PAN, "13/30", "123", "a"),
        (PAN, "12/30", "12", "a"),
        (PAN, "12/30", "123", " "),
    ],
)
def test_malformed_card_is_refused_without_echoing_it(number, expires, cvc, name):
    with pytest.raises(ValueError) as err:
        CardData(number, expires, cvc, name)
    assert number not in str(err.value) or len(number) < 12


def test_brand_luhn_and_mask():
    assert luhn_valid(PAN) and not luhn_valid("4111111111111112")
    assert card_brand("5555555555554444") == "mastercard"
    assert card_brand("2223000000000007") == "mastercard"
    assert card_brand("378282246310005") == "amex"
    assert card_brand("6767700000000005") == "maestro"
    assert mask_pan("5555555555554444") == "555555******4444"
