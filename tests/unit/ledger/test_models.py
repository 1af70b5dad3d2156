from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, select

from payflows.ledger import Customer, UnitOfWork, metadata, upsert_customer
from payflows.ledger.models import UTCDateTime

_CARD_WORDS = {"pan", "cvc", "cvv", "cvv2", "cvn", "pin", "cardnumber", "cryptogram", "cavv"}


def test_no_column_could_hold_a_pan_or_cvc() -> None:
    offenders = []
    for table in metadata.tables.values():
        for column in table.columns:
            name = column.name.lower()
            words = set(re.split(r"_", name))
            if name == "masked_pan":
                assert column.type.length <= 19  # type: ignore[attr-defined]
                continue
            if words & _CARD_WORDS or "card_number" in name or "security_code" in name:
                offenders.append(f"{table.name}.{column.name}")
    assert offenders == []


def test_datetimes_come_back_aware_utc(engine: Engine) -> None:
    joburg = timezone(timedelta(hours=2))
    local = datetime(2025, 3, 1, 10, 30, 15, 123456, tzinfo=joburg)
    with UnitOfWork(engine) as uow:
        customer = upsert_customer(uow, "c-1")
        customer.created_at = local
        uow.commit()
    with UnitOfWork(engine) as uow:
        stored = uow.session.exec(select(Customer.created_at)).scalar_one()  # type: ignore[call-overload]
    assert stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
    assert stored == local
    assert stored.hour == 8


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        UTCDateTime().process_bind_param(datetime(2025, 1, 1), dialect=None)  # type: ignore[arg-type]


def test_unit_of_work_rolls_back_unless_committed(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        upsert_customer(uow, "forgotten")
    with UnitOfWork(engine) as uow:
        upsert_customer(uow, "kept")
        uow.commit()
    with UnitOfWork(engine) as uow:
        ids = set(uow.session.exec(select(Customer.external_id)).scalars())  # type: ignore[call-overload]
    assert ids == {"kept"}


def test_unit_of_work_rolls_back_on_error(engine: Engine) -> None:
    with pytest.raises(RuntimeError), UnitOfWork(engine) as uow:
        upsert_customer(uow, "half-done")
        raise RuntimeError("step failed")
    with UnitOfWork(engine) as uow:
        assert uow.session.exec(select(Customer)).first() is None


def test_objects_stay_readable_after_commit(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        customer = upsert_customer(uow, "c-2", email="a@example.com")
        uow.commit()
    assert customer.email == "a@example.com"
    assert customer.created_at.tzinfo == UTC
