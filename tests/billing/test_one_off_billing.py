"""One-off charges in the billing run: each due plan paid once, declines per the dunning rules."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from payflows.billing import bill_due, reconcile
from payflows.ledger import (
    AttemptState,
    OneOffChargeStatus,
    PaymentMethod,
    SubscriptionStatus,
    UnitOfWork,
)

from .conftest import FIRST, World

AS_OF = FIRST + timedelta(hours=1)
CHARGE = "POST /api/v1/purchases/*/charge/"
CREATE = "POST /api/v1/purchases/"
READ = "GET /api/v1/purchases/*/"


async def bill(world: World, as_of=AS_OF, worker: str = "w1", **kwargs):
    world.ctx.now = lambda: as_of
    return await bill_due(world.ctx, as_of=as_of, worker_id=worker, **kwargs)


async def test_due_one_offs_are_paid_once_and_recorded_on_the_plan(world: World):
    due = await world.plan_one_offs(7, amount_cents=12345)
    later = await world.plan_one_offs(2, charge_on=FIRST.date() + timedelta(days=3), prefix="l")
    subs = await world.subscribe(3)
    summary = await bill(world, batch_size=2, concurrency=3)
    assert summary.one_off_claimed == 7 and summary.one_off_succeeded == 7
    assert summary.succeeded == 10 and summary.claimed == 10
    assert summary.one_off_amounts_cents == {"ZAR": 7 * 12345}
    assert summary.amounts_cents == {"ZAR": 7 * 12345 + 3 * 9900}
    paid = await world.paid_by_reference()
    assert all(paid[f"oneoff:{ext}"] == 1 for ext in due)
    assert all(paid[f"sub:{s}:2026-01-31"] == 1 for s in subs)
    assert not any(paid[f"oneoff:{ext}"] for ext in later)
    attempts = {a.id: a for a in world.attempts()}
    for ext in due:
        plan = world.one_off(ext)
        assert plan.status is OneOffChargeStatus.CHARGED and plan.claimed_by is None
        attempt = attempts[plan.attempt_id]
        assert attempt.business_key == f"oneoff:{ext}"
        assert attempt.state is AttemptState.SUCCEEDED and attempt.subscription_id is None
        [p] = [p for p in await world.purchases(attempt.business_key) if p["status"] == "paid"]
        assert p["id"] == attempt.purchase_id and attempt.amount_cents == 12345
    assert world.one_off(later[0]).status is OneOffChargeStatus.PLANNED
    assert world.one_off(later[0]).attempt_id is None
    again = await bill(world)
    assert again.claimed == 0 and again.charged == 0
    # Their day comes (charge_on is a date: any time that UTC day).
    on_the_day = await bill(world, as_of=AS_OF + timedelta(days=3))
    assert on_the_day.one_off_succeeded == 2
    paid = await world.paid_by_reference()
    assert all(paid[f"oneoff:{ext}"] == 1 for ext in due + later)


@pytest.mark.parametrize("route", [CHARGE, CREATE])
@pytest.mark.parametrize("kind", ["error_5xx", "rate_limit", "drop", "lost_after_commit"])
async def test_faults_never_charge_a_one_off_twice(world: World, route, kind):
    plans = await world.plan_one_offs(20)
    rule = {"route": route, "kind": kind, "rate": 0.4}
    if kind == "rate_limit":
        rule["retry_after"] = 0
    await world.faults(rule, {"route": READ, "kind": "error_5xx", "rate": 0.3})
    first = await bill(world, concurrency=8, batch_size=6)
    await world.faults()
    second = await bill(world, concurrency=8)
    assert first.one_off_succeeded + second.one_off_succeeded == 20, (first, second)
    assert second.unknown == 0
    paid = await world.paid_by_reference()
    assert all(paid[f"oneoff:{ext}"] == 1 for ext in plans), paid
    assert sum(paid.values()) == 20
    for ext in plans:
        plan = world.one_off(ext)
        assert plan.status is OneOffChargeStatus.CHARGED
        [attempt] = [a for a in world.attempts() if a.id == plan.attempt_id]
        [p] = [p for p in await world.purchases(f"oneoff:{ext}") if p["status"] == "paid"]
        assert p["id"] == attempt.purchase_id


async def test_an_unknown_outcome_is_settled_by_reconciliation_not_a_second_charge(world: World):
    [ext] = await world.plan_one_offs(1)
    # The charge lands but its answer is lost, and reading it back fails too.
    await world.faults(
        {"route": CHARGE, "kind": "lost_after_commit", "rate": 1.0},
        {"route": READ, "kind": "error_5xx", "rate": 1.0},
    )
    first = await bill(world)
    assert first.unknown == 1 and first.one_off_succeeded == 0
    plan = world.one_off(ext)
    assert plan.status is OneOffChargeStatus.PLANNED and plan.claimed_by is None
    [attempt] = [a for a in world.attempts() if a.id == plan.attempt_id]
    assert attempt.state is AttemptState.UNKNOWN and attempt.purchase_id
    await world.faults()
    assert await reconcile(world.ctx, worker_id="w2") == 1
    second = await bill(world, worker="w2", reconcile_first=False)
    assert second.charged == 0 and second.one_off_succeeded == 1
    assert world.one_off(ext).status is OneOffChargeStatus.CHARGED
    assert (await world.paid_by_reference())[f"oneoff:{ext}"] == 1
    assert len(await world.purchases(f"oneoff:{ext}")) == 1


async def test_soft_decline_is_retried_on_the_dunning_schedule_then_fails(world: World):
    [ext] = await world.plan_one_offs(1, "4000000000000085")
    as_of = AS_OF
    for n, days in enumerate([1, 3, 5, 7], start=1):
        summary = await bill(world, as_of=as_of)
        assert summary.one_off_declined == 1 and summary.one_off_retry_scheduled == 1
        assert summary.declines_by_code == {"insufficient_funds": 1}
        assert summary.dunning_reasons == {"soft decline insufficient_funds": 1}
        plan = world.one_off(ext)
        assert plan.status is OneOffChargeStatus.PLANNED and plan.failed_attempts == n
        assert plan.retry_at == as_of + timedelta(days=days)
        assert plan.last_decline_code == "insufficient_funds"
        # Not yet time: nothing is charged.
        early = await bill(world, as_of=as_of + timedelta(days=days) - timedelta(minutes=1))
        assert early.charged == 0
        as_of += timedelta(days=days)
        await world.advance(days * 86400)
    final = await bill(world, as_of=as_of)
    assert final.one_off_failed == 1 and final.dunning_reasons == {"retries exhausted": 1}
    plan = world.one_off(ext)
    assert plan.status is OneOffChargeStatus.FAILED and plan.retry_at is None
    assert plan.dunning_reason == "retries exhausted"
    assert plan.last_decline_code == "insufficient_funds"
    keys = [f"oneoff:{ext}"] + [f"oneoff:{ext}:try{n}" for n in (2, 3, 4, 5)]
    for key in keys:
        assert [p["status"] for p in await world.purchases(key)] == ["error"]
    [attempt] = [a for a in world.attempts() if a.id == plan.attempt_id]
    assert attempt.business_key == keys[-1]
    assert (await bill(world, as_of=as_of + timedelta(days=30))).claimed == 0


@pytest.mark.parametrize(
    ("card", "code", "reason"),
    [
        (
            "4000000000000093",
            "authorization_failed",
            "hard decline authorization_failed network R1",
        ),
        ("5100000000000024", "do_not_honour", "mastercard advice 21"),
    ],
)
async def test_hard_decline_fails_the_plan_at_once(world: World, card, code, reason):
    [ext] = await world.plan_one_offs(1, card)
    summary = await bill(world)
    assert summary.one_off_declined == 1 and summary.one_off_failed == 1
    assert summary.declines_by_code == {code: 1} and summary.dunning_reasons == {reason: 1}
    plan = world.one_off(ext)
    assert plan.status is OneOffChargeStatus.FAILED and plan.retry_at is None
    assert plan.last_decline_code == code and plan.dunning_reason == reason
    assert (await bill(world, as_of=AS_OF + timedelta(days=10))).claimed == 0
    assert [p["status"] for p in await world.purchases(f"oneoff:{ext}")] == ["error"]


async def test_a_deleted_card_is_never_charged(world: World):
    [ext] = await world.plan_one_offs(1)
    _, method_id = world.tokens["4111111111111111"]
    with UnitOfWork(world.ctx.engine) as uow:
        uow.session.exec(
            update(PaymentMethod)
            .where(PaymentMethod.id == method_id)
            .values(deleted_at=AS_OF - timedelta(days=1))
        )
        uow.commit()
    summary = await bill(world)
    assert summary.charged == 0 and summary.one_off_failed == 1
    assert summary.dunning_reasons == {"stored card deleted": 1}
    plan = world.one_off(ext)
    assert plan.status is OneOffChargeStatus.FAILED and plan.attempt_id is None
    assert plan.dunning_reason == "stored card deleted"
    assert plan.last_decline_code == "card_deleted"
    assert await world.purchases(f"oneoff:{ext}") == []


async def test_subscription_dunning_reason_is_recorded_and_cleared(world: World):
    [sub] = await world.subscribe(1, "4000000000000085")
    summary = await bill(world)
    assert summary.dunning_reasons == {"soft decline insufficient_funds": 1}
    s = world.subscription(sub)
    assert s.status is SubscriptionStatus.PAST_DUE
    assert s.dunning_reason == "soft decline insufficient_funds"
    _, good = await world.stored_card("4111111111111111")
    from payflows.ledger import Subscription

    with UnitOfWork(world.ctx.engine) as uow:
        row = uow.session.get(Subscription, sub)
        row.payment_method_id, row.customer_id = good, world.tokens["4111111111111111"][0]
        uow.commit()
    await bill(world, as_of=AS_OF + timedelta(days=1))
    s = world.subscription(sub)
    assert s.status is SubscriptionStatus.ACTIVE and s.dunning_reason is None
    [hard] = await world.subscribe(1, "4000000000000093", prefix="hard")
    await bill(world, as_of=AS_OF + timedelta(days=2))
    s = world.subscription(hard)
    assert s.status is SubscriptionStatus.SUSPENDED
    assert s.dunning_reason == "hard decline authorization_failed network R1"


async def test_anchor_day_is_set_at_creation_and_keeps_month_ends(world: World):
    [sub] = await world.subscribe(1, first=FIRST.replace(month=2, day=28), prefix="feb")
    assert world.subscription(sub).anchor_day == 28
    # A subscription moved over from another system: billed on the 31st, next due Feb 28.
    from payflows.ledger import Subscription

    with UnitOfWork(world.ctx.engine) as uow:
        uow.session.get(Subscription, sub).anchor_day = 31
        uow.commit()
    await bill(world, as_of=FIRST.replace(month=2, day=28, hour=7))
    assert world.subscription(sub).next_billing_at == FIRST.replace(month=3, day=31)


async def test_two_runs_at_once_never_try_the_same_one_off(any_world: World):
    plans = await any_world.plan_one_offs(40)
    subs = await any_world.subscribe(20)
    any_world.ctx.now = lambda: AS_OF
    a, b = await asyncio.gather(
        bill_due(any_world.ctx, as_of=AS_OF, worker_id="a", batch_size=5, concurrency=4),
        bill_due(any_world.ctx, as_of=AS_OF, worker_id="b", batch_size=5, concurrency=4),
    )
    # Each plan was claimed (and so tried) by one run only.
    assert a.one_off_claimed + b.one_off_claimed == 40
    assert a.one_off_succeeded + b.one_off_succeeded == 40
    assert a.claimed + b.claimed == 60
    paid = await any_world.paid_by_reference()
    assert sum(paid.values()) == 60
    assert all(paid[f"oneoff:{ext}"] == 1 for ext in plans)
    assert all(paid[f"sub:{s}:2026-01-31"] == 1 for s in subs)
    for ext in plans:
        assert len(await any_world.purchases(f"oneoff:{ext}")) == 1
