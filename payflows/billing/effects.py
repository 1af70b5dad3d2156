"""What a resolved charge does to its subscription or one-off charge, in the outcome's commit.

A paid period moves the billing date on; a declined one goes to dunning (retry or suspend, per
the run's :class:`~payflows.billing.DunningPolicy`, with the failed-attempt count and the reason
kept on the row); a refused charge suspends, counted as a failed attempt with its reason. The
lease is given back in the same commit. :func:`apply_effects` is the billing run's part of each
grouped commit of :class:`payflows.exactly_once.GroupedStore`, run after the outcomes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select, update
from sqlmodel import col

from payflows.billing.dunning import Decision
from payflows.billing.items import Finish, Run
from payflows.billing.one_off import one_off_key
from payflows.billing.schedule import add_interval
from payflows.billing.summary import count, expected_key
from payflows.ledger import (
    AttemptKind,
    AttemptState,
    IntervalUnit,
    OneOffCharge,
    OneOffChargeStatus,
    PaymentAttempt,
    Subscription,
    SubscriptionStatus,
)
from payflows.ledger.db import Transaction
from payflows.ledger.many import execute_many, rows_in
from payflows.ledger.models import utcnow

__all__ = ["apply_effects"]

_ATTEMPTS = PaymentAttempt.__table__  # type: ignore[attr-defined]
_SUBS = Subscription.__table__  # type: ignore[attr-defined]
_ONE_OFFS = OneOffCharge.__table__  # type: ignore[attr-defined]
_UPDATES: dict[tuple[str, tuple[str, ...]], Any] = {}

# The two reads of every grouped commit, straight to the driver (``rows_in``): through the
# session each paid for SQLAlchemy's execution machinery, more than SQLite's own work.


class _Attempt(NamedTuple):
    business_key: str
    state: AttemptState
    amount_cents: int
    currency: str
    decline_code: str | None
    network_code: str | None
    advice_code: str | None
    brand: str | None


class _Sub(NamedTuple):
    id: int
    next_billing_at: datetime
    failed_attempts: int
    interval_unit: IntervalUnit
    interval_count: int
    anchor_day: int | None
    claimed_by: str | None


#: A subscription billed for one missed period that has more due: the next run bills the next.
_LEFT_CATCH_UP = "catch-up: more periods due"


def apply_effects(run: Run, uow: Transaction, items: Sequence[Finish]) -> None:
    """Each resolved attempt's effect on its subscription or one-off charge, and the release
    of its lease (the outcomes were written earlier in the same commit)."""
    now = utcnow()
    keys = [f.key for f in items]
    attempts = {
        row[0]: _Attempt(*row)
        for row in rows_in(uow, _ATTEMPTS, _Attempt._fields, "business_key", keys)
    }
    subs = [f for f in items if not f.one_off]
    if subs:
        _finish_subscriptions(uow, run, subs, attempts, now)
    one_offs = [f for f in items if f.one_off]
    if one_offs:
        _finish_one_offs(uow, run, one_offs, attempts, now)


def _update_grouped(
    uow: Transaction, table: Any, groups: dict[tuple[str, ...], list[dict[str, Any]]], now: datetime
) -> None:
    for names, rows in groups.items():
        # One statement per shape of change (paid, retry, suspend, release only), built once.
        stmt = _UPDATES.get((table.name, names))
        if stmt is None:
            stmt = _UPDATES[(table.name, names)] = (
                update(table)
                .where(table.c.id == bindparam("sid"))
                .values(
                    {**{name: bindparam(name) for name in names}, "updated_at": bindparam("now")}
                )
            )
        for row in rows:
            row["now"] = now
        execute_many(uow, stmt, rows)


def _finish_subscriptions(
    uow: Transaction,
    run: Run,
    items: Sequence[Finish],
    attempts: dict[str, Any],
    now: datetime,
) -> None:
    ids = [f.owner_id for f in items]
    subs = {row[0]: _Sub(*row) for row in rows_in(uow, _SUBS, _Sub._fields, "id", ids)}
    states = {f.key: AttemptState(attempts[f.key].state) for f in items}
    declined = [f.owner_id for f in items if states[f.key] is AttemptState.DECLINED]
    history = _recent_attempts(uow, declined, run.as_of) if declined else {}
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for f in items:
        sub, attempt = subs[f.owner_id], attempts[f.key]
        values: dict[str, Any] = {}
        if expected_key(sub) == f.key:
            values = _effect(run, sub, attempt, history.get(f.owner_id, []))
        due_again = values.get("next_billing_at") is not None and (
            values["next_billing_at"] <= run.as_of
        )
        if due_again:
            # Catching up: one period per run. Keep the lease so this run does not claim the
            # next missed period; it is given back when the run ends.
            run.defer(f)
            run.summary.leave(_LEFT_CATCH_UP, f"subscription {f.owner_id}")
        elif f.release and sub.claimed_by == run.worker_id:
            values.update(claimed_by=None, claimed_until=None)
        if values:
            groups.setdefault(tuple(sorted(values)), []).append({"sid": f.owner_id, **values})
    _update_grouped(uow, _SUBS, groups, now)


def _finish_one_offs(
    uow: Transaction,
    run: Run,
    items: Sequence[Finish],
    attempts: dict[str, Any],
    now: datetime,
) -> None:
    charges = {
        row.id: row
        for row in uow.connection().execute(
            select(
                _ONE_OFFS.c.id,
                _ONE_OFFS.c.external_id,
                _ONE_OFFS.c.status,
                _ONE_OFFS.c.failed_attempts,
                _ONE_OFFS.c.payment_method_id,
                _ONE_OFFS.c.claimed_by,
            ).where(_ONE_OFFS.c.id.in_([f.owner_id for f in items]))
        )
    }
    declined = {
        charges[f.owner_id].payment_method_id
        for f in items
        if attempts[f.key].state == AttemptState.DECLINED
    }
    history = _card_attempts(uow, declined, run.as_of) if declined else {}
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for f in items:
        charge, attempt = charges[f.owner_id], attempts[f.key]
        values: dict[str, Any] = {}
        current = one_off_key(charge.external_id, charge.failed_attempts)
        if charge.status == OneOffChargeStatus.PLANNED and current == f.key:
            values = _one_off_effect(
                run, charge, attempt, history.get(charge.payment_method_id, [])
            )
        if f.release and charge.claimed_by == run.worker_id:
            values.update(claimed_by=None, claimed_until=None)
        if values:
            groups.setdefault(tuple(sorted(values)), []).append({"sid": f.owner_id, **values})
    _update_grouped(uow, _ONE_OFFS, groups, now)


def _one_off_effect(run: Run, charge: Any, attempt: Any, history: list[datetime]) -> dict[str, Any]:
    """The effect of a one-off charge's resolved attempt on the plan."""
    s = run.summary
    state = AttemptState(attempt.state)
    if state is AttemptState.SUCCEEDED:
        s.succeeded += 1
        s.one_off_succeeded += 1
        count(s.amounts_cents, attempt.currency, attempt.amount_cents)
        count(s.one_off_amounts_cents, attempt.currency, attempt.amount_cents)
        return {
            "status": OneOffChargeStatus.CHARGED,
            "retry_at": None,
            "dunning_reason": None,
        }
    if state is AttemptState.DECLINED:
        failed = charge.failed_attempts + 1
        decision = _dunning(run, failed, attempt, history)
        s.one_off_declined += 1
        if decision.retries:
            s.retry_scheduled += 1
            s.one_off_retry_scheduled += 1
        else:
            s.one_off_failed += 1
        return {
            "status": OneOffChargeStatus.PLANNED if decision.retries else OneOffChargeStatus.FAILED,
            "failed_attempts": failed,
            "last_decline_code": attempt.decline_code,
            "dunning_reason": decision.reason,
            "retry_at": decision.retry_at,
        }
    if state is AttemptState.FAILED:
        # The gateway refused the charge itself (an invalid token...): a person must look.
        s.one_off_failed += 1
        return {
            **_refused(run, attempt, charge.failed_attempts),
            "status": OneOffChargeStatus.FAILED,
        }
    return {}


