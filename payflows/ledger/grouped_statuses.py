"""Read-back statuses applied in bulk: :func:`~payflows.ledger.apply_gateway_statuses` in Core SQL.

The hold sweep applies hundreds of read-backs per grouped commit; loading an ORM object per
attempt and per hold cost it more CPU than the rest of its ledger work. This is the same rule
as :func:`payflows.ledger.statuses.apply_reports` (a status moves a purchase only forward along
the purchase state table; news moves the attempt that created the purchase by the attempt state
table, :data:`~payflows.domain.attempts.ATTEMPT_TRANSITIONS`), computed on plain rows read with
one ``IN`` query per table and written with one ``executemany`` per statement. Every write is
guarded by what was read (``WHERE id = :id AND state = :from``; the hold's status likewise), so
a row another writer moved meanwhile is left as it is rather than overwritten.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, update

from payflows.domain.attempts import (
    ATTEMPT_TRANSITIONS,
    REMOVED,
    RESOLVED,
    AttemptState,
    event_for_status,
)
from payflows.domain.states import Status, can_reach
from payflows.ledger._common import aware, cents, table_of
from payflows.ledger.db import Transaction
from payflows.ledger.many import execute_many, rows_in
from payflows.ledger.models import Hold, PaymentAttempt, utcnow
from payflows.ledger.statuses import StatusReport

__all__ = ["apply_statuses_grouped"]

_ATTEMPTS = table_of(PaymentAttempt)
_HOLDS = table_of(Hold)

_A = _ATTEMPTS.c
_H = _HOLDS.c

# The purchase status alone (no attempt move), guarded by the state that was read.
_ATTEMPT_STATUS = (
    update(_ATTEMPTS)
    .where(_A.id == bindparam("i"), _A.state == bindparam("from"))
    .values(purchase_status=bindparam("ps"), status_at=bindparam("sa"), updated_at=bindparam("now"))
)


def _move_stmt(target: AttemptState) -> Any:
    """Purchase status and an attempt move to ``target``, as :func:`attempt_moves.move` sets it."""
    values: dict[str, Any] = {
        "state": target,
        "purchase_status": bindparam("ps"),
        "status_at": bindparam("sa"),
        "updated_at": bindparam("now"),
    }
    if target in RESOLVED:
        values["resolved_at"] = bindparam("now")
    if target is AttemptState.SUCCEEDED:
        values |= {"decline_code": None, "network_code": None, "advice_code": None}
    # ``from`` is a state the table moves to ``target`` (checked before the row is listed).
    return (
        update(_ATTEMPTS)
        .where(_A.id == bindparam("i"), _A.state == bindparam("from"))
        .values(values)
    )


_MOVE = {state: _move_stmt(state) for state in AttemptState}

_HOLD = (
    update(_HOLDS)
    .where(_H.id == bindparam("i"), _H.status == bindparam("from"))
    .values(
        status=bindparam("s"),
        status_at=bindparam("sa"),
        captured_cents=bindparam("c"),
        updated_at=bindparam("now"),
    )
)


@cache
def _order(current: Status, new: Status) -> int:
    """:func:`payflows.ledger.statuses._is_news` on statuses alone, once per pair (its
    breadth-first walk of the table cost more than the rest of a read-back): 0 not news,
    1 news, 2 news only if observed later (the two lie on a cycle)."""
    if new == current or not can_reach(current, new):
        return 0
    return 2 if can_reach(new, current) else 1


def _is_news(
    current: Status | None, current_at: datetime | None, new: Status, observed_at: datetime
) -> bool:
    """The rule of :func:`payflows.ledger.statuses._is_news`, with the table walks cached."""
    if current is None:
        return True
    order = _order(Status(current), new)
    if order == 2:
        return current_at is None or observed_at > current_at
    return order == 1


def _rows(
    uow: Transaction, table: Any, columns: Sequence[str], ids: list[str]
) -> dict[str, list[Any]]:
    """``{purchase_id: [purchase_id, *columns]}``, read through the driver (many.rows_in)."""
    return {
        row[0]: row for row in rows_in(uow, table, ("purchase_id", *columns), "purchase_id", ids)
    }


def apply_statuses_grouped(uow: Transaction, reports: Iterable[StatusReport]) -> list[str]:
    """:func:`~payflows.ledger.apply_gateway_statuses` without ORM objects; the purchase ids
    moved, in order. Several reports for one purchase are applied in the order given."""
    reports = list(reports)
    if not reports:
        return []
    now = utcnow()
    ids = list(dict.fromkeys(r.purchase_id for r in reports))
    # [purchase_id, id, purchase_status, status_at, state] / [purchase_id, id, status, status_at,
    # captured_cents]; each row also remembers what was read, for the guard.
    attempts = _rows(uow, _ATTEMPTS, ("id", "purchase_status", "status_at", "state"), ids)
    holds = _rows(uow, _HOLDS, ("id", "status", "status_at", "captured_cents"), ids)
    read_state = {pid: row[4] for pid, row in attempts.items()}
    read_status = {pid: row[2] for pid, row in holds.items()}
    moved_attempts: set[str] = set()
    moved_holds: set[str] = set()
    changed: list[str] = []
    for report in reports:
        pid = report.purchase_id
        status = Status(report.status)
        at = aware(report.observed_at, "observed_at")
        moved = False
        attempt = attempts.get(pid)
        if attempt is not None and _is_news(attempt[2], attempt[3], status, at):
            attempt[2], attempt[3] = status, at
            moved = True
            moved_attempts.add(pid)
            event = event_for_status(status)
            if event is not None:
                target = ATTEMPT_TRANSITIONS.get((AttemptState(attempt[4]), event))
                if target is not None and target != REMOVED:
                    attempt[4] = AttemptState(target)
        hold = holds.get(pid)
        if hold is not None:
            if _is_news(hold[2], hold[3], status, at):
                hold[2], hold[3] = status, at
                moved = True
                moved_holds.add(pid)
            paid = report.amount_cents
            if status == Status.PAID and paid is not None and hold[4] != cents(paid):
                hold[4] = paid
                moved = True
                moved_holds.add(pid)
        if moved and pid not in changed:
            changed.append(pid)
    _write_attempts(uow, attempts, read_state, moved_attempts, now)
    if moved_holds:
        execute_many(
            uow,
            _HOLD,
            [
                {
                    "i": holds[p][1],
                    "from": read_status[p],
                    "s": holds[p][2],
                    "sa": holds[p][3],
                    "c": holds[p][4],
                    "now": now,
                }
                for p in moved_holds
            ],
        )
    return changed


def _write_attempts(
    uow: Transaction,
    attempts: dict[str, list[Any]],
    read_state: dict[str, Any],
    moved: set[str],
    now: datetime,
) -> None:
    by_stmt: dict[Any, list[dict[str, Any]]] = {}
    for pid in moved:
        row = attempts[pid]
        before = AttemptState(read_state[pid])
        after = AttemptState(row[4])
        stmt = _ATTEMPT_STATUS if after == before else _MOVE[after]
        by_stmt.setdefault(stmt, []).append(
            {"i": row[1], "from": before, "ps": row[2], "sa": row[3], "now": now}
        )
    for stmt, params in by_stmt.items():
        execute_many(uow, stmt, params)
