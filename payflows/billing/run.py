"""The nightly billing run: every due subscription period and one-off charge, exactly once, fast.

Exactly once rests on the ledger, as in :mod:`payflows.payments`: the business key is the
subscription and its period (``sub:{id}:{period}``, ``...:try{n}`` for a dunning retry); the
attempt is committed before the purchase is created, and the purchase id before the charge is
sent; a lost answer is settled by reading the purchase back, never by charging again. One
purchase per key (the ledger refuses a second) and one payment per purchase (the gateway refuses
a second) make a double charge impossible even when two runs or a crash get in the way.

One-off charges (imported invoice lines, :mod:`payflows.billing.one_off`) go through the same
machinery under the key ``oneoff:{external_id}`` (``...:try{n}`` for a dunning retry): claimed in
batches with their own lease, intents committed with the claim, the same grouped commits, the
same read-back; claims alternate between subscriptions and one-off charges so both flow at once.

Speed comes from doing per charge only the two gateway calls (create purchase, charge) and
grouping the ledger writes of all charges in flight into shared commits: intents are committed
with the claim of their batch; purchase ids, and then outcomes with their effect on the
subscription, go through a :class:`_Committer` that commits whatever accumulated while the
previous commit ran. A charge waits for *its* purchase id to be durable before it is sent.
Concurrency is a sliding window: the next batch is claimed while the last one is still in
flight, so the gateway never sees the pipeline drain at batch boundaries.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import bindparam, func, or_, select, update

from payflows.billing.dunning import DunningPolicy
from payflows.billing.one_off import claim_due_one_offs, one_off_key, release_one_off_claims
from payflows.billing.schedule import CatchUp, add_interval, period_key, period_to_bill
from payflows.domain.states import Status
from payflows.gateway import (
    CardDeclinedError,
    CardFlags,
    OutcomeUnknownError,
    PreciumError,
    Product,
    PurchaseRequest,
    PurchaseState,
    RequestRejected,
)
from payflows.ledger import (
    AttemptKind,
    AttemptState,
    Customer,
    Intent,
    OneOffCharge,
    OneOffChargeStatus,
    Outcome,
    PaymentAttempt,
    PaymentMethod,
    PurchaseConflict,
    Subscription,
    SubscriptionStatus,
    UnitOfWork,
    claim_due_subscriptions,
    record_intents,
    release_claim,
)
from payflows.ledger.cards import CARD_DELETED
from payflows.ledger.models import utcnow
from payflows.pacing import SAFE_TRIES, Gate, commit_for, resend_while_safe
from payflows.payments import PaymentContext, settle_by_read_back

__all__ = [
    "BillingSummary",
    "bill_due",
    "business_key",
    "reconcile",
]

_SUCCESS = {
    Status.PAID,
    Status.CLEARED,
    Status.SETTLED,
    Status.PENDING_REFUND,
    Status.REFUNDED,
    Status.CHARGEBACK,
}
_DECLINED = {Status.ERROR, Status.BLOCKED}
_NOT_ARRIVED = {Status.CREATED, Status.VIEWED}
_RESOLVED = {AttemptState.SUCCEEDED, AttemptState.DECLINED, AttemptState.FAILED}
#: In-run retries of a request the gateway said changed nothing (429, unreachable).


class BillingSummary(BaseModel):
    """What one run did. Amounts are integer cents per currency (paid charges only).

    The counts and amounts cover subscription periods and one-off charges together;
    ``one_off_*`` is the one-off share. ``suspended`` and ``skipped_periods`` are about
    subscriptions, ``one_off_failed`` counts the one-off charges given up in this run.
    ``dunning_reasons`` counts why subscriptions went past due or suspended, and why one-off
    charges were scheduled for a retry or failed, in this run.
    """

    as_of: datetime
    worker_id: str
    reconciled: int = 0
    #: Gateway clients created first for customers who had none (imported ones).
    clients_created: int = 0
    claimed: int = 0
    charged: int = 0
    succeeded: int = 0
    declined: int = 0
    unknown: int = 0
    failed: int = 0
    retry_scheduled: int = 0
    suspended: int = 0
    skipped_periods: int = 0
    amounts_cents: dict[str, int] = Field(default_factory=dict)
    declines_by_code: dict[str, int] = Field(default_factory=dict)
    seconds: float = 0.0
    dunning_reasons: dict[str, int] = Field(default_factory=dict)
    one_off_claimed: int = 0
    one_off_succeeded: int = 0
    one_off_declined: int = 0
    one_off_retry_scheduled: int = 0
    one_off_failed: int = 0
    one_off_amounts_cents: dict[str, int] = Field(default_factory=dict)

    @property
    def settled(self) -> int:
        return self.succeeded + self.declined + self.failed


def business_key(subscription_id: int, period: str, failed_attempts: int = 0) -> str:
    """``sub:{id}:{period}``, then ``sub:{id}:{period}:try{n}`` for the n-th dunning attempt.

    A retry gets a new key (its own purchase) only once the previous attempt is resolved as
    declined: the key is derived from the subscription's ``failed_attempts``, which moves in the
    same commit as that decline.
    """
    base = f"sub:{subscription_id}:{period}"
    return base if failed_attempts == 0 else f"{base}:try{failed_attempts + 1}"


def _expected_key(sub: Any) -> str:
    assert sub.id is not None
    return business_key(sub.id, period_key(sub.next_billing_at), sub.failed_attempts)


# --------------------------------------------------------------------------- work items


@dataclass(slots=True)
class _Item:
    owner_id: int  # the subscription's id, or the one-off charge's
    key: str
    state: AttemptState
    purchase_id: str | None
    amount_cents: int
    currency: str
    body: dict[str, Any] | None  # the create-purchase body, None when nothing can be sent
    token: str | None
    brand: str | None
    one_off: bool = False


@dataclass(slots=True)
class _Finish:
    """An attempt's outcome and, in the same commit, its effect on the subscription (or on
    the one-off charge)."""

    owner_id: int
    key: str
    outcome: Outcome | None  # None: already recorded (a resolved attempt found again)
    release: bool = True
    one_off: bool = False


@dataclass
class _Run:
    ctx: PaymentContext
    as_of: datetime
    worker_id: str
    policy: DunningPolicy
    catch_up: CatchUp
    lease_seconds: float
    summary: BillingSummary
    product: str
    deferred: list[int] = field(default_factory=list)
    deferred_one_offs: list[int] = field(default_factory=list)
    codes: Counter[str] = field(default_factory=Counter)
    #: Validated purchase bodies by what they contain but the reference (bounded, LRU).
    bodies: OrderedDict[tuple[Any, ...], dict[str, Any]] = field(default_factory=OrderedDict)

    def defer(self, item: _Item | _Finish) -> None:
        """Keep the lease until the run ends (a retry within this run is not wanted)."""
        (self.deferred_one_offs if item.one_off else self.deferred).append(item.owner_id)


# --------------------------------------------------------------------------- grouped commits


class _Committer:
    """Commits the ledger writes of many concurrent charges together.

    Whatever is submitted while a commit runs goes into the next one, so the number of commits
    adapts to the load: one per charge when idle, one per hundreds under full concurrency.
    """

    #: How long a commit waits for more writes to join it: fewer, larger commits. 3 ms cut
    #: the ledger thread's CPU by about a quarter in bench/billing.py (64 charges in flight,
    #: 50 ms per gateway call) at no cost in wall time; an idle run pays 3 ms per write.
    gather_seconds = 0.003

    def __init__(self, run: _Run) -> None:
        self._run = run
        self._attach: dict[str, str] = {}
        self._submit: list[str] = []
        self._finish: list[_Finish] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._task: asyncio.Task[None] | None = None

    def attach(self, key: str, purchase_id: str) -> Awaitable[None]:
        self._attach[key] = purchase_id
        return self._wait()

    def submit(self, key: str) -> Awaitable[None]:
        self._submit.append(key)
        return self._wait()

    def finish(self, item: _Finish) -> Awaitable[None]:
        self._finish.append(item)
        return self._wait()

    def _wait(self) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return future

    async def _drain(self) -> None:
        while self._waiters:
            await asyncio.sleep(self.gather_seconds)  # let more charges add their writes
            attach, self._attach = self._attach, {}
            submit, self._submit = self._submit, []
            finish, self._finish = self._finish, []
            waiters, self._waiters = self._waiters, []
            await commit_for(partial(self._commit, attach, submit, finish), waiters)

    def _commit(self, attach: dict[str, str], submit: list[str], finish: list[_Finish]) -> None:
        with UnitOfWork(self._run.ctx.engine) as uow:
            if attach or submit:
                _attach_and_submit(uow, attach, submit)
            if finish:
                _finish_all(uow, self._run, finish)
            uow.commit()


_ATTEMPTS = PaymentAttempt.__table__  # type: ignore[attr-defined]
_SUBS = Subscription.__table__  # type: ignore[attr-defined]
_ONE_OFFS = OneOffCharge.__table__  # type: ignore[attr-defined]
_UNRESOLVED_STATES = [
    AttemptState.INTENT,
    AttemptState.CREATED,
    AttemptState.SUBMITTED,
    AttemptState.UNKNOWN,
]


def _state_in(*states: AttemptState) -> Any:
    # Plain comparisons: an expanding IN cannot be used in an executemany.
    return or_(*(_ATTEMPTS.c.state == state for state in states))


# Built once: the commits of a run execute them thousands of times.
_BULK = {"synchronize_session": False}
_ATTACH = (
    update(_ATTEMPTS)
    .where(
        _ATTEMPTS.c.business_key == bindparam("k"),
        _ATTEMPTS.c.purchase_id.is_(None),
        _state_in(AttemptState.INTENT, AttemptState.UNKNOWN),
    )
    .values(purchase_id=bindparam("p"), state=AttemptState.SUBMITTED, updated_at=bindparam("now"))
)
_SUBMIT = (
    update(_ATTEMPTS)
    .where(
        _ATTEMPTS.c.business_key == bindparam("k"),
        _ATTEMPTS.c.state == AttemptState.CREATED,
        _ATTEMPTS.c.purchase_id.is_not(None),
    )
    .values(state=AttemptState.SUBMITTED, updated_at=bindparam("now"))
)
# Only unresolved attempts move: a resolved one is the truth already recorded.
_RECORD = (
    update(_ATTEMPTS)
    .where(_ATTEMPTS.c.business_key == bindparam("k"), _state_in(*_UNRESOLVED_STATES))
    .values(
        state=bindparam("state"),
        purchase_status=bindparam("status"),
        status_at=bindparam("at"),
        decline_code=bindparam("code"),
        network_code=bindparam("net"),
        advice_code=bindparam("advice"),
        brand=func.coalesce(_ATTEMPTS.c.brand, bindparam("brand")),
        masked_pan=func.coalesce(_ATTEMPTS.c.masked_pan, bindparam("pan")),
        resolved_at=bindparam("resolved"),
        updated_at=bindparam("now"),
    )
)
_UPDATES: dict[tuple[str, tuple[str, ...]], Any] = {}


def _attach_and_submit(uow: UnitOfWork, attach: dict[str, str], submit: list[str]) -> set[str]:
    """Store new purchase ids and mark the attempts submitted, in bulk statements.

    The same rules as :func:`payflows.ledger.attach_purchases` and ``mark_submitted``, without
    loading ORM objects: a purchase id is written only where the attempt has none yet (the
    unique constraint on ``purchase_id`` refuses one purchase for two keys). Returns the keys
    whose purchase could not be attached (someone else attached another): those are not charged.
    """
    now = utcnow()
    if attach:
        uow.session.execute(
            _ATTACH,
            [{"k": k, "p": p, "now": now} for k, p in attach.items()],
            execution_options=_BULK,
        )
    if submit:
        uow.session.execute(
            _SUBMIT, [{"k": k, "now": now} for k in submit], execution_options=_BULK
        )
    conflicts: set[str] = set()
    if attach:
        rows = uow.session.execute(
            select(_ATTEMPTS.c.business_key, _ATTEMPTS.c.purchase_id).where(
                _ATTEMPTS.c.business_key.in_(list(attach))
            )
        ).all()
        found = dict(rows)
        conflicts = {k for k, p in attach.items() if found.get(k) != p}
    if conflicts:
        raise PurchaseConflict(f"purchase ids not attached for {sorted(conflicts)[:5]}")
    return conflicts


def _finish_all(uow: UnitOfWork, run: _Run, items: Sequence[_Finish]) -> None:
    """Outcomes, their effect on each subscription or one-off charge, and the release of its
    lease: one commit."""
    now = utcnow()
    observed = run.ctx.now()
    new = [f for f in items if f.outcome is not None]
    if new:
        uow.session.execute(
            _RECORD,
            [_outcome_params(f.key, f.outcome, now, observed) for f in new],  # type: ignore[arg-type]
            execution_options=_BULK,
        )
    attempts = {
        row.business_key: row
        for row in uow.session.execute(
            select(
                _ATTEMPTS.c.business_key,
                _ATTEMPTS.c.state,
                _ATTEMPTS.c.amount_cents,
                _ATTEMPTS.c.currency,
                _ATTEMPTS.c.decline_code,
                _ATTEMPTS.c.network_code,
                _ATTEMPTS.c.advice_code,
                _ATTEMPTS.c.brand,
            ).where(_ATTEMPTS.c.business_key.in_([f.key for f in items]))
        )
    }
    subs = [f for f in items if not f.one_off]
    if subs:
        _finish_subscriptions(uow, run, subs, attempts, now)
    one_offs = [f for f in items if f.one_off]
    if one_offs:
        _finish_one_offs(uow, run, one_offs, attempts, now)


def _update_grouped(
    uow: UnitOfWork, table: Any, groups: dict[tuple[str, ...], list[dict[str, Any]]], now: datetime
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
        uow.session.execute(stmt, rows, execution_options=_BULK)


def _finish_subscriptions(
    uow: UnitOfWork,
    run: _Run,
    items: Sequence[_Finish],
    attempts: dict[str, Any],
    now: datetime,
) -> None:
    subs = {
        row.id: row
        for row in uow.session.execute(
            select(
                _SUBS.c.id,
                _SUBS.c.next_billing_at,
                _SUBS.c.failed_attempts,
                _SUBS.c.interval_unit,
                _SUBS.c.interval_count,
                _SUBS.c.anchor_day,
                _SUBS.c.claimed_by,
            ).where(_SUBS.c.id.in_([f.owner_id for f in items]))
        )
    }
    states = {f.key: AttemptState(attempts[f.key].state) for f in items}
    declined = [f.owner_id for f in items if states[f.key] is AttemptState.DECLINED]
    history = _recent_attempts(uow, declined, run.as_of) if declined else {}
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for f in items:
        sub, attempt = subs[f.owner_id], attempts[f.key]
        values: dict[str, Any] = {}
        if _expected_key(sub) == f.key:
            values = _effect(run, sub, attempt, history.get(f.owner_id, []))
        due_again = values.get("next_billing_at") is not None and (
            values["next_billing_at"] <= run.as_of
        )
        if due_again:
            # Catching up: one period per run. Keep the lease so this run does not claim the
            # next missed period; it is given back when the run ends.
            run.defer(f)
        elif f.release and sub.claimed_by == run.worker_id:
            values.update(claimed_by=None, claimed_until=None)
        if values:
            groups.setdefault(tuple(sorted(values)), []).append({"sid": f.owner_id, **values})
    _update_grouped(uow, _SUBS, groups, now)


def _finish_one_offs(
    uow: UnitOfWork,
    run: _Run,
    items: Sequence[_Finish],
    attempts: dict[str, Any],
    now: datetime,
) -> None:
    charges = {
        row.id: row
        for row in uow.session.execute(
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


def _count(counts: dict[str, int], key: str, n: int = 1) -> None:
    counts[key] = counts.get(key, 0) + n


def _one_off_effect(
    run: _Run, charge: Any, attempt: Any, history: list[datetime]
) -> dict[str, Any]:
    """The effect of a one-off charge's resolved attempt on the plan."""
    s = run.summary
    state = AttemptState(attempt.state)
    if state is AttemptState.SUCCEEDED:
        s.succeeded += 1
        s.one_off_succeeded += 1
        _count(s.amounts_cents, attempt.currency, attempt.amount_cents)
        _count(s.one_off_amounts_cents, attempt.currency, attempt.amount_cents)
        return {
            "status": OneOffChargeStatus.CHARGED,
            "retry_at": None,
            "dunning_reason": None,
        }
    if state is AttemptState.DECLINED:
        failed = charge.failed_attempts + 1
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
        s.one_off_declined += 1
        _count(s.declines_by_code, attempt.decline_code or "unknown")
        _count(s.dunning_reasons, decision.reason)
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
        code = attempt.decline_code or "charge_failed"
        reason = f"charge refused {code}"
        s.failed += 1
        s.one_off_failed += 1
        _count(s.dunning_reasons, reason)
        return {
            "status": OneOffChargeStatus.FAILED,
            "last_decline_code": code,
            "dunning_reason": reason,
            "retry_at": None,
        }
    return {}


