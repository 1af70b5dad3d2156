from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from payflows.ledger import (
    IntervalUnit,
    LedgerError,
    Subscription,
    SubscriptionStatus,
    UnitOfWork,
    claim_due_subscriptions,
    release_claim,
    renew_leases,
    upsert_customer,
    upsert_payment_method,
    upsert_subscription,
)

T0 = datetime(2025, 6, 1, tzinfo=UTC)


def _seed(engine: Engine, n: int, *, start: datetime = T0) -> list[int]:
    with UnitOfWork(engine) as uow:
        customer = upsert_customer(uow, "cust-1", precium_client_id="cli-1")
        method = upsert_payment_method(
            uow, "tok-1", customer_id=customer.id, brand="visa", masked_pan="444433******1111"
        )
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
                next_billing_at=start + timedelta(minutes=i),
            ).id
            for i in range(n)
        ]
        uow.commit()
    return ids  # type: ignore[return-value]


def test_upserts_run_twice_change_nothing(engine: Engine) -> None:
    _seed(engine, 1)
    with UnitOfWork(engine) as uow:
        sub = upsert_subscription(
            uow,
            "sub-0",
            customer_id=1,
            payment_method_id=1,
            plan="basic",
            amount_cents=9900,
            currency="zar",
            interval_unit="month",
            next_billing_at=T0,
        )
        stamp = sub.updated_at
        sub.next_billing_at = T0 + timedelta(days=31)  # billing moved it on
        uow.commit()
    with UnitOfWork(engine) as uow:
        customer = upsert_customer(uow, "cust-1", precium_client_id="cli-1")
        method = upsert_payment_method(uow, "tok-1", customer_id=customer.id, brand="visa")  # type: ignore[arg-type]
        again = upsert_subscription(
            uow,
            "sub-0",
            customer_id=customer.id,  # type: ignore[arg-type]
            payment_method_id=method.id,
            plan="basic",
            amount_cents=9900,
            currency="ZAR",
            interval_unit=IntervalUnit.MONTH,
            next_billing_at=T0,
        )
        uow.commit()
    assert again.id == sub.id and again.updated_at == stamp
    assert again.next_billing_at == T0 + timedelta(days=31)  # an import never resets billing
    assert again.status == SubscriptionStatus.ACTIVE and again.interval_count == 1
    with UnitOfWork(engine) as uow:
        priced = upsert_subscription(
            uow,
            "sub-0",
            customer_id=1,
            plan="pro",
            amount_cents=19900,
            currency="ZAR",
            interval_unit="month",
            next_billing_at=T0,
        )
        assert (priced.plan, priced.amount_cents, priced.payment_method_id) == ("pro", 19900, 1)
        other = upsert_customer(uow, "cust-2")
        with pytest.raises(LedgerError):
            upsert_payment_method(uow, "tok-1", customer_id=other.id)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="full card number"):
            upsert_payment_method(uow, "tok-2", customer_id=1, masked_pan="4444333322221111")
        with pytest.raises(TypeError):
            upsert_subscription(
                uow,
                "sub-x",
                customer_id=1,
                plan="p",
                amount_cents=99.0,  # type: ignore[arg-type]
                currency="ZAR",
                interval_unit="month",
                next_billing_at=T0,
            )


def test_claim_takes_only_due_unleased_subscriptions_in_billing_order(engine: Engine) -> None:
    ids = _seed(engine, 6)
    now = datetime(2025, 1, 1, tzinfo=UTC)
    with UnitOfWork(engine) as uow:
        sub4 = uow.session.get(Subscription, ids[4])
        sub4.status = SubscriptionStatus.CANCELLED  # type: ignore[union-attr]
        sub3 = uow.session.get(Subscription, ids[3])
        sub3.status = SubscriptionStatus.PAST_DUE  # type: ignore[union-attr]
        sub3.retry_at = T0 + timedelta(days=1)  # type: ignore[union-attr]
        uow.commit()
    as_of = T0 + timedelta(minutes=4)  # sub-5 is not due yet
    with UnitOfWork(engine) as uow:
        first = claim_due_subscriptions(uow, as_of, "w1", 2, 60, now=now)
        uow.commit()
    assert [s.id for s in first] == ids[:2]
    assert all(
        s.claimed_by == "w1" and s.claimed_until == now + timedelta(seconds=60) for s in first
    )
    with UnitOfWork(engine) as uow:
        second = claim_due_subscriptions(uow, as_of, "w2", 10, 60, now=now)
        uow.commit()
    assert [s.id for s in second] == [ids[2]]
    with UnitOfWork(engine) as uow:
        assert release_claim(uow, [s.id for s in first], "w2") == 0  # not w2's to give back
        assert release_claim(uow, [first[0].id], "w1") == 1  # type: ignore[list-item]
        uow.commit()
    with UnitOfWork(engine) as uow:
        third = claim_due_subscriptions(uow, as_of, "w3", 10, 60, now=now)
        uow.commit()
    assert [s.id for s in third] == [ids[0]]
    later = now + timedelta(seconds=61)  # every lease has run out
    with UnitOfWork(engine) as uow:
        fourth = claim_due_subscriptions(uow, as_of + timedelta(days=1), "w4", 10, 60, now=later)
        uow.commit()
    assert [s.id for s in fourth] == [ids[0], ids[1], ids[2], ids[3], ids[5]]


