"""The ledger's one-off charge upsert (migration 0003), used outside the bulk import."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine

from payflows.ledger import (
    LedgerError,
    OneOffChargeStatus,
    UnitOfWork,
    get_one_off_charge,
    upsert_customer,
    upsert_one_off_charge,
    upsert_payment_method,
)


def test_upsert_one_off_charge_is_idempotent_and_keyed_by_external_id(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        customer = upsert_customer(uow, "c1", email="a@example.co.za", phone="+27825550101")
        other = upsert_customer(uow, "c2", email="b@example.co.za", country="ZA")
        method = upsert_payment_method(uow, "tok_1", customer_id=customer.id)
        args = dict(
            customer_id=customer.id,
            payment_method_id=method.id,
            amount_cents=85000,
            currency="zar",
            description="Router installation",
            charge_on=date(2026, 12, 2),
        )
        first = upsert_one_off_charge(uow, "inv-1", **args)
        again = upsert_one_off_charge(uow, "inv-1", **args)
        assert first.id == again.id and again.currency == "ZAR"
        assert again.status == OneOffChargeStatus.PLANNED
        changed = upsert_one_off_charge(uow, "inv-1", **{**args, "amount_cents": 90000})
        assert changed.amount_cents == 90000
        with pytest.raises(LedgerError):
            upsert_one_off_charge(uow, "inv-1", **{**args, "customer_id": other.id})
        uow.commit()
    with UnitOfWork(engine) as uow:
        stored = get_one_off_charge(uow, "inv-1")
        assert stored is not None and stored.amount_cents == 90000
        assert get_one_off_charge(uow, "nope") is None
        assert upsert_customer(uow, "c1").phone == "+27825550101"
