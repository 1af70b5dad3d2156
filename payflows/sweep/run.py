"""The pre-authorisation sweep: every due hold captured or voided once, before it lapses.

One run, for a business time ``as_of``:

1. **Select and claim** open holds whose time has come (:mod:`~payflows.sweep.claims`): decided
   ones, undecided ones at or past their act-by time, and any left ``pending_*`` by an earlier
   run, under short leases the run's heartbeat renews while it lives.
2. **Read back** each claimed hold first (:mod:`~payflows.sweep.acting`). A capture or void done
   in the back office, or an expiry, is recorded as such and the hold is not acted on; a capture
   or void of ours whose answer was lost is settled here.
3. **Act** on the holds the gateway still shows as held, per :func:`~payflows.sweep.plan_for`,
   with the exactly-once protocol of :mod:`payflows.exactly_once` (business keys
   ``capture:<purchase>`` / ``void:<purchase>``).
4. **Record** every action and its reason (:mod:`~payflows.sweep.effects`) in grouped commits
   of the shared attempt store, and release the claim. What a person must look at is in
   :attr:`SweepSummary.unresolved`.

A sweep killed mid-way stops renewing its leases; the next sweep waits for due holds another
sweep holds until that lease lapses (30 s by default) or the other sweep finishes them, then
reads them back and acts. Running it twice acts on no hold twice. Prefect-free;
:mod:`tasks.sweep` wraps it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from payflows.domain.holds import AuthorisationWindows
from payflows.exactly_once import GroupedStore, Heartbeat
from payflows.exactly_once.leases import DEFAULT_LEASE_SECONDS
from payflows.ledger import Hold, Outcome
from payflows.ledger.models import HoldPolicy
from payflows.pacing import Gate
from payflows.payments import PaymentContext
from payflows.sweep.acting import process
from payflows.sweep.claims import claim, count_due, count_unclaimed, held_by_others
from payflows.sweep.effects import apply_results
from payflows.sweep.items import Item, Result, Run
from payflows.sweep.summary import SweepSummary, UnresolvedHold, count_result

__all__ = ["SweepSummary", "UnresolvedHold", "count_due", "sweep_holds"]

#: How long a grouped commit waits for more writes to join it, when at least
#: ``GATHER_FROM`` holds are in flight: fewer, larger commits (bench/README.md, 2026-12-03
#: evening: a quarter fewer commits and of the commits' CPU at 64 in flight). With fewer in
#: flight hardly a write arrives in 3 ms, and the wait would only add to each hold's time.
GATHER_SECONDS = 0.003
GATHER_FROM = 8

_HELD = "held by another sweep that is still running"
_LIMIT = "limit reached: the next sweep selects them"


async def sweep_holds(
    ctx: PaymentContext,
    *,
    as_of: datetime,
    worker_id: str,
    windows: AuthorisationWindows | None = None,
    default_policy: HoldPolicy | str = HoldPolicy.CAPTURE,
    concurrency: int = 16,
    batch_size: int = 500,
    limit: int | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    reconcile_all: bool = False,
    wait_for_others_seconds: float | None = None,
    on_progress: Callable[[SweepSummary], Awaitable[None] | None] | None = None,
) -> SweepSummary:
    """Sweep the holds due at ``as_of`` (see the module docstring); safe to run again.

    ``concurrency`` bounds the gateway calls in flight (a slot per call); a quarter more holds
    are in flight, so that some holds' calls go on while others wait on their ledger writes.
    ``limit`` caps the holds selected in this run (the rest wait for the next);
    ``reconcile_all`` reads back every open hold, not only the due ones. Due holds another
    sweep holds are waited for up to ``wait_for_others_seconds`` (default: twice the lease,
    plus a little), then named in :attr:`SweepSummary.left`.
    """
    started = time.perf_counter()
    run = Run(
        ctx=ctx,
        as_of=as_of,
        worker_id=worker_id,
        windows=windows or ctx.windows,
        default_policy=HoldPolicy(default_policy),
        lease=timedelta(seconds=lease_seconds),
        reconcile_all=reconcile_all,
        summary=SweepSummary(as_of=as_of, worker_id=worker_id),
    )
    run.store = GroupedStore(
        ctx.engine,
        lambda uow, results: apply_results(run, uow, results),
        gather_seconds=GATHER_SECONDS if concurrency >= GATHER_FROM else 0.0,
    )
    run.gate = Gate(concurrency)
    window = 2 * lease_seconds + 5 if wait_for_others_seconds is None else wait_for_others_seconds
    deadline = time.monotonic() + window
    before: set[int] = set()
    remaining = limit
    async with Heartbeat(ctx.engine, [Hold], worker_id, lease_seconds):
        # Held by others before the first pass: the pass passes them over, and a dead sweep's
        # lease may lapse while it is still busy, when no check would find them held any more.
        watched = await asyncio.to_thread(held_by_others, run)
        remaining = await _loop(run, batch_size, concurrency, remaining, on_progress)
        while remaining is None or remaining > 0:
            held = await asyncio.to_thread(held_by_others, run)
            watched = (watched | held) - run.met  # only those: the others were met already
            if not watched:
                break
            if held:
                if before and held < before:  # the holder is alive and finishing them
                    deadline = time.monotonic() + window
                before = held
                if time.monotonic() >= deadline:
                    run.summary.left[_HELD] = len(held)
                    break
                await asyncio.sleep(min(1.0, max(lease_seconds / 10, 0.05)))
            run.only, run.cursor = watched, None
            remaining = await _loop(run, batch_size, concurrency, remaining, on_progress)
            if not held:
                # None was held before this pass: it met every watched hold still due.
                break
        if remaining == 0:  # the limit ran out: what is still due is named, never dropped
            if held := await asyncio.to_thread(held_by_others, run):
                run.summary.left[_HELD] = len(held)
            if unclaimed := await asyncio.to_thread(count_unclaimed, run):
                run.summary.left[_LIMIT] = unclaimed
    run.summary.seconds = round(time.perf_counter() - started, 3)
    await _report(on_progress, run.summary)
    return run.summary


async def _report(
    on_progress: Callable[[SweepSummary], Awaitable[None] | None] | None, summary: SweepSummary
) -> None:
    if on_progress is not None:
        maybe = on_progress(summary)
        if asyncio.iscoroutine(maybe):
            await maybe


async def _record(run: Run, result: Result) -> None:
    """The result's attempt outcome (or withdrawal) and its effect on the hold: one commit."""
    if result.withdraw is not None:
        await run.store.withdraw(result.withdraw, result)
        return
    outcome = None
    if result.attempt is not None:
        key, state, status = result.attempt
        outcome = Outcome(
            state, business_key=key, purchase_status=status, observed_at=run.ctx.now()
        )
    await run.store.record(outcome, result)