def _effect(
    run: Run,
    sub: Any,
    attempt: Any,
    history: list[datetime],
) -> dict[str, Any]:
    """The effect of a resolved attempt on its subscription (only for its current key)."""
    s = run.summary
    state = AttemptState(attempt.state)
    if state is AttemptState.SUCCEEDED:
        s.succeeded += 1
        count(s.amounts_cents, attempt.currency, attempt.amount_cents)
        return {
            "next_billing_at": add_interval(
                sub.next_billing_at,
                sub.interval_unit,
                sub.interval_count,
                anchor_day=sub.anchor_day,
            ),
            "status": SubscriptionStatus.ACTIVE,
            "failed_attempts": 0,
            "last_decline_code": None,
            "dunning_reason": None,
            "retry_at": None,
        }
    if state is AttemptState.DECLINED:
        failed = sub.failed_attempts + 1
        decision = _dunning(run, failed, attempt, history)
        s.retry_scheduled += decision.retries
        s.suspended += not decision.retries
        return {
            "failed_attempts": failed,
            "last_decline_code": attempt.decline_code,
            "dunning_reason": decision.reason,
            "status": decision.status,
            "retry_at": decision.retry_at,
        }
    if state is AttemptState.FAILED:
        # The gateway refused the charge itself (an invalid token...): a person must look.
        s.suspended += 1
        return {
            **_refused(run, attempt, sub.failed_attempts),
            "status": SubscriptionStatus.SUSPENDED,
        }
    return {}


