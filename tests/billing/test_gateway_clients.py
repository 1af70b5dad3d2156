"""Imported customers have no gateway client: billing creates one first, then charges."""

from __future__ import annotations

from datetime import timedelta

from payflows.billing import bill_due, ensure_gateway_clients
from payflows.ledger import (
    Customer,
    UnitOfWork,
    upsert_customer,
    upsert_payment_method,
    upsert_subscription,
)

from .conftest import FIRST, World


async def _imported(world: World, ext: str, token: str, *, email: str | None) -> int:
    response = await world.http.put(
        f"/_sandbox/recurring_tokens/{token}/", json={"card": "visa_approved"}
    )
    assert response.status_code == 200, response.text

    def create(uow: UnitOfWork) -> int:
        customer = upsert_customer(uow, ext, email=email, full_name="Imported Customer")
        method = upsert_payment_method(
            uow, token, customer_id=customer.id, brand="visa", masked_pan="411111******1111"
        )
        upsert_subscription(
            uow,
            f"sub-{ext}",
            customer_id=customer.id,
            plan="basic",
            amount_cents=9900,
            currency="ZAR",
            interval_unit="month",
            next_billing_at=FIRST,
            payment_method_id=method.id,
        )
        return int(customer.id)

    return int(await world.ctx.ledger(create))


def _client_of(world: World, customer_id: int) -> str | None:
    with UnitOfWork(world.ctx.engine) as uow:
        return uow.session.get(Customer, customer_id).precium_client_id


async def test_imported_customers_get_a_client_once_and_are_then_billed(world: World) -> None:
    with_email = await _imported(world, "imp-1", "tok_imported_1", email="imp1@example.test")
    no_email = await _imported(world, "imp-2", "tok_imported_2", email=None)

    created = await ensure_gateway_clients(world.ctx)
    again = await ensure_gateway_clients(world.ctx)
    summary = await bill_due(world.ctx, as_of=FIRST + timedelta(hours=1), worker_id="w")

    assert (created, again) == (1, 0)
    assert _client_of(world, with_email) is not None
    assert _client_of(world, no_email) is None
    assert summary.succeeded == 1
    assert (await world.paid_by_reference()).total() == 1
