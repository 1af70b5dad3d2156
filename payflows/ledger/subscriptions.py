"""Subscriptions: the upsert an import calls, and the leases a billing run claims them with.

A lease (``claimed_by``, ``claimed_until``) keeps two runs from acting on one row. It is short
and renewed by the owner's heartbeat (:func:`renew_leases`) while the owner lives, so that a run
killed mid-way frees its rows within a minute for the next run to take over.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Row, or_, update
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from payflows.domain.money import validate_currency
from payflows.ledger._common import aware, cents, chunks, insert_for, set_fields, table_of
from payflows.ledger.db import UnitOfWork
from payflows.ledger.errors import LedgerError
from payflows.ledger.models import (
    IntervalUnit,
    OneOffCharge,
    Subscription,
    SubscriptionStatus,
    utcnow,
)

__all__ = [
    "claim_due_subscription_rows",
    "claim_due_subscriptions",
    "lease_columns",
    "lease_rows",
    "release_claim",
    "renew_leases",
    "upsert_subscription",
]


def upsert_subscription(
    uow: UnitOfWork,
    external_id: str,
    *,
    customer_id: int,
    plan: str,
    amount_cents: int,
    currency: str,
    interval_unit: IntervalUnit | str,
    next_billing_at: datetime,
    interval_count: int = 1,
    payment_method_id: int | None = None,
) -> Subscription:
    """The subscription ``external_id``, created, or with its plan, price and card updated.

    ``next_billing_at`` is used only when the subscription is new: once billing has started, the
    billing schedule, status, dunning state and claims belong to the billing flow, and an import
    run again must not reset them (that could bill a period twice).
    """
    now = utcnow()
    cents(amount_cents)
    currency = validate_currency(currency)
    unit = IntervalUnit(interval_unit)
    if interval_count < 1:
        raise ValueError("interval_count must be at least 1")
    first = aware(next_billing_at, "next_billing_at")
    uow.session.exec(
        insert_for(uow, Subscription)
        .values(
            external_id=external_id,
            customer_id=customer_id,
            payment_method_id=payment_method_id,
            plan=plan,
            amount_cents=amount_cents,
            currency=currency,
            interval_unit=unit,
            interval_count=interval_count,
            next_billing_at=first,
            anchor_day=first.astimezone(UTC).day,
            status=SubscriptionStatus.ACTIVE,
            failed_attempts=0,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["external_id"])
    )
    sub = uow.session.exec(
        select(Subscription)
        .where(col(Subscription.external_id) == external_id)
        .execution_options(populate_existing=True)
    ).one()
    if sub.customer_id != customer_id:
        raise LedgerError(f"subscription {external_id} belongs to another customer")
    set_fields(
        sub,
        now,
        plan=plan,
        amount_cents=amount_cents,
        currency=currency,
        interval_unit=unit,
        interval_count=interval_count,
        payment_method_id=payment_method_id,
    )
    uow.session.flush()
    return sub


def _due(as_of: datetime, now: datetime) -> SelectOfScalar[int | None]:
    """Subscriptions to bill at ``as_of`` whose lease (if any) has run out at ``now``.

    A past-due subscription is retried at ``retry_at``; its ``next_billing_at`` stays on the
    period still unpaid until the billing flow advances it.
    """
    return (
        select(col(Subscription.id))
        .where(
            col(Subscription.status).in_([SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE]),
            col(Subscription.next_billing_at) <= as_of,
            or_(col(Subscription.retry_at).is_(None), col(Subscription.retry_at) <= as_of),
            or_(
                col(Subscription.claimed_until).is_(None),
                col(Subscription.claimed_until) <= now,
            ),
        )
        .order_by(col(Subscription.next_billing_at), col(Subscription.id))
    )


#: The tables whose rows a run leases (``claimed_by``, ``claimed_until``).
Leased = TypeVar("Leased", Subscription, OneOffCharge)


def lease_rows(
    uow: UnitOfWork,
    model: type[Leased],
    due: SelectOfScalar[int | None],
    values: dict[str, Any],
) -> list[Leased]:
    """Set ``values`` (the lease) on the rows of ``model`` whose ids ``due`` selects; return them.

    Two claimers never get the same row: PostgreSQL locks the selected rows with ``FOR UPDATE
    SKIP LOCKED`` (a concurrent claimer takes the next ones instead of waiting); SQLite claims
    with one ``UPDATE ... WHERE id IN (SELECT ...) RETURNING`` inside its ``BEGIN IMMEDIATE``
    transaction. The caller commits: the lease is durable only then.
    """
    session = uow.session
    session.flush()
    dialect = session.get_bind().dialect
    if dialect.name == "sqlite" and dialect.update_returning:
        return list(
            session.exec(
                update(model)
                .where(col(model.id).in_(due))
                .values(**values)
                .returning(model)
                .execution_options(synchronize_session=False, populate_existing=True)
            ).scalars()
        )
    if dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(session.exec(due))
    if not ids:
        return []
    session.exec(
        update(model)
        .where(col(model.id).in_(ids))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return list(
        session.exec(
            select(model).where(col(model.id).in_(ids)).execution_options(populate_existing=True)
        )
    )


def lease_columns(
    uow: UnitOfWork,
    model: type[Leased],
    due: SelectOfScalar[int | None],
    values: dict[str, Any],
    columns: Sequence[str],
) -> list[Row[Any]]:
    """:func:`lease_rows` reading back only ``columns`` of the leased rows, as plain Core rows:
    no ORM object is built or tracked (the billing run's claim needs a dozen columns of 500
    rows, and loading them as objects cost more than the claim's SQL). Same locking."""
    session = uow.session
    session.flush()
    table = table_of(model)
    wanted = [table.c[name] for name in columns]
    dialect = session.get_bind().dialect
    if dialect.name == "sqlite" and dialect.update_returning:
        return list(
            session.execute(
                update(table).where(table.c.id.in_(due)).values(**values).returning(*wanted)
            )
        )
    if dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(session.exec(due))
    if not ids:
        return []
    session.execute(update(table).where(table.c.id.in_(ids)).values(**values))
    return list(session.execute(core_select(*wanted).where(table.c.id.in_(ids))))


def _claim(
    as_of: datetime, worker_id: str, limit: int, lease_seconds: float, now: datetime | None
) -> tuple[Any, dict[str, Any]] | None:
    """The due rows to lease and the lease's values, for both claims; None for no claim."""
    aware(as_of, "as_of")
    now = aware(now, "now") if now is not None else utcnow()
    if limit <= 0:
        return None
    until = now + timedelta(seconds=lease_seconds)
    values = {"claimed_by": worker_id, "claimed_until": until, "updated_at": now}
    return _due(as_of, now).limit(limit), values


def claim_due_subscription_rows(
    uow: UnitOfWork,
    as_of: datetime,
    worker_id: str,
    limit: int,
    lease_seconds: float,
    columns: Sequence[str],
    *,
    now: datetime | None = None,
) -> list[Row[Any]]:
    """:func:`claim_due_subscriptions` reading back only ``columns`` (which must include
    ``id`` and ``next_billing_at``), as Core rows in billing order; the same lease."""
    claim = _claim(as_of, worker_id, limit, lease_seconds, now)
    if claim is None:
        return []
    claimed = lease_columns(uow, Subscription, *claim, columns)
    return sorted(claimed, key=lambda s: (s.next_billing_at, s.id))


def claim_due_subscriptions(
    uow: UnitOfWork,
    as_of: datetime,
    worker_id: str,
    limit: int,
    lease_seconds: float,
    *,
    now: datetime | None = None,
) -> list[Subscription]:
    """Lease up to ``limit`` due subscriptions to ``worker_id``; two workers never share one.

    ``as_of`` decides what is due (it may be the sandbox's clock); the lease runs on ``now``
    (the wall clock by default). PostgreSQL locks the rows with ``FOR UPDATE SKIP LOCKED`` so a
    concurrent claimer takes the next ones instead of waiting; SQLite claims with one
    ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING`` inside a ``BEGIN IMMEDIATE``
    transaction. Commit soon after: the claim is durable only then.
    """
    claim = _claim(as_of, worker_id, limit, lease_seconds, now)
    if claim is None:
        return []
    claimed = lease_rows(uow, Subscription, *claim)
    return sorted(claimed, key=lambda s: (s.next_billing_at, s.id or 0))


def release_claim(uow: UnitOfWork, subscription_ids: Iterable[int], worker_id: str) -> int:
    """Give back leases held by ``worker_id`` (never another worker's); returns how many."""
    ids = list(subscription_ids)
    if not ids:
        return 0
    released = 0
    for chunk in chunks(ids):
        result = uow.session.exec(
            update(Subscription)
            .where(col(Subscription.id).in_(chunk), col(Subscription.claimed_by) == worker_id)
            .values(claimed_by=None, claimed_until=None, updated_at=utcnow())
            .execution_options(synchronize_session="fetch")
        )
        released += result.rowcount
    return released


def renew_leases(
    uow: UnitOfWork,
    model: type[Subscription] | type[OneOffCharge],
    worker_id: str,
    lease_seconds: float,
    *,
    now: datetime | None = None,
) -> int:
    """Push the lease of every row of ``model`` held by ``worker_id`` to ``now + lease``.

    The owner's heartbeat: a live run keeps its rows, a dead one stops renewing and its rows
    are free again once the (short) lease runs out. Returns how many rows were renewed.

    On PostgreSQL a row another transaction has locked right now is skipped (``FOR UPDATE SKIP
    LOCKED``): it is the run's own grouped commit writing that row, and waiting for it while
    holding the rows already renewed deadlocked with that commit, which locks the same rows in
    another order. The lease has two more beats of slack; the next beat renews the row. SQLite
    locks the whole database, so there the statement is a plain ``UPDATE``.
    """
    now = aware(now, "now") if now is not None else utcnow()
    held = (
        select(col(model.id))
        .where(col(model.claimed_by) == worker_id)
        .with_for_update(skip_locked=True)
    )
    result = uow.session.exec(
        update(model)
        .where(col(model.id).in_(held.scalar_subquery()))
        .values(claimed_until=now + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)