def _outcome_params(key: str, o: Outcome, now: datetime, observed: datetime) -> dict[str, Any]:
    state = AttemptState(o.state)
    declined = state in (AttemptState.DECLINED, AttemptState.FAILED)
    return {
        "k": key,
        "now": now,
        "state": state,
        "status": Status(o.purchase_status) if o.purchase_status is not None else None,
        "at": o.observed_at or observed,
        "code": o.decline_code if declined else None,
        "net": o.network_code if declined else None,
        "advice": o.advice_code if declined else None,
        "brand": o.brand,
        "pan": o.masked_pan,
        "resolved": now if state in _RESOLVED else None,
    }


def _effect(
    run: _Run,
    sub: Any,
    attempt: Any,
    history: list[datetime],
) -> dict[str, Any]:
    """The effect of a resolved attempt on its subscription (only for its current key)."""
    s = run.summary
    state = AttemptState(attempt.state)
    if state is AttemptState.SUCCEEDED:
        s.succeeded += 1
        _count(s.amounts_cents, attempt.currency, attempt.amount_cents)
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
        s.retry_scheduled += decision.retries
        s.suspended += not decision.retries
        _count(s.declines_by_code, attempt.decline_code or "unknown")
        _count(s.dunning_reasons, decision.reason)
        return {
            "failed_attempts": failed,
            "last_decline_code": attempt.decline_code,
            "dunning_reason": decision.reason,
            "status": decision.status,
            "retry_at": decision.retry_at,
        }
    if state is AttemptState.FAILED:
        # The gateway refused the charge itself (an invalid token...): a person must look.
        code = attempt.decline_code or "charge_failed"
        s.failed += 1
        s.suspended += 1
        _count(s.dunning_reasons, f"charge refused {code}")
        return {
            "status": SubscriptionStatus.SUSPENDED,
            "last_decline_code": code,
            "dunning_reason": f"charge refused {code}",
            "retry_at": None,
        }
    return {}


