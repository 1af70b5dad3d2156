"""The billing run's driver-level claim writes: intents read back as rows, leases as columns,
purchase ids attached without a read-back unless one did not take."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from payflows.ledger import (
    AttemptKind,
    AttemptState,
    Intent,
    IntervalUnit,
    PurchaseConflict,
    UnitOfWork,
    attach_purchase,
    get_attempt,
    record_intent,
    upsert_customer,
    upsert_payment_method,
    upsert_subscription,
)
from payflows.ledger.grouped import INTENT_COLUMNS, attach_and_submit, insert_intents
from payflows.ledger.subscriptions import claim_due_subscription_rows

T0 = datetime(2025, 6, 1, tzinfo=UTC)


def test_intents_are_inserted_once_and_read_back_in_the_order_given(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        record_intent(uow, "sub:7:p", AttemptKind.MIT, 1, "ZAR")
        attach_purchase(uow, "sub:7:p", "pur-7")
        uow.commit()
    intents = [Intent(f"sub:{i}:p", AttemptKind.MIT, 100 + i, "ZAR") for i in range(10)]
    with UnitOfWork(engine) as uow:
        rows = insert_intents(uow, intents)
        uow.commit()
    assert INTENT_COLUMNS[1:] == (
        "business_key",
        "state",
        "purchase_id",
        "amount_cents",
        "currency",
    )
    assert [r[1] for r in rows] == [i.business_key for i in intents]
    # The attempt already there stands as it is: its state, its purchase, its amount.
    assert rows[7][2:] == [AttemptState.CREATED, "pur-7", 1, "ZAR"]
    assert rows[3][2:] == [AttemptState.INTENT, None, 103, "ZAR"]
    assert isinstance(rows[3][2], AttemptState)
    with UnitOfWork(engine) as uow:
        again = insert_intents(uow, list(reversed(intents)))
        uow.commit()
    assert [r[0] for r in again] == [r[0] for r in reversed(rows)]


def test_intents_are_checked_like_record_intents(engine: Engine) -> None:
    with UnitOfWork(engine) as uow, pytest.raises(ValueError):
        insert_intents(uow, [Intent("sub:1:p", AttemptKind.MIT, -5, "ZAR")])
    with UnitOfWork(engine) as uow, pytest.raises(ValueError):
        insert_intents(uow, [Intent("sub:1:p", AttemptKind.MIT, 5, "ZZZZ")])


def test_a_purchase_id_that_does_not_take_is_a_conflict(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        insert_intents(uow, [Intent(k, AttemptKind.MIT, 100, "ZAR") for k in ("a", "b", "c")])
        attach_and_submit(uow, {"a": "pur-a", "b": "pur-b"}, [])
        uow.commit()
    with UnitOfWork(engine) as uow:
        attach_and_submit(uow, {"a": "pur-a", "c": "pur-c"}, [])  # "a" again: the same id
        uow.commit()
    with UnitOfWork(engine) as uow, pytest.raises(PurchaseConflict):
        attach_and_submit(uow, {"b": "pur-other"}, [])  # "b" has its purchase already
    with UnitOfWork(engine) as uow, pytest.raises(IntegrityError):
        insert_intents(uow, [Intent("d", AttemptKind.MIT, 100, "ZAR")])
        attach_and_submit(uow, {"d": "pur-a"}, [])  # one purchase, two keys
    with UnitOfWork(engine) as uow:
        states = {k: get_attempt(uow, business_key=k) for k in ("a", "b", "c")}
    assert {k: (a.purchase_id, a.state) for k, a in states.items() if a} == {
        "a": ("pur-a", AttemptState.SUBMITTED),
        "b": ("pur-b", AttemptState.SUBMITTED),
        "c": ("pur-c", AttemptState.SUBMITTED),
    }


def test_claimed_rows_come_back_as_columns_under_the_same_lease(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        customer = upsert_customer(uow, "cust-1", precium_client_id="cli-1")
        method = upsert_payment_method(uow, "tok-1", customer_id=customer.id)  # type: ignore[arg-type]
        ids = [
            upsert_subscription(
                uow,
                f"sub-{i}",
                customer_id=customer.id,  # type: ignore[arg-type]
                payment_method_id=method.id,
                plan="basic",
                amount_cents=9900,
                currency="ZAR",
                interval_unit=IntervalUnit.MONTH,
                next_billing_at=T0 - timedelta(minutes=i),
            ).id
            for i in range(5)
        ]
        uow.commit()
    now = T0 + timedelta(hours=1)
    columns = ("id", "next_billing_at", "amount_cents")
    with UnitOfWork(engine) as uow:
        first = claim_due_subscription_rows(uow, T0, "w1", 3, 60, columns, now=now)
        uow.commit()
    # Oldest billing date first, each row only the columns asked for.
    assert [tuple(r) for r in first] == [
        (ids[4 - k], T0 - timedelta(minutes=4 - k), 9900) for k in range(3)
    ]
    with UnitOfWork(engine) as uow:
        second = claim_due_subscription_rows(uow, T0, "w2", 10, 60, columns, now=now)
        uow.commit()
    assert [r.id for r in second] == [ids[1], ids[0]]  # never one of w1's
    later = now + timedelta(seconds=61)
    with UnitOfWork(engine) as uow:
        third = claim_due_subscription_rows(uow, T0, "w3", 10, 60, columns, now=later)
        uow.commit()
    assert sorted(r.id for r in third) == sorted(ids)  # every lease ran out
