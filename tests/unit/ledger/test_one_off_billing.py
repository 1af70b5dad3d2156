"""One-off charges as the billing run sees them (migration 0006): keys, what is due, claims.

Also the subscriptions' anchor day, set at creation and backfilled by the migration.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, text

from payflows.billing.one_off import (
    claim_due_one_offs,
    due_one_offs,
    one_off_key,
    release_one_off_claims,
)
from payflows.ledger import (
    LedgerError,
    OneOffChargeStatus,
    PaymentAttempt,
    UnitOfWork,
    get_one_off_charge,
    migrate,
    upsert_customer,
    upsert_one_off_charge,
    upsert_payment_method,
    upsert_subscription,
)
from payflows.ledger.db import make_engine

AS_OF = datetime(2026, 1, 31, 7, 0, tzinfo=UTC)


def _plans(engine: Engine, *days: date) -> list[str]:
    with UnitOfWork(engine) as uow:
        customer = upsert_customer(uow, "c1", email="a@example.co.za")
        method = upsert_payment_method(uow, "tok_1", customer_id=customer.id)
        ids = []
        for n, day in enumerate(days):
            upsert_one_off_charge(
                uow,
                f"inv-{n}",
                customer_id=customer.id,
                payment_method_id=method.id,
                amount_cents=1000 + n,
                currency="ZAR",
                description=f"Invoice {n}",
                charge_on=day,
            )
            ids.append(f"inv-{n}")
        uow.commit()
    return ids


def _due(engine: Engine, as_of: datetime, now: datetime = AS_OF) -> set[str]:
    with UnitOfWork(engine) as uow:
        ids = set(uow.session.exec(due_one_offs(as_of, now)))
        return {
            c.external_id
            for n in range(10)
            if (c := get_one_off_charge(uow, f"inv-{n}")) is not None and c.id in ids
        }


def test_keys_name_the_plan_then_each_retry() -> None:
    assert one_off_key("inv-7") == "oneoff:inv-7"
    assert one_off_key("inv-7", 1) == "oneoff:inv-7:try2"
    assert one_off_key("inv-7", 4) == "oneoff:inv-7:try5"


def test_due_means_planned_on_or_before_the_utc_date_with_no_retry_pending(engine: Engine) -> None:
    _plans(engine, date(2026, 1, 30), date(2026, 1, 31), date(2026, 2, 1), date(2026, 1, 1))
    assert _due(engine, AS_OF) == {"inv-0", "inv-1", "inv-3"}
    # 00:30 on Feb 1 in Johannesburg is still Jan 31 in UTC.
    joburg = datetime(2026, 2, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert _due(engine, joburg) == {"inv-0", "inv-1", "inv-3"}
    assert _due(engine, datetime(2026, 2, 1, 0, 0, tzinfo=UTC)) == {f"inv-{n}" for n in range(4)}
    with UnitOfWork(engine) as uow:
        get_one_off_charge(uow, "inv-0").status = OneOffChargeStatus.CHARGED
        get_one_off_charge(uow, "inv-1").retry_at = AS_OF + timedelta(hours=1)
        get_one_off_charge(uow, "inv-3").status = OneOffChargeStatus.CANCELLED
        uow.commit()
    assert _due(engine, AS_OF) == set()
    assert _due(engine, AS_OF + timedelta(hours=1)) == {"inv-1"}


def test_two_workers_never_claim_the_same_charge(engine: Engine) -> None:
    _plans(engine, *[date(2026, 1, 31)] * 5)
    with UnitOfWork(engine) as uow:
        a = claim_due_one_offs(uow, AS_OF, "a", 3, 600, now=AS_OF)
        uow.commit()
    with UnitOfWork(engine) as uow:
        b = claim_due_one_offs(uow, AS_OF, "b", 10, 600, now=AS_OF)
        uow.commit()
    assert len(a) == 3 and len(b) == 2
    assert not {c.id for c in a} & {c.id for c in b}
    assert all(c.claimed_by == "a" for c in a)
    with UnitOfWork(engine) as uow:
        assert claim_due_one_offs(uow, AS_OF, "c", 10, 600, now=AS_OF) == []
        # b cannot give back a's leases; a can.
        assert release_one_off_claims(uow, [c.id for c in a], "b") == 0
        assert release_one_off_claims(uow, [a[0].id], "a") == 1
        uow.commit()
    with UnitOfWork(engine) as uow:
        [again] = claim_due_one_offs(uow, AS_OF, "c", 10, 600, now=AS_OF)
        assert again.id == a[0].id
        # Leases lapse (a crashed worker never gives them back).
        later = claim_due_one_offs(uow, AS_OF, "d", 10, 600, now=AS_OF + timedelta(minutes=11))
        assert len(later) == 5
        assert release_one_off_claims(uow, None, "d") == 5
        uow.commit()


def test_a_plan_being_charged_no_longer_changes(engine: Engine) -> None:
    _plans(engine, date(2026, 1, 31))
    with UnitOfWork(engine) as uow:
        charge = get_one_off_charge(uow, "inv-0")
        attempt = PaymentAttempt(
            business_key="oneoff:inv-0", kind="mit", amount_cents=1000, currency="ZAR"
        )
        uow.session.add(attempt)
        uow.session.flush()
        charge.attempt_id = attempt.id
        uow.commit()
        args = dict(
            customer_id=charge.customer_id,
            payment_method_id=charge.payment_method_id,
            currency="ZAR",
            description="Invoice 0",
            charge_on=date(2026, 1, 31),
        )
    with UnitOfWork(engine) as uow:
        assert upsert_one_off_charge(uow, "inv-0", amount_cents=1000, **args).amount_cents == 1000
        with pytest.raises(LedgerError, match="being charged"):
            upsert_one_off_charge(uow, "inv-0", amount_cents=2000, **args)


def test_anchor_day_is_the_first_billing_day_in_utc(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        customer = upsert_customer(uow, "c1", email="a@example.co.za")
        late = upsert_subscription(
            uow,
            "s1",
            customer_id=customer.id,
            plan="basic",
            amount_cents=9900,
            currency="ZAR",
            interval_unit="month",
            # 01:00 on the 1st in Johannesburg: the 31st in UTC.
            next_billing_at=datetime(2026, 2, 1, 1, 0, tzinfo=timezone(timedelta(hours=2))),
        )
        assert late.anchor_day == 31


def test_migration_backfills_anchor_days_from_the_first_billed_period(fresh_url: str) -> None:
    migrate.upgrade(fresh_url, "0003")
    engine = make_engine(fresh_url)
    sqlite = fresh_url.startswith("sqlite")

    def at(*args: int) -> datetime:
        # Raw SQL: SQLite keeps naive UTC, as the ledger's UTCDateTime writes it.
        value = datetime(*args, tzinfo=UTC)
        return value.replace(tzinfo=None) if sqlite else value

    now = at(2026, 1, 1)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO customers (id, external_id, created_at, updated_at)"
                    " VALUES (1, 'c1', :now, :now)"
                ),
                {"now": now},
            )
            for sid, due in ((1, at(2026, 2, 28, 6)), (2, at(2026, 3, 15, 6))):
                conn.execute(
                    text(
                        "INSERT INTO subscriptions (id, external_id, customer_id, plan,"
                        " amount_cents, currency, interval_unit, interval_count,"
                        " next_billing_at, status, failed_attempts, created_at, updated_at)"
                        " VALUES (:id, :ext, 1, 'basic', 9900, 'ZAR', 'month', 1, :due,"
                        " 'active', 0, :now, :now)"
                    ),
                    {"id": sid, "ext": f"s{sid}", "due": due, "now": now},
                )
            conn.execute(
                text(
                    "INSERT INTO payment_attempts (business_key, kind, state, amount_cents,"
                    " currency, subscription_id, created_at, updated_at)"
                    " VALUES ('sub:1:2026-01-31', 'mit', 'succeeded', 9900, 'ZAR', 1, :now, :now)"
                ),
                {"now": now},
            )
        migrate.upgrade(fresh_url)
        with engine.connect() as conn:
            rows = dict(conn.execute(text("SELECT id, anchor_day FROM subscriptions")).all())
        assert rows == {1: 31, 2: 15}
    finally:
        engine.dispose()