def _recent_attempts(
    uow: UnitOfWork, sub_ids: list[int], as_of: datetime
) -> dict[int, list[datetime]]:
    """When each subscription's card was charged in the 30 days before ``as_of``."""
    rows = uow.session.exec(
        select(PaymentAttempt.subscription_id, PaymentAttempt.status_at).where(
            PaymentAttempt.subscription_id.in_(sub_ids),  # type: ignore[union-attr]
            PaymentAttempt.kind == AttemptKind.MIT,
            PaymentAttempt.state.in_([AttemptState.DECLINED, AttemptState.SUCCEEDED]),  # type: ignore[attr-defined]
            PaymentAttempt.status_at > as_of - timedelta(days=30),  # type: ignore[operator]
        )
    ).all()
    found: dict[int, list[datetime]] = {}
    for sub_id, at in rows:
        found.setdefault(sub_id, []).append(at)
    return found


def _card_attempts(
    uow: UnitOfWork, method_ids: set[int], as_of: datetime
) -> dict[int, list[datetime]]:
    """When each stored card was charged (MIT, any purpose) in the 30 days before ``as_of``."""
    rows = uow.session.exec(
        select(PaymentAttempt.payment_method_id, PaymentAttempt.status_at).where(
            PaymentAttempt.payment_method_id.in_(list(method_ids)),  # type: ignore[union-attr]
            PaymentAttempt.kind == AttemptKind.MIT,
            PaymentAttempt.state.in_([AttemptState.DECLINED, AttemptState.SUCCEEDED]),  # type: ignore[attr-defined]
            PaymentAttempt.status_at > as_of - timedelta(days=30),  # type: ignore[operator]
        )
    ).all()
    found: dict[int, list[datetime]] = {}
    for method_id, at in rows:
        found.setdefault(method_id, []).append(at)
    return found


