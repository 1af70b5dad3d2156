"""The pre-authorisation sweep: every due hold captured or voided once, before it lapses.

One run, for a business time ``as_of``:

1. **Select and claim** open holds whose time has come: decided ones (capture or void now),
   undecided ones at or past their act-by time (deadline minus the safety margin), and any left
   ``pending_*`` by an earlier run. Claims are leases on the hold rows (``claimed_by`` /
   ``claimed_until``), so two sweeps never act on one hold at once and a crashed sweep's holds
   are free again once its lease lapses (at once for a restart under the same worker id). Holds
   are walked in keyset order (deadline, id), so a hold left open on purpose (alert) is met once
   per run.
2. **Read back** each claimed hold from the gateway first. A capture or void done in the
   gateway's back office, or an expiry, is recorded as such (``reconciled`` / ``expired``) and the
   hold is not acted on; a capture or void of ours whose answer was lost is settled here.
3. **Act** on the holds the gateway still shows as held, per :func:`~payflows.sweep.plan_for`,
   with the exactly-once protocol of :mod:`payflows.payments` (business keys
   ``capture:<purchase>`` / ``void:<purchase>``): the attempt is durable as ``submitted`` before
   the request leaves, a lost answer is settled by reading the purchase back and never resent
   blind, a refusal of a first request withdraws its intent. The ledger writes of all holds in
   flight are grouped into shared commits (as the billing run does), and concurrency toward the
   gateway is bounded.
4. **Record** every action and its reason (``hold_actions``, and the hold's ``last_*`` columns),
   in grouped commits, and release the claim. What a person must look at (alert policy, expired,
   outcome still unknown, refused) is in :attr:`SweepSummary.unresolved`.

Running it twice, or killing it and running it again, acts on no hold twice: a hold once
captured or voided is no longer open, and an action in flight is settled by read-back before
anything else is sent. This module is Prefect-free; :mod:`tasks.sweep` wraps it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import (
    Boolean,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from payflows.domain.holds import AuthorisationWindows
from payflows.domain.states import Status
from payflows.gateway import (
    OutcomeUnknownError,
    PreciumError,
    Purchase,
    RequestRejected,
)
from payflows.ledger import (
    AttemptKind,
    AttemptState,
    Hold,
    HoldDecision,
    PaymentAttempt,
    StatusReport,
    UnitOfWork,
    apply_gateway_statuses,
)
from payflows.ledger.models import HoldAction, HoldPolicy, StrEnumType, UTCDateTime, utcnow
from payflows.pacing import Gate, commit_for, resend_while_safe
from payflows.payments import PaymentContext
from payflows.sweep.policy import PlanAction, plan_for

__all__ = ["SweepSummary", "UnresolvedHold", "count_due", "sweep_holds"]

_OPEN = [Status.HOLD, Status.PENDING_CAPTURE, Status.PENDING_RELEASE]
_CAPTURED = {
    Status.PAID,
    Status.CLEARED,
    Status.SETTLED,
    Status.PENDING_REFUND,
    Status.REFUNDED,
    Status.CHARGEBACK,
}
_VOIDED = {Status.RELEASED, Status.CANCELLED}
_RESOLVED = {AttemptState.SUCCEEDED, AttemptState.DECLINED, AttemptState.FAILED}
#: In-run retries of a request the gateway said changed nothing (429, unreachable).
#: Unresolved holds listed in the summary (the count is always complete).
MAX_LISTED = 1000


class UnresolvedHold(BaseModel):
    """A hold the sweep could not resolve: a person should look at it before its deadline."""

    purchase_id: str
    action: str
    reason: str
    brand: str | None = None
    amount_cents: int
    currency: str
    expires_at: datetime


class SweepSummary(BaseModel):
    """What one sweep did. Amounts are integer cents per currency."""

    as_of: datetime
    worker_id: str
    selected: int = 0
    captured: int = 0
    partially_captured: int = 0
    voided: int = 0
    reconciled: int = 0
    expired: int = 0
    alerted: int = 0
    unknown: int = 0
    failed: int = 0
    #: Captured by this sweep, per currency.
    captured_cents: dict[str, int] = Field(default_factory=dict)
    #: Released to the shopper by this sweep (voids, and the rest of partial captures).
    released_cents: dict[str, int] = Field(default_factory=dict)
    unresolved: list[UnresolvedHold] = Field(default_factory=list)
    seconds: float = 0.0

    @property
    def unresolved_count(self) -> int:
        return self.expired + self.alerted + self.unknown + self.failed

    @property
    def acted(self) -> int:
        return self.captured + self.partially_captured + self.voided


# --------------------------------------------------------------------------- work items


@dataclass(slots=True)
class _Item:
    hold_id: int
    purchase_id: str
    authorised_cents: int
    currency: str
    brand: str | None
    expires_at: datetime
    decision: HoldDecision
    decision_cents: int | None
    policy: HoldPolicy | None
    #: Our capture / void attempts, if any: (state, amount).
    capture: tuple[AttemptState, int] | None = None
    void: tuple[AttemptState, int] | None = None


@dataclass(slots=True)
class _Result:
    item: _Item
    #: None: nothing to record (not due after all); the claim is released.
    action: str | None
    reason: str = ""
    amount_cents: int | None = None
    alert: bool = False
    report: StatusReport | None = None
    #: Our capture / void attempt's outcome: (business key, state, purchase status).
    attempt: tuple[str, AttemptState, Status | None] | None = None
    #: A first request the gateway refused outright: forget its intent (nothing happened).
    withdraw: str | None = None


@dataclass
class _Run:
    ctx: PaymentContext
    as_of: datetime
    worker_id: str
    windows: AuthorisationWindows
    default_policy: HoldPolicy
    lease: timedelta
    reconcile_all: bool
    summary: SweepSummary
    cursor: tuple[datetime, int] | None = None
    writer: _Writer = None  # type: ignore[assignment]


# --------------------------------------------------------------------------- selection


def _due_clause(run: _Run) -> Any:
    if run.reconcile_all:
        return Hold.status.in_(_OPEN)  # type: ignore[attr-defined]
    horizon = run.as_of + run.windows.safety_margin
    return and_(
        Hold.status.in_(_OPEN),  # type: ignore[attr-defined]
        or_(
            Hold.status != Status.HOLD,
            Hold.decision != HoldDecision.NONE,
            Hold.expires_at <= horizon,  # type: ignore[operator]
        ),
    )


def count_due(
    engine: Any, as_of: datetime, windows: AuthorisationWindows, *, reconcile_all: bool = False
) -> int:
    """How many holds a sweep at ``as_of`` would select (the progress bar's 100 %)."""
    run = _Run(
        ctx=None,  # type: ignore[arg-type]
        as_of=as_of,
        worker_id="",
        windows=windows,
        default_policy=HoldPolicy.CAPTURE,
        lease=timedelta(0),
        reconcile_all=reconcile_all,
        summary=SweepSummary(as_of=as_of, worker_id=""),
    )
    with UnitOfWork(engine) as uow:
        return int(
            uow.session.execute(
                select(func.count()).select_from(Hold).where(_due_clause(run))
            ).scalar_one()
        )


def _claim(run: _Run, limit: int) -> list[_Item]:
    """The next batch of due holds in (deadline, id) order, leased to this worker.

    Holds another worker holds are passed over; empty only when nothing due is left.
    """
    while True:
        rows, items = _claim_once(run, limit)
        if items or not rows:
            return items


def _claim_once(run: _Run, limit: int) -> tuple[int, list[_Item]]:
    now = utcnow()
    free = or_(
        Hold.claimed_until.is_(None),  # type: ignore[union-attr]
        Hold.claimed_until <= now,  # type: ignore[operator]
        Hold.claimed_by == run.worker_id,
    )
    where = [_due_clause(run), free]
    if run.cursor is not None:
        at, last_id = run.cursor
        where.append(
            or_(Hold.expires_at > at, and_(Hold.expires_at == at, Hold.id > last_id))  # type: ignore[operator]
        )
    with UnitOfWork(run.ctx.engine) as uow:
        rows = uow.session.execute(
            select(Hold.id, Hold.expires_at)
            .where(*where)
            .order_by(Hold.expires_at, Hold.id)
            .limit(limit)
        ).all()
        if not rows:
            return 0, []
        run.cursor = (rows[-1][1], rows[-1][0])
        ids = [r[0] for r in rows]
        uow.session.execute(
            update(Hold)
            .where(Hold.id.in_(ids), free)  # type: ignore[union-attr]
            .values(claimed_by=run.worker_id, claimed_until=now + run.lease)
            .execution_options(synchronize_session=False)
        )
        holds = list(
            uow.session.execute(
                select(Hold).where(
                    Hold.id.in_(ids),  # type: ignore[union-attr]
                    Hold.claimed_by == run.worker_id,
                    Hold.status.in_(_OPEN),  # type: ignore[attr-defined]
                )
            ).scalars()
        )
        keys = [f"{kind}:{h.purchase_id}" for h in holds for kind in ("capture", "void")]
        attempts = {
            key: (AttemptState(state), amount)
            for key, state, amount in uow.session.execute(
                select(
                    PaymentAttempt.business_key,
                    PaymentAttempt.state,
                    PaymentAttempt.amount_cents,
                ).where(PaymentAttempt.business_key.in_(keys))  # type: ignore[attr-defined]
            ).all()
        }
        uow.commit()
    run.summary.selected += len(holds)
    holds.sort(key=lambda h: (h.expires_at, h.id))
    return len(rows), [
        _Item(
            hold_id=h.id,  # type: ignore[arg-type]
            purchase_id=h.purchase_id,
            authorised_cents=h.authorised_cents,
            currency=h.currency,
            brand=h.brand,
            expires_at=h.expires_at,
            decision=HoldDecision(h.decision),
            decision_cents=h.decision_cents,
            policy=h.policy,
            capture=attempts.get(f"capture:{h.purchase_id}"),
            void=attempts.get(f"void:{h.purchase_id}"),
        )
        for h in holds
    ]


# --------------------------------------------------------------------------- grouped commits

_HOLDS = Hold.__table__  # type: ignore[attr-defined]
_ACTIONS = HoldAction.__table__  # type: ignore[attr-defined]


class _Writer:
    """Records results of many holds in shared commits (whatever arrives during one joins the
    next), so the ledger is not one commit per hold under full concurrency."""

    def __init__(self, run: _Run) -> None:
        self._run = run
        self._pending: list[_Result] = []
        self._intents: list[dict[str, Any]] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, result: _Result) -> Awaitable[None]:
        self._pending.append(result)
        return self._wait()

    def intend(self, key: str, kind: AttemptKind, amount: int, currency: str, pid: str) -> Any:
        """The attempt, durable as ``submitted`` (it may reach the gateway) before it is sent."""
        self._intents.append(
            {"k": key, "kind": kind, "amount": amount, "currency": currency, "pid": pid}
        )
        return self._wait()

    def _wait(self) -> Awaitable[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return future

    async def _drain(self) -> None:
        while self._waiters:
            await asyncio.sleep(0)
            results, self._pending = self._pending, []
            intents, self._intents = self._intents, []
            waiters, self._waiters = self._waiters, []
            await commit_for(partial(self._commit, results, intents), waiters)

    def _commit(self, results: Sequence[_Result], intents: Sequence[dict[str, Any]]) -> None:
        run = self._run
        now = utcnow()
        with UnitOfWork(run.ctx.engine) as uow:
            if intents:
                _record_submitted(uow, intents, now)
            withdrawn = [r.withdraw for r in results if r.withdraw is not None]
            if withdrawn:
                uow.session.execute(
                    delete(_ATTEMPTS).where(
                        _ATTEMPTS.c.business_key.in_(withdrawn),
                        _ATTEMPTS.c.state.in_([*_UNSENT, AttemptState.SUBMITTED]),
                    )
                )
            outcomes = [r.attempt for r in results if r.attempt is not None]
            if outcomes:
                observed = run.ctx.now()
                uow.session.execute(
                    update(_ATTEMPTS)
                    .where(
                        _ATTEMPTS.c.business_key == bindparam("k"),
                        # Plain comparisons: an expanding IN cannot be used in an executemany.
                        or_(*(_ATTEMPTS.c.state == st for st in (*_UNSENT, *_SENT))),
                    )
                    .values(
                        state=bindparam("state"),
                        purchase_status=func.coalesce(
                            bindparam("status", type_=StrEnumType(Status)),
                            _ATTEMPTS.c.purchase_status,
                        ),
                        status_at=observed,
                        resolved_at=case(
                            (bindparam("resolved", type_=Boolean()), literal(now, UTCDateTime())),
                            else_=null(),
                        ),
                        updated_at=now,
                    ),
                    [
                        {"k": k, "state": st, "status": ps, "resolved": st in _RESOLVED}
                        for k, st, ps in outcomes
                    ],
                    execution_options={"synchronize_session": False},
                )
            reports = [r.report for r in results if r.report is not None]
            if reports:
                apply_gateway_statuses(uow, reports)
            acted = [r for r in results if r.action is not None]
            if acted:
                uow.session.execute(
                    update(_HOLDS)
                    .where(_HOLDS.c.id == bindparam("hid"))
                    .values(
                        last_action=bindparam("action"),
                        last_reason=bindparam("reason"),
                        acted_at=now,
                        alerted_at=case(
                            (
                                bindparam("alert", type_=Boolean()),
                                func.coalesce(_HOLDS.c.alerted_at, literal(now, UTCDateTime())),
                            ),
                            else_=null(),
                        ),
                        updated_at=now,
                    ),
                    [
                        {
                            "hid": r.item.hold_id,
                            "action": r.action,
                            "reason": r.reason[:200],
                            "alert": r.alert,
                        }
                        for r in acted
                    ],
                    execution_options={"synchronize_session": False},
                )
                uow.session.execute(
                    insert(_ACTIONS),
                    [
                        {
                            "hold_id": r.item.hold_id,
                            "purchase_id": r.item.purchase_id,
                            "action": r.action,
                            "reason": r.reason[:200],
                            "amount_cents": r.amount_cents,
                            "as_of": run.as_of,
                            "worker_id": run.worker_id,
                            "created_at": now,
                        }
                        for r in acted
                    ],
                )
            if results:
                uow.session.execute(
                    update(_HOLDS)
                    .where(_HOLDS.c.id == bindparam("hid"), _HOLDS.c.claimed_by == run.worker_id)
                    .values(claimed_by=None, claimed_until=None),
                    [{"hid": r.item.hold_id} for r in results],
                    execution_options={"synchronize_session": False},
                )
            uow.commit()


_ATTEMPTS = PaymentAttempt.__table__  # type: ignore[attr-defined]
_UNSENT = [AttemptState.INTENT, AttemptState.CREATED]
_SENT = [AttemptState.SUBMITTED, AttemptState.UNKNOWN]


def _record_submitted(uow: UnitOfWork, intents: Sequence[dict[str, Any]], now: datetime) -> None:
    """New capture / void attempts, and ones a crash left before sending, as ``submitted``."""
    insert_stmt = (
        pg_insert(_ATTEMPTS) if uow.dialect == "postgresql" else sqlite_insert(_ATTEMPTS)
    ).on_conflict_do_nothing(index_elements=["business_key"])
    uow.session.execute(
        insert_stmt,
        [
            {
                "business_key": i["k"],
                "kind": i["kind"],
                "state": AttemptState.SUBMITTED,
                "amount_cents": i["amount"],
                "currency": i["currency"],
                "related_purchase_id": i["pid"],
                "created_at": now,
                "updated_at": now,
            }
            for i in intents
        ],
    )
    uow.session.execute(
        update(_ATTEMPTS)
        .where(_ATTEMPTS.c.business_key.in_([i["k"] for i in intents]))
        .where(_ATTEMPTS.c.state.in_(_UNSENT))
        .values(state=AttemptState.SUBMITTED, updated_at=now)
    )


# --------------------------------------------------------------------------- one hold


def _report(purchase: Purchase, as_of: datetime) -> StatusReport:
    paid = purchase.payment.amount if purchase.payment is not None else None
    observed = purchase.updated_on or as_of
    return StatusReport(purchase.id, purchase.status, observed, paid)


_CAPTURE, _VOID = AttemptKind.CAPTURE, AttemptKind.VOID


def _in_flight(attempt: tuple[AttemptState, int] | None) -> bool:
    return attempt is not None and attempt[0] not in _RESOLVED


def _sent(attempt: tuple[AttemptState, int] | None) -> bool:
    """The request may have reached the gateway (an intent alone never left)."""
    return attempt is not None and attempt[0] in (AttemptState.SUBMITTED, AttemptState.UNKNOWN)


async def _process(run: _Run, item: _Item) -> _Result:
    gw = run.ctx.gateway
    pid = item.purchase_id
    try:
        purchase: Purchase = await resend_while_safe(lambda: gw.get_purchase(pid))
    except PreciumError as exc:
        return _Result(
            item, "unknown", f"read-back failed ({type(exc).__name__}); next sweep", alert=True
        )
    status = purchase.status
    if status in _CAPTURED:
        if _sent(item.capture):
            return await _action(run, item, purchase, _CAPTURE, 0, "capture in flight")
        paid = purchase.payment.amount if purchase.payment else None
        where = "by payflows" if item.capture is not None else "outside the sweep (back office?)"
        return _Result(
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
        return _Result(
            item,
            "reconciled",
            f"already {status.value} {where}",
            report=_report(purchase, run.as_of),
        )
    if status is Status.EXPIRED:
        return _Result(
            item,
            "expired",
            "the authorisation lapsed at the network before it was captured or voided",
            item.authorised_cents,
            alert=True,
            report=_report(purchase, run.as_of),
        )
    if status in (Status.PENDING_CAPTURE, Status.PENDING_RELEASE):
        return _Result(
            item,
            "unknown",
            f"gateway still {status.value}; next sweep reads it back",
            alert=True,
            report=_report(purchase, run.as_of),
        )
    if status is not Status.HOLD:
        return _Result(item, "failed", f"purchase is {status.value}, not a hold", alert=True)
    # Ours first: an action in flight is finished before any other is considered.
    if _in_flight(item.capture):
        return await _action(run, item, purchase, _CAPTURE, 0, "resuming capture in flight")
    if _in_flight(item.void):
        return await _action(run, item, purchase, _VOID, 0, "resuming void in flight")
    plan = plan_for(item, run.as_of, windows=run.windows, default_policy=run.default_policy)
    if plan.action is PlanAction.WAIT:
        return _Result(item, None)
    if plan.action is PlanAction.ALERT:
        return _Result(item, "alerted", plan.reason, item.authorised_cents, alert=True)
    if plan.action is PlanAction.VOID:
        return await _action(run, item, purchase, _VOID, item.authorised_cents, plan.reason)
    amount = plan.amount_cents or item.authorised_cents
    return await _action(run, item, purchase, _CAPTURE, amount, plan.reason)


async def _send(call: Callable[[], Awaitable[Any]]) -> Any:
    """Send again while the gateway says the request changed nothing (429, unreachable)."""
    return await resend_while_safe(call)


async def _read(run: _Run, pid: str) -> Purchase | None:
    try:
        purchase: Purchase = await resend_while_safe(lambda: run.ctx.gateway.get_purchase(pid))
    except PreciumError:
        return None
    return purchase


async def _action(
    run: _Run,
    item: _Item,
    purchase: Purchase,
    kind: AttemptKind,
    amount: int,
    reason: str,
) -> _Result:
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
    landed = _CAPTURED if capture else _VOIDED
    if existing is not None and existing[0] in _RESOLVED:
        return _Result(
            item, "failed", f"{what} already {existing[0].value}: decide again", alert=True
        )
    if existing is not None:
        amount = existing[1]
    retrying = existing is not None and existing[0] in _SENT
    if retrying and purchase.status in landed:
        return _closed(run, item, key, purchase, amount, f"{reason}; settled by read-back")
    if not retrying or existing is None or existing[0] in _UNSENT:
        await run.writer.intend(key, kind, amount, item.currency, pid)
    try:
        if capture:
            partial = None if amount >= item.authorised_cents else amount
            answer = await _send(lambda: gw.capture(pid, partial))
        else:
            answer = await _send(lambda: gw.release(pid))
    except OutcomeUnknownError:
        fresh = await _read(run, pid)
        if fresh is not None and fresh.status in landed:
            return _closed(run, item, key, fresh, amount, f"{reason}; settled by read-back")
        return _Result(
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
            return _closed(run, item, key, fresh, amount, f"{reason}; settled by read-back")
        withdraw = None if retrying else key
        outcome = None if withdraw else (key, AttemptState.FAILED, None)
        if fresh is not None and fresh.status is Status.EXPIRED:
            return _Result(
                item,
                "expired",
                f"{what} refused: the authorisation had lapsed",
                item.authorised_cents,
                alert=True,
                report=_report(fresh, run.as_of),
                attempt=outcome,  # type: ignore[arg-type]
                withdraw=withdraw,
            )
        return _Result(
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
        return _Result(
            item, "unknown", f"{what}: {type(exc).__name__}; next sweep", amount, alert=True
        )
    fresh = answer if isinstance(answer, Purchase) and answer.id == pid else await _read(run, pid)
    if fresh is not None and fresh.status in landed:
        return _closed(run, item, key, fresh, amount, reason)
    return _Result(
        item,
        "unknown",
        f"{what} answered but not final yet ({reason}); next sweep reads it back",
        amount,
        alert=True,
        attempt=(key, AttemptState.UNKNOWN, fresh.status if fresh else None),
    )


def _closed(
    run: _Run, item: _Item, key: str, purchase: Purchase, amount: int, reason: str
) -> _Result:
    if key.startswith("void:"):
        action, cents = "voided", item.authorised_cents
    else:
        paid = purchase.payment.amount if purchase.payment is not None else None
        cents = paid if paid is not None else amount
        action = "partially_captured" if cents < item.authorised_cents else "captured"
    return _Result(
        item,
        action,
        reason,
        cents,
        report=_report(purchase, run.as_of),
        attempt=(key, AttemptState.SUCCEEDED, purchase.status),
    )


def _count(run: _Run, result: _Result) -> None:
    s, item = run.summary, result.item
    action = result.action
    if action is None:
        return
    cur = item.currency
    if action in ("captured", "partially_captured"):
        captured = result.amount_cents or 0
        s.captured_cents[cur] = s.captured_cents.get(cur, 0) + captured
        rest = item.authorised_cents - captured
        if rest > 0:
            s.released_cents[cur] = s.released_cents.get(cur, 0) + rest
        if action == "captured":
            s.captured += 1
        else:
            s.partially_captured += 1
    elif action == "voided":
        s.voided += 1
        s.released_cents[cur] = s.released_cents.get(cur, 0) + item.authorised_cents
    elif action == "reconciled":
        s.reconciled += 1
    else:
        setattr(s, action, getattr(s, action) + 1)
    if result.alert and len(s.unresolved) < MAX_LISTED:
        s.unresolved.append(
            UnresolvedHold(
                purchase_id=item.purchase_id,
                action=action,
                reason=result.reason[:200],
                brand=item.brand,
                amount_cents=item.authorised_cents,
                currency=cur,
                expires_at=item.expires_at,
            )
        )


# --------------------------------------------------------------------------- the run


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
    lease_seconds: float = 600.0,
    reconcile_all: bool = False,
    on_progress: Callable[[SweepSummary], Awaitable[None] | None] | None = None,
) -> SweepSummary:
    """Sweep the holds due at ``as_of`` (see the module docstring); safe to run again.

    ``limit`` caps the holds selected in this run (the rest wait for the next);
    ``reconcile_all`` reads back every open hold, not only the due ones.
    """
    started = time.perf_counter()
    run = _Run(
        ctx=ctx,
        as_of=as_of,
        worker_id=worker_id,
        windows=windows or ctx.windows,
        default_policy=HoldPolicy(default_policy),
        lease=timedelta(seconds=lease_seconds),
        reconcile_all=reconcile_all,
        summary=SweepSummary(as_of=as_of, worker_id=worker_id),
    )
    gate = Gate(concurrency)
    writer = run.writer = _Writer(run)
    low_water = max(2 * concurrency, 1)
    pending: set[asyncio.Task[None]] = set()
    exhausted = False
    remaining = limit

    async def one(item: _Item) -> None:
        try:
            result = await gate.call(lambda: _process(run, item))
        except Exception as exc:  # a bug or a ledger error must not stop the other holds
            result = _Result(item, "failed", f"sweep error: {type(exc).__name__}", alert=True)
        await writer.add(result)
        _count(run, result)

    try:
        while True:
            while not exhausted and len(pending) <= low_water:
                size = batch_size if remaining is None else min(batch_size, remaining)
                items = await asyncio.to_thread(_claim, run, size) if size > 0 else []
                if remaining is not None:
                    remaining -= len(items)
                if not items:
                    exhausted = True
                for item in items:
                    pending.add(asyncio.create_task(one(item)))
            if not pending:
                break
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
            if on_progress is not None:
                maybe = on_progress(run.summary)
                if asyncio.iscoroutine(maybe):
                    await maybe
    finally:
        for task in pending:
            task.cancel()
    run.summary.seconds = round(time.perf_counter() - started, 3)
    if on_progress is not None:
        maybe = on_progress(run.summary)
        if asyncio.iscoroutine(maybe):
            await maybe
    return run.summary
