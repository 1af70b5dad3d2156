"""The store's bulk path: what it reads back and writes is what the ORM would have."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select, update

from payflows.imports import import_csv
from payflows.ledger import PaymentMethod, Subscription, UnitOfWork
from tests.unit.imports.conftest import SAMPLES

SUB_HEADER = (SAMPLES / "subscriptions.csv").read_text().splitlines()[0]
PM_HEADER = (SAMPLES / "payment_methods.csv").read_text().splitlines()[0]


def _base(engine: Engine) -> None:
    for kind in ("customers", "payment_methods"):
        assert import_csv(SAMPLES / f"{kind}.csv", engine).rejected == 0


def test_a_token_deleted_at_the_gateway_is_refused(engine: Engine, write_csv) -> None:
    _base(engine)
    with UnitOfWork(engine) as uow:
        uow.session.execute(
            update(PaymentMethod)
            .where(PaymentMethod.recurring_token == "tok_7f3a1c0002")
            .values(deleted_at=datetime(2026, 11, 1, tzinfo=UTC))
        )
        uow.commit()
    path = write_csv(
        "s.csv",
        SUB_HEADER + "\nsub-1,cust-0002,tok_7f3a1c0002,Gym,349.00,ZAR,month,1,2026-12-01"
        "\nsub-2,cust-0001,tok_7f3a1c0001,Fibre,199.00,ZAR,month,1,2026-12-01\n",
    )
    result = import_csv(path, engine)
    assert (result.inserted, result.rejected) == (1, 1)
    assert result.errors[0].line == 2
    assert "deleted at the gateway" in result.errors[0].reason


def test_new_rows_are_stored_as_the_orm_reads_them(engine: Engine, write_csv) -> None:
    _base(engine)
    before = datetime.now(UTC)
    path = write_csv(
        "s.csv",
        SUB_HEADER + "\nsub-9,cust-0001,tok_7f3a1c0001,Fibre,199.50,ZAR,WEEK,2,"
        "2026-12-31T22:30:00-02:00\n",
    )
    assert import_csv(path, engine).inserted == 1
    with UnitOfWork(engine) as uow:
        sub = uow.session.execute(
            select(Subscription).where(Subscription.external_id == "sub-9")
        ).scalar_one()
        method = uow.session.execute(
            select(PaymentMethod).where(PaymentMethod.recurring_token == "tok_7f3a1c0001")
        ).scalar_one()
    assert sub.next_billing_at == datetime(2027, 1, 1, 0, 30, tzinfo=UTC)
    assert (sub.anchor_day, sub.amount_cents, sub.interval_count) == (1, 19950, 2)
    assert sub.interval_unit == "week" and sub.status == "active"
    assert sub.payment_method_id == method.id and sub.customer_id == method.customer_id
    assert sub.created_at == sub.updated_at and before <= sub.created_at <= datetime.now(UTC)


def test_a_changed_card_is_updated_and_an_empty_ntid_keeps_the_stored_one(
    engine: Engine, write_csv
) -> None:
    _base(engine)
    with UnitOfWork(engine) as uow:
        old = uow.session.execute(
            select(PaymentMethod).where(PaymentMethod.recurring_token == "tok_7f3a1c0001")
        ).scalar_one()
    path = write_csv(
        "pm.csv",
        PM_HEADER + "\ncust-0001,tok_7f3a1c0001,,199.00,ZAR,visa,411111******1111,09,2029\n",
    )
    result = import_csv(path, engine)
    assert (result.updated, result.inserted, result.rejected) == (1, 0, 0)
    with UnitOfWork(engine) as uow:
        new = uow.session.execute(
            select(PaymentMethod).where(PaymentMethod.recurring_token == "tok_7f3a1c0001")
        ).scalar_one()
    assert (new.expiry_month, new.expiry_year) == (9, 2029)
    assert new.network_transaction_id == old.network_transaction_id is not None
    assert new.updated_at > old.updated_at and new.created_at == old.created_at


def test_the_range_read_finds_what_the_in_query_finds(engine: Engine, write_csv) -> None:
    """SQLite reads a chunk's keys as one range of the index when that is cheaper; the rows
    found are the ``IN`` query's, whether the range is dense, sparse, or holds other keys."""
    from payflows.imports import _bulk
    from payflows.ledger import Customer

    header = "external_id,email,full_name,phone,country"
    ids = [f"c-{i:03d}" for i in range(0, 300, 3)] + ["c-1", "c-10", "c-2", "Z", "a", "a@b"]
    lines = [f"{c},p{n}@example.com,Person {n},,ZA" for n, c in enumerate(ids)]
    result = import_csv(write_csv("c.csv", "\n".join([header, *lines]) + "\n"), engine)
    assert result.inserted == len(ids)
    table = Customer.__table__  # type: ignore[attr-defined]
    asked = [
        {"c-000", "c-003", "c-006"},  # dense
        {"c-000", "c-297"},  # the whole table between: more than twice the keys, IN instead
        {"c-000", "c-001", "c-004", "c-299", "c-1", "c-10"},  # gaps and unknown keys
        {"Z", "a", "a@b", "c-2", "nobody", "é"},
        {"nobody"},
        {f"c-{i:03d}" for i in range(0, 90)},
    ]
    for keys in asked:
        with UnitOfWork(engine) as uow:
            ranged = _bulk.lookup_rows(uow, table, "external_id", keys, ["id", "email"])
            cursor = uow.session.connection().connection.cursor()
            marks = ", ".join("?" * len(keys))
            cursor.execute(
                f"SELECT external_id, id, email FROM customers WHERE external_id IN ({marks})",
                list(keys),
            )
            expected = cursor.fetchall()
        assert sorted(ranged) == sorted(expected), keys
        assert {row[0] for row in ranged} == keys & set(ids)