# --------------------------------------------------------------------------- claiming


def _claim(run: _Run, limit: int) -> list[_Item] | None:
    """Lease a batch, move skipped periods on, and commit the intents, all in one commit.

    None when nothing was due; an empty list when all it claimed needed no charge.
    """
    with UnitOfWork(run.ctx.engine) as uow:
        subs = claim_due_subscriptions(uow, run.as_of, run.worker_id, limit, run.lease_seconds)
        if not subs:
            uow.commit()
            return None
        run.summary.claimed += len(subs)
        existing = set(
            uow.session.exec(
                select(PaymentAttempt.business_key).where(
                    PaymentAttempt.business_key.in_([_expected_key(s) for s in subs])  # type: ignore[attr-defined]
                )
            ).scalars()
        )
        customers = _by_id(uow, Customer, {s.customer_id for s in subs})
        methods = _by_id(uow, PaymentMethod, {s.payment_method_id for s in subs} - {None})
        intents: list[Intent] = []
        plans: list[tuple[Subscription, Customer | None, PaymentMethod]] = []
        now = run.ctx.now()
        for sub in subs:
            assert sub.id is not None
            if sub.anchor_day is None:
                # Created before the column, or outside the import: its first billing date.
                sub.anchor_day = sub.next_billing_at.day
            key = _expected_key(sub)
            if key not in existing and sub.failed_attempts == 0:
                period = period_to_bill(
                    sub.next_billing_at,
                    run.as_of,
                    sub.interval_unit,
                    sub.interval_count,
                    anchor_day=sub.anchor_day,
                    policy=run.catch_up,
                )
                if period is not None and period != sub.next_billing_at:
                    run.summary.skipped_periods += 1
                    sub.next_billing_at = period
                    sub.updated_at = now
                    key = _expected_key(sub)
            method = methods.get(sub.payment_method_id) if sub.payment_method_id else None
            customer = customers.get(sub.customer_id)
            unusable = method is None or method.deleted_at is not None or customer is None
            if unusable and key not in existing:
                code, reason = _unusable(method)
                sub.status = SubscriptionStatus.SUSPENDED
                sub.last_decline_code = code
                sub.dunning_reason = reason
                sub.claimed_by = sub.claimed_until = None
                run.summary.suspended += 1
                _count(run.summary.dunning_reasons, reason)
                continue
            intents.append(
                Intent(
                    key,
                    AttemptKind.MIT,
                    sub.amount_cents,
                    sub.currency,
                    customer_id=sub.customer_id,
                    subscription_id=sub.id,
                    payment_method_id=sub.payment_method_id,
                )
            )
            plans.append((sub, customer, method))  # type: ignore[arg-type]
        attempts = record_intents(uow, intents)
        uow.session.flush()
        uow.commit()
    items = []
    for attempt, (sub, customer, method) in zip(attempts, plans, strict=True):
        items.append(
            _item(run, sub.id, attempt, customer, method, f"{run.product} {sub.plan}")  # type: ignore[arg-type]
        )
    return items


