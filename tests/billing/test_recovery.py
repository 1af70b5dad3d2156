"""A run killed mid-way is taken over within its lease; nothing is reported done that is not.

The "dead" run here is what SIGKILL leaves in the ledger: subscriptions leased to a worker
whose heartbeat stopped, an attempt whose charge landed but whose answer was never recorded,
one whose purchase id is stored but whose charge never left, and bare intents.
"""

from __future__ import annotations

import time
from datetime import timedelta

from payflows.billing import bill_due, business_key
from payflows.billing.schedule import period_key
from payflows.exactly_once import Heartbeat
from payflows.gateway import CardFlags, Product, PurchaseRequest
from payflows.ledger import (
    AttemptKind,
    AttemptState,
    Customer,
    PaymentMethod,
    Subscription,
    SubscriptionStatus,
    UnitOfWork,
    claim_due_subscriptions,
    mark_submitted,
)
from payflows.payments import open_purchase

from .conftest import FIRST, World

AS_OF = FIRST + timedelta(hours=1)
LEASE = 2.0


def _claim_as(world: World, worker: str, lease: float = LEASE) -> list[Subscription]:
    with UnitOfWork(world.ctx.engine) as uow:
        subs = claim_due_subscriptions(uow, AS_OF, worker, 100, lease)
        uow.commit()
    return subs


async def _open(world: World, sub: Subscription) -> tuple[str, str, str]:
    """An intent and its purchase id, durable (what the dead run got to); key, purchase, token."""
    with UnitOfWork(world.ctx.engine) as uow:
        customer = uow.session.get(Customer, sub.customer_id)
        method = uow.session.get(PaymentMethod, sub.payment_method_id)
    key = business_key(sub.id, period_key(sub.next_billing_at))
    request = PurchaseRequest(
        client_id=customer.precium_client_id,
        currency="ZAR",
        products=[Product(name="basic", price=sub.amount_cents)],
        card=CardFlags(is_recurring=True),
        success_redirect=world.ctx.success_redirect,
        failure_redirect=world.ctx.failure_redirect,
    )
    attempt = await open_purchase(
        world.ctx,
        key,
        AttemptKind.MIT,
        request,
        customer_id=customer.id,
        subscription_id=sub.id,
        payment_method_id=method.id,
    )
    await world.ctx.ledger(lambda uow: mark_submitted(uow, key))
    return key, attempt.purchase_id, method.recurring_token


async def test_a_run_after_a_killed_one_takes_over_its_claims_and_reads_back_first(world: World):
    subs = await world.subscribe(6)
    claimed = _claim_as(world, "dead-host:1:abc")
    assert len(claimed) == 6
    landed_key, landed_pid, token = await _open(world, claimed[0])
    await world.ctx.gateway.charge(landed_pid, token)  # landed; the answer died with the run
    unsent_key, unsent_pid, _ = await _open(world, claimed[1])  # submitted, never sent

    started = time.monotonic()
    world.ctx.now = lambda: AS_OF
    summary = await bill_due(world.ctx, as_of=AS_OF, worker_id="next", lease_seconds=LEASE)
    assert time.monotonic() - started < 30, "took over within the lease, not minutes later"

    assert summary.complete and summary.problem() is None, summary
    assert summary.succeeded == 6 and summary.unknown == 0
    paid = await world.paid_by_reference()
    assert all(paid[f"sub:{s}:2026-01-31"] == 1 for s in subs), paid
    by_key = {a.business_key: a for a in world.attempts()}
    # The dead run's purchases were kept: read back (landed) or charged (unsent), never replaced.
    assert by_key[landed_key].purchase_id == landed_pid
    assert by_key[unsent_key].purchase_id == unsent_pid
    assert all(a.state is AttemptState.SUCCEEDED for a in by_key.values() if a.kind == "mit")
    for sub in subs:
        s = world.subscription(sub)
        assert s.claimed_by is None and s.next_billing_at == FIRST.replace(month=2, day=28)


async def test_rows_a_live_run_holds_are_named_as_left_not_reported_done(world: World):
    await world.subscribe(3)
    _claim_as(world, "alive-elsewhere", lease=LEASE)
    world.ctx.now = lambda: AS_OF
    async with Heartbeat(world.ctx.engine, [Subscription], "alive-elsewhere", LEASE):
        summary = await bill_due(
            world.ctx, as_of=AS_OF, worker_id="me", lease_seconds=LEASE, wait_for_others_seconds=1
        )
    assert summary.claimed == 0
    assert summary.left == {"held by another run (alive-elsewhere)": 3}
    assert not summary.complete
    assert "3 due item(s) left unresolved" in (summary.problem() or "")


async def test_a_lost_charge_read_back_unpaid_is_charged_again_on_the_same_purchase(
    world: World,
):
    subs = await world.subscribe(8)
    # Two charges never reach the gateway (the connection drops): unknown outcomes, read back
    # unpaid, charged again at once (each item may re-send twice, so even two drops on one
    # charge end paid).
    await world.faults({"route": "POST /api/v1/purchases/*/charge/", "kind": "drop", "count": 2})
    world.ctx.now = lambda: AS_OF
    summary = await bill_due(world.ctx, as_of=AS_OF, worker_id="w", concurrency=4)
    assert summary.resent == 2 and summary.unknown == 0 and summary.complete, summary
    paid = await world.paid_by_reference()
    assert all(paid[f"sub:{s}:2026-01-31"] == 1 for s in subs)
    for s in subs:
        assert len(await world.purchases(f"sub:{s}:2026-01-31")) == 1  # no second purchase
    # Issue 13: every paid attempt carries the gateway's paid amount, fee and net.
    for attempt in world.attempts():
        if attempt.kind == "mit":
            assert attempt.paid_cents == 9900, attempt
            assert attempt.fee_cents is not None and attempt.net_cents is not None
            assert attempt.net_cents == attempt.paid_cents - attempt.fee_cents


