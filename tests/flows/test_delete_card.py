"""The delete-card flow: the stored card is deleted at the gateway and in the ledger, an MIT on
it is then refused, running it again succeeds, and a card that is not the customer's is a red
run that changes nothing."""

from __future__ import annotations

import pytest

from flows import (
    OperationRejected,
    mit_charge,
    zero_auth_validation,
)
from flows.delete_card import delete_card
from tests.flows.support import Ledger, Sandbox, card, shopper


async def test_delete_card_deletes_it_everywhere_and_stops_mit(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    saved = await zero_auth_validation(
        reference=key, **shopper(key), **card("visa_approved"), auto_3ds="approve"
    )
    token = saved.recurring_token
    assert saved.succeeded and token == saved.purchase_id  # the saving purchase is the token
    customer = shopper(key)["email"]

    with pytest.raises(OperationRejected, match="no stored card"):
        await delete_card(customer_id="someone-else", recurring_token=token)
    assert ledger.rows("SELECT deleted_at FROM payment_methods")[0][0] is None

    done = await delete_card(customer_id=customer, recurring_token=token)
    again = await delete_card(customer_id=customer, recurring_token=token)

    assert not done.already_deleted and again.already_deleted
    assert ledger.rows("SELECT deleted_at FROM payment_methods")[0][0] is not None
    remote = await sandbox.purchase(token)
    assert remote["is_recurring_token"] is False
    assert remote["transaction_data"]["attempts"][0]["type"] == "delete_recurring_token"
    with pytest.raises(OperationRejected, match="deleted"):
        await mit_charge(
            subscription_id=f"sub-{key}",
            period="2026-03",
            amount="99.00",
            customer_id=customer,
            recurring_token=token,
        )
