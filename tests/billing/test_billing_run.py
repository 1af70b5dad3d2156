"""The billing run against the sandbox: exactly one paid purchase per subscription period."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from payflows.billing import CatchUp, DunningPolicy, bill_due
from payflows.ledger import AttemptState, SubscriptionStatus

from .conftest import FIRST, World

AS_OF = FIRST + timedelta(hours=1)
CHARGE = "POST /api/v1/purchases/*/charge/"
CREATE = "POST /api/v1/purchases/"


async def bill(world: World, as_of=AS_OF, worker: str = "w1", **kwargs):
    world.ctx.now = lambda: as_of
    return await bill_due(world.ctx, as_of=as_of, worker_id=worker, **kwargs)


async def test_each_due_period_is_paid_once_and_the_date_moves_on(world: World):
    subs = await world.subscribe(12)
    summary = await bill(world, batch_size=5, concurrency=4)
    assert summary.succeeded == 12 and summary.declined == summary.unknown == 0
    assert summary.amounts_cents == {"ZAR": 12 * 9900}
    paid = await world.paid_by_reference()
    assert all(paid[f"sub:{s}:2026-01-31"] == 1 for s in subs)
    again = await bill(world)
    assert again.claimed == 0 and again.charged == 0
    assert await world.paid_by_reference() == paid
    sub = world.subscription(subs[0])
    assert sub.next_billing_at == FIRST.replace(month=2, day=28)
    assert sub.claimed_by is None and sub.status is SubscriptionStatus.ACTIVE
    # Feb 28, then back to the 31st in March: anchored on the first billing day.
    await bill(world, as_of=FIRST.replace(month=2, day=28))
    await bill(world, as_of=FIRST.replace(month=3, day=31))
    paid = await world.paid_by_reference()
    assert all(paid[f"sub:{s}:2026-02-28"] == 1 and paid[f"sub:{s}:2026-03-31"] == 1 for s in subs)
    assert world.subscription(subs[0]).next_billing_at == FIRST.replace(month=4, day=30)


@pytest.mark.parametrize("route", [CHARGE, CREATE])
@pytest.mark.parametrize("kind", ["error_5xx", "rate_limit", "drop", "lost_after_commit"])
async def test_faults_never_charge_twice_and_a_second_run_settles(world: World, route, kind):
    subs = await world.subscribe(25)
    rule = {"route": route, "kind": kind, "rate": 0.4}
    if kind == "rate_limit":
        rule["retry_after"] = 0
    # Reads fail too, so some answers stay unknown for the next run's reconciliation.
    await world.faults(
        rule, {"route": "GET /api/v1/purchases/*/", "kind": "error_5xx", "rate": 0.3}
    )
    first = await bill(world, concurrency=8, batch_size=10)
    await world.faults()
    second = await bill(world, concurrency=8)
    assert first.succeeded + second.succeeded == 25, (first, second)
    paid = await world.paid_by_reference()
    assert all(paid[f"sub:{s}:2026-01-31"] == 1 for s in subs), paid
    assert sum(paid.values()) == 25
    # The ledger agrees with the gateway on every purchase it holds.
    for attempt in world.attempts():
        if attempt.kind.value != "mit":
            continue
        assert attempt.state is AttemptState.SUCCEEDED, attempt
        [p] = [p for p in await world.purchases(attempt.business_key) if p["status"] == "paid"]
        assert p["id"] == attempt.purchase_id
    assert all(world.subscription(s).next_billing_at.month == 2 for s in subs)


async def test_soft_decline_is_retried_on_schedule_then_suspended(world: World):
    [sub] = await world.subscribe(1, "4000000000000085")
    as_of = AS_OF
    expected_days = [1, 3, 5, 7]
    for n, days in enumerate(expected_days, start=1):
        summary = await bill(world, as_of=as_of)
        assert summary.declined == 1 and summary.declines_by_code == {"insufficient_funds": 1}
        s = world.subscription(sub)
        assert s.status is SubscriptionStatus.PAST_DUE and s.failed_attempts == n
        assert s.retry_at == as_of + timedelta(days=days)
        assert s.last_decline_code == "insufficient_funds"
        # Not yet time: nothing is charged.
        early = await bill(world, as_of=as_of + timedelta(days=days) - timedelta(minutes=1))
        assert early.charged == 0
        as_of += timedelta(days=days)
        await world.advance(days * 86400)
    final = await bill(world, as_of=as_of)
    assert final.suspended == 1
    s = world.subscription(sub)
    assert s.status is SubscriptionStatus.SUSPENDED and s.failed_attempts == 5
    keys = [f"sub:{sub}:2026-01-31"] + [f"sub:{sub}:2026-01-31:try{n}" for n in (2, 3, 4, 5)]
    for key in keys:
        assert [p["status"] for p in await world.purchases(key)] == ["error"]
    assert (await bill(world, as_of=as_of + timedelta(days=30))).claimed == 0


async def test_hard_decline_suspends_at_once(world: World):
    [sub] = await world.subscribe(1, "4000000000000093")
    summary = await bill(world)
    assert summary.declined == 1 and summary.suspended == 1
    s = world.subscription(sub)
    assert s.status is SubscriptionStatus.SUSPENDED and s.retry_at is None
    assert s.last_decline_code == "authorization_failed"
    assert (await bill(world, as_of=AS_OF + timedelta(days=10))).claimed == 0


async def test_mastercard_advice_24_retries_after_an_hour(world: World):
    [sub] = await world.subscribe(1, "5100000000000016")
    await bill(world)
    assert world.subscription(sub).retry_at == AS_OF + timedelta(hours=1)
    [stop] = await world.subscribe(1, "5100000000000024", prefix="stop")
    await bill(world, as_of=AS_OF + timedelta(minutes=30))
    assert world.subscription(stop).status is SubscriptionStatus.SUSPENDED


async def test_a_soft_decline_then_success_resets_dunning(world: World):
    [sub] = await world.subscribe(1, "4000000000000085")
    await bill(world)
    # The customer updates the card: the retry uses a new key and succeeds.
    _, good = await world.stored_card("4111111111111111")
    from payflows.ledger import Subscription, UnitOfWork

    with UnitOfWork(world.ctx.engine) as uow:
        s = uow.session.get(Subscription, sub)
        s.payment_method_id, s.customer_id = good, world.tokens["4111111111111111"][0]
        uow.commit()
    summary = await bill(world, as_of=AS_OF + timedelta(days=1))
    assert summary.succeeded == 1
    s = world.subscription(sub)
    assert s.status is SubscriptionStatus.ACTIVE and s.failed_attempts == 0 and s.retry_at is None
    assert (await world.paid_by_reference())[f"sub:{sub}:2026-01-31:try2"] == 1


async def test_catch_up_policies(world: World):
    [skip] = await world.subscribe(1, prefix="skip")
    late = FIRST.replace(month=4, day=15)
    summary = await bill(world, as_of=late)
    assert summary.succeeded == 1 and summary.skipped_periods == 1
    paid = await world.paid_by_reference()
    assert paid == {f"sub:{skip}:2026-03-31": 1}
    assert world.subscription(skip).next_billing_at == FIRST.replace(month=4, day=30)
    [catch] = await world.subscribe(1, "4111111111111111", prefix="catch")
    periods = ("2026-01-31", "2026-02-28", "2026-03-31")
    for n, period in enumerate(periods):
        # Small batches, so the run would meet the subscription again if it let go of it.
        run = await bill(world, as_of=late, catch_up=CatchUp.CATCH_UP, batch_size=1, concurrency=1)
        # More periods due after this one: named, so the run is not reported complete.
        more = n < len(periods) - 1
        assert run.left == ({"catch-up: more periods due": 1} if more else {}), run.left
        assert run.complete is not more
        paid = await world.paid_by_reference()
        assert paid[f"sub:{catch}:{period}"] == 1
        assert all(paid[f"sub:{catch}:{later}"] == 0 for later in periods[n + 1 :])
    assert (await bill(world, as_of=late, catch_up=CatchUp.CATCH_UP)).charged == 0


async def test_two_runs_at_once_never_bill_a_subscription_twice(any_world: World):
    subs = await any_world.subscribe(60)
    any_world.ctx.now = lambda: AS_OF
    a, b = await asyncio.gather(
        bill_due(any_world.ctx, as_of=AS_OF, worker_id="a", batch_size=7, concurrency=4),
        bill_due(any_world.ctx, as_of=AS_OF, worker_id="b", batch_size=7, concurrency=4),
    )
    assert a.succeeded + b.succeeded == 60
    assert a.claimed + b.claimed == 60
    paid = await any_world.paid_by_reference()
    assert sum(paid.values()) == 60 and all(paid[f"sub:{s}:2026-01-31"] == 1 for s in subs)


async def test_custom_policy_is_used(world: World):
    [sub] = await world.subscribe(1, "4000000000000085")
    await bill(world, policy=DunningPolicy(schedule=(timedelta(hours=6),)))
    assert world.subscription(sub).retry_at == AS_OF + timedelta(hours=6)


async def test_a_failed_grouped_write_leaves_its_items_and_the_run_goes_on(world, monkeypatch):
    """One key's PurchaseConflict rolls back its shared commit; the items are committed again
    one by one (tests/unit/ledger/test_grouped_store.py), so only that key's item is named in
    ``left``; the others are billed, and the next run settles it by read-back."""
    from payflows.exactly_once import store as store_module
    from payflows.ledger import PurchaseConflict

    subs = await world.subscribe(6)
    real = store_module.attach_and_submit
    victim = f"sub:{subs[0]}:2026-01-31"
    shared: list[list[str]] = []

    def conflicting(uow, attach, submit):
        if victim in attach:
            shared.append(list(attach))
            raise PurchaseConflict(f"purchase ids not attached for {[victim]}")
        return real(uow, attach, submit)

    monkeypatch.setattr(store_module, "attach_and_submit", conflicting)
    first = await bill(world, batch_size=6, concurrency=6)
    assert shared  # (whether others shared its commit depends on timing: see test_grouped_store)
    reason = "ledger write failed (PurchaseConflict): read back by the next run"
    assert first.left == {reason: 1}, first
    assert not first.complete
    assert first.succeeded == 5
    monkeypatch.setattr(store_module, "attach_and_submit", real)
    second = await bill(world)
    assert second.complete and first.succeeded + second.succeeded == 6, second
    paid = await world.paid_by_reference()
    assert all(paid[f"sub:{s}:2026-01-31"] == 1 for s in subs), paid


async def test_a_card_the_merchant_deleted_is_never_charged_and_the_subscription_says_why(
    world: World,
):
    from payflows.ledger import PaymentMethod, UnitOfWork
    from payflows.stored_cards import delete_stored_card

    [sub] = await world.subscribe(1)
    _, method_id = world.tokens["4111111111111111"]
    with UnitOfWork(world.ctx.engine) as uow:
        token = uow.session.get(PaymentMethod, method_id).recurring_token
    await delete_stored_card(world.ctx, token)

    summary = await bill(world)

    assert summary.charged == 0 and summary.suspended == 1
    assert summary.dunning_reasons == {"stored card deleted": 1}
    s = world.subscription(sub)
    assert s.status is SubscriptionStatus.SUSPENDED
    assert (s.last_decline_code, s.dunning_reason) == ("card_deleted", "stored card deleted")
    assert await world.purchases(f"sub:{sub}:2026-01") == []