def _claim_one_offs(run: _Run, limit: int) -> list[_Item] | None:
    """:func:`_claim` for one-off charges: lease a batch and commit its intents together.

    The plan points at its current attempt (``attempt_id``) from the same commit on.
    """
    with UnitOfWork(run.ctx.engine) as uow:
        charges = claim_due_one_offs(uow, run.as_of, run.worker_id, limit, run.lease_seconds)
        if not charges:
            uow.commit()
            return None
        run.summary.claimed += len(charges)
        run.summary.one_off_claimed += len(charges)
        keys = [one_off_key(c.external_id, c.failed_attempts) for c in charges]
        existing = set(
            uow.session.exec(
                select(PaymentAttempt.business_key).where(
                    PaymentAttempt.business_key.in_(keys)  # type: ignore[attr-defined]
                )
            ).scalars()
        )
        customers = _by_id(uow, Customer, {c.customer_id for c in charges})
        methods = _by_id(uow, PaymentMethod, {c.payment_method_id for c in charges})
        intents: list[Intent] = []
        plans: list[tuple[OneOffCharge, Customer | None, PaymentMethod]] = []
        for charge, key in zip(charges, keys, strict=True):
            method = methods.get(charge.payment_method_id)
            customer = customers.get(charge.customer_id)
            unusable = method is None or method.deleted_at is not None or customer is None
            if unusable and key not in existing:
                code, reason = _unusable(method)
                charge.status = OneOffChargeStatus.FAILED
                charge.last_decline_code = code
                charge.dunning_reason = reason
                charge.claimed_by = charge.claimed_until = None
                run.summary.one_off_failed += 1
                _count(run.summary.dunning_reasons, reason)
                continue
            intents.append(
                Intent(
                    key,
                    AttemptKind.MIT,
                    charge.amount_cents,
                    charge.currency,
                    customer_id=charge.customer_id,
                    payment_method_id=charge.payment_method_id,
                )
            )
            plans.append((charge, customer, method))  # type: ignore[arg-type]
        attempts = record_intents(uow, intents)
        for attempt, (charge, _, _) in zip(attempts, plans, strict=True):
            if charge.attempt_id != attempt.id:
                charge.attempt_id = attempt.id
        uow.session.flush()
        uow.commit()
    return [
        _item(run, charge.id, attempt, customer, method, charge.description, one_off=True)  # type: ignore[arg-type]
        for attempt, (charge, customer, method) in zip(attempts, plans, strict=True)
    ]


