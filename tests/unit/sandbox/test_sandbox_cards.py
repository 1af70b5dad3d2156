"""The test-card table and the rules every submitted card meets (docs/test-cards.md)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

import pytest

from payflows.domain.cards import card_brand, luhn_valid
from payflows.sandbox import TEST_CARDS
from payflows.sandbox.cards import CardRefusal, MaskedCard, Outcome, card_by_key, check_card

TODAY = date(2026, 6, 15)


def check(number: str, expires: str = "12/30", cvc: str = "123", **kw: bool) -> object:
    return check_card(number, expires, cvc, "J Smith", today=TODAY, **kw)


def test_the_table_has_every_documented_card_once() -> None:
    numbers = [c.number for c in TEST_CARDS]
    assert len(numbers) == len(set(numbers)) == 19


@pytest.mark.parametrize("card", TEST_CARDS, ids=lambda c: c.key)
def test_every_card_passes_luhn_and_has_its_iin_brand(card) -> None:
    assert luhn_valid(card.number)
    assert card_brand(card.number) == card.brand
    assert card_by_key(card.key) is card


def test_a_test_card_repr_shows_no_pan() -> None:
    card = TEST_CARDS[0]
    assert card.number not in repr(card)
    assert card.masked_pan == "411111******1111"


def test_a_valid_card_comes_back_masked_and_without_the_pan_or_cvc() -> None:
    result = check("4444 3333 2222 1111", cvc="123")
    assert isinstance(result, MaskedCard)
    assert result.key == "chip_visa"
    assert (result.brand, result.masked_pan, result.last_4) == ("visa", "444433******1111", "1111")
    assert (result.exp_month, result.exp_year) == (12, 2030)
    flat = str(asdict(result))
    assert "4444333322221111" not in flat
    assert "'123'" not in flat


@pytest.mark.parametrize(
    ("number", "expires", "cvc", "code"),
    [
        ("4242424242424242", "12/30", "123", "validation_card_number_invalid"),  # not in table
        ("4111111111111112", "12/30", "123", "validation_card_number_invalid"),  # Luhn fails
        ("not a number", "12/30", "123", "validation_card_number_invalid"),
        ("4111111111111111", "05/26", "123", "validation_expires_invalid"),  # month gone
        ("4111111111111111", "13/30", "123", "validation_expires_invalid"),
        ("4111111111111111", "1230", "123", "validation_expires_invalid"),
        ("4111111111111111", "12/30", "12", "validation_cvc_invalid"),
        ("4111111111111111", "12/30", "12a", "validation_cvc_invalid"),
        ("4444333322221111", "12/30", "456", "validation_cvc_invalid"),  # CHIP card: 123 only
        ("5555555555554444", "12/30", "000", "validation_cvc_invalid"),
    ],
)
def test_card_rules(number: str, expires: str, cvc: str, code: str) -> None:
    result = check(number, expires, cvc)
    assert isinstance(result, CardRefusal)
    assert result.decline.code == code


def test_a_card_is_good_through_its_expiry_month() -> None:
    assert isinstance(check("4111111111111111", expires="06/26"), MaskedCard)


def test_cvc_000_stands_in_on_stored_credential_flows_only() -> None:
    assert isinstance(check("4444333322221111", cvc="000"), CardRefusal)
    assert isinstance(check("4444333322221111", cvc="000", placeholder_cvc_ok=True), MaskedCard)


def test_outcomes_match_the_documented_columns() -> None:
    by_number = {c.number: c for c in TEST_CARDS}
    assert by_number["4000000000000077"].cit is Outcome.TIMEOUT
    assert by_number["4000000000000085"].cit is Outcome.APPROVE
    assert by_number["4000000000000085"].mit is Outcome.DECLINE
    stop = by_number["5100000000000024"].mit_decline
    assert stop is not None
    assert (stop.code, stop.network_code, stop.advice_code) == ("do_not_honour", "05", "21")


def test_the_docs_list_every_card_by_name_beside_its_number() -> None:
    """docs/test-cards.md: the names flows, CSVs and the CLI take, each beside its number."""
    import re
    from pathlib import Path

    doc = (Path(__file__).parents[3] / "docs" / "test-cards.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| `([0-9 ]+)` \|", doc, flags=re.MULTILINE)
    assert {name: number.replace(" ", "") for name, number in rows} == {
        card.key: card.number for card in TEST_CARDS
    }
