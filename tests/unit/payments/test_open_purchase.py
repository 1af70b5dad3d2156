"""Opening a purchase refuses one without a currency before anything is recorded or sent."""

from __future__ import annotations

import pytest
from sqlmodel import select

from payflows.gateway import Product, PurchaseRequest
from payflows.ledger import PaymentAttempt, UnitOfWork
from payflows.ledger.models import AttemptKind
from payflows.payments import OperationRejected
from payflows.payments.protocol import open_purchase

from .conftest import World


async def test_a_purchase_without_a_currency_is_refused_and_nothing_is_recorded(world: World):
    request = PurchaseRequest(
        client_id="0c9f3bd6-4f6b-4a42-9a8a-0a5c8e7c1d11",
        products=[Product(name="Order", price=29900)],
    )
    assert request.currency is None
    with pytest.raises(OperationRejected, match="needs a currency"):
        await open_purchase(world.ctx, "cit:NO-CURRENCY", AttemptKind.CIT, request)
    with UnitOfWork(world.ctx.engine) as uow:
        assert uow.session.exec(select(PaymentAttempt)).all() == []
