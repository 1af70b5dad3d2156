"""The card's whole life on any gateway: the sandbox by default, the real platform in live mode
(``PAYFLOWS_LIVE=1``, see ``live.py``). Only CHIP's published test card is used
(``4444 3333 2222 1111``, CVC ``123``, no 3-D Secure) and nothing needs the sandbox's controls.
"""

from __future__ import annotations

import pytest

from payflows.domain import Status
from payflows.gateway import (
    AuthenticationError,
    CardFlags,
    PreciumClient,
    Product,
    PurchaseRequest,
    RequestRejected,
)
from tests.integration.support import SHOP, Flow, connect

CHIP_CARD = "4444333322221111"


async def test_the_keys_brand_methods_and_public_key_are_what_the_merchant_configured(
    sandbox_url: str, gateway: PreciumClient
) -> None:
    methods = await gateway.list_payment_methods()
    assert methods.card_methods or methods.available_payment_methods
    assert "BEGIN PUBLIC KEY" in await gateway.get_public_key()
    async with connect(sandbox_url, api_key="not-the-key") as wrong:
        with pytest.raises(AuthenticationError):
            await wrong.list_clients()


async def test_a_saved_card_is_charged_refunded_deleted_and_then_refused(
    flow: Flow, gateway: PreciumClient
) -> None:
    client = await flow.client()
    # A zero-amount pre-authorisation, no force_recurring, no remember_card, no currency.
    check = await gateway.create_purchase(
        PurchaseRequest(products=[Product(name="Card check", price=0)], client_id=client.id, **SHOP)
    )
    answer = await flow.submit(check, CHIP_CARD, browser=False)
    assert answer.approved, answer
    saved = await gateway.get_purchase(check.id)
    assert saved.status is Status.PREAUTHORIZED
    # The purchase that saved the card IS the token; its recurring_token stays null.
    assert saved.saved_token == check.id and saved.recurring_token is None
    ntid = (answer.card.network_transaction_id if answer.card else None) or (
        saved.network_transaction_id
    )

    mit = await flow.purchase(
        1_000,
        client_id=client.id,
        card=CardFlags(is_recurring=True, previous_network_transaction_id=ntid),
    )
    charged = await gateway.charge(mit.id, check.id)
    assert charged.status is Status.PAID
    assert (await gateway.get_purchase(mit.id)).recurring_token == check.id  # the token used

    refund = await gateway.refund(mit.id, 400)
    assert refund.purchase_id == mit.id and refund.refund_id and refund.amount == 400

    deleted = await gateway.delete_recurring_token(check.id)
    assert not deleted.is_recurring_token and deleted.saved_token is None
    again = await flow.purchase(1_000, client_id=client.id)
    with pytest.raises(RequestRejected) as refused:
        await gateway.charge(again.id, check.id)
    assert refused.value.code == "invalid_recurring_token"