_NO_METHOD = "no usable payment method"
_CARD_DELETED = "stored card deleted"


def _unusable(method: PaymentMethod | None) -> tuple[str, str]:
    """(last_decline_code, dunning_reason) of a charge that cannot be made: a card deleted at
    the gateway says so, so the subscription and the run summary show why billing stopped."""
    if method is not None and method.deleted_at is not None:
        return CARD_DELETED, _CARD_DELETED
    return "no_payment_method", _NO_METHOD


def _item(
    run: _Run,
    owner_id: int,
    attempt: PaymentAttempt,
    customer: Customer | None,
    method: PaymentMethod | None,
    product: str,
    *,
    one_off: bool = False,
) -> _Item:
    body = None
    if customer is not None and customer.precium_client_id and method is not None:
        body = _body(
            run,
            customer.precium_client_id,
            attempt.currency,
            product,
            attempt.amount_cents,
            method.network_transaction_id,
            method.original_amount_cents,
        )
        body = {**body, "reference": attempt.business_key[:128]}
    return _Item(
        owner_id=owner_id,
        key=attempt.business_key,
        state=attempt.state,
        purchase_id=attempt.purchase_id,
        amount_cents=attempt.amount_cents,
        currency=attempt.currency,
        body=body,
        token=method.recurring_token if method is not None else None,
        brand=method.brand if method is not None else None,
        one_off=one_off,
    )


_BODIES = 4096


def _body(run: _Run, *key: Any) -> dict[str, Any]:
    """The create-purchase body for a charge, validated as a :class:`PurchaseRequest` once per
    distinct content (customers with several subscriptions share it); read-only."""
    found = run.bodies.get(key)
    if found is not None:
        run.bodies.move_to_end(key)
        return found
    client_id, currency, product, amount, network_transaction_id, original_amount = key
    request = PurchaseRequest(
        client_id=client_id,
        currency=currency,
        products=[Product(name=product, price=amount)],
        card=CardFlags(
            is_recurring=True,
            previous_network_transaction_id=network_transaction_id,
            original_amount_cents=original_amount,
        ),
        payment_method_whitelist=list(run.ctx.card_brands),
        success_redirect=run.ctx.success_redirect,
        failure_redirect=run.ctx.failure_redirect,
    )
    body = run.bodies[key] = run.ctx.gateway.purchase_body(request)
    if len(run.bodies) > _BODIES:
        run.bodies.popitem(last=False)
    return body


