"""One hold of the sweep: read back, then capture or void it exactly once.

The protocol of :mod:`payflows.exactly_once` for an action on an existing purchase: the attempt
(``capture:<purchase>`` / ``void:<purchase>``) is durable as ``submitted`` before the request
leaves; one already sent is sent again only when the purchase, just read back, shows it did not
land (still ``hold``, nothing pending); a lost answer is settled by reading the purchase back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from payflows.domain.attempts import PAID_LIKE, RESOLVED
from payflows.domain.states import Status
from payflows.gateway import OutcomeUnknownError, PreciumError, PurchaseState, RequestRejected
from payflows.ledger import AttemptKind, AttemptState, StatusReport
from payflows.pacing import resend_while_safe
from payflows.sweep.items import Item, Result, Run
from payflows.sweep.policy import PlanAction, plan_for

__all__ = ["closed", "process"]

_VOIDED = {Status.RELEASED, Status.CANCELLED}
_UNSENT = (AttemptState.INTENT, AttemptState.CREATED)
_SENT = (AttemptState.SUBMITTED, AttemptState.UNKNOWN)
_CAPTURE, _VOID = AttemptKind.CAPTURE, AttemptKind.VOID


def _report(purchase: PurchaseState, as_of: datetime) -> StatusReport:
    observed = purchase.updated_on or as_of
    return StatusReport(purchase.id, purchase.status, observed, purchase.paid_cents)


def _in_flight(attempt: tuple[AttemptState, int] | None) -> bool:
    return attempt is not None and attempt[0] not in RESOLVED


def _sent(attempt: tuple[AttemptState, int] | None) -> bool:
    """The request may have reached the gateway (an intent alone never left)."""
    return attempt is not None and attempt[0] in (AttemptState.SUBMITTED, AttemptState.UNKNOWN)


async def process(run: Run, item: Item) -> Result:
    gw = run.ctx.gateway
    pid = item.purchase_id
    try:
        purchase: PurchaseState = await _send(run, lambda: gw.get_purchase_state(pid))
    except PreciumError as exc:
        return Result(
            item, "unknown", f"read-back failed ({type(exc).__name__}); next sweep", alert=True
        )
    status = purchase.status
    if status in PAID_LIKE:
        if _sent(item.capture):
            return await _action(run, item, purchase, _CAPTURE, 0, "capture in flight")
        paid = purchase.paid_cents
        where = "by payflows" if item.capture is not None else "outside the sweep (back office?)"
        return Result(
            item,
            "reconciled",
            f"already captured {where}",
            paid,
            report=_report(purchase, run.as_of),
        )
    if status in _VOIDED:
        if _sent(item.void):
            return await _action(run, item, purchase, _VOID, 0, "void in flight")
        where = "by payflows" if item.void is not None else "outside the sweep (back office?)"
        return Result(
            item,
            "reconciled",
            f"already {status.value} {where}",
            report=_report(purchase, run.as_of),
        )
    if status is Status.EXPIRED:
        return Result(
            item,
            "expired",
            "the authorisation lapsed at the network before it was captured or voided",
            item.authorised_cents,
            alert=True,
            report=_report(purchase, run.as_of),
        )
    if status in (Status.PENDING_CAPTURE, Status.PENDING_RELEASE):
        return Result(
            item,
            "unknown",
            f"gateway still {status.value}; next sweep reads it back",
            alert=True,
            report=_report(purchase, run.as_of),
        )
    if status is not Status.HOLD:
        return Result(item, "failed", f"purchase is {status.value}, not a hold", alert=True)
    # Ours first: an action in flight is finished before any other is considered.
    if _in_flight(item.capture):
        return await _action(run, item, purchase, _CAPTURE, 0, "resuming capture in flight")
    if _in_flight(item.void):
        return await _action(run, item, purchase, _VOID, 0, "resuming void in flight")
    plan = plan_for(item, run.as_of, windows=run.windows, default_policy=run.default_policy)
    if plan.action is PlanAction.WAIT:
        return Result(item, None)
    if plan.action is PlanAction.ALERT:
        return Result(item, "alerted", plan.reason, item.authorised_cents, alert=True)
    if plan.action is PlanAction.VOID:
        return await _action(run, item, purchase, _VOID, item.authorised_cents, plan.reason)
    amount = plan.amount_cents or item.authorised_cents
    return await _action(run, item, purchase, _CAPTURE, amount, plan.reason)


async def _send(run: Run, call: Callable[[], Awaitable[Any]]) -> Any:
    """One gateway call through the run's gate (a slot per call, not per hold: a hold waiting
    on its ledger write holds none), sent again while the gateway says the request changed
    nothing (429, unreachable; the backoff holds no slot either)."""
    gate = run.gate
    return await resend_while_safe(lambda: gate.call(call))


async def _read(run: Run, pid: str) -> PurchaseState | None:
    try:
        purchase: PurchaseState = await _send(run, lambda: run.ctx.gateway.get_purchase_state(pid))
    except PreciumError:
        return None
    return purchase


async def _action(
    run: Run,
    item: Item,
    purchase: PurchaseState,
    kind: AttemptKind,
    amount: int,
    reason: str,
) -> Result:
    """Capture or void one hold, exactly once: the protocol of :mod:`payflows.payments`.

    The attempt (``capture:<purchase>`` / ``void:<purchase>``) is durable as ``submitted``
    before the request is sent; one already sent is resent only when the purchase, just read
    back, shows it did not land (still ``hold``, nothing pending); a lost answer is settled by
    reading the purchase back, never by sending again in this run.
    """
    gw, pid = run.ctx.gateway, item.purchase_id
    capture = kind is AttemptKind.CAPTURE
    what = "capture" if capture else "void"
    key = f"{what}:{pid}"
    existing = item.capture if capture else item.void
    landed = PAID_LIKE if capture else _VOIDED
    if existing is not None and existing[0] in RESOLVED:
        return Result(
            item, "failed", f"{what} already {existing[0].value}: decide again", alert=True
        )
    if existing is not None:
        amount = existing[1]
    retrying = existing is not None and existing[0] in _SENT
    if retrying and purchase.status in landed:
        return closed(run, item, key, purchase, amount, f"{reason}; settled by read-back")
    if existing is None or existing[0] in _UNSENT:
        await run.store.intend_submitted(key, kind, amount, item.currency, pid)
    elif existing[0] is AttemptState.UNKNOWN:
        # Read back just now: still held, nothing pending. Sent again, submitted first.
        await run.store.intend_submitted(key, kind, amount, item.currency, pid, resend=True)
    try:
        if capture:
            partial = None if amount >= item.authorised_cents else amount
            answer = await _send(run, lambda: gw.capture_state(pid, partial))
        else:
            answer = await _send(run, lambda: gw.release_state(pid))
    except OutcomeUnknownError:
        fresh = await _read(run, pid)
        if fresh is not None and fresh.status in landed:
            return closed(run, item, key, fresh, amount, f"{reason}; settled by read-back")
        return Result(
            item,
            "unknown",
            f"{what} outcome unknown ({reason}); next sweep reads it back",
            amount,
            alert=True,
            attempt=(key, AttemptState.UNKNOWN, None),
        )
    except RequestRejected as exc:
        fresh = await _read(run, pid)
        if fresh is not None and fresh.status in landed:
            return closed(run, item, key, fresh, amount, f"{reason}; settled by read-back")
        withdraw = None if retrying else key
        outcome = None if withdraw else (key, AttemptState.FAILED, None)
        if fresh is not None and fresh.status is Status.EXPIRED:
            return Result(
                item,
                "expired",
                f"{what} refused: the authorisation had lapsed",
                item.authorised_cents,
                alert=True,
                report=_report(fresh, run.as_of),
                attempt=outcome,  # type: ignore[arg-type]
                withdraw=withdraw,
            )
        return Result(
            item,
            "failed",
            f"{what} refused: {exc}",
            alert=True,
            attempt=outcome,  # type: ignore[arg-type]
            withdraw=withdraw,
        )
    except PreciumError as exc:
        # Still throttled or unreachable after in-run retries: nothing landed, the attempt
        # stays submitted and the next sweep reads the purchase back before sending again.
        return Result(
            item, "unknown", f"{what}: {type(exc).__name__}; next sweep", amount, alert=True
        )
    fresh = (
        answer if isinstance(answer, PurchaseState) and answer.id == pid else await _read(run, pid)
    )
    if fresh is not None and fresh.status in landed:
        return closed(run, item, key, fresh, amount, reason)
    return Result(
        item,
        "unknown",
        f"{what} answered but not final yet ({reason}); next sweep reads it back",
        amount,
        alert=True,
        attempt=(key, AttemptState.UNKNOWN, fresh.status if fresh else None),
    )


def closed(
    run: Run, item: Item, key: str, purchase: PurchaseState, amount: int, reason: str
) -> Result:
    if key.startswith("void:"):
        action, cents = "voided", item.authorised_cents
    else:
        paid = purchase.paid_cents
        cents = paid if paid is not None else amount
        action = "partially_captured" if cents < item.authorised_cents else "captured"
    return Result(
        item,
        action,
        reason,
        cents,
        report=_report(purchase, run.as_of),
        attempt=(key, AttemptState.SUCCEEDED, purchase.status),
    )
