"""execute_many writes what Session.execute writes; rows_in reads what the ORM reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, bindparam, func, or_, select, update

from payflows.ledger import AttemptKind, AttemptState, PaymentAttempt, UnitOfWork, record_intent
from payflows.ledger._common import table_of
from payflows.ledger.many import execute_many, rows_in
from payflows.ledger.models import Hold

T = table_of(PaymentAttempt)
AT = datetime(2026, 12, 3, 8, 0, 0, 123456, tzinfo=UTC)

# Literal values (an enum in SET and in WHERE), a typed bind, a coalesce of an untyped bind.
STMT = (
    update(T)
    .where(
        T.c.business_key == bindparam("k"),
        or_(T.c.state == AttemptState.INTENT, T.c.state == AttemptState.CREATED),
    )
    .values(
        state=AttemptState.SUBMITTED,
        updated_at=bindparam("now"),
        masked_pan=func.coalesce(T.c.masked_pan, bindparam("pan")),
    )
)


def _fill(engine: Engine, prefix: str, n: int) -> None:
    with UnitOfWork(engine) as uow:
        for i in range(n):
            record_intent(uow, f"{prefix}{i}", AttemptKind.MIT, 100 + i, "ZAR")
        uow.commit()


def _rows(engine: Engine, prefix: str) -> list[tuple]:
    cols = (T.c.state, T.c.updated_at, T.c.masked_pan, T.c.amount_cents)
    with UnitOfWork(engine) as uow:
        query = select(*cols).where(T.c.business_key.like(f"{prefix}%")).order_by(T.c.id)
        return [tuple(r) for r in uow.session.execute(query)]


def test_execute_many_writes_what_session_execute_writes(engine: Engine):
    _fill(engine, "a", 4)
    _fill(engine, "b", 4)
    params = [
        {"k": f"{{}}{i}", "now": AT, "pan": "411111******1111" if i % 2 else None} for i in range(5)
    ]
    with UnitOfWork(engine) as uow:
        uow.session.execute(STMT, [p | {"k": p["k"].format("a")} for p in params])
        matched = execute_many(uow, STMT, [p | {"k": p["k"].format("b")} for p in params])
        uow.commit()
    assert matched == 4  # the fifth key is not in the ledger
    assert _rows(engine, "a") == _rows(engine, "b")
    a = _rows(engine, "a")
    assert {r[0] for r in a} == {AttemptState.SUBMITTED} and a[0][1] == AT
    with UnitOfWork(engine) as uow:  # guarded by the state read: a second pass matches nothing
        assert execute_many(uow, STMT, [p | {"k": p["k"].format("b")} for p in params]) == 0
        uow.rollback()


def test_execute_many_refuses_what_it_cannot_send(engine: Engine):
    with UnitOfWork(engine) as uow:
        with pytest.raises(KeyError, match="'now'"):
            execute_many(uow, STMT, [{"k": "x", "pan": None}])
        expanding = update(T).where(T.c.business_key.in_(bindparam("ks", expanding=True)))
        with pytest.raises(TypeError):
            execute_many(uow, expanding.values(masked_pan=None), [{"ks": ["x"]}])
        assert execute_many(uow, STMT, []) == 0


def test_rows_in_reads_typed_values_in_batches(engine: Engine):
    _fill(engine, "c", 3)
    keys = [f"c{i}" for i in range(3)] + [f"missing{i}" for i in range(1200)]
    with UnitOfWork(engine) as uow:
        rows = rows_in(
            uow, T, ("business_key", "state", "created_at", "amount_cents"), "business_key", keys
        )
        assert rows_in(uow, table_of(Hold), ("id",), "purchase_id", []) == []
    assert sorted(r[0] for r in rows) == ["c0", "c1", "c2"]
    assert all(r[1] is AttemptState.INTENT for r in rows)
    assert all(r[2].tzinfo is not None for r in rows)
    assert sorted(r[3] for r in rows) == [100, 101, 102]