async def test_the_retry_budget_caps_same_run_recharges(world: World):
    await world.subscribe(4)
    await world.faults({"route": "POST /api/v1/purchases/*/charge/", "kind": "drop", "count": 4})
    world.ctx.now = lambda: AS_OF
    summary = await bill_due(world.ctx, as_of=AS_OF, worker_id="w", concurrency=4, retry_budget=1)
    assert summary.resent == 1 and summary.unknown == 3
    assert summary.left == {"outcome unknown: read back by the next run": 3}
    await world.faults()
    again = await bill_due(world.ctx, as_of=AS_OF, worker_id="w2")
    assert again.succeeded == 3 and again.complete


async def test_a_failure_rate_past_the_threshold_is_not_green(world: World):
    await world.subscribe(1)
    await world.subscribe(3, "4000000000000085")  # declined insufficient_funds
    world.ctx.now = lambda: AS_OF
    summary = await bill_due(world.ctx, as_of=AS_OF, worker_id="w")
    assert summary.complete and summary.failure_rate == 0.75
    assert summary.problem(0.8) is None
    assert "75% declined or refused, above the 50% threshold" in (summary.problem(0.5) or "")
    for sub in world.attempts():
        if sub.state is AttemptState.DECLINED:
            assert sub.decline_code == "insufficient_funds"
    statuses = {
        world.subscription(a.subscription_id).status for a in world.attempts() if a.kind == "mit"
    }
    assert SubscriptionStatus.PAST_DUE in statuses


async def test_a_refused_charge_suspends_with_its_count_and_reason(world: World):
    [sub_id] = await world.subscribe(1)
    with UnitOfWork(world.ctx.engine) as uow:
        sub = uow.session.get(Subscription, sub_id)
        method = uow.session.get(PaymentMethod, sub.payment_method_id)
        method.recurring_token = "00000000-0000-4000-8000-000000000000"  # unknown at the gateway
        uow.commit()
    world.ctx.now = lambda: AS_OF
    summary = await bill_due(world.ctx, as_of=AS_OF, worker_id="w")
    assert summary.failed == 1 and summary.suspended == 1 and summary.complete
    sub = world.subscription(sub_id)
    assert sub.status is SubscriptionStatus.SUSPENDED
    assert sub.failed_attempts == 1 and sub.dunning_reason.startswith("charge refused")
    assert summary.dunning_reasons == {sub.dunning_reason: 1}


async def test_a_live_run_that_keeps_finishing_its_rows_is_waited_for(world: World):
    import asyncio

    from payflows.ledger import release_claim

    subs = await world.subscribe(4)
    _claim_as(world, "sibling", lease=LEASE)

    async def sibling() -> None:  # alive (heartbeat) and giving a row back every 0.6 s
        async with Heartbeat(world.ctx.engine, [Subscription], "sibling", LEASE):
            for sub in subs:
                await asyncio.sleep(0.6)
                await world.ctx.ledger(lambda uow, s=sub: release_claim(uow, [s], "sibling"))

    world.ctx.now = lambda: AS_OF
    other = asyncio.create_task(sibling())
    summary = await bill_due(
        world.ctx, as_of=AS_OF, worker_id="me", lease_seconds=LEASE, wait_for_others_seconds=1
    )
    await other
    assert summary.complete and summary.succeeded == 4, summary


async def test_rows_whose_dead_holder_lapses_while_the_run_is_busy_are_billed_not_skipped(
    world: World,
):
    """Chaos failure of 2026-12-03 (load ~9): the last run ended complete, exit 0, with 78
    subscriptions of the SIGKILLed run before it never charged. Its claims were still live
    when this run's loop last asked for due rows, and lapsed while the loop was still busy
    charging what it had (slow under load); the check for rows held by others then found
    none held, and the run stopped without claiming them."""
    import asyncio

    subs = await world.subscribe(6)
    dead_lease = 3.0
    with UnitOfWork(world.ctx.engine) as uow:
        held = claim_due_subscriptions(uow, AS_OF, "dead-host:2:xyz", 3, dead_lease)
        uow.commit()
    lapses = time.monotonic() + dead_lease
    assert len(held) == 3
    slowed = False

    async def busy(_summary: object) -> None:
        # The run's own charges outlast the dead run's lease, as on a loaded machine.
        nonlocal slowed
        if not slowed:
            slowed = True
            await asyncio.sleep(max(0.0, lapses - time.monotonic()) + 0.3)

    world.ctx.now = lambda: AS_OF
    summary = await bill_due(
        world.ctx, as_of=AS_OF, worker_id="next", lease_seconds=LEASE, on_progress=busy
    )
    paid = await world.paid_by_reference()
    unpaid = [s for s in subs if paid[f"sub:{s}:2026-01-31"] != 1]
    assert not (summary.complete and unpaid), f"complete with {unpaid} unpaid: {summary}"
    assert summary.complete and summary.succeeded == 6 and not unpaid, summary