def _by_id(uow: UnitOfWork, model: Any, ids: set[Any]) -> dict[int, Any]:
    if not ids:
        return {}
    rows = uow.session.exec(select(model).where(model.id.in_(list(ids)))).scalars()
    return {row.id: row for row in rows}


# --------------------------------------------------------------------------- one charge


def _outcome_of(key: str, purchase: PurchaseState, now: datetime) -> Outcome | None:
    """The attempt's outcome from a purchase as the gateway shows it (None: not arrived)."""
    status = purchase.status
    if status in _NOT_ARRIVED:
        return None
    if status in _SUCCESS:
        state = AttemptState.SUCCEEDED
    elif status in _DECLINED:
        state = AttemptState.DECLINED
    elif status.value.startswith("pending_"):
        state = AttemptState.UNKNOWN
    else:
        state = AttemptState.FAILED
    decline = purchase.last_error if state is AttemptState.DECLINED else None
    return Outcome(
        state,
        business_key=key,
        purchase_status=status,
        decline_code=decline.code if decline else None,
        network_code=decline.network_code if decline else None,
        advice_code=decline.advice_code if decline else None,
        brand=purchase.card_brand,
        masked_pan=purchase.masked_pan,
        observed_at=now,
    )


async def _process(run: _Run, gate: Gate, commits: _Committer, item: _Item) -> None:
    gw = run.ctx.gateway
    key = item.key
    if item.state in _RESOLVED:
        await commits.finish(_Finish(item.owner_id, key, None, one_off=item.one_off))
        return
    if item.body is None or item.token is None:
        run.defer(item)  # customer without a gateway client: nothing to send
        return
    token = item.token
    if item.state in (AttemptState.SUBMITTED, AttemptState.UNKNOWN):
        # Left by a crash or a lost answer: the charge may have landed. Read, never resend blind.
        assert item.purchase_id is not None
        pid = item.purchase_id
        try:
            purchase = await gate.call(
                lambda: resend_while_safe(lambda: gw.get_purchase_state(pid))
            )
        except PreciumError:
            run.defer(item)
            run.summary.unknown += 1
            return
        outcome = _outcome_of(key, purchase, run.ctx.now())
        if outcome is not None:
            await _settle(run, commits, item, outcome)
            return
    elif item.state is AttemptState.INTENT:
        body = item.body
        try:
            purchase = await gate.call(
                lambda: _create_retrying(lambda: gw.create_purchase_state(body))
            )
        except PreciumError:
            run.defer(item)  # no purchase yet: the next run creates one
            return
        item.purchase_id = purchase.id
        await commits.attach(key, purchase.id)  # durable before the charge is sent
    else:  # created: the purchase id is stored, the charge never went out
        await commits.submit(key)
    pid = item.purchase_id
    assert pid is not None
    run.summary.charged += 1
    now = run.ctx.now
    try:
        purchase = await gate.call(lambda: resend_while_safe(lambda: gw.charge_state(pid, token)))
    except CardDeclinedError as exc:
        d = exc.decline
        outcome = Outcome(
            AttemptState.DECLINED,
            business_key=key,
            purchase_status=Status.ERROR,
            decline_code=d.code,
            network_code=d.network_code,
            advice_code=d.advice_code,
            brand=item.brand,
            observed_at=now(),
        )
    except (OutcomeUnknownError, RequestRejected, PreciumError) as exc:
        # Lost answer, a refusal ("already paid"?) or still throttled: the purchase says.
        try:
            fresh = await gate.call(lambda: resend_while_safe(lambda: gw.get_purchase_state(pid)))
            outcome = _outcome_of(key, fresh, now())
        except PreciumError:
            outcome = None
        if outcome is None and isinstance(exc, RequestRejected):
            outcome = Outcome(AttemptState.FAILED, business_key=key, decline_code=exc.code)
        if outcome is None:
            outcome = Outcome(AttemptState.UNKNOWN, business_key=key)
    else:
        outcome = _outcome_of(key, purchase, now()) or Outcome(
            AttemptState.UNKNOWN, business_key=key
        )
    await _settle(run, commits, item, outcome)


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


async def _settle(run: _Run, commits: _Committer, item: _Item, outcome: Outcome) -> None:
    if AttemptState(outcome.state) in _RESOLVED:
        await commits.finish(_Finish(item.owner_id, item.key, outcome, one_off=item.one_off))
    else:
        run.summary.unknown += 1
        run.defer(item)
        await commits.finish(
            _Finish(item.owner_id, item.key, outcome, release=False, one_off=item.one_off)
        )


# --------------------------------------------------------------------------- the run


