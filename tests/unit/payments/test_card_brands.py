"""The brands a merchant accepts travel as every purchase's payment_method_whitelist."""

from __future__ import annotations

import dataclasses

import pytest

from payflows.domain.cards import CardData
from payflows.ledger import AttemptState
from payflows.payments import ensure_customer, pay_with_card
from payflows.settings import ConfigurationError, load_settings

from .conftest import World

AMEX = CardData("378282246310005", "12/35", "1234", "Jo Bloggs")


async def _pay_amex(world: World, key: str):
    customer = await ensure_customer(world.ctx, "amex-1", email="amex@example.com")
    return await pay_with_card(
        world.ctx, key, customer, AMEX, amount_cents=5_000, currency="ZAR", product="Order"
    )


async def test_amex_is_refused_by_the_gateway_unless_the_merchant_accepts_it(world: World):
    refused = await _pay_amex(world, "cit:amex-off")
    world.ctx = dataclasses.replace(world.ctx, card_brands=("visa", "mastercard", "amex"))
    paid = await _pay_amex(world, "cit:amex-on")

    assert refused.state is AttemptState.DECLINED
    assert refused.decline_code == "validation_card_number_invalid"
    assert paid.state is AttemptState.SUCCEEDED and paid.brand == "amex"


def test_card_brands_setting_is_a_comma_list_of_known_brands(monkeypatch):
    monkeypatch.setenv("PAYFLOWS_CARD_BRANDS", "Visa, amex")
    assert load_settings().card_brands == ("visa", "amex")
    monkeypatch.setenv("PAYFLOWS_CARD_BRANDS", "visa,diners")
    with pytest.raises(ConfigurationError, match="diners"):
        load_settings()
