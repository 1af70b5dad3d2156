"""The nightly billing run: every due subscription period and one-off charge, exactly once, fast.

Exactly once rests on the ledger and the protocol of :mod:`payflows.exactly_once`: the business
key is the subscription and its period (``sub:{id}:{period}``, ``...:try{n}`` for a dunning
retry) or the one-off charge (``oneoff:{external_id}``); the attempt is committed before the
purchase is created, and the purchase id before the charge is sent; a lost answer is settled by
reading the purchase back, and re-sent only on the same purchase when the read-back shows
nothing landed. One purchase per key (the ledger refuses a second) and one payment per purchase
(the gateway refuses a second) make a double charge impossible even when two runs or a crash
get in the way.

The run is split by job: :mod:`~payflows.billing.claims` (lease a batch and commit its
intents), :mod:`~payflows.billing.acting` (one charge), :mod:`~payflows.billing.effects` (what an
outcome does to its subscription or one-off charge, in the outcome's commit), and
:mod:`~payflows.billing.summary`. Speed comes from doing per charge only the two gateway calls
and grouping the ledger writes of all charges in flight into shared commits
(:class:`~payflows.exactly_once.GroupedStore`); the next batch is claimed while the last one is
still in flight, so the gateway never sees the pipeline drain at batch boundaries.

Crashes: claims are short leases that the run's heartbeat renews while it lives
(:class:`~payflows.exactly_once.Heartbeat`). A run killed mid-way stops renewing, and the next
run, whoever starts it, takes its rows over once the lease lapses (30 s by default): it waits
for due rows held by another run until their lease lapses or that run finishes them, reads back
the dead run's attempts in flight, then bills. Whatever it still cannot resolve is named in
:attr:`BillingSummary.left`, and the run is not :attr:`~BillingSummary.complete`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import or_, select, update

from payflows.billing.acting import process
from payflows.billing.claims import claim_one_offs, claim_subscriptions
from payflows.billing.dunning import DunningPolicy
from payflows.billing.effects import apply_effects
from payflows.billing.items import Item, Run
from payflows.billing.one_off import release_one_off_claims
from payflows.billing.reconcile import reconcile
from payflows.billing.schedule import CatchUp
from payflows.billing.summary import BillingSummary, business_key
from payflows.exactly_once import Budget, GroupedStore, Heartbeat
from payflows.exactly_once.leases import DEFAULT_LEASE_SECONDS
from payflows.ledger import (
    OneOffCharge,
    OneOffChargeStatus,
    Subscription,
    SubscriptionStatus,
    UnitOfWork,
    release_claim,
)
from payflows.ledger.models import utcnow
from payflows.pacing import Gate
from payflows.payments import PaymentContext

__all__ = ["BillingSummary", "bill_due", "business_key", "reconcile"]

#: How long a commit waits for more writes to join it: fewer, larger commits. 3 ms cut the
#: ledger thread's CPU by about a quarter in bench/billing.py at no cost in wall time; 15 ms
#: (2026-12-03 evening) halves the number of commits again once each commit is cheap (the
#: ledger's worker thread competes with the event loop for the GIL, so each commit it saves
#: is CPU the loop gets back). The wait is per commit, not per gateway call.
GATHER_SECONDS = 0.015
#: Claim the next batch once no more than this many charges per gateway slot are in flight:
#: enough that the gateway slots stay busy while charges wait for their commits.
LOW_WATER = 4


async def bill_due(
    ctx: PaymentContext,
    *,
    as_of: datetime,
    worker_id: str,
    batch_size: int = 500,
    concurrency: int = 32,
    policy: DunningPolicy | None = None,
    catch_up: CatchUp | str = CatchUp.SKIP,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    rate_per_second: float | None = None,
    product: str = "Subscription",
    reconcile_first: bool = True,
    retry_budget: int | None = None,
    wait_for_others_seconds: float | None = None,
    on_progress: Callable[[BillingSummary], Awaitable[None] | None] | None = None,
) -> BillingSummary:
    """Bill every subscription and one-off charge due at ``as_of``; safe to run again, and
    alongside another run.

    It starts by reconciling what a crash left in flight (``reconcile_first=False`` when the
    caller did it already). Due rows another run holds are waited for, up to
    ``wait_for_others_seconds`` (default: twice the lease, plus a little) without progress: a
    dead run's lease lapses within that and its rows are billed here; a live run that keeps
    finishing them (a sibling shard) is waited for; one that holds them without progress has
    them named in the summary as left. ``retry_budget`` caps the same-purchase re-charges of
    the whole run.
    """
    started = time.perf_counter()
    run = Run(
        ctx=ctx,
        as_of=as_of,
        worker_id=worker_id,
        policy=policy or DunningPolicy(),
        catch_up=CatchUp(catch_up),
        lease_seconds=lease_seconds,
        summary=BillingSummary(as_of=as_of, worker_id=worker_id),
        product=product,
        budget=Budget(retry_budget),
    )
    run.store = GroupedStore(
        ctx.engine,
        lambda uow, finishes: apply_effects(run, uow, finishes),
        gather_seconds=GATHER_SECONDS,
    )
    await ctx.ledger(lambda uow: _release_own(uow, worker_id))
    gate = Gate(concurrency, rate_per_second)
    window = 2 * lease_seconds + 5 if wait_for_others_seconds is None else wait_for_others_seconds
    deadline = time.monotonic() + window
    async with Heartbeat(ctx.engine, [Subscription, OneOffCharge], worker_id, lease_seconds):
        try:
            if reconcile_first:
                run.summary.reconciled += await reconcile(
                    ctx, worker_id=worker_id, concurrency=concurrency
                )
            await _loop(run, gate, batch_size, concurrency, on_progress)
            before: set[str] = set()
            while True:
                # Asked *before* the next pass: a lease that lapses after the pass last looked
                # for free rows (while it was still busy charging) is then claimed by the next
                # pass, never mistaken for "nothing held, nothing due" (chaos, 2026-12-03).
                held = await ctx.ledger(lambda uow: held_by_others(uow, as_of, worker_id))
                if held:
                    now_held = {what for what, _ in held}
                    if before and now_held < before:
                        # The holder is alive and finishing them: wait while it progresses.
                        deadline = time.monotonic() + window
                    before = now_held
                    if time.monotonic() >= deadline:
                        for what, owner in held:
                            run.summary.leave(f"held by another run ({owner})", what)
                        break
                    await asyncio.sleep(min(1.0, max(lease_seconds / 10, 0.05)))
                claimed = run.summary.claimed
                run.summary.reconciled += await reconcile(
                    ctx, worker_id=worker_id, concurrency=concurrency
                )
                await _loop(run, gate, batch_size, concurrency, on_progress)
                if not held and run.summary.claimed == claimed:
                    # Nothing was held before this pass and it found nothing free: every due
                    # row is resolved, or left by this run with its reason.
                    break
        finally:
            deferred = list(dict.fromkeys(run.deferred))
            if deferred:
                await ctx.ledger(lambda uow: release_claim(uow, deferred, worker_id))
            later = list(dict.fromkeys(run.deferred_one_offs))
            if later:
                await ctx.ledger(lambda uow: release_one_off_claims(uow, later, worker_id))
    run.summary.seconds = round(time.perf_counter() - started, 3)
    await _report(on_progress, run.summary)
    return run.summary


async def _report(
    on_progress: Callable[[BillingSummary], Awaitable[None] | None] | None, summary: BillingSummary
) -> None:
    if on_progress is not None:
        result = on_progress(summary)
        if asyncio.iscoroutine(result):
            await result


async def _loop(
    run: Run,
    gate: Gate,
    batch_size: int,
    concurrency: int,
    on_progress: Callable[[BillingSummary], Awaitable[None] | None] | None,
) -> None:
    """Claim and charge until nothing free is due: a sliding window of charges in flight."""
    low_water = max(LOW_WATER * concurrency, 1)
    pending: set[asyncio.Task[None]] = set()
    # Subscriptions and one-off charges take turns, so both flow through the same window.
    sources: list[Callable[[Run, int], list[Item] | None]] = [claim_subscriptions, claim_one_offs]
    turn = 0
    try:
        while True:
            while sources and len(pending) <= low_water:
                source = sources[turn % len(sources)]
                items = await asyncio.to_thread(source, run, batch_size)
                if items is None:
                    sources.remove(source)
                    continue
                turn += 1
                for item in items:
                    pending.add(asyncio.create_task(process(run, gate, item)))
            if not pending:
                break
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
            if done:
                await _report(on_progress, run.summary)
    finally:
        for task in pending:
            task.cancel()


def held_by_others(uow: UnitOfWork, as_of: datetime, worker_id: str) -> list[tuple[str, str]]:
    """Due subscriptions and one-off charges leased to another worker: ``(what, owner)``."""
    now = utcnow()
    subs = uow.session.execute(
        select(Subscription.id, Subscription.claimed_by).where(
            Subscription.status.in_([SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE]),  # type: ignore[attr-defined]
            Subscription.next_billing_at <= as_of,
            or_(Subscription.retry_at.is_(None), Subscription.retry_at <= as_of),  # type: ignore[union-attr]
            Subscription.claimed_by.is_not(None),  # type: ignore[union-attr]
            Subscription.claimed_by != worker_id,
            Subscription.claimed_until > now,  # type: ignore[operator]
        )
    ).all()
    one_offs = uow.session.execute(
        select(OneOffCharge.external_id, OneOffCharge.claimed_by).where(
            OneOffCharge.status == OneOffChargeStatus.PLANNED,
            OneOffCharge.charge_on <= as_of.date(),
            or_(OneOffCharge.retry_at.is_(None), OneOffCharge.retry_at <= as_of),  # type: ignore[union-attr]
            OneOffCharge.claimed_by.is_not(None),  # type: ignore[union-attr]
            OneOffCharge.claimed_by != worker_id,
            OneOffCharge.claimed_until > now,  # type: ignore[operator]
        )
    ).all()
    return [(f"subscription {i}", str(o)) for i, o in subs] + [
        (f"one-off {e}", str(o)) for e, o in one_offs
    ]


def _release_own(uow: UnitOfWork, worker_id: str) -> int:
    result = uow.session.exec(
        update(Subscription)
        .where(Subscription.claimed_by == worker_id)  # type: ignore[arg-type]
        .values(claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0) + release_one_off_claims(uow, None, worker_id)