async def reconcile(
    ctx: PaymentContext, *, worker_id: str, concurrency: int = 16, limit: int = 100_000
) -> int:
    """Read back MIT attempts a crash left in flight; returns how many were settled.

    Both subscription periods and one-off charges (an attempt belongs to a one-off charge when
    the plan's ``attempt_id`` points at it). Attempts whose subscription or charge another
    worker holds are skipped: that worker is still acting on them. Settling here only records
    what the gateway says; the billing date, the plan's status and dunning follow when the
    billing loop meets the resolved attempt.
    """
    in_flight = PaymentAttempt.state.in_([AttemptState.SUBMITTED, AttemptState.UNKNOWN])  # type: ignore[attr-defined]

    def free(model: Any, now: datetime) -> Any:
        return (
            model.claimed_until.is_(None)
            | (model.claimed_until <= now)
            | (model.claimed_by == worker_id)
        )

    def find(uow: UnitOfWork) -> list[str]:
        now = ctx.now()
        keys = []
        for model, joined in (
            (Subscription, Subscription.id == PaymentAttempt.subscription_id),
            (OneOffCharge, OneOffCharge.attempt_id == PaymentAttempt.id),
        ):
            rows = uow.session.exec(
                select(PaymentAttempt.business_key)
                .join(model, joined)  # type: ignore[arg-type]
                .where(PaymentAttempt.kind == AttemptKind.MIT, in_flight, free(model, now))
                .order_by(PaymentAttempt.id)
                .limit(limit)
            ).all()
            keys += [r[0] for r in rows]
        return keys

    keys: list[str] = await ctx.ledger(find)
    sem = asyncio.Semaphore(concurrency)
    settled = 0

    async def one(key: str) -> None:
        nonlocal settled
        async with sem:
            try:
                outcome = await settle_by_read_back(ctx, key)
            except PreciumError:
                return
            settled += outcome.state in _RESOLVED

    await asyncio.gather(*(one(k) for k in keys))
    return settled


async def bill_due(
    ctx: PaymentContext,
    *,
    as_of: datetime,
    worker_id: str,
    batch_size: int = 500,
    concurrency: int = 32,
    policy: DunningPolicy | None = None,
    catch_up: CatchUp | str = CatchUp.SKIP,
    lease_seconds: float = 900.0,
    rate_per_second: float | None = None,
    product: str = "Subscription",
    reconcile_first: bool = True,
    on_progress: Callable[[BillingSummary], Awaitable[None] | None] | None = None,
) -> BillingSummary:
    """Bill every subscription and one-off charge due at ``as_of``; safe to run again, and
    alongside another run.

    It starts by reconciling what a crash left in flight (``reconcile_first=False`` when the
    caller did it already). A worker that restarts under the same ``worker_id`` takes its own
    leases back at once; another worker waits ``lease_seconds`` for a crashed one's leases to
    lapse.
    """
    started = time.perf_counter()
    run = _Run(
        ctx=ctx,
        as_of=as_of,
        worker_id=worker_id,
        policy=policy or DunningPolicy(),
        catch_up=CatchUp(catch_up),
        lease_seconds=lease_seconds,
        summary=BillingSummary(as_of=as_of, worker_id=worker_id),
        product=product,
    )
    await ctx.ledger(lambda uow: _release_own(uow, worker_id))
    if reconcile_first:
        run.summary.reconciled = await reconcile(ctx, worker_id=worker_id, concurrency=concurrency)
    gate = Gate(concurrency, rate_per_second)
    commits = _Committer(run)
    low_water = max(2 * concurrency, 1)
    pending: set[asyncio.Task[None]] = set()
    # Subscriptions and one-off charges take turns, so both flow through the same window.
    sources: list[Callable[[_Run, int], list[_Item] | None]] = [_claim, _claim_one_offs]
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
                    pending.add(asyncio.create_task(_process(run, gate, commits, item)))
            if not pending:
                break
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
            if on_progress is not None and done:
                result = on_progress(run.summary)
                if asyncio.iscoroutine(result):
                    await result
    finally:
        for task in pending:
            task.cancel()
        deferred = list(dict.fromkeys(run.deferred))
        if deferred:
            await ctx.ledger(lambda uow: release_claim(uow, deferred, worker_id))
        later = list(dict.fromkeys(run.deferred_one_offs))
        if later:
            await ctx.ledger(lambda uow: release_one_off_claims(uow, later, worker_id))
    run.summary.seconds = round(time.perf_counter() - started, 3)
    if on_progress is not None:
        result = on_progress(run.summary)
        if asyncio.iscoroutine(result):
            await result
    return run.summary


def _release_own(uow: UnitOfWork, worker_id: str) -> int:
    result = uow.session.exec(
        update(Subscription)
        .where(Subscription.claimed_by == worker_id)
        .values(claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount + release_one_off_claims(uow, None, worker_id)