def _dunning(run: Run, failed: int, attempt: Any, history: list[datetime]) -> Decision:
    """The dunning policy's decision on a declined charge, counted in the run's summary."""
    s = run.summary
    decision = run.policy.decide(
        now=run.as_of,
        failed_attempts=failed,
        decline_code=attempt.decline_code,
        network_code=attempt.network_code,
        advice_code=attempt.advice_code,
        brand=attempt.brand,
        recent_attempts=history,
    )
    s.declined += 1
    count(s.declines_by_code, attempt.decline_code or "unknown")
    count(s.dunning_reasons, decision.reason)
    return decision


def _refused(run: Run, attempt: Any, failed_before: int) -> dict[str, Any]:
    """A charge the gateway refused itself (an invalid token...): counted, a person must look."""
    code = attempt.decline_code or "charge_failed"
    reason = f"charge refused {code}"
    run.summary.failed += 1
    count(run.summary.dunning_reasons, reason)
    return {
        "failed_attempts": failed_before + 1,
        "last_decline_code": code,
        "dunning_reason": reason,
        "retry_at": None,
    }


def _recent_attempts(
    uow: Transaction, sub_ids: list[int], as_of: datetime
) -> dict[int, list[datetime]]:
    """When each subscription's card was charged in the 30 days before ``as_of``."""
    return _charged_lately(uow, col(PaymentAttempt.subscription_id), sub_ids, as_of)


def _card_attempts(
    uow: Transaction, method_ids: set[int], as_of: datetime
) -> dict[int, list[datetime]]:
    """When each stored card was charged (MIT, any purpose) in the 30 days before ``as_of``."""
    return _charged_lately(uow, col(PaymentAttempt.payment_method_id), list(method_ids), as_of)


def _charged_lately(
    uow: Transaction, owner: Any, ids: list[int], as_of: datetime
) -> dict[int, list[datetime]]:
    """MIT charges that reached the issuer (paid or declined) in the 30 days before ``as_of``,
    by ``owner`` (the dunning policy's velocity rules count them)."""
    rows = (
        uow.connection()
        .execute(
            select(owner, PaymentAttempt.status_at).where(
                owner.in_(ids),
                PaymentAttempt.kind == AttemptKind.MIT,
                col(PaymentAttempt.state).in_([AttemptState.DECLINED, AttemptState.SUCCEEDED]),
                col(PaymentAttempt.status_at) > as_of - timedelta(days=30),
            )
        )
        .all()
    )
    found: dict[int, list[datetime]] = {}
    for owner_id, at in rows:
        found.setdefault(owner_id, []).append(at)
    return found
