"""Selecting and claiming due holds: decided ones, undecided ones past act-by, pending ones.

Claims are short leases on the hold rows, renewed by the sweep's heartbeat while it lives, so
two sweeps never act on one hold at once and a killed sweep's holds are free again within the
lease. Holds are walked in keyset order (deadline, id), so a hold left open on purpose (alert)
is met once per run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from payflows.domain.holds import AuthorisationWindows
from payflows.domain.states import Status
from payflows.ledger import AttemptState, Hold, HoldDecision, PaymentAttempt, UnitOfWork
from payflows.ledger.many import rows_in
from payflows.ledger.models import HoldPolicy, utcnow
from payflows.sweep.items import Item, Run
from payflows.sweep.summary import SweepSummary

__all__ = ["OPEN", "claim", "count_due", "count_unclaimed", "due_clause", "held_by_others"]

OPEN = [Status.HOLD, Status.PENDING_CAPTURE, Status.PENDING_RELEASE]

_HOLDS = Hold.__table__  # type: ignore[attr-defined]
_ATTEMPTS = PaymentAttempt.__table__  # type: ignore[attr-defined]
#: The columns an Item needs, then the two a claimed row is checked by.
_ITEM_COLUMNS = (
    "id",
    "purchase_id",
    "authorised_cents",
    "currency",
    "brand",
    "expires_at",
    "decision",
    "decision_cents",
    "policy",
    "claimed_by",
    "status",
)
_CLAIMED_BY, _STATUS = 9, 10


def due_clause(run: Run) -> Any:
    if run.reconcile_all:
        return Hold.status.in_(OPEN)  # type: ignore[attr-defined]
    horizon = run.as_of + run.windows.safety_margin
    return and_(
        Hold.status.in_(OPEN),  # type: ignore[attr-defined]
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
    run = Run(
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
                select(func.count()).select_from(Hold).where(due_clause(run))
            ).scalar_one()
        )


def claim(run: Run, limit: int) -> list[Item]:
    """The next batch of due holds in (deadline, id) order, leased to this worker.

    Holds another worker holds are passed over; empty only when nothing due is left.
    """
    while True:
        rows, items = claim_once(run, limit)
        if items or not rows:
            return items


def claim_once(run: Run, limit: int) -> tuple[int, list[Item]]:
    now = utcnow()
    free = or_(
        Hold.claimed_until.is_(None),  # type: ignore[union-attr]
        Hold.claimed_until <= now,  # type: ignore[operator]
        Hold.claimed_by == run.worker_id,
    )
    where = [due_clause(run), free]
    if run.only is not None:
        where.append(Hold.id.in_(sorted(run.only)))  # type: ignore[union-attr]
    if run.cursor is not None:
        where.append(_after(run.cursor))
    with UnitOfWork(run.ctx.engine) as uow:
        rows = _next_due(uow, where, limit)
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
        # The columns an Item needs, as plain rows through the driver (ledger.many.rows_in):
        # ORM objects, or even SQLAlchemy's rows and its expanded IN lists, for hundreds of
        # holds per batch cost more than the queries.
        holds = [
            h
            for h in rows_in(uow, _HOLDS, _ITEM_COLUMNS, "id", ids)
            if h[_CLAIMED_BY] == run.worker_id and h[_STATUS] in OPEN
        ]
        keys = [f"{kind}:{h[1]}" for h in holds for kind in ("capture", "void")]
        attempts = {
            key: (AttemptState(state), amount)
            for key, state, amount in rows_in(
                uow, _ATTEMPTS, ("business_key", "state", "amount_cents"), "business_key", keys
            )
        }
        uow.commit()
    run.summary.selected += len(holds)
    run.met.update(h[0] for h in holds)
    holds.sort(key=lambda h: (h[5], h[0]))
    return len(rows), [
        Item(
            hold_id=hold_id,
            purchase_id=pid,
            authorised_cents=cents,
            currency=currency,
            brand=brand,
            expires_at=expires_at,
            decision=HoldDecision(decision),
            decision_cents=decision_cents,
            policy=policy,
            capture=attempts.get(f"capture:{pid}"),
            void=attempts.get(f"void:{pid}"),
        )
        for (
            hold_id,
            pid,
            cents,
            currency,
            brand,
            expires_at,
            decision,
            decision_cents,
            policy,
        ) in (h[:_CLAIMED_BY] for h in holds)
    ]


def _after(cursor: tuple[datetime, int]) -> Any:
    """Past the keyset cursor; the plain ``>=`` lets the index start at the cursor."""
    at, last_id = cursor
    return and_(
        Hold.expires_at >= at,  # type: ignore[operator]
        or_(Hold.expires_at > at, and_(Hold.expires_at == at, Hold.id > last_id)),  # type: ignore[operator]
    )


def _next_due(uow: UnitOfWork, where: list[Any], limit: int) -> list[Any]:
    """The first ``limit`` (id, expires_at) rows in (deadline, id) order matching ``where``.

    One query per open status, merged: the ``(status, expires_at)`` index walks each status in
    deadline order and stops at ``limit``, where ``status IN (...)`` read every open hold of the
    ledger (100k at the benchmark's size) and sorted them, for every batch.
    """
    rows: list[Any] = []
    for status in OPEN:
        rows += uow.session.execute(
            select(Hold.id, Hold.expires_at)
            .where(Hold.status == status, *where)
            .order_by(Hold.expires_at, Hold.id)
            .limit(limit)
        ).all()
    rows.sort(key=lambda r: (r[1], r[0]))
    return rows[:limit]


def held_by_others(run: Run) -> set[int]:
    """Due holds leased to another live sweep right now."""
    now = utcnow()
    with UnitOfWork(run.ctx.engine) as uow:
        rows = uow.session.execute(
            select(Hold.id).where(
                due_clause(run),
                Hold.claimed_by.is_not(None),  # type: ignore[union-attr]
                Hold.claimed_by != run.worker_id,
                Hold.claimed_until > now,  # type: ignore[operator]
            )
        ).all()
    return {r[0] for r in rows}


def count_unclaimed(run: Run) -> int:
    """Due holds this run never reached (its ``limit`` ran out): one count query.

    Those past the run's keyset cursor and not leased to another live sweep (those are counted
    by :func:`held_by_others`); the next sweep selects them.
    """
    now = utcnow()
    where = [
        due_clause(run),
        or_(
            Hold.claimed_by.is_(None),  # type: ignore[union-attr]
            Hold.claimed_by == run.worker_id,
            Hold.claimed_until.is_(None),  # type: ignore[union-attr]
            Hold.claimed_until <= now,  # type: ignore[operator]
        ),
    ]
    if run.only is not None:
        where.append(Hold.id.in_(sorted(run.only)))  # type: ignore[union-attr]
    if run.cursor is not None:
        where.append(_after(run.cursor))
    with UnitOfWork(run.ctx.engine) as uow:
        return int(
            uow.session.execute(select(func.count()).select_from(Hold).where(*where)).one()[0]
        )
