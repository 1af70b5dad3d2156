"""A stored card's life against the in-process sandbox: saved as the purchase that is its token,
its network transaction id kept and quoted, deleted by the merchant and never charged again; and
``payflows doctor``'s checks against the same gateway."""

from __future__ import annotations

import pytest
from sqlmodel import select

from payflows.doctor import run_checks
from payflows.domain.cards import CardData
from payflows.gateway import PreciumClient
from payflows.ledger import PaymentMethod, UnitOfWork
from payflows.payments import OperationRejected, authorize_card, charge_stored_card, ensure_customer
from payflows.stored_cards import delete_stored_card
from payflows.webhooks import RegisteredWebhook

from .conftest import ORIGIN, World


def card() -> CardData:
    return CardData("4111111111111111", "12/35", "123", "Jo Bloggs")


def method_of(world: World, token: str) -> PaymentMethod:
    with UnitOfWork(world.ctx.engine) as uow:
        method = uow.session.exec(
            select(PaymentMethod).where(PaymentMethod.recurring_token == token)
        ).one()
        uow.session.expunge(method)
        return method


async def saved(world: World, ext: str = "cust-1"):
    customer = await ensure_customer(world.ctx, ext, email=f"{ext}@example.com")
    outcome = await authorize_card(
        world.ctx, f"zero:{ext}", customer, card(), amount_cents=0, currency="ZAR", product="Check"
    )
    assert outcome.succeeded, outcome
    return customer, outcome


async def test_a_zero_amount_preauthorisation_saves_the_card_as_its_own_purchase(world: World):
    """No force_recurring: the zero-amount pre-authorisation is the token all the same."""
    _, outcome = await saved(world)
    assert outcome.recurring_token == outcome.purchase_id
    method = method_of(world, outcome.purchase_id)
    assert method.deleted_at is None and method.brand == "visa"
    assert method.network_transaction_id, "the network transaction id was not kept"


async def test_every_mit_charge_quotes_the_kept_network_transaction_id(world: World):
    customer, outcome = await saved(world)
    method = method_of(world, outcome.purchase_id)
    charged = await charge_stored_card(
        world.ctx, "mit:1", customer, method, amount_cents=500, currency="ZAR", product="Plan"
    )
    assert charged.succeeded, charged
    (remote,) = await world.sandbox_purchases(reference="mit:1")
    flags = remote["purchase"]["payment_method_details"]["card"]
    assert flags["is_recurring"] is True
    assert flags["previous_network_transaction_id"] == method.network_transaction_id
    assert remote["recurring_token"] == outcome.purchase_id  # the token used to pay it


async def test_a_deleted_card_is_deleted_at_the_gateway_and_never_charged(world: World):
    customer, outcome = await saved(world)
    token = outcome.purchase_id

    deletion = await delete_stored_card(world.ctx, token)

    assert not deletion.already_deleted and deletion.recurring_token == token
    assert method_of(world, token).deleted_at == deletion.deleted_at
    remote = await world.ctx.gateway.get_purchase(token)
    assert not remote.is_recurring_token and remote.token_deleted
    again = await delete_stored_card(world.ctx, token)
    assert again.already_deleted and again.deleted_at == deletion.deleted_at
    with pytest.raises(OperationRejected, match="deleted"):
        await charge_stored_card(
            world.ctx,
            "mit:after-delete",
            customer,
            method_of(world, token),
            amount_cents=500,
            currency="ZAR",
            product="Plan",
        )
    assert await world.sandbox_purchases(reference="mit:after-delete") == []


async def test_a_card_deleted_at_the_gateway_first_is_marked_deleted_on_the_second_ask(
    world: World,
):
    """The gateway deleted it already (someone else asked): the read-back says so."""
    _, outcome = await saved(world)
    token = outcome.purchase_id
    await world.ctx.gateway.delete_recurring_token(token)
    assert method_of(world, token).deleted_at is None

    deletion = await delete_stored_card(world.ctx, token)

    assert method_of(world, token).deleted_at == deletion.deleted_at


async def test_an_unknown_token_is_refused(world: World):
    with pytest.raises(OperationRejected, match="no stored card"):
        await delete_stored_card(world.ctx, "not-a-token")


# -- payflows doctor -------------------------------------------------------------------------


async def _unsigned_answer(status: int):
    async def post(url: str) -> int:
        return status

    return post


async def test_doctor_passes_every_check_on_a_ready_gateway(world: World):
    callback = "https://merchant.example/webhooks/precium"
    hook = await world.ctx.gateway.create_webhook("payflows", callback, all_events=True)
    kept = RegisteredWebhook(hook.id, callback, hook.public_key or "", all_events=True)

    checks = await run_checks(
        world.ctx.gateway,
        callback_url=callback,
        registered=[kept],
        post=await _unsigned_answer(401),
    )

    assert [c.name for c in checks] == [
        "api key",
        "s2s key",
        "brand",
        "public key",
        "payment methods",
        "webhook",
        "webhook url",
    ]
    assert all(c.ok for c in checks), "\n".join(c.line() for c in checks)


async def test_doctor_names_each_failure(world: World):
    transport = world.ctx.gateway._pools[0]._transport  # the in-process sandbox
    bad = PreciumClient(
        f"{ORIGIN}/api/v1/", "wrong-key", "wrong-s2s", "no-such-brand", transport=transport
    )
    async with bad:
        checks = await run_checks(
            bad,
            callback_url="https://merchant.example/webhooks/precium",
            registered=[],
            post=await _unsigned_answer(502),
        )
    failed = {c.name: c.detail for c in checks if not c.ok}
    assert {"api key", "webhook", "webhook url"} <= set(failed), failed
    assert "refused" in failed["api key"]
    lines = [c.line() for c in checks]
    assert all("\n" not in line and line.startswith(("ok", "FAIL")) for line in lines)
    assert "wrong-key" not in "".join(lines)


async def test_a_card_stored_without_its_network_transaction_id_gets_it_from_the_saved_cards(
    world: World,
):
    """A payment whose answer carried no id (``pending``): the client's saved cards list it."""
    from sqlalchemy import update

    customer, outcome = await saved(world)
    token = outcome.purchase_id
    expected = method_of(world, token).network_transaction_id
    with UnitOfWork(world.ctx.engine) as uow:
        uow.session.exec(
            update(PaymentMethod)
            .where(PaymentMethod.recurring_token == token)
            .values(network_transaction_id=None)
        )
        uow.commit()

    again = await authorize_card(
        world.ctx, "zero:cust-1", customer, None, amount_cents=0, currency="ZAR", product="Check"
    )

    assert again.recurring_token == token
    assert expected and method_of(world, token).network_transaction_id == expected