def _headroom(concurrency: int) -> int:
    """Holds in flight beyond the gateway calls: a quarter more (none below 4)."""
    return concurrency // 4


async def _loop(
    run: Run,
    batch_size: int,
    concurrency: int,
    remaining: int | None,
    on_progress: Callable[[SweepSummary], Awaitable[None] | None] | None,
) -> int | None:
    """Claim and act until nothing free is due; returns what is left of ``limit``."""
    low_water = max(2 * concurrency, 1)
    pending: set[asyncio.Task[None]] = set()
    # Finished tasks are handed over by a done-callback set once per task: ``asyncio.wait`` on
    # the pending set would add and remove a callback on each of hundreds of tasks per wake-up.
    finished: list[asyncio.Task[None]] = []
    wake = asyncio.Event()

    def _done(task: asyncio.Task[None]) -> None:
        finished.append(task)
        wake.set()

    exhausted = False
    # Holds in flight: a few more than the gate's calls, so that the calls of some go on while
    # others wait on their ledger write (intent durable before the request leaves).
    holds = asyncio.Semaphore(concurrency + _headroom(concurrency))

    async def one(item: Item) -> None:
        try:
            async with holds:
                result = await process(run, item)
        except Exception as exc:  # a bug or a ledger error must not stop the other holds
            result = Result(item, "failed", f"sweep error: {type(exc).__name__}", alert=True)
        try:
            await _record(run, result)
        except Exception as exc:  # a shared commit failed: this hold is left, the run goes on
            reason = f"ledger write failed ({type(exc).__name__}): read back by the next sweep"
            run.summary.left[reason] = run.summary.left.get(reason, 0) + 1
            return
        count_result(run.summary, result)

    try:
        while True:
            while not exhausted and len(pending) <= low_water:
                size = batch_size if remaining is None else min(batch_size, remaining)
                items = await asyncio.to_thread(claim, run, size) if size > 0 else []
                if remaining is not None:
                    remaining -= len(items)
                if not items:
                    exhausted = True
                for item in items:
                    task = asyncio.create_task(one(item))
                    task.add_done_callback(_done)
                    pending.add(task)
            if not pending:
                break
            if not finished:
                await wake.wait()
            wake.clear()
            done, finished[:] = list(finished), []
            pending.difference_update(done)
            for task in done:
                task.result()
            await _report(on_progress, run.summary)
    finally:
        for task in pending:
            task.cancel()
    return remaining