def test_two_workers_claiming_at_once_never_get_the_same_subscription(engine: Engine) -> None:
    _seed(engine, 30)
    as_of = T0 + timedelta(days=1)
    barrier = threading.Barrier(2)
    claimed: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            barrier.wait()
            got: list[int] = []
            for _ in range(3):
                with UnitOfWork(engine) as uow:
                    subs = claim_due_subscriptions(uow, as_of, name, 4, 300)
                    time.sleep(0.05)  # hold the rows while the other worker claims
                    uow.commit()
                got.extend(s.id for s in subs)  # type: ignore[misc]
            claimed[name] = got
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("w1", "w2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    a, b = claimed["w1"], claimed["w2"]
    assert set(a).isdisjoint(b)
    assert len(a) == len(set(a)) == 12 and len(b) == len(set(b)) == 12


def test_claim_works_on_a_sqlite_without_returning(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite before 3.35 has no RETURNING: the claim falls back to select-then-update, which
    # BEGIN IMMEDIATE keeps atomic.
    monkeypatch.setattr(sqlite_engine.dialect, "update_returning", False)
    ids = _seed(sqlite_engine, 3)
    with UnitOfWork(sqlite_engine) as uow:
        got = claim_due_subscriptions(uow, T0 + timedelta(days=1), "w1", 2, 60)
        uow.commit()
    with UnitOfWork(sqlite_engine) as uow:
        rest = claim_due_subscriptions(uow, T0 + timedelta(days=1), "w2", 5, 60)
        uow.commit()
    assert [s.id for s in got] == ids[:2] and [s.id for s in rest] == ids[2:]
    assert {s.claimed_by for s in got} == {"w1"}


def test_lease_renewal_never_waits_on_a_row_another_transaction_of_the_run_holds(
    engine: Engine, backend: str
) -> None:
    """PostgreSQL locks rows: the heartbeat's renewal used to lock every held row in scan order
    while the run's own grouped commit (another connection) updated the same rows in its order,
    and each waited for the other until PostgreSQL broke the deadlock ("lease renewal failed
    (OperationalError)" under load). A row locked elsewhere is now skipped for this beat: it is
    being written by its owner right now, and the next beat renews it."""
    if backend != "postgresql":
        pytest.skip("SQLite locks the whole database, not rows: no deadlock to have")
    ids = _seed(engine, 3)
    with UnitOfWork(engine) as uow:
        claimed = claim_due_subscriptions(
            uow, T0 + timedelta(hours=1), worker_id="run-1", limit=10, lease_seconds=30
        )
        uow.commit()
    assert sorted(s.id for s in claimed) == ids
    with engine.connect() as other:  # the run's grouped commit, half way: it holds the last row
        other.exec_driver_sql("SET lock_timeout = '5s'")
        other.exec_driver_sql(
            "UPDATE subscriptions SET failed_attempts = 1 WHERE id = %s", (ids[-1],)
        )
        started = time.monotonic()
        with UnitOfWork(engine) as uow:
            uow.session.connection().exec_driver_sql("SET LOCAL lock_timeout = '5s'")
            renewed = renew_leases(uow, Subscription, "run-1", 30)
            uow.commit()
        waited = time.monotonic() - started
        # and the other transaction can still take the rows the renewal touched (no deadlock)
        other.exec_driver_sql(
            "UPDATE subscriptions SET failed_attempts = 1 WHERE id = %s", (ids[0],)
        )
        other.rollback()
    assert renewed == len(ids) - 1  # the locked row waits for the next beat
    assert waited < 4  # it did not wait on the lock (lock_timeout would have failed it at 5 s)
