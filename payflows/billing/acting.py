"""One charge of the billing run, by the exactly-once protocol (:mod:`payflows.exactly_once`).

An attempt found resolved only has its effect applied. One left ``submitted`` or ``unknown`` (a
crash, a lost answer) is read back first: settled if the gateway knows, sent again on its own
purchase if the purchase is still unpaid. A new one gets its purchase created, the purchase id
committed, then the charge; a 5xx or lost answer is settled by read-back, and re-sent on the
same purchase within the run's budget when nothing landed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from payflows.billing.items import Finish, Item, Run
from payflows.domain.attempts import RESOLVED, AttemptState
from payflows.exactly_once import charge_purchase, chargeable, outcome_from
from payflows.gateway import OutcomeUnknownError, PreciumError, PurchaseState
from payflows.ledger import Outcome
from payflows.pacing import SAFE_TRIES, Gate, resend_while_safe

__all__ = ["process"]

#: Same-purchase re-charges one item may make in a run (the run's budget caps them all).
RESENDS_PER_ITEM = 2

_LEFT_UNKNOWN = "outcome unknown: read back by the next run"
_LEFT_NO_PURCHASE = "gateway unavailable: purchase not created"
_LEFT_NO_CLIENT = "customer has no gateway client"
_LEFT_LEDGER = "ledger write failed ({}): read back by the next run"


async def process(run: Run, gate: Gate, item: Item) -> None:
    """One item, whose failure never stops the others.

    Its ledger writes share a commit with other items' (``GroupedStore``): a conflict on one
    key (two runs racing after a lease lapsed) or a database error rolls back them all, and
    every item in that commit gets the exception. Each such item is left with its reason, and
    its attempt stays as it was last committed (``intent`` or ``submitted``), so the next run
    reads it back: an outcome not written here is found again at the gateway, never lost.
    """
    try:
        await _process(run, gate, item)
    except Exception as exc:  # any ledger error: this item is left, the run goes on
        run.defer(item)
        run.summary.leave(_LEFT_LEDGER.format(type(exc).__name__), item.key)


async def _process(run: Run, gate: Gate, item: Item) -> None:
    gw = run.ctx.gateway
    key = item.key
    store = run.store
    if item.state in RESOLVED:
        await store.record(None, Finish(item.owner_id, key, None, one_off=item.one_off))
        return
    if item.body is None or item.token is None:
        run.defer(item)  # customer without a gateway client: nothing to send
        run.summary.leave(_LEFT_NO_CLIENT, key)
        return
    token = item.token
    resend = False
    if item.state in (AttemptState.SUBMITTED, AttemptState.UNKNOWN):
        # Left by a crash or a lost answer: the charge may have landed. Read, never resend blind.
        assert item.purchase_id is not None
        pid = item.purchase_id
        try:
            purchase = await gate.call(
                lambda: resend_while_safe(lambda: gw.get_purchase_state(pid))
            )
        except PreciumError:
            await _settle(run, item, Outcome(AttemptState.UNKNOWN, business_key=key))
            return
        outcome = outcome_from(key, purchase, run.ctx.now())
        if outcome is not None:
            await _settle(run, item, outcome)
            return
        if not chargeable(purchase):
            await _settle(run, item, Outcome(AttemptState.UNKNOWN, business_key=key))
            return
        # Nothing landed on the purchase: charge it (again), recorded submitted first.
        resend = item.state is AttemptState.UNKNOWN
        if resend:
            await store.submit(key, resend=True)
    elif item.state is AttemptState.INTENT:
        body = item.body
        try:
            created = await gate.call(
                lambda: _create_retrying(lambda: gw.create_purchase_state(body))
            )
        except PreciumError:
            run.defer(item)  # no purchase yet: the next run creates one
            run.summary.leave(_LEFT_NO_PURCHASE, key)
            return
        item.purchase_id = created.id
        await store.attach(key, created.id)  # durable (and submitted) before the charge
    else:  # created: the purchase id is stored, the charge never went out
        await store.submit(key)
    pid = item.purchase_id
    assert pid is not None
    run.summary.charged += 1
    charged = await charge_purchase(
        key,
        charge=lambda: gate.call(lambda: resend_while_safe(lambda: gw.charge_state(pid, token))),
        read=lambda: gate.call(lambda: resend_while_safe(lambda: gw.get_purchase_state(pid))),
        now=run.ctx.now,
        resends=RESENDS_PER_ITEM,
        budget=run.budget,
        brand=item.brand,
    )
    run.summary.resent += charged.resent
    await _settle(run, item, charged.outcome)


async def _create_retrying(call: Callable[[], Awaitable[PurchaseState]]) -> PurchaseState:
    """Creating a purchase moves no money: after a lost answer, simply create another.

    The lost one stays an unpaid orphan with the same reference; only the purchase whose id
    is committed is ever charged.
    """
    for attempt in range(SAFE_TRIES):
        try:
            return await resend_while_safe(call)
        except OutcomeUnknownError:
            if attempt == SAFE_TRIES - 1:
                raise
            await asyncio.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


async def _settle(run: Run, item: Item, outcome: Outcome) -> None:
    if AttemptState(outcome.state) in RESOLVED:
        await run.store.record(
            outcome, Finish(item.owner_id, item.key, outcome, one_off=item.one_off)
        )
        return
    run.defer(item)
    await run.store.record(
        outcome, Finish(item.owner_id, item.key, outcome, release=False, one_off=item.one_off)
    )
    run.summary.unknown += 1  # after the write: a failed one is counted once, by process()
    run.summary.leave(_LEFT_UNKNOWN, item.key)
